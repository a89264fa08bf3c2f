"""Requests to one ``http://`` origin, each answer read whole: what ``listen --forward-to`` sends on.

``client_pool.py`` keeps of an answer only what a verdict needs (a status and
a preview) and runs its own loop; a proxy needs every header field and the
whole body of each answer, and is called from many worker threads at once,
each waiting for its app's answer. So this client is blocking, one request
per call, over a shared set of idle keep-alive connections (at most one per
worker in use), with llhttp (``httptools``) reading each answer.

What it promises at the edges (RFC 9110 §9.2.2, RFC 9112 §9):

- A request is written once. An idle connection found closed (or with bytes
  nobody asked for) before any byte of the request went out is replaced by a
  fresh one; once a byte went out, a close or reset is that request's failure
  (``ForwardError``), never a silent re-send.
- Every silence (connect, write, read) is bounded by ``timeout``, and the
  whole exchange by ``ATTEMPT_TIMEOUTS`` times it: a trickling app fails in
  bounded time. The answer's head is bounded (64 KiB) and so is its body
  (``max_answer``): a flood fails in bounded memory.
- An answer delimited by the close, an HTTP/1.0 answer and ``Connection:
  close`` end the connection; interim (1xx) answers are read past. These
  framing rules are ``answer_reader.py``'s, shared with ``client_pool.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from . import failures
from .answer_reader import AnswerReaderKeepingFields
from .client_pool import ATTEMPT_TIMEOUTS

#: Idle connections kept for reuse, at most.
MAX_IDLE = 64
#: An idle connection older than this is closed rather than reused: apps close theirs after a few
#: seconds (Node.js after 5), and a request written just as the app closes would fail (never resent).
IDLE_SECONDS = 2.0


class ForwardAnswer(NamedTuple):
    status: int
    reason: str
    headers: list[tuple[str, str]]  # as sent, in order, repeated fields repeated
    body: bytes


class ForwardError(Exception):
    """The app gave no usable answer; the message says why, in a few words, ``failure`` its kind too."""

    def __init__(self, failure: failures.Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class ForwardClient:
    """Sends requests to the origin of ``url`` (``http://host:port``) and reads their answers whole."""

    def __init__(self, url: str, *, timeout: float, max_answer: int = 16 * 1024 * 1024) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the forward client takes http:// URLs, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.netloc = parts.netloc.rpartition("@")[2]
        self.timeout = timeout
        self.max_answer = max_answer
        self._idle: list[tuple[socket.socket, float]] = []  # and when each became idle
        self._lock = threading.Lock()
        self._closed = False

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> ForwardAnswer:
        """One request and its final answer; raises ``ForwardError``. Any thread."""
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
        data = (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        ends = time.monotonic() + self.timeout * ATTEMPT_TIMEOUTS
        while True:
            sock, reused = self._connection()
            try:
                self._write(sock, data, ends)
            except OSError as error:
                sock.close()
                if reused and not getattr(error, "written", 0):
                    continue  # nothing of it went out on a connection the app had closed: a fresh one
                raise ForwardError(_describe(error, "writing to")) from None
            except BaseException:
                sock.close()
                raise
            try:
                answer, keep = self._read(sock, ends)
            except BaseException:
                sock.close()
                raise
            if keep:
                self._put_back(sock)
            else:
                sock.close()
            return answer

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for sock, _ in idle:
            sock.close()

    # --- connections ---------------------------------------------------------------

    def _connection(self) -> tuple[socket.socket, bool]:
        while True:
            with self._lock:
                sock, since = self._idle.pop() if self._idle else (None, 0.0)
            if sock is None:
                break
            if time.monotonic() - since > IDLE_SECONDS:
                sock.close()
                continue
            try:
                # Closed (or chattering) while idle: found before a byte of the request goes out.
                sock.setblocking(False)
                sock.recv(1, socket.MSG_PEEK)
                gone = True
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                sock.close()
                continue
            sock.setblocking(True)
            return sock, True
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError:
            raise ForwardError(failures.connect_timed_out(self.timeout)) from None
        except (OSError, UnicodeError) as error:
            if isinstance(error, OSError):
                raise ForwardError(failures.describe_os_error(error)) from None
            raise ForwardError(failures.Failure(failures.FailureKind.DNS, str(error))) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, False

    def _put_back(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append((sock, time.monotonic()))
                return
        sock.close()

    def _write(self, sock: socket.socket, data: bytes, ends: float) -> None:
        view = memoryview(data)
        written = 0
        while written < len(view):
            sock.settimeout(self._silence(ends))
            try:
                written += sock.send(view[written:])
            except OSError as error:
                error.written = written  # type: ignore[attr-defined]
                raise

    def _silence(self, ends: float) -> float:
        left = ends - time.monotonic()
        if left <= 0:
            raise ForwardError(failures.incomplete_answer(self.timeout, ATTEMPT_TIMEOUTS))
        return min(self.timeout, left)

    def _read(self, sock: socket.socket, ends: float) -> tuple[ForwardAnswer, bool]:
        # A proxy passes on every field and the whole body, bounded: over ``max_answer`` is a failure.
        answer = AnswerReaderKeepingFields(self.max_answer)
        while True:
            try:
                sock.settimeout(self._silence(ends))
                data = sock.recv(65536)
            except TimeoutError:
                raise ForwardError(failures.no_response(self.timeout)) from None
            except OSError as error:
                raise ForwardError(_describe(error, "reading from")) from None
            failure = answer.feed(data) if data else answer.closed()
            if failure is not None:
                raise ForwardError(failure)
            if answer.body_cut:
                too_large = f"the answer's body is over {self.max_answer} bytes"
                raise ForwardError(failures.Failure(failures.FailureKind.TOO_LARGE, too_large))
            if answer.complete:
                break
        assert answer.status is not None  # a complete answer has a head
        return (
            ForwardAnswer(answer.status, answer.reason.decode("latin-1"), answer.fields, bytes(answer.body)),
            answer.keep,
        )


def _describe(error: OSError, doing: str) -> failures.Failure:
    if isinstance(error, TimeoutError):
        return failures.Failure(failures.FailureKind.TIMEOUT, f"no progress {doing} the app in time")
    return failures.describe_os_error(error)
