"""What the page shows of a delivery, computed here so the page only inserts text.

``visible_body`` cuts a body into runs of plain text and marks for what a
reader cannot see: CR, LF, tabs and other control characters, invisible
spaces and joiners, and each byte that is not UTF-8. ``pretty_json`` is the
body re-indented (Python keeps big integers and the digits of floats that
JavaScript would round). ``judgement`` is the recorded verdict, or, when the
inspector was given the secret, the verdict ``invwh verify`` reaches on the
same bytes with the likely cause of a failure. ``diff`` compares two
deliveries line by line.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvwhError
from ..signing.schemes import Scheme
from ..signing.signatures import Secret
from ..workflows.recording import Recorded
from ..workflows.verdict import judge

#: How a control character is shown: the escape a programmer writes for it, which every font has.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]} | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_NAMES = {
    0x09: "tab",
    0x0A: "LF (line feed)",
    0x0D: "CR (carriage return)",
    0x00: "NUL",
    0x1B: "ESC",
    0x7F: "DEL",
}
#: Characters that take no room or look like a space: a reader would miss them.
_INVISIBLE = {
    0x00A0: "no-break space",
    0x00AD: "soft hyphen",
    0x200B: "zero-width space",
    0x200C: "zero-width non-joiner",
    0x200D: "zero-width joiner",
    0x200E: "left-to-right mark",
    0x200F: "right-to-left mark",
    0x2028: "line separator",
    0x2029: "paragraph separator",
    0x2060: "word joiner",
    0xFEFF: "byte order mark",
}


@dataclass(frozen=True)
class Token:
    """A run of the body: ``text`` as is, or a ``mark`` (``label`` shown, ``title`` says what it is),
    a ``newline`` (a mark followed by a line break), or a ``byte`` that is not UTF-8."""

    kind: str
    label: str
    title: str = ""

    def to_list(self) -> list[str]:
        return [self.kind, self.label, self.title]


def visible_body(body: bytes) -> list[Token]:
    """The body as runs of text and marks, in order; joined labels read as the body with its marks."""
    tokens: list[Token] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            tokens.append(Token("text", "".join(run)))
            run.clear()

    # surrogateescape keeps each byte that is not UTF-8 as U+DC80..U+DCFF, in its place.
    for char in body.decode("utf-8", errors="surrogateescape"):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            flush()
            tokens.append(Token("byte", f"\\x{code - 0xDC00:02x}", "a byte that is not UTF-8"))
        elif code == 0x0A:
            flush()
            tokens.append(Token("newline", _ESCAPES[code], _NAMES[code]))
        elif code in _ESCAPES:
            flush()
            tokens.append(Token("mark", _ESCAPES[code], _NAMES.get(code, f"control character U+{code:04X}")))
        elif code in _INVISIBLE:
            flush()
            tokens.append(Token("mark", f"<U+{code:04X}>", _INVISIBLE[code]))
        else:
            run.append(char)
    flush()
    return tokens


def body_facts(body: bytes) -> list[str]:
    """What a reader should know of a body's bytes before reading it."""
    facts = [f"{len(body)} bytes"]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        invalid = sum(1 for c in body.decode("utf-8", errors="surrogateescape") if 0xDC80 <= ord(c) <= 0xDCFF)
        facts.append(f"not UTF-8: {invalid} byte{'s' if invalid != 1 else ''} that are not")
    else:
        facts.append("UTF-8")
    crlf = body.count(b"\r\n")
    lf, cr = body.count(b"\n") - crlf, body.count(b"\r") - crlf
    endings = [f"{name} \u00d7{count}" for name, count in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if count]
    facts.append("line endings: " + ", ".join(endings) if endings else "one line")
    if body.endswith(b"\n"):
        facts.append("ends with a newline")
    elif body:
        facts.append("no trailing newline")
    if body.startswith(b"\xef\xbb\xbf"):
        facts.append("starts with a byte order mark")
    return facts


def pretty_json(body: bytes) -> tuple[str | None, str | None]:
    """``(the body indented, None)``, or ``(None, why it is not JSON)``."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not JSON: not UTF-8"
    except ValueError as error:
        return None, f"not JSON: {getattr(error, 'msg', error)}"
    except RecursionError:
        return None, "not JSON this tool can read: nested too deeply"
    return json.dumps(value, indent=2, ensure_ascii=False), None


@dataclass
class Judge:
    """What the inspector judges deliveries with: the secrets it was given (maybe none)."""

    scheme: Scheme
    secrets: Sequence[Secret]
    tolerance: int = 300
    notification_url: str | None = None

    def judgement(self, record: Recorded) -> dict[str, Any]:
        """The recorded verdict and, with a secret, today's verdict on the same bytes and its likely cause.

        The timestamp's age is measured against the time the delivery was
        received, as ``invwh audit`` does.
        """
        judged: dict[str, Any] | None = None
        error = None
        if self.secrets and record.body_read and record.method == "POST":
            try:
                verdict = judge(
                    self.scheme,
                    self.secrets,
                    record.body,
                    record.headers,
                    method=record.method,
                    tolerance=self.tolerance,
                    now=record.received_at_unix,
                    url=self.notification_url,
                )
            except InvwhError as failure:
                error = str(failure)
            else:
                judged = verdict.to_dict()
        return {
            "recorded": record.verdict,
            "judged": judged,
            "error": error,
            "secret_known": bool(self.secrets),
        }


def detail(index: int, record: Recorded, judge_with: Judge) -> dict[str, Any]:
    """Everything the page shows of one delivery, but the line itself (the page has it)."""
    pretty, not_json = pretty_json(record.body)
    return {
        "index": index,
        "line": record.line,
        "body": {
            "tokens": [token.to_list() for token in visible_body(record.body)],
            "facts": body_facts(record.body),
            "pretty": pretty,
            "not_json": not_json,
            "text": _text_or_none(record.body),
            "crlf": b"\r\n" in record.body,
        },
        "judgement": judge_with.judgement(record),
    }


def _text_or_none(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _marked_lines(body: bytes) -> list[str]:
    """The body's lines, each with its invisible characters as their marks (its LF included)."""
    lines: list[str] = [""]
    for token in visible_body(body):
        lines[-1] += token.label
        if token.kind == "newline":
            lines.append("")
    if lines[-1] == "" and len(lines) > 1:
        lines.pop()
    return lines


def _header_lines(record: Recorded) -> list[str]:
    return [f"{name}: {value}" for name, value in sorted(record.headers.items(), key=lambda i: i[0].lower())]


def line_diff(before: list[str], after: list[str]) -> list[list[str]]:
    """``[op, line]`` for every line: ``" "`` in both, ``"-"`` only before, ``"+"`` only after."""
    out: list[list[str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            out += [[" ", line] for line in before[a1:a2]]
            continue
        out += [["-", line] for line in before[a1:a2]]
        out += [["+", line] for line in after[b1:b2]]
    return out


def diff(first: Recorded, second: Recorded) -> dict[str, Any]:
    """Two deliveries compared: their headers, their bodies' bytes and their bodies as JSON."""
    pretty_first, not_json_first = pretty_json(first.body)
    pretty_second, not_json_second = pretty_json(second.body)
    json_diff = None
    if pretty_first is not None and pretty_second is not None:
        json_diff = line_diff(pretty_first.splitlines(), pretty_second.splitlines())
    return {
        "lines": [first.line, second.line],
        "same_bytes": first.body == second.body,
        "same_json": pretty_first is not None and pretty_first == pretty_second,
        "headers": line_diff(_header_lines(first), _header_lines(second)),
        "bytes": line_diff(_marked_lines(first.body), _marked_lines(second.body)),
        "json": json_diff,
        "not_json": [not_json_first, not_json_second],
    }
