"""An HTTP/1.1 server: llhttp parses each request, one ``selectors`` thread serves every connection.

``request_reader.py`` turns a connection's bytes into requests (llhttp's
callbacks and the rules of RFC 9112 that llhttp leaves to a server); this
module runs the connections: reading, deadlines, answers, closing.

Every HTTP rule is decided here and in ``request_reader.py``, never by the
handler above; ``listening_socket`` binds the port, with errors that say what
to do. Each whole request goes to ``handle``, which returns its ``Answer`` (or
None: close the connection unanswered). A request whose body is refused
unread (411: a POST with neither Content-Length nor chunked coding; 413: over
``max_body``) still goes to ``handle``, with ``refusal`` set, so a receiver
records and reports it, and the connection closes after its answer. What is not HTTP (a parse error, a
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
import selectors
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import NamedTuple

from ..errors import InputError
from .request_reader import Refusal, Request, RequestReader

#: After an answer that closes the connection, how long to keep reading (and
#: dropping) what the client still sends before closing.
LINGER_SECONDS = 2.0
#: Bodies larger than this are handled on a worker thread.
HEAVY_BODY = 64 * 1024
#: How often deadlines are looked at.
SWEEP_SECONDS = 0.1
#: Out of descriptors, how long accepting waits unless a connection closes first.
ACCEPT_RETRY_SECONDS = 0.5
READ_SIZE = 65536
#: invwh's own answers kept whole for the current second: how many, and how large a body at most.
ENCODED_ANSWERS = 64
ENCODED_BODY_LIMIT = 4096
_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Answer(NamedTuple):
    status: int
    body: bytes  # JSON, unless ``headers`` says otherwise
    allow: str | None = None
    close: bool = False
    #: Another server's header fields, sent as they are in place of ``Content-Type`` (a proxy's
    #: answer): framing (``Content-Length``) is still this server's, and so are ``Server`` and
    #: ``Date`` unless given here.
    headers: tuple[tuple[str, str], ...] | None = None


class _Connection:
    __slots__ = (
        "busy",
        "closing",
        "deadline",
        "eof",
        "events",
        "linger_until",
        "out",
        "peer",
        "reader",
        "sock",
    )

    def __init__(self, sock: socket.socket, reader: RequestReader, deadline: float) -> None:
        self.sock = sock
        self.reader = reader
        self.out = bytearray()
        self.deadline = deadline  # dropped if silent until then (a head: if not whole by then)
        self.events = _READ
        self.busy = False  # a worker is handling its request
        self.closing = False  # the last answer is decided: close once ``out`` is sent
        self.eof = False  # the client will send nothing more
        self.linger_until = 0.0  # lingering when set
        self.peer = ""  # the client's IP, asked for only when a request is handed off


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
        hand_off: Callable[[Request], bool] | None = None,
        workers: int = 2,
    ) -> None:
        self.listener = listener
        #: Says which requests wait on something slow (a forward to an app): they are handled on a
        #: worker thread, as large bodies are, so that this loop serves the other connections meanwhile.
        self.hand_off = hand_off
        self.worker_count = workers
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
        #: invwh's own answers this second, whole (a receiver gives a few kinds, each thousands of
        #: times): emptied when the Date header changes.
        self._encoded: dict[tuple[int, bytes, bool, bool, bool, str | None], bytes] = {}

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
            connection = _Connection(sock, RequestReader(self.max_body), time.monotonic() + self.read_timeout)
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
            if len(item.body) > HEAVY_BODY or (self.hand_off is not None and self.hand_off(item)):
                if self.hand_off is not None:
                    item.peer = connection.peer or self._peer(connection)
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

    @staticmethod
    def _peer(connection: _Connection) -> str:
        with contextlib.suppress(OSError):
            connection.peer = str(connection.sock.getpeername()[0])
        return connection.peer

    def _hand_to_worker(self, connection: _Connection, request: Request) -> None:
        if self._workers is None:
            self._workers = ThreadPoolExecutor(self.worker_count, thread_name_prefix="invwh-verdict")
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
        now = time.time()
        if int(now) != self._date_second:
            self._date_second = int(now)
            self._date = _http_date(now)
            self._encoded.clear()
        if answer.headers is not None or len(answer.body) > ENCODED_BODY_LIMIT:
            # Another server's answer (a proxy's) or a large one: made each time, never kept.
            return self._make_answer(answer, method, version, close)
        key = (answer.status, answer.body, method == "HEAD", close, version == "HTTP/1.0", answer.allow)
        encoded = self._encoded.get(key)
        if encoded is None:
            if len(self._encoded) >= ENCODED_ANSWERS:
                self._encoded.clear()
            encoded = self._encoded[key] = self._make_answer(answer, method, version, close)
        return encoded

    def _make_answer(self, answer: Answer, method: str, version: str, close: bool) -> bytes:
        status = answer.status
        head = f"HTTP/1.1 {status} {_PHRASES.get(status, '')}\r\n"
        given = answer.headers
        if given is None:
            head += f"Server: {self.server_name}\r\nDate: {self._date}\r\n"
        else:
            names = {name.lower() for name, _ in given}
            if "server" not in names:
                head += f"Server: {self.server_name}\r\n"
            if "date" not in names:
                head += f"Date: {self._date}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in given)
        body = b""
        if status >= 200 and status not in (204, 304):
            body = answer.body
            if given is None:
                head += "Content-Type: application/json\r\n"
            head += f"Content-Length: {len(body)}\r\n"
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


#: Every status's reason phrase, looked up once rather than through HTTPStatus a request.
_PHRASES = {status.value: status.phrase for status in HTTPStatus} | _RFC9110_PHRASES


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _http_date(unix: float) -> str:
    """``Sat, 28 Nov 2026 06:39:30 GMT``, as ``http.server`` writes it."""
    t = time.gmtime(unix)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:4d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` for an ``HttpServer``; raises InputError, in words
    that say what to do (the port in use, a privileged port, an address not of this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(128)  # load tools open many connections at once
    except (socket.gaierror, UnicodeError):  # UnicodeError: a name the IDNA codec refuses
        listener.close()
        raise InputError(f"cannot listen on {host}: unknown host") from None
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            cause = "the port is already in use (pick another, or 0 for any free port)"
        elif error.errno == errno.EACCES:
            cause = "permission denied (ports below 1024 need privileges)"
        elif error.errno == errno.EADDRNOTAVAIL:
            cause = "not an address of this machine"
        else:
            cause = error.strerror or str(error)
        raise InputError(f"cannot listen on {where}: {cause}") from None
    except BaseException:
        listener.close()
        raise
    return listener
