"""What a report's items say in words: the cells of a text row and the notes under it.

The core's items carry data (a ``DeliveryResult``, a ``CaseResult``, why a
line was skipped); the text table (``report_text``) and JUnit (``junit``)
both say the same of each item, from here. JSON writes the data itself.
"""

from __future__ import annotations

from ...workflows.check_results import CaseItem
from ...workflows.delivery import DeliveryResult
from ...workflows.report import (
    FAILED,
    MALFORMED,
    NOT_PROVEN,
    WARNING,
    DeliveryItem,
    Item,
    LineItem,
    one_line,
)
from .hints import failure_words

#: The headings of a report's table, by what its items are (``Report.noun``): the name column
#: first, then one per cell. A replay streams its lines and has no table.
COLUMNS = {
    "delivery": ("payload", "event", "status", "meaning", "time"),
    "case": ("case", "level"),
}


def cells(item: Item) -> tuple[str, ...]:
    """The item's row after its name."""
    if isinstance(item, DeliveryItem):
        result = item.result
        time = f"{result.elapsed * 1000:.0f} ms" + (f" ×{result.attempts}" if result.attempts > 1 else "")
        status = "—" if result.status is None else str(result.status)
        return (result.event_type or "not an event", status, result.meaning, time)
    if isinstance(item, CaseItem):
        return (item.case.level,)
    return ()


def notes(item: Item) -> tuple[str, ...]:
    """Lines said under the item's row: why it is not as expected, or what a case found."""
    if isinstance(item, DeliveryItem):
        return answer_notes(item.result)
    if isinstance(item, CaseItem):
        case = item.case
        said = [case.explanation, f"sent: {case.sent}"]
        shown = case.outcome in (FAILED, WARNING, NOT_PROVEN)
        if shown and case.answer and case.answer not in case.explanation:
            said.append(f"the receiver answered: {case.answer}")
        if case.accepted_instead is not None:
            said.append(
                f"if {case.accepted_instead} means accepted, say so with --expect {case.accepted_instead}"
            )
        if shown and item.rerun:
            said.append(f"rerun: {item.rerun}")
        return tuple(said)
    if isinstance(item, LineItem):
        return (f"{'malformed line' if item.outcome == MALFORMED else 'skipped'}: {item.why}",)
    return ()


def answer_notes(result: DeliveryResult) -> tuple[str, ...]:
    """What a delivery's answer said, when that is worth reading: anything but an expected 200."""
    if not result.delivered:
        return (f"not delivered: {failure_words(result.exchange.failure)}",)
    if result.status == 200 and result.ok:
        return ()
    where = f" → {result.location}" if result.location else ""
    said = one_line(result.response_preview) or "(empty body)"
    return (f"{result.status} {result.reason}{where}: {said}",)
