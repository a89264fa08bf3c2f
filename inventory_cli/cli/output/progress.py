"""Where a long run stands, on stderr while it runs: a status line rich redraws in place.

A command hands ``Progress`` a function that describes the run as it is now
(``replay_status``, ``audit_status``, ...); rich's refresh thread calls it a few
times a second, so the run itself does no more per delivery than bump the
counters it keeps anyway. The line is drawn only where it can be redrawn: a
terminal on stderr that is not ``TERM=dumb`` (``--progress`` forces it,
``--no-progress`` turns it off); it is erased at the end, and nothing of it
reaches a pipe or a file. Forced onto something that is no terminal, the
status is written as a plain line every ``PLAIN_EVERY`` seconds instead.

When stdout is the same terminal, the report's lines are printed through
the status line's console while it is shown, so that they scroll above it
instead of being torn by it.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from ...text import printable
from .theme import can_redraw

# rich is loaded when a status line is drawn, not with this module: a run piped to a file or
# a script (`replay --format json > out`) starts ~25 ms sooner without it.
if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live
    from rich.text import Text

    from .text import TextWriter

    Describe = Callable[[], Text]
    from ...transport.retry import RetryWait

#: How often the status line is redrawn on a terminal.
REFRESHES_PER_SECOND = 8
#: Forced (``--progress``) onto something that is no terminal: a plain line this often.
PLAIN_EVERY = 2.0


def wanted(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """``--progress``/``--no-progress`` when given; else whether ``stream`` (stderr) is a terminal."""
    if progress is not None:
        return progress
    return can_redraw(stream or sys.stderr)


class Progress:
    """A status line on stderr while the ``with`` block runs; see the module's docstring."""

    def __init__(
        self,
        describe: Describe,
        *,
        color: bool | None,
        enabled: bool,
        writers: tuple[Any, ...] = (),
        above: Callable[[int], Text | None] | None = None,
    ) -> None:
        self.describe = describe
        #: The rows of a table so far, shown above the status on the same terminal (send, check).
        self.above = above
        self.enabled = enabled
        self.stream = sys.stderr
        self.live: Live | None = None
        self.note: str | None = None  # said after the status: a retry's wait
        self._retry: tuple[float, RetryWait] | None = None
        self._writers: list[TextWriter] = []
        self._shared: list[tuple[TextWriter, Any]] = []
        if enabled:
            from .text import TextWriter, make_console

            self.console = make_console(self.stream, color, redraws=can_redraw(self.stream))
            if can_redraw(self.stream):
                with suppress(OSError, ValueError):
                    self.console.height = os.get_terminal_size(self.stream.fileno()).lines
            self._writers = [w for w in writers if isinstance(w, TextWriter)]
        self._stop = threading.Event()
        self._plain: threading.Thread | None = None

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        from .text import text

        status = self.describe()
        note = self.note or self._retry_note()
        if note:
            status = text(status, "  ", Text(note, style="warn"))
        if self.above is not None and self._shared:
            rows = self.above(max(1, self.console.size.height - 3))
            if rows is not None:
                return Group(rows, status)
        return status

    def retrying(self, wait: RetryWait) -> None:
        """A ``Deliverer``'s ``on_retry``: the wait is said, counting down, until it is over."""
        self._retry = (time.monotonic() + wait.seconds, wait)
        self.refresh()

    def _retry_note(self) -> str | None:
        if self._retry is None:
            return None
        until, wait = self._retry
        left = until - time.monotonic()
        if left <= 0:
            return None
        return f"retrying in {left:.1f} s (attempt {wait.attempt} of {wait.attempts}): {printable(wait.why)}"

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        if can_redraw(self.stream):
            from rich.live import Live

            self.live = Live(
                get_renderable=self._render,
                console=self.console,
                refresh_per_second=REFRESHES_PER_SECOND,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            for writer in self._writers:
                if _same_terminal(writer.out, self.stream):
                    self._shared.append((writer, writer.console))
                    writer.console = self.console
            self.live.start()
        else:
            self._plain = threading.Thread(target=self._plain_lines, name="invwh-progress", daemon=True)
            self._plain.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            for writer, console in self._shared:
                writer.console = console
        if self._plain is not None:
            self._stop.set()
            self._plain.join(timeout=5)

    def refresh(self) -> None:
        """Redraw now (a retry's wait begins), rather than at the next tick."""
        if self.live is not None:
            self.live.refresh()

    def _plain_lines(self) -> None:
        while not self._stop.wait(PLAIN_EVERY):
            self.console.print(self._render(), no_wrap=True, crop=False, overflow="ignore")
            self.stream.flush()

    @contextmanager
    def noted(self, note: str) -> Iterator[None]:
        """``note`` after the status while the block runs (``retrying in 2.0 s ...``)."""
        self.note = note
        self.refresh()
        try:
            yield
        finally:
            self.note = None
            self.refresh()


def for_report(reporter: Any, describe: Describe, *, color: bool | None, progress: bool | None) -> Progress:
    """The status line of a reported run; its text on the same terminal scrolls above it."""
    writers = tuple(getattr(sink, "writer", None) for sink in reporter.sinks)
    above = next((sink.so_far for sink in reporter.sinks if hasattr(sink, "so_far")), None)
    return Progress(describe, color=color, enabled=wanted(progress), writers=writers, above=above)


def _same_terminal(one: IO[str], other: IO[str]) -> bool:
    try:
        return os.path.samestat(os.fstat(one.fileno()), os.fstat(other.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


# --- what each run says ------------------------------------------------------------------------


@dataclass
class Pace:
    """When a run began, and its rate and time left as they stand."""

    started: float

    @classmethod
    def now(cls) -> Pace:
        return cls(time.monotonic())

    def rate(self, done: int) -> float:
        elapsed = time.monotonic() - self.started
        return done / elapsed if elapsed > 0 else 0.0

    def left(self, done: int, total: int | None) -> str | None:
        """``1 min 5 s`` left at the pace so far, or None when it cannot be told yet."""
        rate = self.rate(done)
        if total is None or done <= 0 or rate <= 0:
            return None
        return duration(max(0.0, (total - done) / rate))


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"  # pragma: no cover - the loop returns


def status_line(head: str, parts: list[str], failures: int, failure_words: str) -> Text:
    """``replay  120 / 1,505 lines · 98/s · 14 s left · 2 unexpected``: the head bold, failures red."""
    from rich.text import Text

    from .text import text

    line = text(Text(head, style="title"), "  ", " · ".join(parts))
    if failures:
        line.append(" · ")
        line.append(f"{failures:,} {failure_words}", style="fail")
    return line


def delivery_status(head: str, report: Any, noun: str, total: int | None = None) -> Describe:
    """``send  3 / 12 deliveries · 2.1/s · 1 unexpected``: a run's items so far (``report``'s counts)."""
    pace = Pace.now()

    def describe() -> Text:
        counts = dict(report.counts)  # a copy made at once: the run adds to it meanwhile
        done = sum(counts.values())
        parts = [f"{done:,} / {total:,} {noun}" if total else f"{done:,} {noun}", f"{pace.rate(done):,.1f}/s"]
        failed = sum(counts.get(kind, 0) for kind in ("unexpected", "undelivered", "failed"))
        return status_line(head, parts, failed, "failed" if noun == "cases" else "unexpected")

    return describe


def audit_status(tally: Any, stream: IO[bytes]) -> Describe:
    """``audit  12.5 MB / 80.0 MB · 41,000/s · 3 failed``: how much of the recording is read (of its
    size, when it has one), how fast deliveries are judged, and the failures so far."""
    pace = Pace.now()
    try:
        fd = stream.fileno()
        status = os.fstat(fd)
        whole = status.st_size if stat.S_ISREG(status.st_mode) else None
    except (AttributeError, OSError, ValueError):
        fd, whole = -1, None

    def describe() -> Text:
        judged = tally.total - tally.skipped
        read = read_position(fd) if fd >= 0 else None
        parts = [f"{judged:,} deliveries"]
        if read is not None and whole:
            parts.insert(0, f"{size(min(read, whole))} / {size(whole)}")
        parts.append(f"{pace.rate(judged):,.0f}/s")
        return status_line("audit", parts, tally.failed, "failed")

    return describe


def count_lines(path: str, into: dict[str, int | None]) -> None:
    """The lines of ``path`` (as far as it reached now) into ``into["total"]``; for a thread of its own,
    so that a big recording's count does not hold the start back."""
    try:
        with open(path, "rb") as stream:
            end = os.fstat(stream.fileno()).st_size
            lines, read, last = 0, 0, b"\n"
            while read < end:
                chunk = stream.read(min(1 << 20, end - read))
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                read += len(chunk)
                last = chunk[-1:]
            into["total"] = lines + (last != b"\n")
    except OSError:
        into["total"] = None


def read_position(fd: int) -> int | None:
    """How far the reader of ``fd`` has come (the kernel's offset: ahead of the parser by a buffer)."""
    try:
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:  # a pipe
        return None
