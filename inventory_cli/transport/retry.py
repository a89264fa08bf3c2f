"""When a client tries again, and when it starts the next POST: for both clients, once.

``RetryPolicy`` says which failures are worth another attempt and how long
to wait first; ``Pace`` spaces new POSTs at most ``--rate`` a second. The
llhttp pool (``client_pool``, http://) and the requests client
(``requests_client``, https://) ask the same two, so a delivery is retried
and paced the same way whichever client carries it.
"""

from __future__ import annotations

import datetime
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass

#: No wait is longer, whatever the backoff or the server's Retry-After says.
MAX_RETRY_WAIT = 60.0


@dataclass(frozen=True)
class RetryWait:
    """A wait before another attempt, as it begins: for whoever shows where a run stands."""

    seconds: float
    attempt: int  # the attempt that follows the wait
    attempts: int  # attempts in all, at most
    why: str  # the last attempt's failure or answer: "connection refused", "503 Service Unavailable"


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0  # attempts after the first, at most
    backoff: float = 0.5  # seconds before the first retry, doubled after each

    def wait_before_retry(
        self, attempts: int, status: int | None, error: str | None, retry_after: float | None = None
    ) -> float | None:
        """Seconds to wait before attempt ``attempts + 1``, or None when there is to be none.

        ``status`` and ``error`` are the outcome of the last attempt, ``retry_after``
        the seconds its Retry-After header asked for (``retry_after_seconds``).
        """
        if attempts > self.retries or not worth_retrying(status, error):
            return None
        wait = retry_after if retry_after is not None else self.backoff * 2 ** (attempts - 1)
        return min(MAX_RETRY_WAIT, wait)


def worth_retrying(status: int | None, error: str | None) -> bool:
    # Connection failures and server trouble may pass; a 4xx answer will not
    # change, and re-sending a 422 would only repeat a processing failure.
    return error is not None or status == 429 or (status or 0) >= 500


def retry_after_seconds(value: str | bytes | None, now: Callable[[], float] = time.time) -> float | None:
    """A Retry-After header as seconds from now: a delay in seconds or an HTTP date; None if neither."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": no zone given; HTTP dates are in GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - now())


class Pace:
    """At most ``rate`` new POSTs a second, spaced evenly from the first one's start.

    A client asks ``due`` when the next POST may start (a blocking client sleeps
    until then, the pool's loop serves its connections meanwhile) and says
    ``started`` as it starts one.
    """

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.count = 0
        self.first = 0.0

    def due(self, now: float) -> float:
        """When the next POST may start: ``now`` when it may start at once."""
        if not self.interval or not self.count:
            return now
        return max(now, self.first + self.count * self.interval)

    def started(self, now: float) -> None:
        if not self.interval:
            return
        if not self.count:
            self.first = now
        self.count += 1
