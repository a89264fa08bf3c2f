"""HTTP/1.1 for the receiver: one thread multiplexing keep-alive connections with ``selectors``.

A thread per connection spends most of its time waiting for the GIL once a
load tool opens a few dozen connections, and the standard library's header
parser (``email.feedparser``) costs more than a verdict. This module reads
requests itself: the request line and headers with the limits
``http.server`` applies (414 for a request line over 64 KiB, 431 for a header
line over 64 KiB or more than 100 headers, 400 for a malformed line, 501 for
an unknown method), then the body, framed by ``Content-Length`` or chunked
transfer coding, up to ``max_body`` bytes.

Each whole request goes to ``handle``, which returns its ``Answer`` (or None:
close the connection unanswered). A request whose body was refused unread
(too large, unframeable, malformed framing) still goes to ``handle``, with
``refusal`` set; the connection then closes after the answer. A request that
is not HTTP at all gets its answer from ``refuse`` and is not handed on.

Requests with a large body (whose verdict may take a tenth of a second) are
handled on a worker thread, so that they do not stall the other connections.
A connection silent for ``read_timeout`` seconds is dropped; one that is
closed after an answer is first read (and drained) for a moment, so that
the close does not reset the connection before the client reads the answer.
"""

from __future__ import annotations

import contextlib
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

#: The limits ``http.server`` applies: a line's bytes, a head's header lines.
MAX_LINE = 65536
MAX_HEADERS = 100
#: A chunk-size line, extensions included.
MAX_CHUNK_LINE = 1026
MAX_TRAILERS = 100
#: After an answer that closes the connection, how long to keep reading (and
#: dropping) what the client still sends before closing.
LINGER_SECONDS = 2.0
#: Bodies larger than this are handled on a worker thread.
HEAVY_BODY = 64 * 1024
METHODS = frozenset({"POST", "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
#: How often idle, stalled and lingering connections are looked at.
SWEEP_SECONDS = 0.1

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class Refusal(NamedTuple):
    status: int
    reason: str
    message: str


@dataclass(slots=True)
class Request:
    received_at: float  # unix seconds, when the head had arrived
    method: str
    path: str  # as requested, query string included
    version: str  # "HTTP/1.1"
    headers: dict[str, str]  # names as sent; repeated headers joined with ", "
    body: bytes = b""
    #: Why the body was refused unread (or a header was malformed): the connection closes after the answer.
    refusal: Refusal | None = None
    #: False when the request had neither Content-Length nor chunked transfer coding (so no body).
    framed: bool = True
    keep_alive: bool = True


class Answer(NamedTuple):
    status: int
    body: bytes  # JSON
    allow: str | None = None
    close: bool = False


class _Connection:
    __slots__ = (
        "busy",
        "chunked",
        "close_after",
        "deadline",
        "eof",
        "events",
        "inbox",
        "length",
        "linger_until",
        "out",
        "request",
        "sock",
    )

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.inbox = bytearray()
        self.out = b""
        self.request: Request | None = None  # its head is read, its body not yet
        self.length = 0  # the Content-Length body still awaited
        self.chunked: _Chunks | None = None
        self.deadline = deadline  # dropped if silent until then
        self.events = _READ
        self.busy = False  # a worker is handling its request
        self.close_after = False  # close once ``out`` is sent
        self.eof = False  # the client will send nothing more
        self.linger_until = 0.0  # lingering when set


class _Chunks:
    """Where a chunked body is in its reading."""

    __slots__ = ("parts", "size", "state", "total", "trailers")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.total = 0
        self.state = "size"  # size, data, crlf, trailer
        self.size = 0
        self.trailers = 0


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
        selector.register(self.listener, _READ, None)
        selector.register(self._wake_read, _READ, self._wake_read)
        drain_until = None
        next_sweep = time.monotonic() + SWEEP_SECONDS
        try:
            while True:
                if self._stopping and drain_until is None:
                    selector.unregister(self.listener)
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
                            if self._ready(connection):
                                self._advance(connection)  # requests sent while the answer waited
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
                if self._ready(connection):
                    self._advance(connection)

    # --- connections ----------------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, a connection reset before it was accepted
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock, time.monotonic() + self.read_timeout)
            self._connections.add(connection)
            self._selector.register(sock, _READ, connection)

    def _drop(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(connection.sock)
        connection.sock.close()

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
        for connection in list(self._connections):
            if connection.linger_until:
                if now >= connection.linger_until:
                    self._drop(connection)
            elif not connection.busy and now >= connection.deadline:
                self._drop(connection)  # silent too long, mid-request or between requests

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(65536)
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
            if connection.busy or connection.out:
                connection.eof = True  # answer what is under way, then close
                connection.close_after = True
                self._watch(connection, _WRITE if connection.out else 0)
            else:
                self._drop(connection)  # gone, maybe mid-request: nothing to answer
            return
        connection.inbox += data
        connection.deadline = time.monotonic() + self.read_timeout
        if self._ready(connection):
            self._advance(connection)

    def _flush(self, connection: _Connection) -> None:
        if connection.out:
            try:
                sent = connection.sock.send(connection.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._drop(connection)
                return
            connection.out = connection.out[sent:]
            if sent:
                connection.deadline = time.monotonic() + self.read_timeout
        if connection.out:
            self._watch(connection, _WRITE if connection.eof else _READ | _WRITE)
            return
        if connection.close_after:
            self._linger(connection)
            return
        self._watch(connection, _READ)

    def _ready(self, connection: _Connection) -> bool:
        """Whether the connection has requests to read and nothing else under way."""
        return (
            connection in self._connections
            and bool(connection.inbox)
            and not (connection.busy or connection.out or connection.close_after)
        )

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
        connection.inbox = bytearray()
        connection.linger_until = time.monotonic() + LINGER_SECONDS
        self._watch(connection, _READ)

    # --- requests -------------------------------------------------------------------

    def _advance(self, connection: _Connection) -> None:
        """Read every whole request in the inbox and answer it, while the connection stays open."""
        while connection.inbox or connection.request is not None:
            if connection.request is None and not self._read_head(connection):
                return
            request = connection.request
            if request is None:  # refused: the connection is closing
                return
            if request.refusal is None:
                if connection.chunked is not None:
                    if not self._read_chunks(connection, request, connection.chunked):
                        return
                elif connection.length:
                    if len(connection.inbox) < connection.length:
                        return
                    request.body = bytes(connection.inbox[: connection.length])
                    del connection.inbox[: connection.length]
            connection.request = None
            connection.chunked = None
            connection.length = 0
            if len(request.body) > HEAVY_BODY:
                self._hand_to_worker(connection, request)
                return
            try:
                answer = self.handle(request)
            except Exception:  # a bug: shown, and this connection dropped, the others served on
                traceback.print_exc()
                self._drop(connection)
                return
            self._answer(connection, request, answer)
            if connection.close_after or connection.out or connection not in self._connections:
                return

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
        connection.close_after = connection.close_after or close
        self._flush(connection)

    def _refuse(self, connection: _Connection, status: int, message: str) -> bool:
        """Answer what is not HTTP (not handed on, not recorded) and close the connection."""
        phrase = _phrase(status)
        reason = "bad_request" if status == 400 else phrase.lower().replace(" ", "_") or "error"
        body = self.refuse(Refusal(status, reason, message))
        connection.out += self._encode(Answer(status, body), "", "HTTP/1.1", True)
        connection.close_after = True
        connection.request = None
        self._flush(connection)
        return False

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

    def _read_head(self, connection: _Connection) -> bool:
        """Parse the head at the start of the inbox into ``connection.request``; False while incomplete
        (or when the head was refused)."""
        inbox = connection.inbox
        if inbox[:1] in (b"\r", b"\n"):  # empty lines before a request line are ignored
            del inbox[: len(inbox) - len(inbox.lstrip(b"\r\n"))]
            if not inbox:
                return False
        crlf = inbox.find(b"\n\r\n")
        lf = inbox.find(b"\n\n")
        if crlf < 0 and lf < 0:
            if len(inbox) > MAX_LINE:
                return self._head_too_long(connection)
            return False
        end, size = (crlf, 3) if lf < 0 or 0 <= crlf < lf else (lf, 2)
        text = inbox[:end].decode("latin-1")
        del inbox[: end + size]
        if text.endswith("\r"):
            text = text[:-1]
        request_line, _, fields = text.replace("\r\n", "\n").partition("\n")
        if len(request_line) >= MAX_LINE:
            return self._refuse(connection, 414, "Request-URI Too Long")
        words = request_line.split()
        if len(words) == 3 and words[2] == "HTTP/1.1":
            version, number = "HTTP/1.1", (1, 1)
        elif len(words) >= 3:
            claimed = words[-1]
            numbers = claimed[5:].split(".") if claimed.startswith("HTTP/") else []
            if len(numbers) != 2 or not all(n.isascii() and n.isdigit() and len(n) <= 10 for n in numbers):
                return self._refuse(connection, 400, f"Bad request version ({claimed!r})")
            version, number = claimed, (int(numbers[0]), int(numbers[1]))
            if number >= (2, 0):
                return self._refuse(connection, 505, f"Invalid HTTP version ({claimed[5:]})")
        else:
            version, number = "HTTP/0.9", (0, 9)
        if not 2 <= len(words) <= 3:
            return self._refuse(connection, 400, f"Bad request syntax ({request_line!r})")
        method, path = words[0], words[1]
        if len(words) == 2 and method != "GET":
            return self._refuse(connection, 400, f"Bad HTTP/0.9 request type ({method!r})")
        if path.startswith("//"):
            path = "/" + path.lstrip("/")  # as http.server: not taken for a scheme-relative URL

        parsed = _fields(fields)
        if isinstance(parsed, Refusal):
            return self._refuse(connection, parsed.status, parsed.message)
        headers, lengths, coding, connection_option, expect, malformed = parsed
        if method not in METHODS:
            return self._refuse(connection, 501, f"Unsupported method ({method!r})")

        keep_alive = number >= (1, 1)
        if connection_option is not None:
            option = connection_option.lower()
            if option == "close":
                keep_alive = False
            elif option == "keep-alive":
                keep_alive = True
        if number < (1, 0):
            keep_alive = False
        request = Request(time.time(), method, path, version, headers, keep_alive=keep_alive)
        connection.request = request
        if malformed:
            # A header line without a colon: what follows cannot be trusted to be framed right.
            request.refusal = Refusal(400, "bad_request", "a header line is malformed")
        elif coding is not None:
            if coding.strip().lower() != "chunked":
                request.refusal = Refusal(
                    501, "unsupported_transfer_coding", f"cannot read {coding!r} bodies"
                )
            else:
                connection.chunked = _Chunks()
                if lengths:
                    request.keep_alive = False  # both framings: do not trust this connection further
        elif not lengths:
            request.framed = False
        elif len(set(lengths)) > 1 or not (lengths[0].isascii() and lengths[0].isdigit()):
            request.refusal = Refusal(400, "bad_request", "malformed Content-Length")
        else:
            length = int(lengths[0])
            if length > self.max_body:
                request.refusal = Refusal(
                    413,
                    "body_too_large",
                    f"the body is {length} bytes; this receiver takes {self.max_body} at most",
                )
            connection.length = length
        if (
            request.refusal is None
            and expect is not None
            and expect.lower() == "100-continue"
            and number >= (1, 1)
            and (connection.chunked is not None or len(inbox) < connection.length)
        ):
            connection.out += b"HTTP/1.1 100 Continue\r\n\r\n"
            self._flush(connection)
            return connection in self._connections  # not when the client is gone
        return True

    def _head_too_long(self, connection: _Connection) -> bool:
        """An incomplete head over the limits: 414 or 431 now, rather than waiting for more."""
        inbox = connection.inbox
        first = inbox.find(b"\n")
        if first < 0 or first >= MAX_LINE:
            return self._refuse(connection, 414, "Request-URI Too Long")
        if inbox.count(b"\n") - 1 > MAX_HEADERS:
            return self._refuse(connection, 431, "Too many headers")
        if len(inbox) - inbox.rfind(b"\n") > MAX_LINE:
            return self._refuse(connection, 431, "Line too long")
        return False

    def _read_chunks(self, connection: _Connection, request: Request, chunks: _Chunks) -> bool:
        """Read what the inbox holds of a chunked body; True once it is whole (or refused)."""
        inbox = connection.inbox
        while True:
            if chunks.state == "size":
                end = inbox.find(b"\n", 0, MAX_CHUNK_LINE)
                if end < 0:
                    if len(inbox) >= MAX_CHUNK_LINE:
                        return self._refuse_body(request, 400, "bad_request", "malformed chunk size")
                    return False
                size_text = bytes(inbox[:end]).split(b";", 1)[0].strip()
                del inbox[: end + 1]
                if not size_text or len(size_text) > 16 or size_text.strip(b"0123456789abcdefABCDEF"):
                    return self._refuse_body(request, 400, "bad_request", "malformed chunk size")
                size = int(size_text, 16)
                if size == 0:
                    chunks.state = "trailer"
                    continue
                chunks.total += size
                if chunks.total > self.max_body:
                    return self._refuse_body(
                        request,
                        413,
                        "body_too_large",
                        f"the body is over the {self.max_body} bytes this receiver takes",
                    )
                chunks.size = size
                chunks.state = "data"
            elif chunks.state == "data":
                if len(inbox) < chunks.size:
                    return False
                chunks.parts.append(bytes(inbox[: chunks.size]))
                del inbox[: chunks.size]
                chunks.state = "crlf"
            elif chunks.state == "crlf":
                if inbox[:1] == b"\n" or inbox[:2] == b"\r\n":
                    del inbox[: 1 if inbox[:1] == b"\n" else 2]
                    chunks.state = "size"
                elif len(inbox) >= 2 or (inbox and inbox[:1] != b"\r"):
                    return self._refuse_body(request, 400, "bad_request", "a chunk is not followed by CRLF")
                else:
                    return False
            else:  # the trailer section, up to its blank line
                end = inbox.find(b"\n")
                if end < 0:
                    if len(inbox) > MAX_LINE:
                        return self._refuse_body(request, 400, "bad_request", "a trailer line is too long")
                    return False
                blank = end == 0 or (end == 1 and inbox[:1] == b"\r")
                del inbox[: end + 1]
                if blank:
                    request.body = b"".join(chunks.parts)
                    return True
                chunks.trailers += 1
                if chunks.trailers >= MAX_TRAILERS:
                    return self._refuse_body(request, 400, "bad_request", "too many trailer lines")

    @staticmethod
    def _refuse_body(request: Request, status: int, reason: str, message: str) -> bool:
        request.refusal = Refusal(status, reason, message)
        request.body = b""
        return True


_Fields = tuple[dict[str, str], list[str], "str | None", "str | None", "str | None", bool]
#: A well-formed header line: a name without spaces, a colon, a value.
_FIELD = re.compile(r"^([^\s:]+):[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def _fields(text: str) -> _Fields | Refusal:
    """The header lines' fields: the headers (names as sent, a repeated header's values joined
    with ", "), every Content-Length, the first Transfer-Encoding, Connection and Expect, and
    whether a line is malformed. A Refusal for lines over the limits."""
    if not text:
        return {}, [], None, None, None, False
    if len(text) < MAX_LINE:  # the common case: well-formed lines, no header repeated
        pairs = _FIELD.findall(text)
        if len(pairs) == text.count("\n") + 1 and len(pairs) <= MAX_HEADERS:
            lower = {name.lower(): value for name, value in pairs}
            if len(lower) == len(pairs):
                length = lower.get("content-length")
                return (
                    dict(pairs),
                    [] if length is None else [length],
                    lower.get("transfer-encoding"),
                    lower.get("connection"),
                    lower.get("expect"),
                    False,
                )
    lines = text.split("\n")
    if len(lines) > MAX_HEADERS:
        return Refusal(431, "", "Too many headers")
    headers: dict[str, str] = {}
    spellings: dict[str, str] = {}
    lengths: list[str] = []
    coding = connection_option = expect = None
    malformed = False
    for line in lines:
        if len(line) >= MAX_LINE:
            return Refusal(431, "", "Line too long")
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name or "\t" in name:
            malformed = True  # includes a folded line: refused, as RFC 9112 allows
            continue
        value = value.strip(" \t")
        key = name.lower()
        if key == "content-length":
            lengths.append(value)
        elif key == "transfer-encoding":
            coding = value if coding is None else coding
        elif key == "connection":
            connection_option = value if connection_option is None else connection_option
        elif key == "expect":
            expect = value if expect is None else expect
        spelled = spellings.setdefault(key, name)
        headers[spelled] = f"{headers[spelled]}, {value}" if spelled in headers else value
    return headers, lengths, coding, connection_option, expect, malformed


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
