"""A request and its answer as plain lines, for ``--verbose`` and JUnit's ``<system-out>``.

``> `` lines are what was sent (method and URL, headers, the start of the
body), ``< `` lines what came back. The signature headers are shown: they are
what a reader needs to compare, and they do not reveal the secret. Every
field is shown through ``printable`` (a receiver's reason phrase with an ESC
in it, a recording's method): one line each, inert on a terminal.
"""

from __future__ import annotations

from ...text import printable
from ...workflows.delivery import DeliveryResult

PREVIEW_BYTES = 200


def exchange_lines(result: DeliveryResult) -> list[str]:
    lines = [f"> {printable(result.method)} {printable(result.url)}"]
    lines += [f"> {printable(name)}: {printable(value)}" for name, value in result.request_headers.items()]
    lines.append(f"> {_preview(result.request_body)}")
    if result.error is not None:
        lines.append(f"< (no answer: {printable(result.error)})")
        return lines
    lines.append(f"< {result.status} {printable(result.reason)}".rstrip())
    lines.append(f"< {_preview(result.response_preview)}")
    return lines


def _preview(body: bytes) -> str:
    if not body:
        return "(empty body)"
    text = body[:PREVIEW_BYTES].decode("utf-8", "replace")
    text = text.translate(_CONTROL_CHARACTERS)
    if len(body) > PREVIEW_BYTES:
        text += f"… ({len(body)} bytes)"
    return text


# Newlines and other control characters in a body are shown escaped, so one body is one line.
_CONTROL_CHARACTERS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_CONTROL_CHARACTERS.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})
