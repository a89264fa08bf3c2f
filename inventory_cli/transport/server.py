"""An HTTP/1.1 server: llhttp parses each request, one ``selectors`` thread serves every connection.

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

Each whole request goes to ``handle``, which returns its ``Answer`` (or None:
close the connection unanswered). A request whose body is refused unread
(over ``max_body``) still goes to ``handle``, with ``refusal`` set, and the
connection closes after its answer. What is not HTTP (a parse error, a
refused head: 400, 414, 431, 501, 505) is answered with ``refuse``'s body,
never handed on, and closes the connection. Requests are answered in order;
pipelined ones too.

Why one ``selectors`` thread rather than asyncio protocols, even on uvloop:
measured with ``hey -c 32`` on 2 cores, this loop served more requests a
second (see ``bench/README.md``). It also keeps the edges in one place:

- back-pressure: a connection is not read while its answers are unsent or a
  request is being handled, so a client that pipelines and never reads costs
  at most one read's worth of requests and their answers;
- a half-close (``SHUT_WR``) still gets an answer to every whole request
  sent before it;
- out of file descriptors, accepting pauses (no spinning on a listener that
  stays readable) and resumes when a connection closes, or after a moment;
- a request head has ``read_timeout`` seconds in all, however slowly its
  bytes trickle in (slowloris); its body must then be whole within
  ``read_timeout`` seconds of the head's end plus one second per 64 KiB
  (of the ``Content-Length``; of a chunked body, per 64 KiB received so far,
  since its size is not known ahead), however slowly it trickles; between
  requests and while answers wait for the client, ``read_timeout`` is the
  longest silence;
- requests with a large body (whose verdict may take a tenth of a second)
  are handled on a worker thread, so that they do not stall the others.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import re
import selectors
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import NamedTuple

import httptools

#: A request target over this gets 414; a header section over it, 431.
MAX_TARGET = 65536
MAX_HEAD = 65536
MAX_HEADERS = 100
#: After an answer that closes the connection, how long to keep reading (and
#: dropping) what the client still sends before closing.
LINGER_SECONDS = 2.0
#: Bodies larger than this are handled on a worker thread.
HEAVY_BODY = 64 * 1024
METHODS = frozenset({"POST", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
#: How often deadlines are looked at.
SWEEP_SECONDS = 0.1
#: Out of descriptors, how long accepting waits unless a connection closes first.
ACCEPT_RETRY_SECONDS = 0.5
READ_SIZE = 65536
#: A body's deadline grows by a second per this many bytes (declared, or received when chunked).
BODY_BYTES_PER_SECOND = 65536
#: Chunk size lines (hex digits, CRLFs) of one chunk, before its extensions count against MAX_HEAD.
CHUNK_FRAMING = 32

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


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
    #: False when the request had neither Content-Length nor chunked transfer coding (so no body).
    framed: bool = True
    keep_alive: bool = True


class Answer(NamedTuple):
    status: int
    body: bytes  # JSON
    allow: str | None = None
    close: bool = False


class _Stop(Exception):
    """Raised from a parser callback: parse no further on this connection."""


class _Reader:
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
        if self.request is not None and refusal.status == 413:
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
            framed=self.coding is not None or self.content_length is not None,
            keep_alive=keep_alive,
        )
        self.request = request
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


class _Connection:
    __slots__ = (
        "busy",
        "closing",
        "deadline",
        "eof",
        "events",
        "linger_until",
        "out",
        "reader",
        "sock",
    )

    def __init__(self, sock: socket.socket, reader: _Reader, deadline: float) -> None:
        self.sock = sock
        self.reader = reader
        self.out = bytearray()
        self.deadline = deadline  # dropped if silent until then (a head: if not whole by then)
        self.events = _READ
        self.busy = False  # a worker is handling its request
        self.closing = False  # the last answer is decided: close once ``out`` is sent
        self.eof = False  # the client will send nothing more
        self.linger_until = 0.0  # lingering when set


class HttpServer:
    """Serves ``listener`` from ``serve()`` until ``stop()``."""

    def __init__(
        self,
        listener: socket.socket,
        handle: Callable[[Request], Answer | None],
        refuse: Callable[[Refusal], bytes],
        *,
        server_name: str,
        max_body: int,
        read_timeout: float,
        drain_seconds: float,
    ) -> None:
        self.listener = listener
        self.handle = handle
        self.refuse = refuse
        self.server_name = server_name
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.drain_seconds = drain_seconds
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._stopping = False
        self._accepting = False
        self._accept_again_at = 0.0
        self._done: deque[tuple[_Connection, Request, Answer | None]] = deque()
        self._workers: ThreadPoolExecutor | None = None
        self._connections: set[_Connection] = set()
        self._date_second = -1
        self._date = ""

    # --- life cycle -----------------------------------------------------------------

    def serve(self) -> None:
        """Serve until ``stop()``, then let the requests being answered finish and close everything."""
        selector = self._selector
        self.listener.setblocking(False)
        self._start_accepting()
        selector.register(self._wake_read, _READ, self._wake_read)
        drain_until = None
        next_sweep = time.monotonic() + SWEEP_SECONDS
        try:
            while True:
                if self._stopping and drain_until is None:
                    self._stop_accepting()
                    self.listener.close()
                    drain_until = time.monotonic() + self.drain_seconds
                if drain_until is not None and (
                    time.monotonic() >= drain_until or not any(c.busy or c.out for c in self._connections)
                ):
                    return
                for key, mask in selector.select(SWEEP_SECONDS):
                    connection = key.data
                    if connection is None:
                        self._accept()
                    elif connection is self._wake_read:
                        self._woken()
                    else:
                        if mask & _WRITE:
                            self._flush(connection)
                        if mask & _READ and connection in self._connections:
                            self._receive(connection)
                now = time.monotonic()
                if now >= next_sweep:
                    next_sweep = now + SWEEP_SECONDS
                    self._sweep(now)
        finally:
            for connection in list(self._connections):
                self._drop(connection)
            self.close()

    def stop(self) -> None:
        """Stop accepting and, once the answers under way are sent, return from ``serve()``. Any thread."""
        self._stopping = True
        self._wake()

    def close(self) -> None:
        """Release the sockets (for a server that never served, or once it has)."""
        with contextlib.suppress(OSError):
            self.listener.close()
        with contextlib.suppress(OSError, KeyError, ValueError):
            self._selector.close()
        self._wake_read.close()
        self._wake_write.close()
        if self._workers is not None:
            self._workers.shutdown(wait=False)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (already woken) or closed
            self._wake_write.send(b"\0")

    def _woken(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_read.recv(4096):
                pass
        while self._done:
            connection, request, answer = self._done.popleft()
            connection.busy = False
            if connection in self._connections:
                self._answer(connection, request, answer)
                if connection in self._connections:
                    self._serve_ready(connection)

    # --- accepting ----------------------------------------------------------------

    def _start_accepting(self) -> None:
        if not self._accepting and not self._stopping:
            self._selector.register(self.listener, _READ, None)
            self._accepting = True
            self._accept_again_at = 0.0

    def _stop_accepting(self) -> None:
        if self._accepting:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(self.listener)
            self._accepting = False

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _OUT_OF_DESCRIPTORS:
                    # The listener stays readable: watching it now would spin. The clients wait
                    # in the backlog until a connection closes (or the retry).
                    self._stop_accepting()
                    self._accept_again_at = time.monotonic() + ACCEPT_RETRY_SECONDS
                return  # else a connection reset before it was accepted
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock, _Reader(self.max_body), time.monotonic() + self.read_timeout)
            self._connections.add(connection)
            self._selector.register(sock, _READ, connection)

    # --- connections ----------------------------------------------------------------

    def _drop(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        with contextlib.suppress(KeyError, ValueError, OSError):
            if connection.events:
                self._selector.unregister(connection.sock)
        connection.events = 0
        connection.sock.close()
        if self._accept_again_at:
            self._start_accepting()  # a descriptor is free again

    def _watch(self, connection: _Connection, events: int) -> None:
        if events != connection.events:
            if not events:
                self._selector.unregister(connection.sock)
            elif not connection.events:
                self._selector.register(connection.sock, events, connection)
            else:
                self._selector.modify(connection.sock, events, connection)
            connection.events = events

    def _sweep(self, now: float) -> None:
        if self._accept_again_at and now >= self._accept_again_at:
            self._start_accepting()
        for connection in list(self._connections):
            if connection.linger_until:
                if now >= connection.linger_until:
                    self._drop(connection)
            elif connection.busy:
                continue
            elif now >= connection.deadline:
                self._drop(connection)  # silent too long, or a head not whole in time
            elif (
                connection.events == _READ
                and connection.reader.head_since
                and now >= connection.reader.head_since + self.read_timeout
            ):
                self._drop(connection)  # slowloris: the head's bytes trickle in
            elif connection.events == _READ and 0 < connection.reader.body_deadline(self.read_timeout) <= now:
                self._drop(connection)  # the body's bytes trickle in

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(connection)
            return
        if connection.linger_until:
            if not data:
                self._drop(connection)
            return
        if not data:
            connection.eof = True
            self._serve_ready(connection)
            return
        now = time.monotonic()
        connection.deadline = now + self.read_timeout
        reader = connection.reader
        reader.feed(data)
        if reader.want_continue:
            reader.want_continue = False
            if not reader.ready and not connection.out:
                connection.out += b"HTTP/1.1 100 Continue\r\n\r\n"
        self._serve_ready(connection)

    def _serve_ready(self, connection: _Connection) -> None:
        """Answer the requests read, in order; then read on, write, or close, as the state says."""
        ready = connection.reader.ready
        while ready and not connection.busy and not connection.closing:
            item = ready.popleft()
            if isinstance(item, Refusal):
                self._refuse(connection, item)
                break
            if len(item.body) > HEAVY_BODY:
                self._hand_to_worker(connection, item)
                break
            try:
                answer = self.handle(item)
            except Exception:  # a bug: shown, and this connection dropped, the others served on
                traceback.print_exc()
                self._drop(connection)
                return
            self._answer(connection, item, answer)
            if connection not in self._connections:
                return
        if connection in self._connections:
            self._flush(connection)

    def _flush(self, connection: _Connection) -> None:
        """Send what can be sent, and watch the connection for what it waits on."""
        out = connection.out
        if out:
            try:
                sent = connection.sock.send(out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._drop(connection)
                return
            if sent:
                del out[:sent]
                connection.deadline = time.monotonic() + self.read_timeout
        if out:
            self._watch(connection, _WRITE)  # back-pressure: read no more until the client reads
            return
        if connection.busy:
            self._watch(connection, 0)
            return
        reader = connection.reader
        if connection.closing or ((reader.stopped or connection.eof) and not reader.ready):
            self._linger(connection)
            return
        if reader.ready:  # a worker's answer was sent: on to the requests read meanwhile
            self._serve_ready(connection)
            return
        if connection.events != _READ:
            # The head's or body's clock stopped while this connection was not read: it starts again.
            if reader.head_since:
                reader.head_since = time.monotonic()
            if reader.body_since:
                reader.body_since = time.monotonic()
        self._watch(connection, _READ)

    def _linger(self, connection: _Connection) -> None:
        """Drop what the client still sends for a moment, then close.

        Closing a socket with unread data resets the connection, and a reset
        can destroy the answer before the client reads it.
        """
        if connection.eof:
            self._drop(connection)
            return
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(connection)
            return
        connection.reader.stopped = True
        connection.linger_until = time.monotonic() + LINGER_SECONDS
        self._watch(connection, _READ)

    # --- answers ------------------------------------------------------------------

    def _hand_to_worker(self, connection: _Connection, request: Request) -> None:
        if self._workers is None:
            self._workers = ThreadPoolExecutor(2, thread_name_prefix="invwh-verdict")
        connection.busy = True

        def work() -> None:
            try:
                answer = self.handle(request)
            except Exception:
                traceback.print_exc()
                answer = None
            self._done.append((connection, request, answer))
            self._wake()

        self._workers.submit(work)

    def _answer(self, connection: _Connection, request: Request, answer: Answer | None) -> None:
        if answer is None:  # closing: no answer
            self._drop(connection)
            return
        close = answer.close or not request.keep_alive or request.refusal is not None
        connection.out += self._encode(answer, request.method, request.version, close)
        if close:
            connection.closing = True

    def _refuse(self, connection: _Connection, refusal: Refusal) -> None:
        """Answer what is not HTTP (not handed on, not recorded) and close the connection."""
        body = self.refuse(refusal)
        connection.out += self._encode(Answer(refusal.status, body), "", "HTTP/1.1", True)
        connection.closing = True

    def _encode(self, answer: Answer, method: str, version: str, close: bool) -> bytes:
        """The whole answer, head and body, for one write."""
        status = answer.status
        now = time.time()
        if int(now) != self._date_second:
            self._date_second = int(now)
            self._date = _http_date(now)
        head = f"HTTP/1.1 {status} {_phrase(status)}\r\nServer: {self.server_name}\r\nDate: {self._date}\r\n"
        body = b""
        if status >= 200 and status not in (204, 304):
            body = answer.body
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            if method == "HEAD":
                body = b""
        if answer.allow:
            head += f"Allow: {answer.allow}\r\n"
        if close:
            head += "Connection: close\r\n"
        elif version == "HTTP/1.0":
            head += "Connection: keep-alive\r\n"
        return (head + "\r\n").encode("latin-1") + body


# RFC 9110's names, which Python adopted only in 3.13: without them the status
# line and the refusal reasons made from it would change with the interpreter.
_RFC9110_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def _phrase(status: int) -> str:
    if status in _RFC9110_PHRASES:
        return _RFC9110_PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _http_date(unix: float) -> str:
    """``Sat, 28 Nov 2026 06:39:30 GMT``, as ``http.server`` writes it."""
    t = time.gmtime(unix)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:4d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )
