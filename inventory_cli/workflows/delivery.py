"""Deliver signed events over HTTP and say what the receiver did with them.

One client (``transport.requests_client``) serves a whole run so deliveries share connections.
A delivery that cannot be made (refused, DNS, TLS, timeout) is not an
exception: it is a ``DeliveryResult`` with an ``error`` (the message) and a
``failure_kind`` (``transport.failures.FailureKind``, what callers decide by), so a run reports
every payload, then its callers decide the exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from ..errors import InputError, MissingSecretError
from ..signing import signatures
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, new_message_id
from ..transport.failures import Failure, FailureKind
from ..transport.requests_client import RequestsClient
from ..transport.retry import RetryPolicy, retry_after_seconds
from ..urls import url_problem
from ..version import __version__

#: The two answers the inventory API documents for this webhook.
CONTRACT = {200: "processed", 422: "processing failed"}
RESPONSE_PREVIEW_BYTES = 512
MAX_REDIRECTS = 5

#: Gives the signature headers for a body, at the moment it is sent.
Signer = Callable[[bytes], Mapping[str, str]]


@dataclass
class DeliveryOptions:
    url: str
    scheme: Scheme
    #: None only when every delivery brings its own signer (a replay that keeps signatures).
    secret: Secret | None
    timeout: float = 10.0
    retries: int = 0
    backoff: float = 0.5  # seconds before the first retry, doubled after each
    headers: Mapping[str, str] = field(default_factory=dict)
    #: True, False (--insecure) or a CA bundle path (--ca-bundle).
    tls_verify: bool | str = True
    follow_redirects: bool = False


@dataclass
class DeliveryResult:
    payload: str
    event_type: str | None
    url: str
    expected: Collection[int]
    status: int | None = None
    reason: str = ""  # the HTTP reason phrase
    elapsed: float = 0.0  # seconds, all attempts together
    attempts: int = 0
    response_preview: bytes = b""
    #: Why nothing was delivered, in words; None when an answer came back.
    error: str | None = None
    #: The same, as a value to decide by (never the wording); None when an answer came back.
    failure_kind: FailureKind | None = None
    #: Where a redirect pointed when it was not followed.
    location: str | None = None
    #: The request of the last attempt, as sent: to show what got the answer.
    method: str = "POST"
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: bytes = b""

    def fail(self, failure: Failure) -> None:
        """No usable answer to the last attempt, and why."""
        self.status = None
        self.error, self.failure_kind = failure.message, failure.kind

    @property
    def delivered(self) -> bool:
        return self.error is None

    @property
    def ok(self) -> bool:
        return self.delivered and self.status in self.expected

    @property
    def meaning(self) -> str:
        if self.error is not None:
            return "not delivered"
        assert self.status is not None
        if self.status in CONTRACT:
            return CONTRACT[self.status]
        if self.location is not None:
            return "redirect, not followed"
        if self.status in (401, 403):
            return "rejected"
        return "server error" if self.status >= 500 else "unexpected"

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload": self.payload,
            "event_type": self.event_type,
            "url": self.url,
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason or None,
            "meaning": self.meaning,
            "expected": sorted(self.expected),
            "elapsed_ms": round(self.elapsed * 1000, 1),
            "attempts": self.attempts,
            "response_preview": self.response_preview.decode("utf-8", "replace"),
            "error": self.error,
            "failure": self.failure_kind.value if self.failure_kind is not None else None,
            "location": self.location,
        }


@dataclass(frozen=True)
class RetryWait:
    """A wait before another attempt, as it begins: for whoever shows where a run stands."""

    seconds: float
    attempt: int  # the attempt that follows the wait
    attempts: int  # attempts in all, at most
    why: str  # the last attempt's failure or answer: "connection refused", "503 Service Unavailable"
    payload: str


def check_url(url: str) -> str:
    """``url`` when a delivery can be made to it (``urls.url_problem``), else ``InputError``."""
    problem = url_problem(url)
    if problem is not None:
        raise InputError(f"invalid URL {url!r}: {problem}")
    return url


class Deliverer:
    """Signs and POSTs bodies to one URL, reusing HTTP connections.

    Safe to share between threads: the client (``transport.requests_client``)
    gives each thread its own session, so concurrent replays keep one connection per worker.
    """

    def __init__(
        self,
        options: DeliveryOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetryWait], None] | None = None,
    ) -> None:
        self.options = options
        check_url(options.url)
        self._sleep = sleep
        #: Told of each wait before a retry, as it begins (the CLI's status line says it).
        self.on_retry = on_retry
        self.retry = RetryPolicy(options.retries, options.backoff)
        self.client = RequestsClient(
            user_agent=f"invwh/{__version__}",
            tls_verify=options.tls_verify,
            preview_bytes=RESPONSE_PREVIEW_BYTES,
        )
        #: The compiled scheme and the keyed HMAC, made on the first signature, for every one after.
        self._body_signer: signatures.Signer | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deliver(
        self,
        body: bytes,
        *,
        payload: str,
        event_type: str | None,
        expected: Collection[int] = (200,),
        signer: Signer | None = None,
    ) -> DeliveryResult:
        """POST ``body`` exactly, signed at send time, retrying as the options allow.

        ``signer`` gives the signature headers for each attempt; by default the
        options' scheme and secret with the current time. Checks and replays
        pass their own (another secret, a kept signature, none at all).
        """
        result = DeliveryResult(payload, event_type, self.options.url, expected)
        signer = signer or self.signer()
        started = time.monotonic()
        while True:
            result.attempts += 1
            retry_after = self._attempt(body, result, signer)
            pause = self.retry.wait_before_retry(result.attempts, result.status, result.error, retry_after)
            if pause is None:
                break
            if self.on_retry is not None:
                why = result.error or f"{result.status} {result.reason}".strip()
                self.on_retry(RetryWait(pause, result.attempts + 1, self.retry.retries + 1, why, payload))
            self._sleep(pause)
        result.elapsed = time.monotonic() - started
        return result

    def signer(self) -> Signer:
        """Signs every attempt of one delivery anew, under one message id (when the scheme has one)."""
        scheme = self.options.scheme
        message_id = new_message_id(scheme) if scheme.id_header else None
        return lambda body: self.sign(body, message_id=message_id)

    def sign(self, body: bytes, *, message_id: str | None = None) -> Mapping[str, str]:
        options = self.options
        if options.secret is None:
            raise MissingSecretError("no secret to sign with")
        if self._body_signer is None:
            self._body_signer = signatures.Signer(options.scheme, options.secret)
        # A scheme that signs the notification URL (square) signs the one delivered to, and one
        # that signs a header (`{header:Name}`) signs the value sent with -H.
        return self._body_signer.sign(
            body,
            message_id=message_id,
            url=options.url,
            headers=options.headers,
        )

    def _attempt(self, body: bytes, result: DeliveryResult, signer: Signer) -> float | None:
        """One delivery, following redirects if asked. Returns the Retry-After wait, if any."""
        options = self.options
        url = options.url
        result.error = result.location = result.failure_kind = None
        for _ in range(MAX_REDIRECTS + 1):
            headers = {
                "Content-Type": "application/json",
                **options.headers,
                # Signed now, for every attempt, so a retry carries a fresh timestamp.
                **signer(body),
            }
            result.method, result.request_headers, result.request_body = "POST", headers, body
            answer = self.client.post(url, body, headers, options.timeout)
            result.url = url
            if isinstance(answer, Failure):
                result.fail(answer)
                return None
            result.request_headers = answer.sent_headers
            result.status = answer.status
            result.reason = answer.reason
            result.response_preview = answer.preview
            if answer.location is not None:
                target = urljoin(url, answer.location)
                if options.follow_redirects:
                    url = target
                    continue
                result.location = target
            return retry_after_seconds(answer.retry_after)
        result.fail(Failure(FailureKind.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects"))
        return None
