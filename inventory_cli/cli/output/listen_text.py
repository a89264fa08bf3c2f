"""``invwh listen`` for people: the URL first, then one line per answered request.

``14:03:22.123  200  POST /webhooks  stock.increase  ok``, and for a refused
delivery the message and the likely causes under it. The status is coloured
on a terminal. What a client sent (method, path) is shown with its control
characters escaped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .text import BOLD_GREEN, BOLD_RED, BOLD_YELLOW, YELLOW, TextWriter, printable

if TYPE_CHECKING:
    from ...workflows.forward import ForwardResult
    from ...workflows.receive import ReceivedDelivery

CAUSE_INDENT = " " * len("14:03:22.123  ")


def listening_line(url: str) -> str:
    """The first line on stdout: scripts wait for it."""
    return f"invwh listen: listening on {url}"


def forward_text(writer: TextWriter, forward: ForwardResult) -> str:
    """The app's side of a forwarded delivery: ``-> app 200 (4 ms)``, or why it got no answer."""
    if forward.blocked:
        return "-> not forwarded (--block-invalid)"
    millis = f"{forward.seconds * 1000:.0f} ms"
    if forward.status is None:
        return f"-> app {writer.paint('unreachable', BOLD_RED)}: {printable(forward.error or '')} ({millis})"
    colour = BOLD_GREEN if forward.agrees else BOLD_RED
    return f"-> app {writer.paint(str(forward.status), colour)} ({millis})"


def delivery_text(writer: TextWriter, delivery: ReceivedDelivery, *, forced: bool) -> str:
    """One answered request, as one line or, when it was refused, a few."""
    seconds, millis = divmod(round(delivery.received_at * 1_000_000) // 1000, 1000)
    clock = time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{millis:03d}"
    status = str(delivery.status) + (" (forced)" if forced and delivery.verdict is not None else "")
    colour = BOLD_GREEN if delivery.status < 300 else BOLD_YELLOW if delivery.status < 500 else BOLD_RED
    line = (
        f"{clock}  {writer.paint(status, colour)}  {printable(delivery.method)} {printable(delivery.path)}  "
        f"{printable(delivery.event_type or '-')}  {printable(delivery.reason)}"
    )
    forward = delivery.forward
    if forward is not None:
        line += f"  {forward_text(writer, forward)}"
    if delivery.valid and (forward is None or forward.agrees):
        return line
    lines = [f"{line}: {printable(delivery.message)}" if not delivery.valid else line]
    if forward is not None and not forward.agrees:
        lines.append(f"{CAUSE_INDENT}{writer.paint('disagreement:', BOLD_RED)} {printable(forward.why)}")
    hints = delivery.verdict.hints if delivery.verdict is not None else []
    cause = writer.paint("likely cause:", YELLOW)
    lines += [f"{CAUSE_INDENT}{cause} {printable(hint)}" for hint in hints]
    return "\n".join(lines)
