"""``LogStream``: a long-running command's lines on stdout, written by a thread of their own.

``invwh listen`` prints a line per request from the thread that serves every
connection. A blocking write there would freeze the receiver whenever stdout
is not read (a pager, Ctrl-S on a terminal, a stalled log shipper): so the
lines go into a bounded queue, and a writer thread empties it.

- On a pipe or a terminal the writer writes only what the other end has room
  for (``poll`` says so), so it never blocks for long; while the reader does
  not read, lines queue up to ``MAX_PENDING_LINES`` / ``MAX_PENDING_BYTES``,
  and any more are dropped and counted. The count is said on stderr once
  the queue drains, and at the end.
- To a file or ``/dev/null`` the lines are gathered for ``FLUSH_SECONDS``
  and written together, rather than one write per request.
- ``close`` writes every line still queued; it gives up only on a reader
  that takes nothing for ``STALL_SECONDS``, counting what is left as dropped.

A stdout that is gone (``listen | head``, ``EPIPE``) ends the writing
silently: the command goes on serving. A stdout that is ``/dev/null``
(``discards``) is never written: the caller need not make the lines at all.

On a terminal, ``show_footer`` keeps one line under the log (``listen``'s
counts by verdict and rate): the writer erases it before each batch of lines
and draws it again after them, and every ``FOOTER_SECONDS`` while idle; it
is written only when the terminal has room, like the lines, and erased by
``close``. Nowhere else (a pipe, a file) is a footer drawn.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import select
import stat
import threading
import time
from collections.abc import Callable
from typing import TextIO

MAX_PENDING_LINES = 1000
MAX_PENDING_BYTES = 256 * 1024
FLUSH_SECONDS = 0.2
#: At the end, how long a reader may take nothing before the rest is given up.
STALL_SECONDS = 1.0
#: A write of at most this much to a pipe with room never blocks (POSIX's atomic pipe write).
_CHUNK = getattr(select, "PIPE_BUF", 512)
_POLL_SECONDS = 0.1
FOOTER_SECONDS = 0.5
#: Back to the start of the line, and erase it: where the footer was.
_ERASE = "\r\x1b[2K"


class LogStream:
    """Lines for ``stream`` (stdout); ``put`` never blocks. ``say_dropped(n)`` reports dropped lines."""

    def __init__(self, stream: TextIO, say_dropped: Callable[[int], None]) -> None:
        self._stream = stream
        self._say_dropped = say_dropped
        self._fd: int | None = None
        self._waits_for_reader = False  # a pipe, a socket or a terminal: the other end may stop reading
        try:
            fd = stream.fileno()
            mode = os.fstat(fd).st_mode
        except (AttributeError, OSError, ValueError):  # not a real file (click's test runner): write it
            pass
        else:
            self._fd = fd
            self._waits_for_reader = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)
        #: The stream is /dev/null: what is put is dropped unwritten, and not counted as dropped.
        self.discards = self._fd is not None and _is_null_device(self._fd)
        self._encoding = getattr(stream, "encoding", None) or "utf-8"
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._condition = threading.Condition()
        self._closing = False
        self._broken = False
        #: Lines dropped in all, and those not yet said.
        self.dropped = 0
        self._unsaid = 0
        self._footer: Callable[[], str] | None = None
        self._footer_shown = False
        self._thread = threading.Thread(target=self._run, name="invwh-log", daemon=True)
        self._thread.start()

    def put(self, text: str) -> None:
        """Queue ``text`` (one or more lines, without the final newline), or count it as dropped."""
        if self.discards:
            return
        line = text + "\n"
        with self._condition:
            if self._broken or self._closing:
                return
            if len(self._pending) >= MAX_PENDING_LINES or self._pending_bytes + len(line) > MAX_PENDING_BYTES:
                self.dropped += 1
                self._unsaid += 1
                return
            if not self._pending:
                self._condition.notify()  # the writer waits for a first line
            self._pending.append(line)
            self._pending_bytes += len(line)

    def show_footer(self, footer: Callable[[], str]) -> bool:
        """Keep ``footer()`` (one line, no newline) under the log, on a terminal only; says whether."""
        if self._fd is None or not os.isatty(self._fd):
            return False
        with self._condition:
            self._footer = footer
            self._condition.notify()
        return True

    def close(self) -> None:
        """Write what is queued (see the module's docstring), then say any lines dropped."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        self._thread.join()
        if self._footer_shown and not self._broken:
            with contextlib.suppress(OSError):
                self._write_some(_ERASE)
        self._say()

    # --- the writer thread --------------------------------------------------------

    def _run(self) -> None:
        condition = self._condition
        while True:
            with condition:
                while not self._pending and not self._closing:
                    if self._footer is None:
                        condition.wait()
                    elif not condition.wait(FOOTER_SECONDS):
                        break  # idle: the footer is drawn again (its rate moves)
                if not self._waits_for_reader and not self._closing:
                    condition.wait(FLUSH_SECONDS)  # gather the lines of a moment into one write
                lines, self._pending, self._pending_bytes = self._pending, [], 0
                closing = self._closing
            footer = None if closing else self._footer
            if lines and self._footer_shown:  # the footer is under the log: erased before the lines
                lines[0] = _ERASE + lines[0]
                self._footer_shown = False
            if lines and not self._broken:
                self._write(lines, closing)
            if footer is not None and not self._broken:
                self._draw(footer)  # and drawn again under them
            if not lines:
                if closing:
                    return
                continue
            with condition:
                drained = not self._pending
            if drained and not closing:
                self._say()

    def _write(self, entries: list[str], closing: bool) -> None:
        if self._fd is None:
            try:
                self._stream.write("".join(entries))
                self._stream.flush()
            except (OSError, ValueError):
                self._broken = True
            return
        try:
            if self._waits_for_reader:
                self._write_as_read(entries, closing)
            else:
                view = memoryview("".join(entries).encode(self._encoding, errors="backslashreplace"))
                while view:
                    view = view[os.write(self._fd, view) :]
        except OSError:  # stdout is gone (`invwh listen | head`): keep serving
            self._broken = True

    def _write_as_read(self, entries: list[str], closing: bool) -> None:
        """Write ``entries`` as the reader makes room, never blocking for long."""
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        encoded = [entry.encode(self._encoding, errors="backslashreplace") for entry in entries]
        ends = list(itertools.accumulate(len(entry) for entry in encoded))  # where each entry ends
        view = memoryview(b"".join(encoded))
        written = 0
        last_progress = time.monotonic()
        while written < len(view):
            if poller.poll(_POLL_SECONDS * 1000):
                written += os.write(self._fd, view[written : written + _CHUNK])
                last_progress = time.monotonic()
                continue
            with self._condition:
                closing = closing or self._closing
            if closing and time.monotonic() - last_progress >= STALL_SECONDS:
                given_up = len(ends) - bisect.bisect_right(ends, written)  # entries not whole on stdout
                with self._condition:
                    self.dropped += given_up
                    self._unsaid += given_up
                return

    def _draw(self, footer: Callable[[], str]) -> None:
        """The footer, when the terminal has room for it now; else it waits for the next draw."""
        try:
            text = (_ERASE if self._footer_shown else "") + footer()
            self._footer_shown = self._write_some(text) or self._footer_shown
        except OSError:
            self._broken = True

    def _write_some(self, text: str) -> bool:
        """``text`` in one write if the terminal has room at once (it is short); says whether."""
        assert self._fd is not None
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        if not poller.poll(0):
            return False
        data = text.encode(self._encoding, errors="backslashreplace")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        return True

    def _say(self) -> None:
        with self._condition:
            unsaid, self._unsaid = self._unsaid, 0
        if unsaid:
            with contextlib.suppress(OSError, ValueError):  # stderr gone too: nothing to tell
                self._say_dropped(unsaid)


def _is_null_device(fd: int) -> bool:
    """Whether ``fd`` is the null device: a character device that is ``os.devnull``."""
    try:
        status, null = os.fstat(fd), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(status.st_mode) and status.st_rdev == null.st_rdev
