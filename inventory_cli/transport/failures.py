"""Why a delivery got no usable answer: a ``Failure``, a kind and one line, the same for every client.

``requests_client.RequestsClient``, ``client_pool.ClientPool`` and
``forward_client.ForwardClient`` (sockets) fail in different exception types;
all describe them here, so ``send`` and ``replay`` name a refused connection,
a reset or an answer that is not HTTP the same way. Callers decide by the
``FailureKind``, never by the wording: ``check`` tells "no answer" from "an
answer, not HTTP" by ``kind.answered``, so the messages may be reworded freely.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..text import shorten


class FailureKind(str, Enum):
    """What went wrong, as a value; the JSON reports carry it (``"failure": "refused"``)."""

    REFUSED = "refused"  # nothing listens at the address
    RESET = "reset"  # the server reset the connection
    CONNECT_TIMEOUT = "connect_timeout"  # the connection was never made in time
    TIMEOUT = "timeout"  # connected, but no (complete) answer in time
    TLS = "tls"  # the TLS handshake failed: an untrusted certificate, a plain-HTTP server, ...
    DNS = "dns"  # the host name does not resolve (or cannot be encoded)
    CONNECTION_FAILED = "connection_failed"  # any other socket error (unreachable network, ...)
    CLOSED_WITHOUT_ANSWER = "closed_without_answer"  # closed before a byte of an answer came
    CLOSED_MID_ANSWER = "closed_mid_answer"  # closed with the answer begun, not complete
    NOT_HTTP = "not_http"  # bytes came back, but no HTTP status line
    MALFORMED_ANSWER = "malformed_answer"  # an HTTP answer that breaks the protocol
    TOO_LARGE = "too_large"  # an answer's head (or a forwarded body) past its limit
    TOO_MANY_REDIRECTS = "too_many_redirects"
    INVALID_URL = "invalid_url"
    OTHER = "other"  # an error the client raised that none of the above names

    @property
    def answered(self) -> bool:
        """Something answered, but not in usable HTTP: the server is there, unlike a refusal."""
        return self in _ANSWERED


_ANSWERED = frozenset({FailureKind.NOT_HTTP, FailureKind.MALFORMED_ANSWER, FailureKind.TOO_LARGE})


@dataclass(frozen=True)
class Failure:
    """Why one attempt got no usable answer: the kind to decide by, the message to show."""

    kind: FailureKind
    message: str
    #: A finer cause within the kind, for advice the command line gives.
    cause: FailureCause | None = None

    def __str__(self) -> str:
        return self.message


class FailureCause(str, Enum):
    """A finer cause within a kind, where the command line has advice for it (never its words)."""

    UNTRUSTED_CERTIFICATE = "untrusted_certificate"  # no CA the client trusts vouches for it


REFUSED = "connection refused (is the server running?)"
RESET = "connection reset by the server"
CLOSED_WITHOUT_ANSWER = "the server closed the connection without answering"
CLOSED_MID_ANSWER = "the server closed the connection before its answer was complete"
SWITCHED_PROTOCOLS = "malformed HTTP answer: 101 Switching Protocols, and a delivery needs a final answer"
#: A reset proves nothing about what the server read: a server may read a request, then reset.
RESET_AFTER_PREVIOUS_ANSWER = (
    "connection reset by the server right after its previous answer on this kept-alive connection, "
    "as this request went out: it may have been read, so it was not sent again"
)
#: The failures that are always worded the same, by their messages above.
REFUSED_FAILURE = Failure(FailureKind.REFUSED, REFUSED)
RESET_FAILURE = Failure(FailureKind.RESET, RESET)
RESET_AFTER_PREVIOUS_ANSWER_FAILURE = Failure(FailureKind.RESET, RESET_AFTER_PREVIOUS_ANSWER)
CLOSED_WITHOUT_ANSWER_FAILURE = Failure(FailureKind.CLOSED_WITHOUT_ANSWER, CLOSED_WITHOUT_ANSWER)
CLOSED_MID_ANSWER_FAILURE = Failure(FailureKind.CLOSED_MID_ANSWER, CLOSED_MID_ANSWER)
SWITCHED_PROTOCOLS_FAILURE = Failure(FailureKind.MALFORMED_ANSWER, SWITCHED_PROTOCOLS)


def no_response(timeout: float) -> Failure:
    return Failure(FailureKind.TIMEOUT, f"no response within {timeout:g} s (timeout)")


def incomplete_answer(timeout: float, timeouts: int) -> Failure:
    message = (
        f"no complete answer within {timeout * timeouts:g} s ({timeouts} times the {timeout:g} s timeout)"
    )
    return Failure(FailureKind.TIMEOUT, message)


def head_too_long(limit: int) -> Failure:
    return Failure(
        FailureKind.TOO_LARGE, f"malformed HTTP answer: its head passed {limit // 1024} KiB without ending"
    )


def connect_timed_out(timeout: float) -> Failure:
    return Failure(FailureKind.CONNECT_TIMEOUT, f"timed out connecting after {timeout:g} s")


def not_http(start: Any) -> Failure:
    """Bytes came back, but not an HTTP status line."""
    return Failure(FailureKind.NOT_HTTP, f"the answer is not HTTP: it starts {shown(start)}")


def malformed(problem: str) -> Failure:
    return Failure(FailureKind.MALFORMED_ANSWER, f"malformed HTTP answer: {one_line(problem)}")


def unresolvable(error: BaseException) -> Failure:
    return Failure(
        FailureKind.DNS, f"cannot resolve the host name ({getattr(error, 'strerror', None) or error})"
    )


def describe_os_error(error: OSError) -> Failure:
    """A socket error as a failure; the errno decides, not the exception's class."""
    code = error.errno or 0
    if code == errno.ECONNREFUSED:
        return REFUSED_FAILURE
    if code == errno.ECONNRESET:
        return RESET_FAILURE
    if code == errno.EPIPE:
        return CLOSED_WITHOUT_ANSWER_FAILURE
    if isinstance(error, socket.gaierror):
        return unresolvable(error)
    why = os.strerror(code) if code else one_line(str(error)) or "unknown error"
    return Failure(FailureKind.CONNECTION_FAILED, f"connection failed: {why}")


#: What OpenSSL says when the first bytes back are not a TLS record: a plain-HTTP answer, most often.
NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
)


def not_tls(reason: str, url: str | None) -> Failure:
    plain = "http://" + url.partition("://")[2] if url else "an http:// URL"
    message = f"TLS error: {reason}: the server did not answer in TLS; if it serves plain HTTP, use {plain}"
    return Failure(FailureKind.TLS, message)


def describe_cause(error: BaseException, timeout: float, url: str | None = None) -> Failure | None:
    """The innermost cause we can name, searching the whole chain; None if none is known.

    ``url`` is the one requested: a TLS handshake with a plain-HTTP server suggests its http:// form.
    """
    # Here, not with the module: only the requests client's errors need them, and the pool's
    # http:// runs start faster without (ssl and http.client cost a replay ~15 ms of start-up).
    import ssl
    from http.client import BadStatusLine, HTTPException, RemoteDisconnected

    for cause in causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = cause.verify_message or cause.reason
            message = f"TLS certificate not trusted: {why}"
            return Failure(FailureKind.TLS, message, FailureCause.UNTRUSTED_CERTIFICATE)
        if isinstance(cause, ssl.SSLError):
            if cause.reason in NOT_TLS_REASONS:
                return not_tls(cause.reason, url)
            return Failure(FailureKind.TLS, f"TLS error: {cause.reason or cause}")
        if isinstance(cause, socket.gaierror):
            return unresolvable(cause)
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED_FAILURE
        # Before ConnectionResetError and BadStatusLine: RemoteDisconnected is both.
        if isinstance(cause, RemoteDisconnected):
            return CLOSED_WITHOUT_ANSWER_FAILURE
        if isinstance(cause, ConnectionResetError):
            return RESET_FAILURE
        if isinstance(cause, (socket.timeout, TimeoutError)):
            return no_response(timeout)
        if isinstance(cause, BadStatusLine):
            return not_http(cause.args[0] if cause.args else "")
        if isinstance(cause, HTTPException):
            return malformed(str(cause) or type(cause).__name__)
    return None


def causes(error: BaseException) -> list[BaseException]:
    """The chain of causes, including those urllib3 keeps in ``.reason`` and ``.args``."""
    seen: list[BaseException] = []
    stack: list[Any] = [error]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return seen


def innermost(error: BaseException) -> str:
    return str(causes(error)[-1]) or type(error).__name__


def one_line(text: str) -> str:
    """Whatever a server sent, as one line: a cause must not break the one-line error."""
    return " ".join(text.split())


def shown(data: Any, limit: int = 40) -> str:
    text = (data.decode("latin-1") if isinstance(data, (bytes, bytearray)) else str(data)).rstrip("\r\n")
    text = text.partition("\n")[0].rstrip("\r") or text  # the first line: a status line's place
    return repr(shorten(text, limit))
