"""The requests client: POSTs to an ``https://`` URL (or any URL, following redirects).

A ``transport.client.Client`` (``open_client`` makes one): TLS options, CA
bundles and redirects are what requests does well, so those deliveries go
through it; plain ``http://`` goes through the llhttp pool. This module is
the only one that imports requests, urllib3 or http.client for a delivery.

Each POST is retried by the run's ``RetryPolicy`` and started no sooner than
its ``Pace`` allows; a redirect is followed only when the options say so (a
301 or 302 followed by most clients turns the POST into a GET: a lost
delivery), and each hop is signed afresh. With ``connections`` above one,
POSTs run on that many threads, each with a ``requests.Session`` of its own,
and their exchanges still come back in order. requests is imported on the
first POST, not with this module: ``sign`` and ``validate`` never pay for it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from . import failures
from .exchange import PREVIEW_BYTES, ClientOptions, Exchange, Post, why_retried
from .failures import Failure, FailureKind
from .retry import Pace, RetryWait, retry_after_seconds

#: Redirects followed for one attempt, at most.
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class _Answer:
    """What came back to one request, as much of it as an exchange keeps."""

    status: int
    reason: str
    #: The headers as sent, with those requests adds (User-Agent, Content-Length).
    sent_headers: Mapping[str, str]
    preview: bytes
    location: str | None  # set only when the answer is a redirect
    retry_after: str | None


class RequestsClient:
    """POSTs to one URL with requests, one session per thread; safe to share between threads."""

    def __init__(
        self,
        url: str,
        options: ClientOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.options = options = options or ClientOptions()
        self.clock = clock
        self.sleep = sleep
        self.pace = Pace(options.rate)
        self._pace_lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._lock = threading.Lock()

    def run(self, posts: Iterable[Post]) -> Iterator[Exchange]:
        connections = max(1, self.options.connections)
        if connections == 1:
            for post in posts:
                yield self.send(post)
            return
        # A bounded window of futures, drained from the left, keeps the order and the memory flat.
        window: deque[Future[Exchange]] = deque()
        with ThreadPoolExecutor(max_workers=connections, thread_name_prefix="invwh-post") as pool:
            for post in posts:
                window.append(pool.submit(self.send, post))
                while len(window) > connections * 4 or (window and window[0].done()):
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()

    def send(self, post: Post) -> Exchange:
        """POST ``post.body`` exactly, signed for each attempt, retrying as the policy allows."""
        self._wait_for_pace()
        options = self.options
        started = self.clock()
        attempts = 0
        while True:
            attempts += 1
            exchange, retry_after = self._attempt(post)
            wait = options.retry.wait_before_retry(attempts, exchange.status, exchange.error, retry_after)
            if wait is None:
                exchange.attempts = attempts
                exchange.elapsed = self.clock() - started
                return exchange
            if options.on_retry is not None:
                why = why_retried(exchange.status, exchange.reason, exchange.failure)
                options.on_retry(RetryWait(wait, attempts + 1, options.retry.retries + 1, why))
            self.sleep(wait)

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _wait_for_pace(self) -> None:
        with self._pace_lock:  # one start at a time, so the starts stay evenly spaced
            now = self.clock()
            due = self.pace.due(now)
            if due > now:
                self.sleep(due - now)
                now = due
            self.pace.started(now)

    def _attempt(self, post: Post) -> tuple[Exchange, float | None]:
        """One attempt, following redirects if asked; its exchange and the Retry-After wait, if any."""
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            # Signed now, for every attempt and hop, so a retry carries a fresh timestamp.
            headers = {**self.options.headers, **post.signer(post.body)}
            answer = self._post(url, post.body, headers)
            if isinstance(answer, Failure):
                return Exchange(url, post.body, failure=answer, headers=headers), None
            exchange = Exchange(
                url,
                post.body,
                status=answer.status,
                reason=answer.reason,
                preview=answer.preview,
                headers=answer.sent_headers,
            )
            if answer.location is not None:
                target = urljoin(url, answer.location)
                if self.options.follow_redirects:
                    url = target
                    continue
                exchange.location = target
            return exchange, retry_after_seconds(answer.retry_after)
        failure = Failure(FailureKind.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects")
        return Exchange(url, post.body, failure=failure, headers=headers), None

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> _Answer | Failure:
        """POST ``body`` exactly, never following a redirect (``_attempt`` decides), never retrying."""
        import requests

        timeout = self.options.timeout
        try:
            response = self._session().post(
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                # Per request: requests lets REQUESTS_CA_BUNDLE override the session's setting.
                verify=self.options.tls_verify,
            )
        except requests.RequestException as error:
            return describe_failure(error, timeout, url)
        location = response.headers.get("Location")
        return _Answer(
            status=response.status_code,
            reason=response.reason or "",
            sent_headers=dict(response.request.headers),
            preview=_preview(response),
            location=location if response.is_redirect and location else None,
            retry_after=response.headers.get("Retry-After"),
        )

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers["User-Agent"] = self.options.user_agent
            session.verify = self.options.tls_verify
            if self.options.tls_verify is False:
                # Asked for with --insecure: urllib3's warning would only repeat it, over two lines.
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session


def _preview(response: Any) -> bytes:
    try:
        chunk = next(response.iter_content(PREVIEW_BYTES), b"")
    except Exception:  # a broken body after the status line: the status still stands
        chunk = b""
    response.close()
    return bytes(chunk)


def describe_failure(error: BaseException, timeout: float, url: str | None = None) -> Failure:
    """Why ``requests`` got nothing back from ``url``: a kind, and a line in the words every client uses."""
    import requests

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return failures.connect_timed_out(timeout)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return failures.no_response(timeout)
    if isinstance(error, requests.exceptions.TooManyRedirects):
        return Failure(FailureKind.TOO_MANY_REDIRECTS, "too many redirects")
    described = failures.describe_cause(error, timeout, url)
    if described is not None:
        return described
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return Failure(FailureKind.INVALID_URL, failures.one_line(f"invalid URL: {error}"))
    innermost = failures.innermost(error)
    return Failure(FailureKind.OTHER, failures.one_line(f"{type(error).__name__}: {innermost}"))
