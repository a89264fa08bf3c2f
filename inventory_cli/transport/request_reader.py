"""A connection's bytes into requests: llhttp's callbacks, and what RFC 9112 leaves to a server.

llhttp (``httptools``, the parser of Node.js and uvicorn) reads the request
line, the headers and the body framing, strictly: the request smuggling
shapes (a second ``Transfer-Encoding`` line, bare LF in chunk lines, spaces
in chunk sizes, ``Content-Length`` beside chunked, ...), control characters
in header values and invalid header names are parse errors here. On top of
it this module enforces what llhttp leaves to the server (RFC 9112): one
``Host`` on HTTP/1.1 and never two, its value a ``host[:port]`` (§3.2,
RFC 3986 §3.2); an HTTP/1.0 request with ``Transfer-Encoding`` is faulty
framing (§6.1); any ``Connection`` header listing ``close`` closes (§9.6);
absolute-form targets are served by their path (§3.2.2); limits on the head
(414 for a target over 64 KiB, 431 for a header section over 64 KiB or 100
fields; a trailer section, with the chunk lines, bounded the same way).

``Upgrade`` is never acted on (RFC 9110 §7.8 lets a server ignore it): a
request that asks for one (``curl --http2`` to an ``http://`` URL asks for
h2c) is read to the end of its framed body and judged as any other, then the
connection closes, since what the client sends next may be in the protocol it
asked for. httptools skips the body of such a request (its headers-complete
callback says "no body" whenever llhttp flags an upgrade), so the body is read
by a second llhttp parser primed with a head that frames it the same way.
Refusing such requests with 400 would also keep the bytes whole, but would
fail every ``curl --http2`` user for a header the RFC says may be ignored.

Trailer fields (after a chunked body) never reach ``Request.headers``: RFC
9110 §6.5 keeps them apart and forbids authentication and routing fields
there, so a signature or a ``Host`` sent as a trailer is not taken. They are
counted against the head's limits and dropped (not recorded).

A ``RequestReader`` is fed what one connection receives and leaves in
``ready`` the requests it completed, in order, and at most one final
``Refusal`` (after which it parses no more). It keeps the clocks of the head
and body under way (``head_since``, ``body_deadline``); the server applies them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import httptools

#: A request target over this gets 414; a header section over it, 431.
MAX_TARGET = 65536
MAX_HEAD = 65536
MAX_HEADERS = 100
METHODS = frozenset({"POST", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
#: A body's deadline grows by a second per this many bytes (declared, or received when chunked).
BODY_BYTES_PER_SECOND = 65536
#: Chunk size lines (hex digits, CRLFs) of one chunk, before its extensions count against MAX_HEAD.
CHUNK_FRAMING = 32


class Refusal(NamedTuple):
    status: int
    reason: str
    message: str


@dataclass(slots=True)
class Request:
    received_at: float  # unix seconds, when the head had arrived
    method: str
    path: str  # origin-form, query string included (an absolute-form target's path and query)
    version: str  # "HTTP/1.1"
    headers: dict[str, str]  # names as sent; repeated headers joined with ", "
    body: bytes = b""
    #: Why the body was refused unread: the connection closes after the answer.
    refusal: Refusal | None = None
    keep_alive: bool = True
    #: The client's address (its IP), as the server saw the connection: a proxy names it onward.
    peer: str = ""


class _Stop(Exception):
    """Raised from a parser callback: parse no further on this connection."""


class RequestReader:
    """The llhttp callbacks of one connection: complete requests (and a final refusal) in ``ready``."""

    __slots__ = (
        "body",
        "body_since",
        "body_size",
        "boundaries",
        "chunks",
        "coding",
        "connection_tokens",
        "content_length",
        "declared",
        "expect",
        "framing_fed",
        "head_fed",
        "head_since",
        "head_size",
        "header_count",
        "headers",
        "host",
        "hosts",
        "in_body",
        "lower_names",
        "max_body",
        "parser",
        "priming",
        "ready",
        "refusal",
        "request",
        "stopped",
        "target",
        "trailer_count",
        "trailer_size",
        "upgrade_body",
        "want_continue",
    )

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.parser = httptools.HttpRequestParser(self)
        self.ready: deque[Request | Refusal] = deque()
        self.stopped = False  # nothing more is parsed: the connection ends after what is ready
        self.head_since = 0.0  # monotonic time a head started arriving; 0 outside a head
        self.body_since = 0.0  # monotonic time a head with a body ended; 0 outside a body
        self.boundaries = 0  # message begins, heads and messages completed: counted per feed
        self.priming = False  # the callbacks are of a made-up head (see _read_upgrade_body)
        self.want_continue = False
        self._reset()

    def _reset(self) -> None:
        self.target = b""
        self.headers: dict[str, str] = {}
        self.lower_names: dict[str, str] = {}
        self.header_count = 0
        self.head_fed = 0
        self.head_size = 0
        self.hosts = 0
        self.host = ""
        self.in_body = False  # the head is whole: on_header now gives trailer fields
        self.trailer_count = 0
        self.trailer_size = 0
        self.chunks = 0
        self.framing_fed = 0  # bytes of a body's chunk lines and trailers
        self.upgrade_body: Request | None = None
        self.content_length: str | None = None
        self.declared = 0  # the Content-Length, once the head is whole
        self.coding: str | None = None
        self.connection_tokens: list[str] = []
        self.expect: str | None = None
        self.body: list[bytes] = []
        self.body_size = 0
        self.request: Request | None = None
        self.refusal: Refusal | None = None

    def feed(self, data: bytes) -> None:
        """Parse ``data``; what completes lands in ``ready``."""
        if self.stopped:
            return
        boundaries, body_size = self.boundaries, self.body_size
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self.upgrade_body is not None:
                self._read_upgrade_body(data[upgrade.args[0] :])
                return
            # An Upgrade without a body: answered as any request, then closed (see the module doc).
            self.stopped = True
            if self.ready and isinstance(self.ready[-1], Request):
                self.ready[-1].keep_alive = False
            return
        except httptools.HttpParserError as error:
            if self.refusal is not None:  # ours, raised from a callback
                self._refuse_current()
            elif not self.stopped:  # else a closing request ended the parse on purpose
                message = str(error) or "malformed request"
                self.ready.append(Refusal(400, "bad_request", f"malformed HTTP: {message}"))
            self.stopped = True
            return
        if self.in_body and self.boundaries == boundaries:
            # All of ``data`` was of one body: what was not body bytes was chunk lines and
            # trailers, whose partial field httptools holds; bound them as a head is bounded.
            self.framing_fed += len(data) - (self.body_size - body_size)
            if self.framing_fed > MAX_HEAD + CHUNK_FRAMING * self.chunks:
                self.stopped = True
                message = "the chunk lines and trailer section are too large"
                self.ready.append(Refusal(431, "header_fields_too_large", message))
        if self.head_since:
            # A head still incomplete: llhttp holds a partial line, so bound what it may hold.
            self.head_fed += len(data)
            if self.head_fed > MAX_TARGET + MAX_HEAD:
                self.stopped = True
                if not self.header_count:
                    self.ready.append(Refusal(414, "uri_too_long", "the request target is too long"))
                else:
                    self.ready.append(
                        Refusal(431, "header_fields_too_large", "the header section is too large")
                    )

    def _read_upgrade_body(self, rest: bytes) -> None:
        """Go on reading the body llhttp skipped for an Upgrade, with a parser primed to frame it so."""
        request = self.upgrade_body
        assert request is not None
        self.upgrade_body = None
        request.keep_alive = False  # never switching: close after the answer
        framing = (
            b"Transfer-Encoding: chunked"
            if self.coding is not None
            else b"Content-Length: %d" % self.declared
        )
        self.parser = httptools.HttpRequestParser(self)
        self.priming = True
        try:
            self.parser.feed_data(b"POST / HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n\r\n")
        finally:
            self.priming = False
        self.request = request
        self.feed(rest)

    def _refuse_current(self) -> None:
        refusal = self.refusal
        assert refusal is not None
        if self.request is not None and refusal.status in (411, 413):
            self.request.refusal = refusal  # a delivery refused unread: the handler answers it
            self.request.body = b""
            self.request.keep_alive = False
            self.ready.append(self.request)
        else:
            self.ready.append(refusal)

    def _stop(self, status: int, reason: str, message: str) -> None:
        self.refusal = Refusal(status, reason, message)
        raise _Stop

    # --- llhttp callbacks -------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.priming:
            return
        self._reset()
        self.boundaries += 1
        self.head_since = time.monotonic()

    def on_url(self, url: bytes) -> None:
        if self.priming:
            return
        self.target += url
        if len(self.target) > MAX_TARGET:
            self._stop(414, "uri_too_long", "the request target is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.priming:
            return
        if self.in_body:  # a trailer field: bounded as the head, never merged into it
            self.trailer_count += 1
            self.trailer_size += len(name) + len(value) + 4
            if self.trailer_count > MAX_HEADERS or self.trailer_size > MAX_HEAD:
                self._stop(431, "header_fields_too_large", "the trailer section is too large")
            return
        self.header_count += 1
        self.head_size += len(name) + len(value) + 4
        if self.header_count > MAX_HEADERS:
            self._stop(431, "header_fields_too_large", "too many header fields")
        if self.head_size > MAX_HEAD:
            self._stop(431, "header_fields_too_large", "the header section is too large")
        spelled = name.decode("latin-1")
        text = value.decode("latin-1").strip(" \t")
        key = spelled.lower()
        if key == "host":
            self.hosts += 1
            self.host = text
        elif key == "content-length":
            self.content_length = text
        elif key == "transfer-encoding":
            self.coding = text if self.coding is None else f"{self.coding}, {text}"
        elif key == "connection":
            self.connection_tokens += [token.strip().lower() for token in text.split(",")]
        elif key == "expect":
            self.expect = text
        headers = self.headers
        first = self.lower_names.setdefault(key, spelled)  # a repeated name keeps its first spelling
        headers[first] = f"{headers[first]}, {text}" if first in headers else text

    def on_headers_complete(self) -> None:
        if self.priming:
            return
        self.boundaries += 1
        self.in_body = True
        self.head_since = 0.0
        parser = self.parser
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._stop(505, "http_version_not_supported", f"HTTP/{version} is not served here")
        method = parser.get_method().decode("ascii")
        if self.hosts > 1:
            self._stop(400, "bad_request", "more than one Host header")
        if self.hosts == 0 and version == "1.1":
            self._stop(400, "bad_request", "an HTTP/1.1 request needs a Host header")
        if self.hosts and not valid_host(self.host):
            self._stop(400, "bad_request", "the Host header is not a host[:port]")
        if self.coding is not None:
            if version == "1.0":
                self._stop(400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request")
            if self.coding.lower() != "chunked":
                self._stop(501, "unsupported_transfer_coding", f"cannot read {self.coding!r} bodies")
        if method not in METHODS:
            self._stop(501, "not_implemented", f"unsupported method ({method!r})")
        tokens = self.connection_tokens
        keep_alive = "close" not in tokens and (version == "1.1" or "keep-alive" in tokens)
        request = Request(
            time.time(),
            method,
            _path(self.target),
            f"HTTP/{version}",
            self.headers,
            keep_alive=keep_alive,
        )
        self.request = request
        if method == "POST" and self.coding is None and self.content_length is None:
            # Neither Content-Length nor chunked: it has no body (RFC 9112 section 6.3), and a POST
            # without one cannot be a delivery. Refused, not read as empty (RFC 9110 section 15.5.12).
            self._stop(411, "length_required", "a POST needs Content-Length (or chunked transfer coding)")
        length = self.declared = int(self.content_length) if self.content_length is not None else 0
        if length > self.max_body:
            self._stop(
                413,
                "body_too_large",
                f"the body is {length} bytes; this receiver takes {self.max_body} at most",
            )
        if (
            self.expect is not None
            and self.expect.lower() == "100-continue"
            and version == "1.1"
            and (length or self.coding is not None)
        ):
            self.want_continue = True
        if length or self.coding is not None:
            self.body_since = time.monotonic()

    def body_deadline(self, read_timeout: float) -> float:
        """When a body under way must be whole (0: no body under way)."""
        if not self.body_since:
            return 0.0
        size = self.declared if self.coding is None else self.body_size
        return self.body_since + read_timeout + size / BODY_BYTES_PER_SECOND

    def on_chunk_header(self) -> None:
        self.chunks += 1

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.max_body:
            message = f"the body is over the {self.max_body} bytes this receiver takes"
            self._stop(413, "body_too_large", message)
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.priming:
            return
        request = self.request
        assert request is not None
        self.boundaries += 1
        if self.parser.should_upgrade() and (self.declared or self.coding is not None):
            # httptools skipped this body for the upgrade: _read_upgrade_body reads it.
            self.upgrade_body = request
            return
        self.body_since = 0.0
        self.in_body = False
        body = self.body
        request.body = body[0] if len(body) == 1 else b"".join(body)
        self.ready.append(request)
        self.request = None
        if not request.keep_alive:
            self.stopped = True
            raise _Stop  # what follows a closing request is not read


_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+;=]|%[0-9A-Fa-f]{2})+")
_PORT = re.compile(r"[0-9]{1,5}")


@functools.lru_cache(maxsize=64)  # a receiver is asked for the same few hosts again and again
def valid_host(value: str) -> bool:
    """Whether a ``Host`` value is ``host[:port]`` (RFC 9112 §3.2, RFC 3986 §3.2.2-3), or empty.

    An empty value is allowed, as RFC 9112 allows it. A port must be there after
    a colon and at most 65535. A comma is refused although RFC 3986 allows one
    in a reg-name: no DNS name holds one, and it is what two Host fields look
    like joined.
    """
    if not value:
        return True
    if value.startswith("["):
        literal, bracket, rest = value[1:].partition("]")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
        if not bracket or "%" in literal:
            return False
    else:
        literal, colon, port = value.partition(":")
        if not _REG_NAME.fullmatch(literal):
            return False
        rest = colon + port
    if not rest:
        return True
    return rest[0] == ":" and bool(_PORT.fullmatch(rest[1:])) and int(rest[1:]) <= 65535


def _path(target: bytes) -> str:
    """The path and query of a request target; an absolute-form target's too."""
    if target[:1] != b"/" and target != b"*":
        try:
            url = httptools.parse_url(target)
        except httptools.HttpParserInvalidURLError:
            return target.decode("latin-1")
        path = (url.path or b"/") + (b"?" + url.query if url.query else b"")
        return path.decode("latin-1")
    if target[:2] == b"//":
        target = b"/" + target.lstrip(b"/")  # as http.server: not taken for a scheme-relative URL
    return target.decode("latin-1")
