"""Every output format in one place: JSON for scripts, rich text for people.

Commands build plain data (core objects and dicts) and hand it here. JSON goes
to stdout and nothing else is mixed into it; text uses rich, with colour only
on a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .app import AppContext
from .console import escape

if TYPE_CHECKING:
    from ..audit import AuditItem, AuditTally
    from ..events import EventCheck
    from ..payloads import Payload
    from ..verdict import Verdict

OK_MARK = "[green]✓[/]"
FAIL_MARK = "[red]✗[/]"
SKIP_MARK = "[dim]–[/]"


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_lines(lines: Iterable[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))


# --- sign ---------------------------------------------------------------


def signed_headers_lines(headers: Mapping[str, str]) -> list[str]:
    return [f"{name}: {value}" for name, value in headers.items()]


def curl_command(url: str, method: str, headers: Mapping[str, str], payload: Payload) -> str:
    """A runnable curl command that sends ``payload``'s exact bytes with ``headers``.

    curl exits 0 on any HTTP answer, so a 401 would pass for success in
    ``... | sh`` or a CI step: ``--fail-with-body`` makes a 4xx or 5xx exit 22
    and still prints the receiver's answer; ``-sS`` drops the progress meter
    but keeps curl's own errors.
    """
    import shlex

    lines = [f"curl -sS --fail-with-body --request {method} --url {shlex.quote(url)}"]
    lines += [f"--header {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    lines.append(f"--data-binary {shlex.quote(_curl_data(payload))}")
    return " \\\n  ".join(lines)


def _curl_data(payload: Payload) -> str:
    if payload.name != "<stdin>":
        return "@" + payload.name  # curl sends the file's bytes untouched, as they were signed
    try:
        text = payload.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("--format curl needs the payload as a file when it is not UTF-8 text") from None
    if text.startswith("@"):
        raise InputError("--format curl needs the payload as a file when it starts with '@'")
    return text


# --- verify -------------------------------------------------------------


def verdict_text(app: AppContext, verdict: Verdict, body_name: str) -> None:
    console = app.console()
    signature = verdict.signature
    if verdict.valid:
        head = f"{OK_MARK} [bold green]valid[/]: {escape(body_name)} is a {verdict.event_type or 'delivery'}"
        head += f" signed with {escape(verdict.scheme)}"
    else:
        head = f"{FAIL_MARK} [bold red]invalid[/]: {escape(body_name)} fails {verdict.reason}"
    console.print(head)
    console.print(f"  signature  {_mark(signature.ok)}  {escape(signature.message)}")
    for hint in verdict.hints:
        console.print(f"             [yellow]likely cause:[/] {escape(hint)}")
    if verdict.event is None:
        console.print(f"  payload    {SKIP_MARK}  not validated (--no-validate)")
    else:
        _event_lines(console, verdict.event, indent="  payload    ")


def _event_lines(console: Any, check: EventCheck, indent: str) -> None:
    if check.ok:
        console.print(f"{indent}{OK_MARK}  {check.event_type}")
        return
    pad = " " * len(indent)
    first, *rest = check.problems
    console.print(f"{indent}{FAIL_MARK}  {escape(str(first))}")
    for problem in rest:
        console.print(f"{pad}   {escape(str(problem))}")


def _mark(ok: bool) -> str:
    return OK_MARK if ok else FAIL_MARK


# --- validate -----------------------------------------------------------


def validation_text(app: AppContext, results: list[tuple[str, EventCheck]]) -> None:
    console = app.console()
    for name, check in results:
        if check.ok:
            console.print(f"{OK_MARK} {escape(name)}: {check.event_type}")
        else:
            console.print(f"{FAIL_MARK} {escape(name)}: not a valid inventory event")
            for problem in check.problems:
                console.print(f"    {escape(str(problem))}")
    invalid = sum(1 for _, check in results if not check.ok)
    if len(results) > 1:
        summary = f"{len(results) - invalid} valid, {invalid} invalid"
        console.print(f"[bold]{summary}[/]" if invalid == 0 else f"[bold red]{summary}[/]")


# --- listen ---------------------------------------------------------------

if TYPE_CHECKING:
    from ..audit import AuditItem, AuditTally
    from ..receiver import ReceivedDelivery

# Control characters in what a client sent (path, headers) are shown escaped,
# never sent to the terminal.
_CONTROL_CHARACTERS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def listening_line(url: str, output_format: str) -> str:
    """``invwh listen``'s first line on stdout: scripts wait for it."""
    if output_format == "json":
        return json.dumps({"listening": url})
    return f"invwh listen: listening on {url}"


def delivery_json_line(delivery: ReceivedDelivery) -> str:
    """One delivery as one line of JSON."""
    from ..recording import iso_utc

    verdict = delivery.verdict
    return json.dumps(
        {
            "received_at": iso_utc(delivery.received_at),
            "method": delivery.method,
            "path": delivery.path,
            "status": delivery.status,
            "valid": delivery.valid,
            "reason": delivery.reason,
            "event_type": delivery.event_type,
            "message": delivery.message,
            "hints": list(verdict.hints) if verdict is not None else [],
            "body_bytes": len(delivery.body),
        },
        ensure_ascii=False,
    )


def delivery_text(delivery: ReceivedDelivery, *, forced: bool, markup: bool) -> str:
    """One delivery for people: ``14:03:22.123  200  POST /webhooks  stock.increase  ok``,
    then the message and likely causes when it was refused. Rich markup only if ``markup``."""
    import time

    def shown(text: str) -> str:
        text = text.translate(_CONTROL_CHARACTERS)
        return escape(text) if markup else text

    seconds, millis = divmod(round(delivery.received_at * 1_000_000) // 1000, 1000)
    clock = time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"
    status = str(delivery.status) + (" (forced)" if forced and delivery.verdict is not None else "")
    if markup:
        colour = "green" if delivery.status < 300 else "yellow" if delivery.status < 500 else "red"
        status = f"[bold {colour}]{status}[/]"
    line = (
        f"{clock}  {status}  {shown(delivery.method)} {shown(delivery.path)}  "
        f"{delivery.event_type or '-'}  {shown(delivery.reason)}"
    )
    if delivery.valid:
        return line
    lines = [f"{line}: {shown(delivery.message)}"]
    hints = delivery.verdict.hints if delivery.verdict is not None else []
    cause = "[yellow]likely cause:[/]" if markup else "likely cause:"
    lines += [f"{' ' * 14}{cause} {shown(hint)}" for hint in hints]
    return "\n".join(lines)


# --- verify --recording -----------------------------------------------------


class AuditReport:
    """Streams the failures of a recording audit, then its summary."""

    def __init__(self, app: AppContext, recording: str, output_format: str, *, explain: bool = False) -> None:
        self.app = app
        self.json = output_format == "json"
        self.explain = explain
        self.first = True
        if self.json:
            sys.stdout.write(f'{{"recording": {json.dumps(recording)}, "failures": [')

    def add(self, item: AuditItem) -> None:
        if not item.failed:
            return
        if self.json:
            entry = {"line": item.line, "category": item.category, "reason": item.reason}
            entry["event_type"] = item.event_type
            if self.explain:
                entry["hints"] = list(item.hints)
            sys.stdout.write(("\n  " if self.first else ",\n  ") + json.dumps(entry, ensure_ascii=False))
            self.first = False
        else:
            from ..audit import MALFORMED

            kind = "" if item.category == MALFORMED else f" ({item.event_type or 'not an event'})"
            console = self.app.console()
            console.print(f"line {item.line}: {FAIL_MARK} {item.category}: {escape(item.reason)}{kind}")
            for hint in item.hints:
                console.print(f"  [yellow]likely cause:[/] {escape(hint)}")

    def finish(self, tally: AuditTally) -> None:
        if self.json:
            summary = json.dumps(tally.to_dict())
            sys.stdout.write(f'\n], "summary": {summary}, "ok": {json.dumps(tally.ok)}}}\n')
            return
        from rich import box
        from rich.table import Table

        from ..audit import COLUMNS

        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("event type")
        for column in COLUMNS:
            table.add_column(column, justify="right")
        for name, row in sorted(tally.by_type.items()):
            table.add_row(name, *(str(row[c]) for c in COLUMNS))
        table.add_row("[bold]all[/]", *(f"[bold]{tally.counts[c]}[/]" for c in COLUMNS))
        console = self.app.console()
        console.print(table)
        summary = f"{tally.counts['valid']} of {tally.deliveries} deliveries valid"
        if tally.malformed:
            summary += f"; {tally.malformed} malformed line{'s' if tally.malformed != 1 else ''}"
        if tally.skipped:
            summary += f"; {tally.skipped} other request{'s' if tally.skipped != 1 else ''} skipped"
        console.print(f"[bold green]{summary}[/]" if tally.ok else f"[bold red]{summary}[/]")

    def __enter__(self) -> AuditReport:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


# --- schemes ------------------------------------------------------------------

if TYPE_CHECKING:
    from ..schemes import Scheme


def scheme_dict(scheme: Scheme, source: str) -> dict[str, Any]:
    return {
        "name": scheme.name,
        "source": source,
        "summary": scheme.summary,
        "sends": dict(scheme.sends()),
        "signs": scheme.describe_message(),
        "hmac": f"HMAC-{scheme.hash.upper()}",
        "encoding": scheme.encoding,
        "key": scheme.describe_secret(),
        "definition": scheme.definition(),
    }


def schemes_report(
    app: AppContext, listed: list[tuple[Scheme, str]], default: str, output_format: str
) -> None:
    """``invwh schemes``: each scheme with what it sends and what it signs."""
    if output_format == "json":
        write_json({"default": default, "schemes": [scheme_dict(s, source) for s, source in listed]})
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("scheme", no_wrap=True)
    table.add_column("sends", ratio=1)
    table.add_column("signs", ratio=1)
    for scheme, source in listed:
        name = f"[bold]{escape(scheme.name)}[/]" + (" (default)" if scheme.name == default else "")
        sends = "\n".join(f"{escape(header)}: {escape(shape)}" for header, shape in scheme.sends())
        signs = (
            f"HMAC-{scheme.hash.upper()} of {escape(scheme.describe_message())}\n"
            f"[dim]key: {escape(scheme.describe_secret())}[/]"
        )
        table.add_row(f"{name}\n[dim]{escape(source)}[/]", sends, signs)
    console = app.console()
    console.print(table)
    console.print("[dim]`invwh schemes show NAME` prints one as a block for invwh.toml[/]")


def scheme_toml(scheme: Scheme, source: str) -> str:
    """A scheme as a ``[schemes.NAME]`` block that ``config.py`` reads back as the same scheme."""
    lines = [
        f"# {scheme.name} ({source}); under [tool.invwh.schemes.{scheme.name}] in pyproject.toml",
        f"[schemes.{_toml_key(scheme.name)}]",
    ]
    # A JSON string is a valid TOML basic string, and a quoted one a valid key.
    lines += [f"{name} = {_toml_value(value)}" for name, value in scheme.definition().items() if value != ""]
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, dict):  # header_aliases: an inline table
        return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _toml_key(name: str) -> str:
    return name if all(c.isalnum() or c in "_-" for c in name) else json.dumps(name)
