"""Many POSTs to one ``http://`` URL over a pool of keep-alive connections, from one thread.

``requests`` spends most of a millisecond of Python on each request: nothing
for ``send``, everything for a replay of a day of traffic. This pool
multiplexes plain-HTTP connections with ``selectors``, writes each request as
one buffer signed the moment it is written, and reads the answers with llhttp
(``httptools``, the parser of Node.js and uvicorn) through ``answer_reader.py``,
keeping only what a verdict needs. Exchanges come back in the order the POSTs went in.

What it promises at the edges (RFC 9110 §9.2.2, RFC 9112 §9):

- A POST whose request was fully written is never written again by the pool:
  a close or a reset after that is that delivery's failure. Only the retry
  policy may send it again, and that counts an attempt.
- A pooled connection found closed before any byte of a request went out is
  replaced by a fresh one; that is not an attempt.
- A delivery is settled only once its request is fully written; an answer
  that comes earlier ends the connection.
- An answer delimited by the close, an HTTP/1.0 answer and ``Connection:
  close`` end the connection.
- An answer llhttp refuses (``101 Switching Protocols`` included: a delivery
  needs a final answer) is its own delivery's failure, and ends the
  connection: the next delivery starts on clean ground.
- An answer's head, its 1xx interim answers included, is bounded like the
  receiver's (64 KiB), and each attempt has an overall deadline
  (``ATTEMPT_TIMEOUTS`` times ``--timeout``): an endless header, body or stream
  of ``102 Processing`` fails that delivery in bounded time and memory.
- A kept-alive connection the server closes right after answering, while the
  next request is being written, is replaced and that request written again,
  not an attempt, only when it is proven that none of it reached the server:
  the server's FIN acknowledges none of its bytes (``TCP_INFO``). A reset
  proves no such thing (a server may read a request, then reset): that
  delivery fails, and its error says so. Either way, from then on each
  request of the run gets a connection of its own, so the race is run once.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import selectors
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

from . import failures
from .answer_reader import AnswerReader
from .exchange import PREVIEW_BYTES, ClientOptions, Exchange, Post, why_retried
from .retry import Pace, RetryWait, retry_after_seconds

#: An attempt, from its connect to its answer's last byte, ends within this many ``--timeout``:
#: each silence is bounded by one, so a slow but steady answer still counts.
ATTEMPT_TIMEOUTS = 3
_READ = selectors.EVENT_READ
#: How long one look at the idle connections stands before one is used (``_Run.pooled``), in seconds.
IDLE_SEEN_FOR = 0.001
#: A write refused because the server reset the connection (or had closed it, then reset).
_CUT_OFF = (errno.ECONNRESET, errno.EPIPE)
_WRITE = selectors.EVENT_WRITE


class NotYet:
    """What a POSTs' source gives when it has none ready yet (``client_process``'s pipe)."""

    def __repr__(self) -> str:
        return "NOT_YET"


#: Given by a source for ``ClientPool.run(posts, ready_fd=...)``: no POST ready yet. The run goes on
#: serving its connections, and asks again once ``ready_fd`` is readable.
NOT_YET = NotYet()


class _Flight:
    """A POST on its way, and its answer once one is settled."""

    __slots__ = (
        "attempts",
        "deadline",
        "ends",
        "failure",
        "index",
        "location",
        "post",
        "preview",
        "reason",
        "retry_after",
        "signed",
        "started",
        "status",
    )

    def __init__(self, index: int, post: Post, started: float) -> None:
        self.index = index
        self.post = post
        self.started = started
        self.attempts = 0
        self.deadline = 0.0  # the next silence's end, never past ``ends``
        self.ends = 0.0  # the attempt's overall deadline
        self.signed: Mapping[str, str] = {}
        self.status: int | None = None
        self.reason = ""
        self.preview = b""
        self.failure: failures.Failure | None = None
        self.location: str | None = None
        self.retry_after: float | None = None


class _Connection:
    """One socket, the reader of its answers, and its request."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        # A replay shows a preview of each answer's body: the rest is read past, not kept.
        self.answer = AnswerReader(PREVIEW_BYTES)
        self.flight: _Flight | None = None
        self.connecting = True
        self.events = _WRITE  # as registered with the selector
        self.reused = False  # it carried an answered request before
        self.out: memoryview | None = None  # the request, while not all of it is written
        self.written = 0
        self.sent = 0  # bytes of every request written on it, this one included
        self.sent_before = 0  # ... and before this one: what the server acknowledged, if it answered them
        self.acked_at_connect: int | None = None  # what TCP_INFO counts as acknowledged then (the SYN)

    def acknowledged_none(self) -> bool:
        """The server acknowledged none of this request's bytes: provably, or False."""
        acked = _acknowledged(self.sock)
        return (
            acked is not None
            and self.acked_at_connect is not None
            and (acked == self.acked_at_connect + self.sent_before)
        )


class ClientPool:
    """POSTs to one ``http://`` URL over at most ``options.connections`` keep-alive connections.

    A ``transport.client.Client``: ``open_client`` makes one for an ``http://`` URL.
    """

    def __init__(
        self,
        url: str,
        options: ClientOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        options = options or ClientOptions()
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the client pool takes http:// URLs, not {url!r}")
        self.url = url
        self.options = options
        self.connections = max(1, options.connections)
        self.timeout = options.timeout
        self.retry = options.retry
        self.clock = clock
        #: How the loop waits when nothing is in flight, only a retry's backoff or the pace.
        self.sleep = sleep
        self.address: tuple[int, tuple[str, int]] | None = None
        self.unreachable: failures.Failure | None = None
        try:
            family, _, _, _, address = socket.getaddrinfo(
                parts.hostname, parts.port or 80, type=socket.SOCK_STREAM
            )[0]
            self.address = (family, (str(address[0]), int(address[1])))
        except (OSError, UnicodeError) as error:
            self.unreachable = failures.unresolvable(error)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.fixed = {"Host": parts.netloc, "User-Agent": options.user_agent, **options.headers}
        self.head = f"POST {target} HTTP/1.1\r\n".encode("latin-1") + b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in self.fixed.items()
        )

    def run(
        self,
        posts: Iterable[Post | NotYet],
        *,
        ready_fd: int | None = None,
        before_waiting: Callable[[], None] | None = None,
    ) -> Iterator[Exchange]:
        """Deliver every POST and yield its exchange, in the POSTs' order.

        A source that may have no POST ready (a pipe from another process) yields
        ``NOT_YET`` then, and names the file descriptor that becomes readable when it has.
        ``before_waiting`` is called each time the run is about to wait (for its connections,
        its source, a backoff or the pace): when to pass on the exchanges yielded so far.
        """
        return _Run(self, iter(posts), ready_fd, before_waiting).exchanges()

    def send(self, post: Post) -> Exchange:
        (exchange,) = self.run((post,))
        return exchange

    def close(self) -> None:
        """Nothing to close: a run's connections end with it."""


class _Run:
    """One run of a pool: the connections, the POSTs in flight and the exchanges not yet yielded."""

    def __init__(
        self,
        pool: ClientPool,
        posts: Iterator[Post | NotYet],
        ready_fd: int | None,
        before_waiting: Callable[[], None] | None,
    ) -> None:
        self.pool = pool
        self.posts = posts
        self.exhausted = False
        self.ready_fd = ready_fd
        self.before_waiting = before_waiting
        self.awaiting_posts = False  # the source had none ready: ``ready_fd`` is watched until it has
        self.selector = selectors.DefaultSelector()
        self.ready: dict[int, Exchange] = {}
        self.next_out = 0  # the index of the next exchange to yield
        self.taken = 0  # POSTs taken from ``posts`` so far
        self.window = pool.connections * 4  # taken but not yielded, at most: memory stays flat
        self.idle: list[_Connection] = []
        self.busy: set[_Connection] = set()
        self.later: list[tuple[float, int, _Flight]] = []  # retries, by when they are due
        self.again: deque[_Flight] = deque()  # to write at once on a fresh connection
        self.pace = Pace(pool.options.rate)
        #: Until a server closes a kept-alive connection as a request goes out on it: from then
        #: on each request gets a new connection, so no other races that close.
        self.reuse = True
        #: When one poll last found every idle connection with nothing to say (``pooled``); None
        #: since a connection went idle.
        self.idle_seen_at: float | None = None

    def exchanges(self) -> Iterator[Exchange]:
        try:
            while True:
                self.start_what_can_start()
                ready, next_out = self.ready, self.next_out
                while next_out in ready:
                    yield ready.pop(next_out)
                    next_out += 1
                if self.exhausted and next_out == self.taken:
                    return
                if next_out != self.next_out:
                    self.next_out = next_out
                    continue  # the window moved: more may start before anything is awaited
                self.wait_and_serve()
        finally:
            for connection in [*self.idle, *self.busy]:
                self.drop(connection)
            self.selector.close()

    # --- the loop ---------------------------------------------------------------

    def start_what_can_start(self) -> None:
        pool = self.pool
        now = pool.clock()
        while len(self.busy) < pool.connections:
            if self.again:
                flight = self.again.popleft()
            elif self.later and self.later[0][0] <= now:
                flight = heapq.heappop(self.later)[2]
            elif (
                not self.exhausted
                and not self.awaiting_posts
                and self.taken - self.next_out < self.window
                and self.pace.due(now) <= now
            ):
                post = next(self.posts, None)
                if post is None:
                    self.exhausted = True
                    continue
                if isinstance(post, NotYet):
                    assert self.ready_fd is not None, "NOT_YET from a source without a ready_fd"
                    self.awaiting_posts = True
                    self.selector.register(self.ready_fd, _READ, None)
                    return
                self.pace.started(now)
                flight = _Flight(self.taken, post, now)
                self.taken += 1
            else:
                return
            self.start(flight, now)

    def wait_and_serve(self) -> None:
        pool = self.pool
        now = pool.clock()
        due = [c.flight.deadline for c in self.busy if c.flight is not None]
        if self.later:
            due.append(self.later[0][0])
        next_due = self.pace.due(now)
        if next_due > now and not self.exhausted and len(self.busy) < pool.connections:
            due.append(next_due)
        wait = max(0.0, min(due) - now) if due else None
        if self.before_waiting is not None:
            self.before_waiting()
        if wait is not None and not self.busy and not self.awaiting_posts:
            pool.sleep(wait)  # only a backoff or the pace to wait for: idle connections can wait too
            return
        for key, mask in self.selector.select(wait):
            connection: _Connection | None = key.data
            if connection is None:  # the source has POSTs ready
                self.selector.unregister(key.fd)
                self.awaiting_posts = False
            elif connection.flight is None:
                self.drop_idle(connection)  # a pooled connection has nothing to say but its close
            else:
                self.serve(connection, mask)
        now = pool.clock()
        for connection in [c for c in self.busy if c.flight is not None and c.flight.deadline <= now]:
            flight = connection.flight
            assert flight is not None
            if connection.answer.complete:
                self.settle(connection)  # answered early, and the rest of the request would not go
            elif connection.connecting:
                self.fail(connection, failures.connect_timed_out(pool.timeout))
            elif flight.ends <= now:
                self.fail(connection, failures.incomplete_answer(pool.timeout, ATTEMPT_TIMEOUTS))
            else:
                self.fail(connection, failures.no_response(pool.timeout))

    # --- one POST ---------------------------------------------------------------

    def start(self, flight: _Flight, now: float) -> None:
        connection = self.pooled()
        if connection is None:
            connection = self.connect(flight)
            if connection is None:
                return
        pool = self.pool
        flight.attempts += 1
        flight.failure = None
        flight.ends = now + pool.timeout * ATTEMPT_TIMEOUTS
        flight.deadline = now + pool.timeout
        body = flight.post.body
        # Signed now, as it is written, so every attempt carries a fresh timestamp.
        flight.signed = signed = flight.post.signer(body)
        connection.out = memoryview(
            b"".join(
                (
                    pool.head,
                    *[f"{name}: {value}\r\n".encode("latin-1") for name, value in signed.items()],
                    b"Content-Length: %d\r\n\r\n" % len(body),
                    body,
                )
            )
        )
        connection.written = 0
        connection.sent_before = connection.sent
        connection.sent += len(connection.out)
        connection.flight = flight
        connection.answer.next_answer()
        self.busy.add(connection)
        if not connection.connecting:
            self.write(connection)
            if connection.flight is flight:
                self.watch(connection)

    def pooled(self) -> _Connection | None:
        """An idle connection still open with nothing to say, or None; those found closed are dropped.

        A connection the server closed (or reset, or sent bytes nobody asked for) is readable:
        one poll of the selector with no wait finds every such idle connection at once, where
        a look at each (``recv(MSG_PEEK)``) cost a system call a request, a tenth of a replay's
        time. The poll stands for ``IDLE_SEEN_FOR`` and until another connection goes idle: a
        close after it runs the race a close after any look runs (see the module's doc).
        """
        if not self.idle:
            return None
        now = time.monotonic()  # real time, whatever clock the pool's deadlines read
        if self.idle_seen_at is None or now - self.idle_seen_at > IDLE_SEEN_FOR:
            # Not read by the loop while the POSTs' source was read or --rate waited; a busy
            # connection it finds ready waits for the loop's next select.
            for key, _ in self.selector.select(0):
                connection: _Connection | None = key.data
                if connection is not None and connection.flight is None:
                    self.drop_idle(connection)
            self.idle_seen_at = now
        return self.idle.pop() if self.idle else None

    def connect(self, flight: _Flight) -> _Connection | None:
        """A new connection, its connect under way; None when it failed at once (then so did ``flight``)."""
        pool = self.pool
        if pool.address is None:
            flight.attempts += 1
            flight.failure = pool.unreachable
            self.decide(flight)
            return None
        family, address = pool.address
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            sock.close()
            flight.attempts += 1
            flight.failure = failures.describe_os_error(OSError(code, os.strerror(code)))
            self.decide(flight)
            return None
        connection = _Connection(sock)
        self.selector.register(sock, _WRITE, connection)
        return connection

    def serve(self, connection: _Connection, mask: int) -> None:
        """Progress on a connection that carries a POST."""
        flight = connection.flight
        assert flight is not None
        deadline = self.pool.clock() + self.pool.timeout  # --timeout bounds each silence
        flight.deadline = deadline if deadline < flight.ends else flight.ends
        if connection.connecting:
            code = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.fail(connection, failures.describe_os_error(OSError(code, os.strerror(code))))
                return
            connection.connecting = False
            connection.acked_at_connect = _acknowledged(connection.sock)
        if connection.out is not None:
            self.write(connection)
            if connection.flight is not flight:
                return
        if mask & _READ:
            self.read(connection)
            if connection.flight is not flight:
                return
        self.watch(connection)

    def write(self, connection: _Connection) -> None:
        out = connection.out
        assert out is not None
        try:
            connection.written += connection.sock.send(out[connection.written :])
        except BlockingIOError:
            return
        except OSError as error:
            if connection.answer.complete:
                self.settle(connection)  # it answered, then stopped reading: the answer stands
            elif connection.written == 0 and connection.reused:
                self.resend_on_fresh_connection(connection)
            elif error.errno in _CUT_OFF and self.nothing_answered_on_reuse(connection):
                self.reuse = False  # part of it went out: it may have been read
                self.fail(connection, failures.RESET_AFTER_PREVIOUS_ANSWER_FAILURE)
            else:
                self.fail(connection, failures.describe_os_error(error))
            return
        if connection.written == len(out):
            connection.out = None
            if connection.answer.complete:
                self.settle(connection)

    def read(self, connection: _Connection) -> None:
        answer = connection.answer
        try:
            data = connection.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as error:
            if answer.complete:
                self.settle(connection)
            elif error.errno == errno.ECONNRESET and self.nothing_answered_on_reuse(connection):
                self.reuse = False  # this server closes after answering: each request gets its own
                self.fail(connection, failures.RESET_AFTER_PREVIOUS_ANSWER_FAILURE)
            else:
                self.fail(connection, failures.describe_os_error(error))
            return
        if not data:
            failure = answer.closed()
            if failure is None:
                self.settle(connection)
            elif self.nothing_answered_on_reuse(connection) and connection.acknowledged_none():
                # The server's FIN acknowledges none of this request: it closed before any of it arrived.
                self.reuse = False
                self.resend_on_fresh_connection(connection)
            else:
                self.fail(connection, failure)
            return
        failure = answer.feed(data)
        if failure is not None:
            self.fail(connection, failure)
            return
        if answer.complete:
            if connection.out is None:
                self.settle(connection)
            elif not answer.keep:
                self.settle(connection)  # an early answer that closes: stop sending (RFC 9112 §9.6)
            else:
                answer.keep = False  # an early answer: where the request ends would be a guess

    @staticmethod
    def nothing_answered_on_reuse(connection: _Connection) -> bool:
        """On a connection that carried answered requests, not a byte of this request's answer came."""
        return connection.reused and not connection.answer.began

    def watch(self, connection: _Connection) -> None:
        events = _READ | _WRITE if connection.out is not None or connection.connecting else _READ
        if events != connection.events:
            self.selector.modify(connection.sock, events, connection)
            connection.events = events

    # --- deciding -----------------------------------------------------------------

    def settle(self, connection: _Connection) -> None:
        """The POST on ``connection`` got a complete answer."""
        flight = connection.flight
        assert flight is not None
        answer = connection.answer
        flight.status = answer.status
        flight.reason = answer.reason.decode("latin-1")
        flight.preview = bytes(answer.body)
        status = flight.status or 0
        flight.location = (
            urljoin(self.pool.url, answer.location.decode("latin-1"))
            if 300 <= status < 400 and answer.location is not None
            else None
        )
        flight.retry_after = retry_after_seconds(answer.retry_after)
        self.release(connection, reusable=answer.keep and connection.out is None and self.reuse)
        self.decide(flight)

    def fail(self, connection: _Connection, failure: failures.Failure) -> None:
        """The POST on ``connection`` got no usable answer."""
        flight = connection.flight
        assert flight is not None
        flight.status = None
        flight.failure = failure
        flight.retry_after = None
        self.release(connection, reusable=False)
        self.decide(flight)

    def resend_on_fresh_connection(self, connection: _Connection) -> None:
        """A pooled connection was closed before a byte of this request went out: not an attempt."""
        flight = connection.flight
        assert flight is not None
        flight.attempts -= 1
        self.release(connection, reusable=False)
        self.again.append(flight)

    def release(self, connection: _Connection, *, reusable: bool) -> None:
        self.busy.discard(connection)
        connection.flight = None
        connection.out = None
        if reusable:
            connection.reused = True
            self.watch(connection)
            self.idle.append(connection)
            self.idle_seen_at = None  # not seen idle yet
        else:
            self.drop(connection)

    def decide(self, flight: _Flight) -> None:
        """Retry ``flight`` later, as the policy says, or make its exchange ready."""
        pool = self.pool
        error = flight.failure.message if flight.failure is not None else None
        wait = pool.retry.wait_before_retry(flight.attempts, flight.status, error, flight.retry_after)
        now = pool.clock()
        if wait is not None:
            heapq.heappush(self.later, (now + wait, flight.index, flight))
            if pool.options.on_retry is not None:
                why = why_retried(flight.status, flight.reason, flight.failure)
                pool.options.on_retry(RetryWait(wait, flight.attempts + 1, pool.retry.retries + 1, why))
        else:
            self.ready[flight.index] = Exchange(
                pool.url,
                flight.post.body,
                status=flight.status,
                reason=flight.reason,
                preview=flight.preview,
                location=flight.location,
                failure=flight.failure,
                attempts=flight.attempts,
                elapsed=now - flight.started,
                fixed=pool.fixed,
                signed=flight.signed,
            )

    def drop_idle(self, connection: _Connection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)
        self.drop(connection)

    def drop(self, connection: _Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):  # never registered, or already gone
            self.selector.unregister(connection.sock)
        connection.sock.close()


#: Where ``tcpi_bytes_acked`` (Linux 4.1+) lies in ``struct tcp_info``.
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120


def _acknowledged(sock: socket.socket) -> int | None:
    """How many bytes written on ``sock`` its peer acknowledged; None where the system does not say."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except (AttributeError, OSError):  # no TCP_INFO here (macOS, Windows)
        return None
    if len(info) < _BYTES_ACKED_OFFSET + _BYTES_ACKED.size:
        return None
    return int(_BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0])
