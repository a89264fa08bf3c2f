"""Follow a recording as it grows: every whole line, in order, and nothing of a torn one.

``invwh listen`` appends each line with one ``write``, so a reader can find a
line half written only at the very end of the file; that tail is kept aside
until its newline arrives. The lines are kept as their JSON text (what
``GET /api/deliveries`` and the event stream send, in the recording's own
shape, fields unknown to this version included) and parsed again when one is
looked at closely, so memory holds the recording once.

``Feed.in_memory()`` is the same feed without a file (``listen --inspect``
with no ``--record``): ``push`` gives it each line as listen would record
it, and it keeps the last ``MEMORY_ENTRIES`` of them, so memory stays
bounded however long listen runs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import IO

from ..files import file_access
from ..workflows.recording import MAX_LINE_BYTES, BadLine, Recorded, parse_line

#: How much is read at a time while catching up with the file.
_CHUNK_BYTES = 1024 * 1024
#: The deliveries an in-memory feed keeps: the oldest go first.
MEMORY_ENTRIES = 1000


@dataclass(frozen=True)
class Entry:
    """One delivery of the recording: its place, its line number and its JSON text."""

    index: int  # 0-based, among the deliveries (bad lines are not counted)
    line: int  # 1-based line number in the file
    text: str  # the line's JSON object, without the newline; no CR or LF in it

    def record(self) -> Recorded:
        parsed = parse_line(self.text, self.line)
        assert isinstance(parsed, Recorded)  # it was checked when it was read
        return parsed


class Feed:
    """The deliveries read so far from one recording, and a way to wait for more.

    ``poll`` reads what was appended since the last call; ``wait`` blocks a
    reader (an event stream) until there is something past what it has, or
    until ``close``. Safe to use from many threads.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = os.fspath(path) if path is not None else None
        self._file: IO[bytes] | None = None
        if self.path is not None:
            with file_access(f"recording {self.path}"):
                self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._max_line_bytes = max_line_bytes
        self._tail = b""  # the start of a line whose newline has not arrived yet
        self._skipping = False  # inside a line too long to keep, until its newline
        self._line = 0
        self._changed = threading.Condition()
        self._read_lock = threading.Lock()
        self.entries: list[Entry] = []
        self.bad_lines: list[BadLine] = []
        self.closed = False
        #: In memory: how many of the oldest entries were let go (``entries[0]`` is that index).
        self.dropped = 0

    @classmethod
    def in_memory(cls) -> Feed:
        """A feed given its lines by ``push``, not read from a file."""
        return cls(None)

    def push(self, line: bytes) -> None:
        """Add lines of a recording (whole, newline-ended), as if appended to the file. Any thread."""
        with self._read_lock:
            if self.closed:
                return
            entries: list[Entry] = []
            bad: list[BadLine] = []
            self._take(line, entries, bad)
        if entries or bad:
            with self._changed:
                self.entries.extend(entries)
                self.bad_lines.extend(bad)
                excess = len(self.entries) - MEMORY_ENTRIES
                if excess > 0:
                    del self.entries[:excess]
                    self.dropped += excess
                self._changed.notify_all()

    def poll(self) -> int:
        """Read what was appended since the last call; returns how many new entries and bad lines."""
        with self._read_lock:
            if self.closed or self._file is None:
                return 0
            entries: list[Entry] = []
            bad: list[BadLine] = []
            while True:
                chunk = self._file.read(_CHUNK_BYTES)
                if not chunk:
                    break
                self._take(chunk, entries, bad)
        if entries or bad:
            with self._changed:
                self.entries.extend(entries)
                self.bad_lines.extend(bad)
                self._changed.notify_all()
        return len(entries) + len(bad)

    def _take(self, chunk: bytes, entries: list[Entry], bad: list[BadLine]) -> None:
        *whole, tail = chunk.split(b"\n")
        if whole:
            whole[0] = self._tail + whole[0]
            self._tail = tail
        else:
            self._tail += tail
        for raw in whole:
            self._line += 1
            if self._skipping or len(raw) > self._max_line_bytes:
                self._skipping = False
                bad.append(BadLine(self._line, f"longer than {self._max_line_bytes} bytes"))
                continue
            parsed = parse_line(raw, self._line)
            if isinstance(parsed, Recorded):
                # JSON keeps CR only as whitespace between tokens: the event stream's lines must hold none.
                text = raw.decode("utf-8").strip().replace("\r", " ")
                entries.append(Entry(self.dropped + len(self.entries) + len(entries), self._line, text))
            elif parsed is not None:
                bad.append(parsed)
        if len(self._tail) > self._max_line_bytes:  # not kept: only its end is waited for
            self._tail = b""
            self._skipping = True

    def wait(self, entries_seen: int, bad_seen: int, timeout: float) -> bool:
        """Wait until there are more than ``entries_seen`` entries or ``bad_seen`` bad lines, or the
        feed is closed, at most ``timeout`` seconds. True when there is something new."""
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self.closed
                    or self.dropped + len(self.entries) > entries_seen
                    or len(self.bad_lines) > bad_seen
                ),
                timeout,
            )
            return self.dropped + len(self.entries) > entries_seen or len(self.bad_lines) > bad_seen

    def follow(self, stop: threading.Event, interval: float = 0.1) -> None:
        """Poll until ``stop`` is set (run on a thread of its own)."""
        while not stop.is_set():
            self.poll()
            stop.wait(interval)

    def close(self) -> None:
        with self._read_lock:
            if not self.closed and self._file is not None:
                self._file.close()
        with self._changed:
            self.closed = True
            self._changed.notify_all()
