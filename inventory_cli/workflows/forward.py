"""``listen --forward-to``: a judged delivery sent on to the app, and whether the app agrees with the verdict.

What is forwarded (RFC 9110 §7.6): the exact body bytes; the request's
header fields but the hop-by-hop ones (those of §7.6.1 and any that
``Connection`` names), ``Host`` set for the app, ``Content-Length`` framing
the body, and ``Forwarded`` / ``X-Forwarded-For`` naming the sender. The
signature headers pass untouched, so an app that verifies with the same
secret reaches the same verdict. What the app answers goes back to the
sender, its hop-by-hop fields aside.

A disagreement is the app accepting (2xx) a delivery invwh rejects (a
forgery, a stale timestamp, a body that is no event: a security bug), or
refusing with 401/403 a delivery invwh accepts (the app has another secret,
or re-serializes the body before verifying it). ``ForwardTally`` counts the
run for the summary ``listen`` prints when it stops.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..transport.forward_client import ForwardClient, ForwardError

#: RFC 9110 §7.6.1 (and the obsolete ``Proxy-Connection``, ``Keep-Alive``): for one connection only.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not passed on either: the proxy frames the body itself, names the app's host, and has read the body
#: already (an ``Expect: 100-continue`` would make the app wait for a go-ahead nobody sends).
_REPLACED = frozenset({"host", "content-length", "expect"})

#: The app accepted a delivery invwh rejects; the app refused (401/403) a delivery invwh accepts.
ACCEPTED_REJECTED = "app_accepted_rejected"
REFUSED_ACCEPTED = "app_refused_accepted"


@dataclass
class ForwardResult:
    """What became of one delivery sent on to the app."""

    seconds: float
    status: int | None = None  # None: no answer (``error`` says why), or not forwarded (``blocked``)
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    error: str | None = None
    blocked: bool = False  # ``--block-invalid``: invwh answered it, the app never saw it
    disagreement: str | None = None  # ACCEPTED_REJECTED, REFUSED_ACCEPTED or None
    why: str = ""

    @property
    def agrees(self) -> bool:
        return self.disagreement is None


def _connection_tokens(headers: Mapping[str, str]) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers.items():
        if name.lower() == "connection":
            tokens |= {token.strip().lower() for token in value.split(",") if token.strip()}
    return tokens


def request_headers(headers: Mapping[str, str], *, app_host: str, sender: str) -> list[tuple[str, str]]:
    """The header fields to send the app, in the order they came, the proxy's own last."""
    named = _connection_tokens(headers)
    kept: list[tuple[str, str]] = []
    received_host = ""
    forwarded_for = ""
    forwarded = ""
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "host":
            received_host = value
        if lowered in HOP_BY_HOP or lowered in _REPLACED or lowered in named:
            continue
        if lowered == "x-forwarded-for":
            forwarded_for = value
            continue
        if lowered == "forwarded":
            forwarded = value
            continue
        kept.append((name, value))
    node = f'"[{sender}]"' if ":" in sender else sender or "unknown"
    this_hop = f"for={node};proto=http" + (f';host="{_quoted(received_host)}"' if received_host else "")
    kept.insert(0, ("Host", app_host))
    kept.append(("Forwarded", f"{forwarded}, {this_hop}" if forwarded else this_hop))
    address = sender or "unknown"
    kept.append(("X-Forwarded-For", f"{forwarded_for}, {address}" if forwarded_for else address))
    return kept


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def answer_headers(headers: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The app's header fields to give the sender: the hop-by-hop ones and the framing aside."""
    named = _connection_tokens(dict(headers)) | {"content-length"}
    return tuple(
        (name, value)
        for name, value in headers
        if (lowered := name.lower()) not in HOP_BY_HOP and lowered not in named
    )


def disagreement(valid: bool, reason: str, status: int | None) -> tuple[str | None, str]:
    """Whether the app's answer contradicts invwh's verdict: the kind and why, or (None, "")."""
    if status is None:
        return None, ""
    if not valid and 200 <= status < 300:
        return ACCEPTED_REJECTED, f"the app accepted ({status}) a delivery invwh rejects ({reason})"
    if valid and status in (401, 403):
        return REFUSED_ACCEPTED, (
            f"the app refused ({status}) a delivery invwh accepts: "
            "it has another secret, or it verifies a re-serialized body"
        )
    return None, ""


class Forwarder:
    """Sends judged deliveries to the app at ``url``; any thread."""

    def __init__(self, url: str, *, timeout: float, max_answer: int) -> None:
        parts = urlsplit(url)
        self.url = url
        self.target = parts.path or "/"
        self.query = parts.query
        self.client = ForwardClient(url, timeout=timeout, max_answer=max_answer)
        self.app_host = self.client.netloc

    def forward(
        self, path: str, headers: Mapping[str, str], body: bytes, *, sender: str, valid: bool, reason: str
    ) -> ForwardResult:
        """POST ``body`` to the app and judge its answer against the verdict (``valid``, ``reason``)."""
        query = path.partition("?")[2]
        target = self.target
        if self.query or query:
            target += "?" + "&".join(part for part in (self.query, query) if part)
        started = time.monotonic()
        try:
            answer = self.client.send(
                "POST", target, request_headers(headers, app_host=self.app_host, sender=sender), body
            )
        except ForwardError as error:
            return ForwardResult(time.monotonic() - started, error=str(error))
        kind, why = disagreement(valid, reason, answer.status)
        return ForwardResult(
            time.monotonic() - started,
            status=answer.status,
            reason=answer.reason,
            headers=answer.headers,
            body=answer.body,
            disagreement=kind,
            why=why,
        )

    def close(self) -> None:
        self.client.close()


class ForwardTally:
    """The run's deliveries, forwards, the app's answers by status and the disagreements; any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.deliveries = 0
        self.forwarded = 0
        self.blocked = 0
        self.unreachable = 0
        self.statuses: Counter[int] = Counter()
        self.disagreements: Counter[str] = Counter()

    def count(self, result: ForwardResult | None) -> None:
        with self._lock:
            self.deliveries += 1
            if result is None:
                return
            if result.blocked:
                self.blocked += 1
            elif result.status is None:
                self.unreachable += 1
            else:
                self.forwarded += 1
                self.statuses[result.status] += 1
            if result.disagreement is not None:
                self.disagreements[result.disagreement] += 1

    @property
    def accepted_rejected(self) -> int:
        """How many deliveries invwh rejects the app accepted: a CI job fails on any."""
        return self.disagreements[ACCEPTED_REJECTED]
