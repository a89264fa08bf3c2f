"""Every output format in one place: JSON for scripts, rich text for people.

Commands build plain data (core objects and dicts) and hand it here. JSON goes
to stdout and nothing else is mixed into it; text uses rich, with colour only
on a terminal.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ..events import EventCheck
from ..verdict import Verdict
from .app import AppContext

OK_MARK = "[green]✓[/]"
FAIL_MARK = "[red]✗[/]"
SKIP_MARK = "[dim]–[/]"


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_lines(lines: Iterable[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# --- sign ---------------------------------------------------------------


def signed_headers_lines(headers: Mapping[str, str]) -> list[str]:
    return [f"{name}: {value}" for name, value in headers.items()]


def curl_command(url: str, method: str, headers: Mapping[str, str], body_arg: str) -> str:
    lines = [f"curl --request {method} --url {shlex.quote(url)}"]
    lines += [f"--header {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    lines.append(f"--data-binary {body_arg}")
    return " \\\n  ".join(lines)


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
    for hint in signature.hints:
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


def problems_lines(check: EventCheck) -> list[str]:
    return [f"  {problem}" for problem in check.problems]
