"""The reporter: a run's ``Report`` handed to every format as it happens, and ended whatever happens.

A command opens a ``Reporter`` (``open_reporter``), adds items as they
happen, and returns the report, whose outcome ``cli/app.py`` turns into the
exit status. Ctrl-C or SIGTERM in between still ends every format properly,
with the report marked interrupted.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Protocol

from ...workflows.report import UNDELIVERED, Item, Outcome, Report, undelivered_error
from ..context import AppContext
from . import NORMAL
from .hints import failure_words


class Sink(Protocol):
    def start(self, report: Report) -> None: ...
    def add(self, item: Item) -> None: ...
    def finish(self, report: Report) -> None: ...
    def abandon(self) -> None: ...


class Reporter:
    """Hands each item to every format and ends them all, whatever happens in between.

    Ctrl-C and SIGTERM interrupt the run, but never the writing of an item or
    of the end: a signal that comes then takes effect once the write is done,
    so every format holds whole items and a whole ending.
    """

    def __init__(
        self, report: Report, sinks: list[Sink], before_finish: Callable[[Report], None] | None = None
    ) -> None:
        self.report = report
        self.sinks = sinks
        self.before_finish = before_finish
        self._first_undelivered: str | None = None
        self._undelivered = 0
        self._signals = _Interrupts()

    def deferred(self) -> _Interrupts:
        """A ``with`` block a signal waits for: what a command counts beside its items (a replay's
        statistics) stays in step with the items reported."""
        return self._signals

    def add(self, item: Item) -> None:
        with self._signals.deferred():
            self.report.count(item)
            if item.outcome == UNDELIVERED:
                self._undelivered += 1
                if self._first_undelivered is None:
                    failure = next((d.exchange.failure for d in item.deliveries if d.error), None)
                    error = failure_words(failure)
                    self._first_undelivered = error or "not delivered"
            for sink in self.sinks:
                sink.add(item)

    @property
    def outcome(self) -> Outcome:
        return self.report.outcome

    def __enter__(self) -> Reporter:
        self._signals.install()
        with self._signals.deferred():
            for sink in self.sinks:
                sink.start(self.report)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._signals.hold()  # a second Ctrl-C must not tear the report of the first
        try:
            if kind is not None and not issubclass(kind, KeyboardInterrupt):
                for sink in self.sinks:
                    sink.abandon()
                return False
            report = self.report
            report.interrupted = kind is not None
            if report.error is None and self._undelivered:
                report.error = undelivered_error(report.url, self._undelivered, self._first_undelivered or "")
            if self.before_finish is not None:
                self.before_finish(report)
            # Every format is ended even when one cannot be (a JUnit file on a full disk): the
            # JSON on stdout still closes; the first failure is raised once all are done.
            failure: BaseException | None = None
            for sink in self.sinks:
                try:
                    sink.finish(report)
                except Exception as error:  # raised below, after the other sinks
                    failure = failure or error
            if failure is not None:
                raise failure
        finally:
            self._signals.restore()
        return True  # an interruption is reported, not raised: the outcome says it


class _Interrupts:
    """Ctrl-C and SIGTERM (a CI job cancelled, a container stopped) as KeyboardInterrupt,
    raised at once, or after the write under way (``deferred``), or not at all (``hold``)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.writing = 0  # how many deferred blocks are open (they nest)
        self.held = False
        self.pending = False

    def install(self) -> None:
        # Only the main thread may set handlers; elsewhere (a test running invwh in a
        # thread) the defaults stay.
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._arrived) for signum in self.SIGNALS}

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def hold(self) -> None:
        self.held = True

    def deferred(self) -> _Interrupts:
        """A ``with`` block a signal waits for (a plain object, not a generator: one per item)."""
        return self

    def __enter__(self) -> None:
        self.writing += 1

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.writing -= 1
        if kind is None and self.pending and not self.held and not self.writing:
            self.pending = False
            raise KeyboardInterrupt

    def _arrived(self, signum: int, frame: FrameType | None) -> None:
        if self.writing or self.held:
            self.pending = True
            return
        raise KeyboardInterrupt


def open_reporter(
    app: AppContext,
    report: Report,
    output_format: str,
    junit_path: str | None,
    verbosity: int = NORMAL,
    *,
    before_finish: Callable[[Report], None] | None = None,
) -> Reporter:
    """The reporter for a run: JSON or text on stdout, and a JUnit file when asked for."""
    sinks: list[Sink] = []
    if junit_path is not None:  # --junit '' is an error, not no report
        from .junit import JUnitSink

        sinks.append(JUnitSink(junit_path))  # first: an unwritable path fails before any work
    if output_format == "json":
        from .json import JsonSink

        sinks.append(JsonSink())
    else:
        from .report_text import TextSink

        sinks.append(TextSink(color=app.color, verbosity=verbosity))
    return Reporter(report, sinks, before_finish)
