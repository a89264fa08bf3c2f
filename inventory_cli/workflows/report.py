"""The report of a run that delivers or checks: one shape for every output format.

``send``, ``trigger``, ``demo``, ``replay`` and ``check`` each describe what
they did as a ``Report``: what the run was against (command, URL, scheme), one
``Item`` per delivery, recording line or case, added as they happen, and
counts that add up to the number of items. ``cli/output/`` renders a report
as text, JSON or JUnit; ``cli/app.py`` turns its ``Outcome`` into the exit
status. Nothing here knows of click or of any output format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..outcome import Ended
from ..outcome import Outcome as Outcome  # the type its reports end in, as its renderers name it
from ..text import shorten

if TYPE_CHECKING:
    from .delivery import DeliveryResult


# What one delivery or recording line came to.
AS_EXPECTED = "as_expected"
UNEXPECTED = "unexpected"
UNDELIVERED = "undelivered"
MALFORMED = "malformed"  # a recording line that is not a record
SKIPPED = "skipped"  # a recording line with nothing to deliver

# What one case of a check came to.
PASSED = "passed"
FAILED = "failed"
WARNING = "warning"  # a recommended case failed, not run strictly
NOT_PROVEN = "not_proven"  # a rejection case whose verdict means nothing (valid events were refused too)
INFO = "info"

DELIVERY_OUTCOMES = (AS_EXPECTED, UNEXPECTED, UNDELIVERED)
REPLAY_OUTCOMES = (*DELIVERY_OUTCOMES, MALFORMED, SKIPPED)
CHECK_OUTCOMES = (PASSED, FAILED, WARNING, NOT_PROVEN, INFO)

#: Item outcomes that make the run fail.
FAILING = frozenset({UNEXPECTED, UNDELIVERED, MALFORMED, FAILED})


@dataclass
class Item:
    """One delivery, recording line or case: its outcome, its JSON, and the data every format
    words for itself (``cli/output/items.py`` says what a row and its notes show)."""

    name: str
    outcome: str
    #: The item in the JSON report.
    data: dict[str, Any]
    seconds: float = 0.0
    #: The requests made for it and their answers (shown with --verbose and in JUnit).
    deliveries: Sequence[DeliveryResult] = ()


@dataclass
class DeliveryItem(Item):
    """A delivery made (send, trigger, demo, replay): its result is what its row says."""

    result: DeliveryResult = field(kw_only=True)


@dataclass
class LineItem(Item):
    """A recording line nothing was delivered for: a line that is no record, or a request that
    was no delivery."""

    why: str = field(kw_only=True)


@dataclass
class Report(Ended):
    """A run's header, its counts and its end; the items themselves stream to the formats."""

    command: str
    url: str
    scheme: str
    #: The possible item outcomes, in the order the summary lists them.
    outcomes: tuple[str, ...]
    #: What an item is, for the summary line: "delivery", "line", "case".
    noun: str
    #: Text shows one line per item that is not as expected, as it comes, and no table
    #: (a replay of a million lines).
    streamed: bool = False
    #: Lines said before the items (a check's seed, why it stopped early).
    preamble: list[str] = field(default_factory=list)
    #: Lines said after the items, before the summary.
    epilogue: list[str] = field(default_factory=list)
    #: More top-level JSON fields (a replay's statuses and rate, a check's seed).
    extra: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(init=False)
    interrupted: bool = False
    #: Why the receiver could not be reached at all, in one line; None when it was.
    error: str | None = None
    #: Why there was nothing to deliver (``rec.jsonl holds no deliveries``); None when there was.
    nothing_to_deliver: str | None = None

    def __post_init__(self) -> None:
        self.counts = dict.fromkeys(self.outcomes, 0)

    def count(self, item: Item) -> None:
        # An outcome outside the usual ones still counts (a check whose receiver was never reached).
        self.counts[item.outcome] = self.counts.get(item.outcome, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> dict[str, int]:
        return {"total": self.total, **self.counts}

    @property
    def outcome(self) -> Outcome:
        if self.interrupted:
            return Outcome.INTERRUPTED
        if self.nothing_to_deliver is not None:
            return Outcome.NOTHING_TO_DELIVER
        if self.error is not None or self.counts.get(UNDELIVERED):
            return Outcome.UNDELIVERED
        if any(self.counts.get(kind) for kind in FAILING):
            return Outcome.FAILED
        return Outcome.OK

    def reasons(self) -> list[str]:
        return [reason for reason in (self.error, self.nothing_to_deliver) if reason is not None]

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def title(self) -> str:
        """``invwh check http://localhost:3000/webhooks (inventory-v1)``: the run in one line."""
        return f"invwh {self.command} {self.url} ({self.scheme})"


def delivery_report(command: str, url: str, scheme: str, *, streamed: bool = False) -> Report:
    if streamed:
        return Report(command, url, scheme, REPLAY_OUTCOMES, "line", streamed=True)
    return Report(command, url, scheme, DELIVERY_OUTCOMES, "delivery")


def delivery_outcome(result: DeliveryResult) -> str:
    if not result.delivered:
        return UNDELIVERED
    return AS_EXPECTED if result.ok else UNEXPECTED


def delivery_item(result: DeliveryResult, name: str | None = None, **data: Any) -> DeliveryItem:
    """A delivery as a report item; ``data`` adds JSON fields before the delivery's own (a line)."""
    name = result.payload if name is None else name
    outcome = delivery_outcome(result)
    return DeliveryItem(
        name,
        outcome,
        {"name": name, "outcome": outcome, **data, **result.to_dict()},
        result.elapsed,
        (result,),
        result=result,
    )


def one_line(data: bytes, limit: int | None = None) -> str:
    """Bytes a server sent, as one line of text (runs of white space become one space)."""
    text = " ".join(data.decode("utf-8", "replace").split())
    return text if limit is None else shorten(text, limit)


def undelivered_error(url: str, count: int, first_error: str, where: str = "") -> str:
    """The one error line for deliveries that could not be made."""
    what = "" if count == 1 else f"{count} deliveries "
    return f"could not deliver {what}to {url}: {first_error}{where}"
