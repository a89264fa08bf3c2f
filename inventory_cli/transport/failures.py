"""One line naming why a delivery got no usable answer, in the same words for every client.

``delivery.Deliverer`` (requests) and ``client_pool.ClientPool`` (sockets)
fail in different exception types; both describe them here, so ``send`` and
``replay`` name a refused connection, a reset or an answer that is not HTTP
the same way, and ``check`` can tell "no answer" from "an answer, not HTTP".
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from http.client import BadStatusLine, HTTPException, RemoteDisconnected
from typing import Any

from ..text import shorten

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
#: How every description of an answer that came but is not usable HTTP starts.
NOT_HTTP_PREFIXES = ("the answer is not HTTP", "malformed HTTP answer")


def no_response(timeout: float) -> str:
    return f"no response within {timeout:g} s (timeout)"


def incomplete_answer(timeout: float, timeouts: int) -> str:
    return f"no complete answer within {timeout * timeouts:g} s ({timeouts} × --timeout {timeout:g})"


def head_too_long(limit: int) -> str:
    return f"malformed HTTP answer: its head passed {limit // 1024} KiB without ending"


def connect_timed_out(timeout: float) -> str:
    return f"timed out connecting after {timeout:g} s"


def not_http(start: Any) -> str:
    """Bytes came back, but not an HTTP status line."""
    return f"the answer is not HTTP: it starts {shown(start)}"


def malformed(problem: str) -> str:
    return f"malformed HTTP answer: {one_line(problem)}"


def unresolvable(error: BaseException) -> str:
    return f"cannot resolve the host name ({getattr(error, 'strerror', None) or error})"


def describe_os_error(error: OSError) -> str:
    """A socket error as one line; the errno decides, not the exception's class."""
    code = error.errno or 0
    if code == errno.ECONNREFUSED:
        return REFUSED
    if code == errno.ECONNRESET:
        return RESET
    if code == errno.EPIPE:
        return CLOSED_WITHOUT_ANSWER
    if isinstance(error, socket.gaierror):
        return unresolvable(error)
    return f"connection failed: {os.strerror(code) if code else one_line(str(error)) or 'unknown error'}"


#: What OpenSSL says when the first bytes back are not a TLS record: a plain-HTTP answer, most often.
NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"}
)


def not_tls(reason: str, url: str | None) -> str:
    plain = "http://" + url.partition("://")[2] if url else "an http:// URL"
    return f"TLS error: {reason}: the server did not answer in TLS; if it serves plain HTTP, use {plain}"


def describe_cause(error: BaseException, timeout: float, url: str | None = None) -> str | None:
    """The innermost cause we can name, searching the whole chain; None if none is known.

    ``url`` is the one requested: a TLS handshake with a plain-HTTP server suggests its http:// form.
    """
    for cause in causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted: {cause.verify_message or cause.reason} (see --ca-bundle)"
        if isinstance(cause, ssl.SSLError):
            if cause.reason in NOT_TLS_REASONS:
                return not_tls(cause.reason, url)
            return f"TLS error: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return unresolvable(cause)
        if isinstance(cause, ConnectionRefusedError):
            return REFUSED
        # Before ConnectionResetError and BadStatusLine: RemoteDisconnected is both.
        if isinstance(cause, RemoteDisconnected):
            return CLOSED_WITHOUT_ANSWER
        if isinstance(cause, ConnectionResetError):
            return RESET
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
