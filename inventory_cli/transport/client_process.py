"""The pool of ``client_pool.py`` run in a process of its own, so that a replay uses two cores.

A replay's work is about half reading and reporting (a recording's line parsed,
a report's item written) and half HTTP (a request signed and written, an answer
read), all of it Python under one interpreter lock. ``ProcessClient`` forks
once, when it is opened, and runs the pool in the child: this process hands it
the POSTs through one pipe and reads their exchanges back through another, in
the POSTs' order, reading and reporting meanwhile. The pool is the same code
either way, and it is the child that writes every request and reads every
answer, so what the pool promises at the edges holds as it does in one process.

Only data crosses the pipes, pickled (the two ends are this process and its
own child): a POST's body and its headers, kept (``KeptHeaders``) or signed
here as it is handed over, with the second they were signed in; the child
uses those for the first attempt written in that second and signs any other
afresh, with the fork's copy of the client's signer (``_SignedAhead``). Back
come each exchange's answer or failure, and each wait before a retry, told on here.

``open_client`` opens one only on Linux with two cores or more to run on
(``forking_pays``); elsewhere the pool runs in this process. The child ignores
Ctrl-C (this process stops it), keeps no file of this process's but its two
pipes (its standard streams are /dev/null), and ends with ``os._exit``:
nothing of this process runs twice.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import struct
import sys
import time
import traceback
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, NoReturn

from ..errors import DeliveryError
from .client_pool import NOT_YET, ClientPool, NotYet
from .exchange import Exchange, KeptHeaders, Post, Signer
from .retry import RetryWait

#: A POST as handed to the child: its body, and its headers with the second they were signed in
#: (``_SignedAhead``), or kept headers and None (``KeptHeaders``), or None, None: signed there.
_Handed = tuple[bytes, "dict[str, str] | None", "int | None"]
#: Each message is its length, then its pickle.
_LENGTH = struct.Struct("=I")
#: Room in each pipe (Linux's F_SETPIPE_SZ), so that a window of exchanges fits and neither side
#: waits for the other to read while it has work of its own.
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031
#: POSTs handed over and not yet back, at most, for each of the pool's connections: enough that
#: the child seldom waits for this process, few enough that memory stays flat; and their bodies'
#: bytes, at most (one POST goes whatever its size), so that large bodies do not multiply it.
_WINDOW_PER_CONNECTION = 8
_WINDOW_BYTES = 16 * 1024 * 1024
_READ_BYTES = 1 << 20
#: Exchanges the child keeps before passing them on, at most: it passes them on whenever the pool
#: is about to wait, so this bounds only a pool that never does.
_PASS_ON_AT_MOST = 64

# What the child sends back, each a tuple led by its kind.
_EXCHANGE = 0  # (_EXCHANGE, status, reason, preview, location, failure, attempts, elapsed, signed)
_RETRY = 1  # (_RETRY, RetryWait)
_CRASH = 2  # (_CRASH, the traceback, as text)

_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def forking_pays() -> bool:
    """Whether a client in a process of its own can run here, and gains: Linux, two cores or more."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return len(os.sched_getaffinity(0)) > 1


class ProcessClient:
    """A ``ClientPool`` run in a child process: the same exchanges, in the same order.

    ``signer`` signs every POST that does not keep its headers; the POSTs given to
    ``run`` carry it or a ``KeptHeaders``. ``send`` (one POST) runs in this process.
    """

    def __init__(self, pool: ClientPool, signer: Signer) -> None:
        self.pool = pool
        self.signer = signer
        self.window = pool.connections * _WINDOW_PER_CONNECTION
        posts_out, posts_in = os.pipe()
        answers_out, answers_in = os.pipe()
        for fd in (posts_in, answers_in):
            with contextlib.suppress(OSError):  # a smaller pipe only means more waits
                import fcntl

                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
        # Ctrl-C and SIGTERM wait while the fork is made: the child must not take one before it
        # has set its own handling (it would run this process's handler, and stop).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns of forking beside other threads (a test's servers): the child
                # runs only the pool and this module's pipes, taking no lock another thread may hold.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                os.close(posts_in)
                os.close(answers_out)
                _child(pool, signer, posts_out, answers_in, mask)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal held meanwhile comes now
        os.close(posts_out)
        os.close(answers_in)
        self.pid: int | None = pid
        self.posts = posts_in  # to the child
        self.answers = answers_out  # from it
        os.set_blocking(self.posts, False)
        os.set_blocking(self.answers, False)
        self.idle = True  # no run under way: the child waits for the next

    def run(self, posts: Iterable[Post]) -> Iterator[Exchange]:
        """Deliver every POST and yield its exchange, in the POSTs' order."""
        if self.pid is None or not self.idle:
            raise RuntimeError("a process client runs one run at a time, and not once closed")
        return self._exchanges(iter(posts))

    def send(self, post: Post) -> Exchange:
        return self.pool.send(post)

    def close(self) -> None:
        """Stop the child: at once when a run was left unfinished, else when it reads the end."""
        if self.pid is not None:
            self._stop(kill=not self.idle)

    def _stop(self, *, kill: bool) -> int:
        """Close the pipes (an idle child reads their end and exits), reap the child: its status."""
        pid, self.pid = self.pid, None
        assert pid is not None
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.close(self.posts)
        os.close(self.answers)
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:  # reaped already (a caller's own wait)
            return 0

    def _handed(self, post: Post) -> _Handed:
        if isinstance(post.signer, KeptHeaders):
            return post.body, dict(post.signer.headers), None
        if post.signer != self.signer:
            raise TypeError("a process client signs with its own signer or keeps a POST's headers")
        # Signed here, ahead, in the second it is most likely written in (see ``_SignedAhead``).
        second = int(time.time())
        headers = post.signer(post.body)
        if int(time.time()) != second:  # a second began as it was signed: which one it has is a guess
            return post.body, None, None
        return post.body, dict(headers), second

    def _exchanges(self, posts: Iterator[Post]) -> Iterator[Exchange]:
        pool = self.pool
        on_retry = pool.options.on_retry
        handed: deque[Post] = deque()  # handed to the child, their exchanges still to come, in order
        handed_bytes = 0
        out = bytearray()  # messages for the child not yet written
        back = _Messages()
        exhausted = False
        selector = selectors.DefaultSelector()
        selector.register(self.answers, selectors.EVENT_READ)
        watching_posts = False
        self.idle = False
        try:
            while True:
                batch: list[_Handed | None] = []
                while not exhausted and len(handed) < self.window and handed_bytes < _WINDOW_BYTES:
                    post = next(posts, None)
                    if post is None:
                        exhausted = True
                        batch.append(None)  # the run's end
                    else:
                        batch.append(self._handed(post))
                        handed.append(post)
                        handed_bytes += len(post.body)
                if batch:
                    out += _message(batch)
                if out:
                    try:
                        del out[: os.write(self.posts, out)]
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:  # the child is gone
                        raise DeliveryError(pool.url, self._ended()) from None
                messages = back.read(self.answers)
                if messages is None:
                    raise DeliveryError(pool.url, self._ended())
                for message in messages:
                    if message[0] == _EXCHANGE:
                        _, status, reason, preview, location, failure, attempts, elapsed, signed = message
                        body = handed.popleft().body
                        handed_bytes -= len(body)
                        yield Exchange(
                            pool.url,
                            body,
                            status=status,
                            reason=reason,
                            preview=preview,
                            location=location,
                            failure=failure,
                            attempts=attempts,
                            elapsed=elapsed,
                            fixed=pool.fixed,
                            signed=signed,
                        )
                    elif message[0] == _RETRY:
                        if on_retry is not None:
                            on_retry(message[1])
                    else:
                        raise RuntimeError(f"the process delivering the POSTs failed:\n{message[1]}")
                if exhausted and not handed and not out:
                    self.idle = True
                    return
                if not messages:
                    wants_to_write = bool(out)
                    if wants_to_write != watching_posts:
                        if wants_to_write:
                            selector.register(self.posts, selectors.EVENT_WRITE)
                        else:
                            selector.unregister(self.posts)
                        watching_posts = wants_to_write
                    selector.select()
        finally:
            selector.close()

    def _ended(self) -> str:
        """How the child ended, when it ended mid-run."""
        status = self._stop(kill=False)
        if os.WIFSIGNALED(status):
            how = f"killed by signal {os.WTERMSIG(status)}"
        else:
            how = f"exit status {os.waitstatus_to_exitcode(status)}"
        return f"the process sending the deliveries ended before they did ({how})"


class _Messages:
    """Messages read off a pipe as they come, whole ones only; each is sent in a list of them."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def read(self, fd: int) -> list[Any] | None:
        """The messages whole so far (none when nothing came yet); None at the pipe's end."""
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return []
        if not data:
            return None
        buffer = self.buffer
        buffer += data
        messages: list[Any] = []
        start, size = 0, len(buffer)
        view = memoryview(buffer)
        while size - start >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + length
            if end > size:
                break
            messages += pickle.loads(view[start + _LENGTH.size : end])
            start = end
        view.release()
        del buffer[:start]
        return messages


def _message(values: list[Any]) -> bytes:
    data = pickle.dumps(values, pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


# --- the child ------------------------------------------------------------------------


class _SignedAhead:
    """The signer of a POST this process signed as it handed it over: its headers are those a
    signature made as it is written would have, when it is written in the same second.

    A ``Signer``'s headers depend on the body and the second it signs in (the timestamp is whole
    seconds), and on nothing else but a fresh message id: so the headers signed ahead stand
    for an attempt written in their second, the first only; any other is signed afresh, as
    the pool signs every attempt. Signing ahead moves that work to the parent, which has
    time to spare while the child, with every request and answer to handle, has none.
    """

    __slots__ = ("headers", "second", "signer")

    def __init__(self, headers: dict[str, str], second: int, signer: Signer) -> None:
        self.headers: dict[str, str] | None = headers
        self.second = second
        self.signer = signer

    def __call__(self, body: bytes) -> Mapping[str, str]:
        headers, self.headers = self.headers, None
        if headers is not None and int(time.time()) == self.second:
            return headers
        return self.signer(body)


def _child(
    pool: ClientPool, signer: Signer, posts: int, answers: int, mask: set[int | signal.Signals]
) -> NoReturn:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops this
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the signals held for the fork, handled so
        _keep_only(posts, answers)
        _serve(pool, signer, posts, answers)
    except BaseException:  # whatever it was, the parent says it; this process must not go on
        code = 1
        with contextlib.suppress(BaseException):
            _write_all(answers, _message([(_CRASH, traceback.format_exc())]))
    finally:
        os._exit(code)


def _keep_only(*fds: int) -> None:
    """Close every file the fork copied but ``fds``; the standard streams become /dev/null.

    A copy held here would keep what the parent closes open: the write end of a pipe the
    recording is read from (no end of file, ever), a server's socket, the consumer of stdout.
    """
    signal.set_wakeup_fd(-1)  # it may be among the files closed
    null = os.open(os.devnull, os.O_RDWR)
    for standard in (0, 1, 2):
        os.dup2(null, standard)
    low = 3
    for fd in sorted(fds):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _serve(pool: ClientPool, signer: Signer, posts: int, answers: int) -> None:
    """Run the pool over each run's POSTs as they come, until the parent closes the pipe."""

    def tell_retry(wait: RetryWait) -> None:
        _write_all(answers, _message([(_RETRY, wait)]))

    pool.options = replace(pool.options, on_retry=tell_retry)
    os.set_blocking(posts, False)
    incoming = _Messages()
    waiting: deque[_Handed | None] = deque()
    selector = selectors.DefaultSelector()
    selector.register(posts, selectors.EVENT_READ)

    def run_posts() -> Iterator[Post | NotYet]:
        while True:
            while not waiting:
                messages = incoming.read(posts)
                if messages is None:
                    raise EOFError  # the parent is gone: nothing more to do
                if not messages:
                    yield NOT_YET
                waiting.extend(messages)
            handed = waiting.popleft()
            if handed is None:
                return
            body, headers, second = handed
            if headers is None:
                yield Post(body, signer)
            elif second is None:
                yield Post(body, KeptHeaders(headers))
            else:
                yield Post(body, _SignedAhead(headers, second, signer))

    done: list[tuple[Any, ...]] = []  # exchanges not yet passed on: sent before the pool waits

    def pass_on() -> None:
        if done:
            _write_all(answers, _message(done))
            done.clear()

    while True:
        while not waiting:  # between runs: wait for the next, or the end
            selector.select()
            messages = incoming.read(posts)
            if messages is None:
                return
            waiting.extend(messages)
        for exchange in pool.run(run_posts(), ready_fd=posts, before_waiting=pass_on):
            done.append(
                (
                    _EXCHANGE,
                    exchange.status,
                    exchange.reason,
                    exchange.preview,
                    exchange.location,
                    exchange.failure,
                    exchange.attempts,
                    exchange.elapsed,
                    dict(exchange.signed_headers),
                )
            )
            if len(done) >= _PASS_ON_AT_MOST:
                pass_on()
        pass_on()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
