"""Many signed POSTs over a few keep-alive connections, from one thread.

``requests`` spends most of a millisecond of Python on each request: nothing
for ``send``, everything for a replay of a day of traffic. This module
multiplexes plain-HTTP connections with ``selectors``: each request is written
as one buffer, signed the moment it is written, and only what a verdict needs
is read back (status, reason, body length, Location, Retry-After, the start of
the body). Results come back in the order the jobs went in. HTTPS stays with
``delivery.Deliverer``.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .delivery import RESPONSE_PREVIEW_BYTES, DeliveryResult, Signer

MAX_HEAD_BYTES = 64 * 1024
MAX_RETRY_WAIT = 60.0


@dataclass
class Job:
    body: bytes
    payload: str
    event_type: str | None
    expected: Collection[int]
    signer: Signer


@dataclass
class _Flight:
    """A job on its way, and what came back so far."""

    index: int
    job: Job
    started: float
    attempts: int = 0
    deadline: float = 0.0
    reused: bool = False  # written to a connection that had answered before
    error: str | None = None
    status: int | None = None
    reason: str = ""
    preview: bytes = b""
    location: str | None = None
    retry_after: float | None = None
    signed: Mapping[str, str] | None = None  # the signature headers of the last attempt

    def result(self, url: str, elapsed: float, fixed: Mapping[str, str]) -> DeliveryResult:
        return DeliveryResult(
            self.job.payload,
            self.job.event_type,
            url,
            self.job.expected,
            status=self.status,
            reason=self.reason,
            elapsed=elapsed,
            attempts=self.attempts,
            response_preview=self.preview,
            error=self.error,
            location=self.location,
            request_headers={**fixed, **(self.signed or {}), "Content-Length": str(len(self.job.body))},
            request_body=self.job.body,
        )

    @property
    def worth_retrying(self) -> bool:
        # As Deliverer: connection trouble and 5xx/429 may pass; other answers will not change.
        return self.error is not None or self.status == 429 or (self.status or 0) >= 500


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.out = b""
        self.inbox = bytearray()
        self.flight: _Flight | None = None
        self.answered = 0
        self.connecting = True
        self.reusable = True


class Pipeline:
    """POSTs to one ``http://`` URL over at most ``connections`` keep-alive connections."""

    def __init__(
        self,
        url: str,
        *,
        connections: int = 16,
        timeout: float = 10.0,
        retries: int = 0,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        user_agent: str = "invwh",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the pipeline takes http:// URLs, not {url!r}")
        self.url = url
        self.connections = max(1, connections)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.clock = clock
        self._address: tuple[int, tuple[str, int]] | None = None
        self._unreachable: str | None = None
        try:
            family, _, _, _, address = socket.getaddrinfo(
                parts.hostname, parts.port or 80, type=socket.SOCK_STREAM
            )[0]
            self._address = (family, address[:2])
        except (socket.gaierror, UnicodeError) as error:
            self._unreachable = f"cannot resolve the host name ({getattr(error, 'strerror', None) or error})"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        fixed = {
            "Host": parts.netloc,
            "User-Agent": user_agent,
            "Content-Type": "application/json",
            **(headers or {}),
        }
        self._fixed = fixed
        self._head = f"POST {target} HTTP/1.1\r\n".encode("latin-1") + b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in fixed.items()
        )

    def run(self, jobs: Iterable[Job]) -> Iterator[DeliveryResult]:
        """Deliver every job and yield its result, in the jobs' order."""
        selector = selectors.DefaultSelector()
        pending = iter(jobs)
        exhausted = False
        ready: dict[int, DeliveryResult] = {}
        next_out = taken = 0
        idle: list[_Connection] = []
        busy: set[_Connection] = set()
        later: list[tuple[float, int, _Flight]] = []  # retries, by when they are due
        again: deque[_Flight] = deque()  # to write again at once, on a fresh connection
        window = self.connections * 4

        def settle(flight: _Flight, connection: _Connection | None) -> None:
            if connection is not None:
                busy.discard(connection)
                connection.flight = None
                if flight.error is None and connection.reusable:
                    idle.append(connection)
                else:
                    self._drop(selector, connection)
            if (
                flight.error
                and flight.reused
                and flight.status is None
                and flight.error.startswith("the server closed")
            ):
                flight.attempts -= 1  # a keep-alive connection the server had let go: not an answer
                flight.error = None
                again.append(flight)
            elif flight.attempts <= self.retries and flight.worth_retrying:
                wait = (
                    flight.retry_after
                    if flight.retry_after is not None
                    else self.backoff * 2 ** (flight.attempts - 1)
                )
                heapq.heappush(later, (self.clock() + min(wait, MAX_RETRY_WAIT), flight.index, flight))
            else:
                ready[flight.index] = flight.result(self.url, self.clock() - flight.started, self._fixed)

        try:
            while True:
                now = self.clock()
                while len(busy) < self.connections:
                    if again:
                        flight = again.popleft()
                    elif later and later[0][0] <= now:
                        flight = heapq.heappop(later)[2]
                    elif not exhausted and taken - next_out < window:
                        job = next(pending, None)
                        if job is None:
                            exhausted = True
                            continue
                        flight = _Flight(taken, job, now)
                        taken += 1
                    else:
                        break
                    connection = idle.pop() if idle else self._connect(selector)
                    if connection is None:
                        flight.attempts += 1
                        flight.error = self._unreachable
                        settle(flight, None)
                        continue
                    self._send(selector, connection, flight)
                    busy.add(connection)

                while next_out in ready:
                    yield ready.pop(next_out)
                    next_out += 1
                if exhausted and next_out == taken:
                    return

                deadlines = [c.flight.deadline for c in busy if c.flight is not None]
                if later:
                    deadlines.append(later[0][0])
                wait = max(0.0, min(deadlines, default=now + 1.0) - now)
                for key, mask in selector.select(wait):
                    connection = key.data
                    decided = self._service(selector, connection, mask)
                    if decided is not None:
                        settle(decided, connection)
                    elif connection.flight is None and not connection.reusable and connection in idle:
                        idle.remove(connection)  # an idle connection the server closed
                        self._drop(selector, connection)

                now = self.clock()
                for connection in [c for c in busy if c.flight is not None and c.flight.deadline <= now]:
                    flight = connection.flight
                    assert flight is not None
                    flight.error = f"no response within {self.timeout:g} s (timeout)"
                    connection.reusable = False
                    settle(flight, connection)
        finally:
            for connection in [*idle, *busy]:
                self._drop(selector, connection)
            selector.close()

    # --- one connection -----------------------------------------------------------

    def _connect(self, selector: selectors.BaseSelector) -> _Connection | None:
        if self._address is None:
            return None
        family, address = self._address
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(sock)
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            connection.reusable = False  # the error is read back from SO_ERROR below
        selector.register(sock, selectors.EVENT_WRITE, connection)
        return connection

    def _drop(self, selector: selectors.BaseSelector, connection: _Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):  # never registered, or already gone
            selector.unregister(connection.sock)
        connection.sock.close()

    def _send(self, selector: selectors.BaseSelector, connection: _Connection, flight: _Flight) -> None:
        flight.attempts += 1
        flight.error = None
        flight.status = None
        flight.reused = connection.answered > 0
        flight.deadline = self.clock() + self.timeout
        body = flight.job.body
        # Signed now, as it is written, so every attempt carries a fresh timestamp.
        flight.signed = flight.job.signer(body)
        signature = b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in flight.signed.items()
        )
        connection.out = b"".join((self._head, signature, b"Content-Length: %d\r\n\r\n" % len(body), body))
        connection.flight = flight
        if not connection.connecting:
            self._write(connection)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if connection.out else 0)
            selector.modify(connection.sock, events, connection)

    def _write(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.out)
        except BlockingIOError:
            return
        connection.out = connection.out[sent:]

    def _service(
        self, selector: selectors.BaseSelector, connection: _Connection, mask: int
    ) -> _Flight | None:
        """Make progress on one ready connection; its flight once that is decided."""
        flight = connection.flight
        try:
            if connection.connecting:
                code = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                connection.connecting = False
            if connection.out:
                self._write(connection)
            if mask & selectors.EVENT_READ:
                data = connection.sock.recv(65536)
                if not data:
                    connection.reusable = False
                    if flight is None:
                        return None
                    flight.error = "the server closed the connection without answering"
                    return flight
                connection.inbox += data
        except BlockingIOError:
            pass
        except OSError as error:
            connection.reusable = False
            if flight is None:
                return None
            flight.error = _describe_errno(error.errno or 0)
            return flight
        events = selectors.EVENT_READ | (
            selectors.EVENT_WRITE if connection.out or connection.connecting else 0
        )
        selector.modify(connection.sock, events, connection)
        if flight is None or not connection.inbox:
            return None
        return flight if self._parse(connection, flight) else None

    def _parse(self, connection: _Connection, flight: _Flight) -> bool:
        """True once a whole response is in the inbox (which it then leaves)."""
        inbox = connection.inbox
        end = inbox.find(b"\r\n\r\n")
        if end < 0:
            if len(inbox) > MAX_HEAD_BYTES:
                flight.error = "the response's headers are too long"
                connection.reusable = False
                return True
            return False
        status_line, *lines = bytes(inbox[:end]).decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            flight.error = f"not an HTTP response: {status_line[:60]!r}"
            connection.reusable = False
            return True
        fields: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if 100 <= status < 200:  # an interim answer: the real one follows
            del inbox[: end + 4]
            return self._parse(connection, flight) if inbox else False
        start = end + 4
        if fields.get("transfer-encoding", "").lower() == "chunked":
            chunked = _dechunk(inbox, start)
            if chunked is None:
                return False
            preview, consumed = chunked
        else:
            try:
                length = 0 if status in (204, 304) else int(fields.get("content-length") or 0)
            except ValueError:
                length = 0
                connection.reusable = False
            if len(inbox) < start + length:
                return False
            preview, consumed = (
                bytes(inbox[start : start + min(length, RESPONSE_PREVIEW_BYTES)]),
                start + length,
            )
        del inbox[:consumed]
        flight.status = status
        flight.reason = parts[2] if len(parts) > 2 else ""
        flight.preview = preview
        flight.location = (
            urljoin(self.url, fields["location"]) if 300 <= status < 400 and "location" in fields else None
        )
        flight.retry_after = _seconds(fields.get("retry-after"))
        connection.answered += 1
        if fields.get("connection", "").lower() == "close":
            connection.reusable = False
        return True


def _dechunk(inbox: bytearray, start: int) -> tuple[bytes, int] | None:
    """The start of a chunked body and where the body ends, or None while it is incomplete."""
    position = start
    preview = bytearray()
    while True:
        line_end = inbox.find(b"\r\n", position)
        if line_end < 0:
            return None
        try:
            size = int(bytes(inbox[position:line_end]).split(b";")[0], 16)
        except ValueError:
            size = 0
        position = line_end + 2
        if size == 0:
            trailer_end = inbox.find(b"\r\n\r\n", position - 2)
            if trailer_end < 0:
                return None
            return bytes(preview[:RESPONSE_PREVIEW_BYTES]), trailer_end + 4
        if len(inbox) < position + size + 2:
            return None
        if len(preview) < RESPONSE_PREVIEW_BYTES:
            preview += inbox[position : position + size]
        position += size + 2


def _seconds(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _describe_errno(code: int) -> str:
    if code == errno.ECONNREFUSED:
        return "connection refused (is the server running?)"
    if code == errno.ECONNRESET:
        return "connection reset by the server"
    if code == errno.EPIPE:
        return "the server closed the connection without answering"
    return f"connection failed: {os.strerror(code) if code else 'unknown error'}"
