"""Replay a recording: POST each recorded body again, in order, at a bounded pace.

Streams the recording through the run's one client (``Deliverer.deliver_all``),
which keeps at most a window of deliveries in flight, so memory does not grow
with the recording's size; concurrency and pace are the ``DeliveryOptions``'.
Results come back in the recording's order whatever the concurrency.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from ..events.validation import check_event
from ..json_text import use_fast_decoder
from ..signing.schemes import Scheme
from ..transport.exchange import KeptHeaders, Post, Signer
from .delivery import Deliverer, DeliveryResult
from .recording import BadLine, Recorded, why_not_a_delivery


@dataclass
class ReplayItem:
    """One line of the recording: a delivery made, or a line skipped and why."""

    line: int
    result: DeliveryResult | None = None
    skipped: str | None = None  # why nothing was sent for this line
    malformed: bool = False  # the line itself is broken (not a record)
    #: False for a request that was no delivery when --filter or --limit chose the deliveries:
    #: it is counted, not listed.
    listed: bool = True


@dataclass
class ReplayOptions:
    keep_signature: bool = False
    event_type: str | None = None  # replay only this type
    limit: int | None = None  # at most this many deliveries
    expected: Collection[int] = (200,)


@dataclass
class ReplayTally:
    """What a replay came to, counted as its items come: the statistics its report ends with."""

    started: float = field(default_factory=time.monotonic)
    #: Deliveries by the status answered (``"200"``), or ``"not delivered"``.
    statuses: dict[str, int] = field(default_factory=dict)
    #: Recorded requests that were no delivery, and those of them not listed (--filter, --limit).
    skipped: int = 0
    unlisted: int = 0
    delivered: int = 0  # deliveries that got an answer
    lines: int = 0  # the last line read

    def add(self, item: ReplayItem) -> None:
        self.lines = item.line
        if item.result is not None:
            status = item.result.status
            key = "not delivered" if status is None else str(status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
            self.delivered += status is not None
        elif not item.malformed:
            self.skipped += 1
            self.unlisted += not item.listed

    @property
    def attempted(self) -> int:
        """Deliveries made, answered or not."""
        return sum(self.statuses.values())

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> dict[str, object]:
        """The figures for the report's end (the JSON's top level), as of now."""
        seconds = self.seconds()
        return {
            "statuses": dict(sorted(self.statuses.items())),
            "seconds": round(seconds, 3),
            "rate_per_second": round(self.delivered / seconds, 1) if seconds else None,
            "skipped_requests": self.skipped,
        }


def event_type_of(record: Recorded) -> str | None:
    verdict = record.verdict or {}
    recorded = verdict.get("event_type")
    return recorded if isinstance(recorded, str) else check_event(record.body).event_type


def replay(
    records: Iterable[Recorded | BadLine],
    deliverer: Deliverer,
    scheme: Scheme,
    options: ReplayOptions,
) -> Iterator[ReplayItem]:
    """Deliver each usable record again and yield one item per line, in order."""
    use_fast_decoder()  # a JSON line a delivery, read on the sending thread: msgspec, where installed
    kept = {name.lower() for name in scheme.replayed_header_names()}

    def signer_for(record: Recorded) -> Signer:
        if not options.keep_signature:
            return deliverer.sign
        return KeptHeaders({k: v for k, v in record.headers.items() if k.lower() in kept})

    # --filter and --limit choose among the deliveries: the other requests are counted, not listed.
    listed = options.event_type is None and options.limit is None
    skipped: deque[ReplayItem] = deque()  # lines passed over, waiting for their turn
    sent: deque[tuple[int, str | None]] = deque()  # the line and event type of each POST in flight

    def posts() -> Iterator[Post]:
        taken = 0
        for record in records:
            if options.limit is not None and taken >= options.limit:
                return
            if isinstance(record, BadLine):
                skipped.append(ReplayItem(record.line, skipped=record.reason, malformed=True))
                continue
            why = why_not_a_delivery(record)
            if why is not None:
                skipped.append(ReplayItem(record.line, skipped=why, listed=listed))
                continue
            event_type = event_type_of(record)
            if options.event_type and event_type != options.event_type:
                continue
            taken += 1
            sent.append((record.line, event_type))
            yield Post(record.body, signer_for(record))

    for exchange in deliverer.deliver_all(posts()):
        line, event_type = sent.popleft()
        while skipped and skipped[0].line < line:
            yield skipped.popleft()
        result = DeliveryResult(f"line {line}", event_type, options.expected, exchange)
        yield ReplayItem(line, result)
    yield from skipped
