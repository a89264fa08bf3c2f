"""Replay a recording: POST each recorded body again, in order, at a bounded pace.

Streams the recording and keeps at most a window of deliveries in flight, so
memory does not grow with the recording's size. Results come back in the
recording's order whatever the concurrency.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..events.validation import check_event
from ..json_text import use_fast_decoder
from ..signing.schemes import Scheme
from ..transport.client_pool import ClientPool, Outcome, Post
from ..transport.retry import RetryPolicy
from ..version import __version__
from .delivery import Deliverer, DeliveryOptions, DeliveryResult, Signer
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
    concurrency: int = 1
    rate: float | None = None  # deliveries per second at most
    event_type: str | None = None  # replay only this type
    limit: int | None = None  # at most this many deliveries
    expected: Collection[int] = (200,)


def event_type_of(record: Recorded) -> str | None:
    verdict = record.verdict or {}
    recorded = verdict.get("event_type")
    return recorded if isinstance(recorded, str) else check_event(record.body).event_type


def replay(
    records: Iterable[Recorded | BadLine],
    deliverer: Deliverer,
    scheme: Scheme,
    options: ReplayOptions,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[ReplayItem]:
    """Deliver each usable record again and yield one item per line, in order.

    Plain-HTTP URLs go through ``transport.client_pool.ClientPool`` (one
    thread, keep-alive connections, thousands of deliveries a second); HTTPS
    through the Deliverer's ``requests`` sessions on a pool of threads. Both
    retry by the same ``RetryPolicy``.
    """
    use_fast_decoder()  # a JSON line a delivery, read on the sending thread: msgspec, where installed
    kept = {name.lower() for name in scheme.replayed_header_names()}

    def signer_for(record: Recorded) -> Signer:
        if not options.keep_signature:
            return deliverer.sign
        recorded = {k: v for k, v in record.headers.items() if k.lower() in kept}
        return lambda body: recorded  # the recorded headers, untouched

    # --filter and --limit choose among the deliveries: the other requests are counted, not listed.
    listed = options.event_type is None and options.limit is None

    def planned() -> Iterator[ReplayItem | tuple[Recorded, str | None]]:
        sent = 0
        for record in records:
            if options.limit is not None and sent >= options.limit:
                return
            if isinstance(record, BadLine):
                yield ReplayItem(record.line, skipped=record.reason, malformed=True)
                continue
            why = why_not_a_delivery(record)
            if why is not None:
                yield ReplayItem(record.line, skipped=why, listed=listed)
                continue
            event_type = event_type_of(record)
            if options.event_type and event_type != options.event_type:
                continue
            sent += 1
            yield record, event_type

    if urlsplit(deliverer.options.url).scheme == "http":
        yield from _pooled(planned(), deliverer.options, options, signer_for)
    else:
        pace = _Pace(options.rate, clock, sleep)
        yield from _threaded(planned(), deliverer, options, signer_for, pace)


Step = ReplayItem | tuple[Recorded, str | None]


def _pooled(
    steps: Iterator[Step],
    delivery: DeliveryOptions,
    options: ReplayOptions,
    signer_for: Callable[[Recorded], Signer],
) -> Iterator[ReplayItem]:
    pool = ClientPool(
        delivery.url,
        connections=options.concurrency,
        timeout=delivery.timeout,
        retry=RetryPolicy(delivery.retries, delivery.backoff),
        rate=options.rate,  # paced inside the pool, whose loop keeps serving its connections meanwhile
        headers=delivery.headers,
        user_agent=f"invwh/{__version__}",
    )
    skipped: deque[ReplayItem] = deque()  # lines passed over, waiting for their turn
    sent: deque[tuple[int, str | None]] = deque()  # the line and event type of each POST in flight

    def posts() -> Iterator[Post]:
        for step in steps:
            if isinstance(step, ReplayItem):
                skipped.append(step)
                continue
            record, event_type = step
            sent.append((record.line, event_type))
            yield Post(record.body, signer_for(record))

    for outcome in pool.run(posts()):
        line, event_type = sent.popleft()
        while skipped and skipped[0].line < line:
            yield skipped.popleft()
        yield ReplayItem(line, _result(outcome, line, event_type, delivery.url, options.expected))
    yield from skipped


def _result(
    outcome: Outcome, line: int, event_type: str | None, url: str, expected: Collection[int]
) -> DeliveryResult:
    return DeliveryResult(
        f"line {line}",
        event_type,
        url,
        expected,
        status=outcome.status,
        reason=outcome.reason,
        elapsed=outcome.elapsed,
        attempts=outcome.attempts,
        response_preview=outcome.preview,
        error=outcome.error,
        failure_kind=outcome.failure_kind,
        location=outcome.location,
        request_headers=outcome.request_headers,
        request_body=outcome.body,
    )


def _threaded(
    steps: Iterator[Step],
    deliverer: Deliverer,
    options: ReplayOptions,
    signer_for: Callable[[Recorded], Signer],
    pace: _Pace,
) -> Iterator[ReplayItem]:
    def deliver(record: Recorded, event_type: str | None) -> ReplayItem:
        result = deliverer.deliver(
            record.body,
            payload=f"line {record.line}",
            event_type=event_type,
            expected=options.expected,
            signer=signer_for(record),
        )
        return ReplayItem(record.line, result)

    # A bounded window of futures, drained from the left, keeps the order and the memory flat.
    window: deque[Future[ReplayItem]] = deque()
    with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="replay") as pool:
        for step in steps:
            if isinstance(step, ReplayItem):
                done: Future[ReplayItem] = Future()
                done.set_result(step)
                window.append(done)
            else:
                pace.wait()
                window.append(pool.submit(deliver, *step))
            while len(window) > options.concurrency * 4 or (window and window[0].done()):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


class _Pace:
    """Spaces deliveries at most ``rate`` per second, measured from the first."""

    def __init__(
        self, rate: float | None, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.clock = clock
        self.sleep = sleep
        self.count = 0
        self.start = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        if self.count == 0:
            self.start = self.clock()
        delay = self.start + self.count * self.interval - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.count += 1
