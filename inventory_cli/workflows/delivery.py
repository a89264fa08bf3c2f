"""Deliver signed events over HTTP and say what the receiver did with them.

A ``Deliverer`` serves a whole run: it opens the run's one client
(``transport.client.open_client``: the llhttp pool for ``http://``, requests
for ``https://`` and redirects), signs each body the moment it is written,
and turns each ``Exchange`` into a ``DeliveryResult``: the exchange, named
(which payload, which event type) and judged (what was expected, what the
answer means under the webhook's contract). A delivery that cannot be made
(refused, DNS, TLS, timeout) is not an exception: its exchange carries a
``Failure``, with a ``FailureKind`` that callers decide by, so a run reports
every payload, then its callers decide the exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, MissingSecretError
from ..signing import signatures
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, new_message_id
from ..transport.client import open_client
from ..transport.exchange import ClientOptions, Exchange, Post, Signer
from ..transport.failures import FailureKind
from ..transport.retry import RetryPolicy, RetryWait
from ..urls import url_problem
from ..version import __version__

#: The two answers the inventory API documents for this webhook.
CONTRACT = {200: "processed", 422: "processing failed"}


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
    concurrency: int = 1  # deliveries in flight at once, at most (replay's --concurrency)
    rate: float | None = None  # deliveries started a second, at most (replay's --rate)
    #: Sign and POST in a process of its own where that gains (a replay: ``transport.client_process``).
    own_process: bool = False


@dataclass
class DeliveryResult:
    """One delivery: its ``exchange`` with the receiver, named and judged."""

    payload: str
    event_type: str | None
    expected: Collection[int]
    exchange: Exchange

    # What the exchange says, by the names every report reads.

    @property
    def url(self) -> str:
        return self.exchange.url

    @property
    def status(self) -> int | None:
        return self.exchange.status

    @property
    def reason(self) -> str:
        return self.exchange.reason

    @property
    def elapsed(self) -> float:
        return self.exchange.elapsed

    @property
    def attempts(self) -> int:
        return self.exchange.attempts

    @property
    def response_preview(self) -> bytes:
        return self.exchange.preview

    @property
    def error(self) -> str | None:
        return self.exchange.error

    @property
    def failure_kind(self) -> FailureKind | None:
        return self.exchange.failure_kind

    @property
    def location(self) -> str | None:
        return self.exchange.location

    @property
    def method(self) -> str:
        return self.exchange.method

    @property
    def request_headers(self) -> Mapping[str, str]:
        return self.exchange.request_headers

    @property
    def request_body(self) -> bytes:
        return self.exchange.body

    @property
    def delivered(self) -> bool:
        return self.exchange.failure is None

    @property
    def ok(self) -> bool:
        return self.delivered and self.status in self.expected

    @property
    def meaning(self) -> str:
        exchange = self.exchange
        status = exchange.status
        if exchange.failure is not None or status is None:
            return "not delivered"
        if status in CONTRACT:
            return CONTRACT[status]
        if exchange.location is not None:
            return "redirect, not followed"
        if status in (401, 403):
            return "rejected"
        return "server error" if status >= 500 else "unexpected"

    def to_dict(self) -> dict[str, Any]:
        exchange = self.exchange  # read once: a replay writes a million of these
        kind = exchange.failure_kind
        return {
            "payload": self.payload,
            "event_type": self.event_type,
            "url": exchange.url,
            "ok": self.ok,
            "status": exchange.status,
            "reason": exchange.reason or None,
            "meaning": self.meaning,
            "expected": sorted(self.expected),
            "elapsed_ms": round(exchange.elapsed * 1000, 1),
            "attempts": exchange.attempts,
            "response_preview": exchange.preview.decode("utf-8", "replace"),
            "error": exchange.error,
            "failure": None if kind is None else kind.value,
            "location": exchange.location,
        }


def check_url(url: str) -> str:
    """``url`` when a delivery can be made to it (``urls.url_problem``), else ``InputError``."""
    problem = url_problem(url)
    if problem is not None:
        raise InputError(f"invalid URL {url!r}: {problem}")
    return url


class Deliverer:
    """Signs and POSTs bodies to one URL through the run's one client.

    ``clock`` and ``sleep`` are how the client waits (tests pass their own);
    ``on_retry`` is told of each wait before a retry, as it begins (the CLI's status line says it).
    """

    def __init__(
        self,
        options: DeliveryOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetryWait], None] | None = None,
    ) -> None:
        self.options = options
        check_url(options.url)
        #: The compiled scheme and the keyed HMAC, made on the first signature, for every one after.
        #: Set before the client opens: a client of its own process signs with a copy of this.
        self._body_signer: signatures.Signer | None = None
        self.client = open_client(
            options.url,
            ClientOptions(
                timeout=options.timeout,
                retry=RetryPolicy(options.retries, options.backoff),
                headers={"Content-Type": "application/json", **options.headers},
                user_agent=f"invwh/{__version__}",
                tls_verify=options.tls_verify,
                follow_redirects=options.follow_redirects,
                connections=options.concurrency,
                rate=options.rate,
                on_retry=on_retry,
                own_process=options.own_process,
            ),
            clock=clock,
            sleep=sleep,
            signer=self.sign,
        )

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
        exchange = self.client.send(Post(body, signer or self.signer()))
        return DeliveryResult(payload, event_type, expected, exchange)

    def deliver_all(self, posts: Iterable[Post]) -> Iterator[Exchange]:
        """Every POST, as many at once as ``concurrency`` and ``rate`` allow; exchanges in order."""
        return self.client.run(posts)

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
