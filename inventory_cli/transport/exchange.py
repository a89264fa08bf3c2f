"""What a client is given and gives back: ``Post``, ``ClientOptions`` and ``Exchange``.

Both clients (``client_pool``, ``requests_client``) speak in these;
``client.py`` says which carries a run, and how.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .failures import Failure, FailureKind
from .retry import RetryPolicy, RetryWait

#: How much of an answer's body an exchange keeps, to show.
PREVIEW_BYTES = 512

#: Gives the headers that sign a body (the signature, its timestamp), at the moment it is written.
#: What it gives depends on the body and the second it is called in (timestamps are whole
#: seconds), and on nothing else but a fresh message id: ``client_process`` signs ahead on that.
Signer = Callable[[bytes], Mapping[str, str]]


class Post:
    """A body to POST, and how to sign it."""

    __slots__ = ("body", "signer")

    def __init__(self, body: bytes, signer: Signer) -> None:
        self.body = body
        self.signer = signer


class KeptHeaders:
    """A ``Signer`` that signs nothing: the same headers for every attempt (a replay that keeps them)."""

    __slots__ = ("headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers

    def __call__(self, body: bytes) -> Mapping[str, str]:
        return self.headers


@dataclass(frozen=True)
class ClientOptions:
    """How a run's client reaches its URL; the same for every POST of the run."""

    timeout: float = 10.0  # seconds of silence, at most, at each step of an attempt
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Sent with every POST, before the signature's headers (Content-Type, -H).
    headers: Mapping[str, str] = field(default_factory=dict)
    user_agent: str = "invwh"
    #: True, False (--insecure) or a CA bundle path (--ca-bundle).
    tls_verify: bool | str = True
    follow_redirects: bool = False
    connections: int = 1  # POSTs in flight at once, at most
    rate: float | None = None  # new POSTs a second, at most
    #: Told of each wait before a retry, as it begins (the status line says it).
    on_retry: Callable[[RetryWait], None] | None = None
    #: Run the ``http://`` pool in a process of its own where that gains (``client_process``): a
    #: replay, whose reading and reporting then take one core and its HTTP another.
    own_process: bool = False


class Exchange:
    """One POST and what became of it: the request as last sent, and the answer or why none.

    ``status`` is None exactly when ``failure`` is set. ``elapsed`` counts every
    attempt and the waits between them.
    """

    __slots__ = (
        "_fixed",
        "_headers",
        "_signed",
        "attempts",
        "body",
        "elapsed",
        "failure",
        "location",
        "preview",
        "reason",
        "status",
        "url",
    )

    method = "POST"

    def __init__(
        self,
        url: str,
        body: bytes,
        *,
        status: int | None = None,
        reason: str = "",
        preview: bytes = b"",
        location: str | None = None,
        failure: Failure | None = None,
        attempts: int = 1,
        elapsed: float = 0.0,
        headers: Mapping[str, str] | None = None,
        fixed: Mapping[str, str] | None = None,
        signed: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url  # where the last attempt went: a followed redirect's target
        self.body = body
        self.status = status
        self.reason = reason  # the HTTP reason phrase
        self.preview = preview  # the answer body's first PREVIEW_BYTES
        self.location = location  # where a redirect pointed, when it was not followed
        self.failure = failure
        self.attempts = attempts
        self.elapsed = elapsed
        self._headers = headers
        self._fixed = fixed or {}
        self._signed = signed or {}

    @property
    def request_headers(self) -> Mapping[str, str]:
        """The headers of the last attempt, as written (the pool's built on demand: only -v shows them)."""
        if self._headers is not None:
            return self._headers
        return {**self._fixed, **self._signed, "Content-Length": str(len(self.body))}

    @property
    def signed_headers(self) -> Mapping[str, str]:
        """The headers that signed the last attempt (the pool's: the requests client keeps all)."""
        return self._signed

    @property
    def error(self) -> str | None:
        """Why nothing usable came back, in words; None when an answer did."""
        return self.failure.message if self.failure is not None else None

    @property
    def failure_kind(self) -> FailureKind | None:
        return self.failure.kind if self.failure is not None else None


def why_retried(status: int | None, reason: str, failure: Failure | None) -> str:
    """What the last attempt came to, in a few words: ``connection refused``, ``503 Service Unavailable``."""
    if failure is not None:
        return failure.message
    return f"{status} {reason}".strip()
