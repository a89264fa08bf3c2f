"""Verdicts for people: ``verify``'s one delivery, ``validate``'s payloads, a recording's audit.

``verify``: a head line (valid, or which check fails), then one line per
check with its mark, and under a bad signature the likely causes.
``validate``: a line per payload, its problems under it, and a count when
there are several, written by ``plain.PlainWriter`` without rich (its start-up
is a goal). ``audit``: a line per failing delivery as the
audit streams (constant memory), then a table per event type and a summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from ...text import printable
from .theme import FAIL, INDENT, OK, SKIP

if TYPE_CHECKING:
    from ...events.validation import EventCheck
    from ...workflows.audit import AuditItem, AuditTally
    from ...workflows.verdict import Verdict
    from .plain import PlainWriter
    from .text import Text, TextWriter

CHECK_INDENT = " " * len("  signature  ")


def write_verdict(writer: TextWriter, verdict: Verdict, body_name: str) -> None:
    # Imported here, as in the audit's lines: `invwh validate` writes no hint, and the hints'
    # words load transport/ (socket) for its failures.
    from .hints import hints_words

    name = printable(body_name)
    if verdict.valid:
        writer.wrapped(
            writer.mark(OK), " ", writer.paint("valid", "passed"), f": {name} is a "
            f"{printable(verdict.event_type or 'delivery')} signed with {printable(verdict.scheme)}",
            indent=INDENT,
        )  # fmt: skip
    else:
        invalid = writer.paint("invalid", "failed")
        writer.wrapped(
            writer.mark(FAIL), " ", invalid, f": {name} fails {printable(verdict.reason)}", indent=INDENT
        )
    signature = verdict.signature
    writer.wrapped(
        "  signature  ", writer.mark(OK if signature.ok else FAIL), f"  {printable(signature.message)}",
        indent=CHECK_INDENT + "   ",
    )  # fmt: skip
    for hint in hints_words(verdict.hints):
        writer.wrapped(CHECK_INDENT, _likely_cause(writer), f" {printable(hint)}", indent=CHECK_INDENT + "  ")
    if verdict.event is None:
        writer.wrapped("  payload    ", writer.mark(SKIP), "  not validated (--no-validate)")
    elif verdict.event.ok:
        writer.wrapped("  payload    ", writer.mark(OK), f"  {printable(str(verdict.event.event_type))}")
    else:
        first, *rest = verdict.event.problems
        writer.wrapped(
            "  payload    ", writer.mark(FAIL), f"  {printable(str(first))}", indent=CHECK_INDENT + "   "
        )
        for problem in rest:
            writer.wrapped(f"{CHECK_INDENT}   {printable(str(problem))}", indent=CHECK_INDENT + "   ")


def write_validation(writer: PlainWriter, results: Sequence[tuple[str, EventCheck]]) -> None:
    for name, check in results:
        if check.ok:
            writer.line(f"{writer.mark(OK)} {printable(name)}: {printable(str(check.event_type))}")
            continue
        writer.line(f"{writer.mark(FAIL)} {printable(name)}: not a valid inventory event")
        for problem in check.problems:
            writer.line(f"{INDENT}{printable(str(problem))}")
    invalid = sum(1 for _, check in results if not check.ok)
    if len(results) > 1:
        summary = f"{len(results) - invalid} valid, {invalid} invalid"
        writer.line(writer.paint(summary, "total" if invalid == 0 else "failed"))


def _likely_cause(writer: TextWriter) -> Text:
    return writer.paint("likely cause:", "cause")


class AuditText:
    """``invwh audit``: each failure as the audit reaches it, then the table and a summary."""

    def __init__(self, color: bool | None, out: IO[str] | None = None) -> None:
        from .text import TextWriter

        self.writer = TextWriter(color, out)

    def add(self, item: AuditItem) -> None:
        if not item.failed:
            return
        from ...workflows.audit import MALFORMED
        from .hints import hints_words

        writer = self.writer
        kind = "" if item.category == MALFORMED else f" ({printable(item.event_type or 'not an event')})"
        writer.wrapped(
            f"line {item.line}: ", writer.mark(FAIL), f" {item.category}: {printable(item.reason)}{kind}",
            indent=INDENT,
        )  # fmt: skip
        for hint in hints_words(item.hints):
            writer.wrapped("  ", _likely_cause(writer), f" {printable(hint)}", indent=INDENT)

    def finish(self, tally: AuditTally, error: str | None = None) -> None:
        """``error`` (no delivery in the recording) is said on stderr, by the caller."""
        from ...workflows.audit import COLUMNS

        writer = self.writer
        by_type = sorted(tally.by_type.items())
        rows = [(printable(name), *(str(row[c]) for c in COLUMNS)) for name, row in by_type]
        rows.append(("all", *(str(tally.counts[c]) for c in COLUMNS)))
        writer.line()
        writer.table(("event type", *COLUMNS), rows, right=range(1, len(COLUMNS) + 1), bold_last=True)
        writer.line()
        summary = f"{tally.counts['valid']} of {tally.deliveries} deliveries valid"
        if tally.malformed:
            summary += f"; {tally.malformed} malformed line{'s' if tally.malformed != 1 else ''}"
        if tally.skipped:
            summary += f"; {tally.skipped} other request{'s' if tally.skipped != 1 else ''} skipped"
        writer.line(writer.paint(summary, "passed" if tally.ok and error is None else "failed"))
        writer.flush()
