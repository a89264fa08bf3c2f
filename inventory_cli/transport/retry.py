"""One retry policy for every client: which failures are worth another attempt, and how long to wait.

``send``, ``check`` and ``replay`` over https:// (``delivery.Deliverer``, through ``requests_client``) and
``replay`` over http:// (``client_pool.ClientPool``) ask the same policy, so a
delivery is retried the same way whichever client carries it.
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
