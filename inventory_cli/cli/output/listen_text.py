"""``invwh listen`` for people: the URL first, then one line per answered request.

``14:03:22.123  200  POST /webhooks  stock.increase  ok``, and for a refused
delivery the message and the likely causes under it. The status is coloured
on a terminal; a line wider than the width wraps at word boundaries under
the method (rich, through ``text.TextWriter.render``). What a client sent
(method, path) is shown with its control characters escaped.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .hints import hints_words
from .text import TextWriter, printable, text

if TYPE_CHECKING:
    from rich.text import Text

    from ...workflows.forward import ForwardResult
    from ...workflows.receive import ReceivedDelivery

CAUSE_INDENT = " " * len("14:03:22.123  ")


def listening_line(url: str) -> str:
    """The first line on stdout: scripts wait for it."""
    return f"invwh listen: listening on {url}"


def forward_text(writer: TextWriter, forward: ForwardResult) -> Text:
    """The app's side of a forwarded delivery: ``-> app 200 (4 ms)``, or why it got no answer."""
    if forward.blocked:
        return text("-> not forwarded (--block-invalid)")
    millis = f"{forward.seconds * 1000:.0f} ms"
    if forward.status is None:
        return text(
            "-> app ",
            writer.paint("unreachable", "status.error"),
            f": {printable(forward.error or '')} ({millis})",
        )
    style = "status.ok" if forward.agrees else "status.error"
    return text("-> app ", writer.paint(str(forward.status), style), f" ({millis})")


@functools.lru_cache(maxsize=2)  # a receiver logs many requests in the same second
def _local_clock(seconds: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def delivery_text(writer: TextWriter, delivery: ReceivedDelivery, *, forced: bool) -> str:
    """One answered request, as one line or, when it was refused, a few."""
    seconds, millis = divmod(round(delivery.received_at * 1_000_000) // 1000, 1000)
    clock = f"{_local_clock(seconds)}.{millis:03d}"
    status = str(delivery.status) + (" (forced)" if forced and delivery.verdict is not None else "")
    code = delivery.status
    style = "status.ok" if code < 300 else "status.refused" if code < 500 else "status.error"
    request = f"{printable(delivery.method)} {printable(delivery.path)}"
    forward = delivery.forward
    if delivery.valid and forward is None:  # the common line: without rich when it is plain
        rest = f"  {request}  {printable(delivery.event_type or '-')}  {printable(delivery.reason)}"
        plain = writer.plain_line(f"{clock}  ", status, rest)
        if plain is not None:
            return plain
    line = text(
        f"{clock}  ", writer.paint(status, style),
        f"  {request}  {printable(delivery.event_type or '-')}  {printable(delivery.reason)}",
    )  # fmt: skip
    if forward is not None:
        line = text(line, "  ", forward_text(writer, forward))
    if delivery.valid and (forward is None or forward.agrees):
        return writer.render(line, indent=CAUSE_INDENT)
    lines = [text(line, f": {printable(delivery.message)}") if not delivery.valid else line]
    if forward is not None and not forward.agrees:
        lines.append(
            text(CAUSE_INDENT, writer.paint("disagreement:", "status.error"), f" {printable(forward.why)}")
        )
    hints = hints_words(delivery.verdict.hints) if delivery.verdict is not None else []
    cause = writer.paint("likely cause:", "cause")
    lines += [text(CAUSE_INDENT, cause, f" {printable(hint)}") for hint in hints]
    return writer.render(*lines, indent=CAUSE_INDENT)


def footer_text(writer: TextWriter, counts: Mapping[str, int], seconds: float) -> str:
    """The line kept under the log on a terminal: ``12 requests: 10 ok, 2 signature_mismatch · 0.4/s``.

    ``counts`` is the requests answered so far by verdict (``ReceivedDelivery.reason``);
    ``seconds`` how long the receiver has listened. Cut to the width: it must stay one line.
    """
    total = sum(counts.values())
    parts = [
        writer.paint(f"{count} {printable(reason)}", "ok" if reason == "ok" else "fail")
        for reason, count in sorted(counts.items(), key=lambda item: (item[0] != "ok", -item[1], item[0]))
    ]
    line = text(writer.paint("listen", "title"), f"  {total} request{'s' if total != 1 else ''}")
    for number, part in enumerate(parts):
        line.append(": " if number == 0 else ", ")
        line.append(part)
    line.append(f" · {total / seconds if seconds > 0 else 0.0:.1f}/s")
    line.truncate(max(1, writer.width - 1))  # the last column would wrap the cursor onto a new line
    return writer.render(line)
