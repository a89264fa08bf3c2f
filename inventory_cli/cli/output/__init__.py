"""Rendering a run's ``Report``: one module per format, chosen once per run.

``text`` is for people (a table, or one line per problem for a streamed
replay), ``json`` for scripts (one document on stdout, nothing else mixed in),
``junit`` for CI systems (a file, beside either of the others). A command
opens a ``Reporter``, adds items as they happen, and returns the report's
outcome; Ctrl-C or SIGTERM in between still ends every format properly, with
the report marked interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Protocol

from ...report import UNDELIVERED, Item, Outcome, Report, undelivered_error
from ..app import AppContext

QUIET, NORMAL, VERBOSE = -1, 0, 1


class Sink(Protocol):
    def start(self, report: Report) -> None: ...
    def add(self, item: Item) -> None: ...
    def finish(self, report: Report) -> None: ...
    def abandon(self) -> None: ...


class Reporter:
    """Hands each item to every format and ends them all, whatever happens in between."""

    def __init__(
        self, report: Report, sinks: list[Sink], before_finish: Callable[[Report], None] | None = None
    ) -> None:
        self.report = report
        self.sinks = sinks
        self.before_finish = before_finish
        self._first_undelivered: str | None = None
        self._undelivered = 0
        self._stack = contextlib.ExitStack()

    def add(self, item: Item) -> None:
        self.report.count(item)
        if item.outcome == UNDELIVERED:
            self._undelivered += 1
            if self._first_undelivered is None:
                error = next((d.error for d in item.deliveries if d.error), None)
                self._first_undelivered = error or "not delivered"
        for sink in self.sinks:
            sink.add(item)

    @property
    def outcome(self) -> Outcome:
        return self.report.outcome

    def __enter__(self) -> Reporter:
        self._stack.enter_context(_sigterm_interrupts())
        for sink in self.sinks:
            sink.start(self.report)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._stack.close()
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
        for sink in self.sinks:
            sink.finish(report)
        return True  # an interruption is reported, not raised: the outcome says it


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a container stopped) ends the run as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    if junit_path:
        from .junit import JUnitSink

        sinks.append(JUnitSink(junit_path))  # first: an unwritable path fails before any work
    if output_format == "json":
        from .json import JsonSink

        sinks.append(JsonSink())
    else:
        from .text import TextSink

        sinks.append(TextSink(color=app.color, verbosity=verbosity))
    return Reporter(report, sinks, before_finish)
