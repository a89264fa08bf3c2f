"""A run's ``Report`` for people: a table that fits the terminal, then one summary line.

On a terminal no line is wider than the terminal and nothing is cut: a row
too wide for it puts its name on a line of its own, and what is said about
an item (why it failed, what the receiver answered) wraps at word boundaries
under its row, and a command to re-run it breaks between its words with a
backslash at each line's end, so that it pastes whole. In a pipe or a CI log lines are not wrapped. A streamed
report (a replay) prints one line per item that is not as expected, as it
comes, instead of a table.
"""

from __future__ import annotations

import shlex
from typing import IO

from ...workflows.report import (
    AS_EXPECTED,
    FAILED,
    INFO,
    MALFORMED,
    NOT_PROVEN,
    PASSED,
    SKIPPED,
    UNDELIVERED,
    UNEXPECTED,
    WARNING,
    Item,
    Report,
)
from . import NORMAL, QUIET, VERBOSE
from . import text as marks
from .exchange import exchange_lines
from .text import BOLD, BOLD_GREEN, BOLD_RED, DIM, GAP, INDENT, TextWriter, cell_width, printable

_MARKS = {
    AS_EXPECTED: marks.OK,
    PASSED: marks.OK,
    UNEXPECTED: marks.FAIL,
    UNDELIVERED: marks.FAIL,
    MALFORMED: marks.FAIL,
    FAILED: marks.FAIL,
    WARNING: marks.WARN,
    NOT_PROVEN: marks.UNPROVEN,
    SKIPPED: marks.SKIP,
    INFO: marks.INFO,
}
_LABELS = {
    AS_EXPECTED: "as expected",
    UNDELIVERED: "not delivered",
    NOT_PROVEN: "not proven",
    INFO: "informational",
}
_PLURALS = {"delivery": "deliveries", "case": "cases", "line": "lines", WARNING: "warnings"}


class TextSink:
    def __init__(self, *, color: bool | None, verbosity: int = NORMAL, out: IO[str] | None = None) -> None:
        self.writer = TextWriter(color, out)
        self.verbosity = verbosity
        self.report: Report | None = None
        self.rows: list[Item] = []

    # --- the stream of items ---------------------------------------------------

    def start(self, report: Report) -> None:
        self.report = report
        if self.verbosity > QUIET:
            self.writer.line(self.writer.paint(report.title, BOLD))
            for line in report.preamble:
                self.writer.wrapped(printable(line), "")

    def add(self, item: Item) -> None:
        assert self.report is not None
        if not self.report.streamed:
            self.rows.append(item)  # a table needs every row's width first
            return
        if self.verbosity == QUIET or (item.outcome == AS_EXPECTED and self.verbosity < VERBOSE):
            return
        mark = self._mark(item.outcome)
        notes = item.notes or (_label(item.outcome),)
        for note in notes:
            self.writer.wrapped(f"{printable(item.name)}: {mark} {printable(note)}", INDENT)
        if self.verbosity >= VERBOSE:
            self._exchanges(item)

    def finish(self, report: Report) -> None:
        if self.rows and self.verbosity > QUIET:
            self._table(report, self.rows)
        elif self.rows and self.verbosity == QUIET:
            for item in self.rows:  # what is not a pass, one line each: failures, warnings, unproven
                if item.outcome in (UNEXPECTED, UNDELIVERED, FAILED, MALFORMED, WARNING, NOT_PROVEN):
                    note = item.notes[0] if item.notes else _label(item.outcome)
                    self.writer.wrapped(
                        f"{self._mark(item.outcome)} {printable(item.name)}: {printable(note)}", INDENT
                    )
        if self.verbosity > QUIET:
            for line in report.epilogue:
                self.writer.wrapped(printable(line), INDENT)
        self.writer.line(self.writer.paint(summary_line(report), BOLD_GREEN if report.ok else BOLD_RED))
        self.writer.flush()

    def abandon(self) -> None:
        self.writer.flush()

    # --- the table ---------------------------------------------------------------

    def _table(self, report: Report, items: list[Item]) -> None:
        # Names, cells and notes hold what came from outside (file names, a receiver's answer):
        # each is shown through ``printable``, so whatever a command puts in them is safe.
        width = self.writer.width
        headings = report.columns
        rows = [tuple(map(printable, (item.name, *item.cells))) for item in items]
        widths = [max(cell_width(row[i]) for row in [headings, *rows]) for i in range(len(headings))]
        full = 2 + sum(widths) + len(GAP) * (len(widths) - 1)
        # Too wide for the terminal: the name goes on a line of its own above the other cells.
        name_apart = width is not None and full > width
        shown = slice(1, None) if name_apart else slice(None)
        self.writer.line()
        heading = (INDENT if name_apart else "  ") + _joined(headings[shown], widths[shown])
        self.writer.line(self.writer.paint(heading.rstrip(), DIM))
        for item, row in zip(items, rows, strict=True):
            mark = self._mark(item.outcome)
            if name_apart:
                self._name_line(mark, item.name)
                self.writer.line(INDENT + _joined(row[1:], widths[1:]).rstrip())
            else:
                self.writer.line(f"{mark} " + _joined(row, widths).rstrip())
            for note in item.notes:
                self._note(item, note)
            if self.verbosity >= VERBOSE:
                self._exchanges(item)
        self.writer.line()

    def _note(self, item: Item, note: str) -> None:
        rerun = item.data.get("rerun")
        if rerun and note == f"rerun: {rerun}" and self.writer.width is not None:
            # A command to copy: broken only between its words, each line but the last ending
            # in a backslash, so that it pastes into a shell whole.
            for line in command_lines(
                INDENT + "rerun: ", printable(rerun), self.writer.width, INDENT + "    "
            ):
                self.writer.line(line)
            return
        self.writer.wrapped(INDENT + printable(note), INDENT + "  ")

    def _name_line(self, mark: str, name: str) -> None:
        """A name on a line of its own: whole, even with spaces in it, unless it is wider than the
        terminal, when it breaks after a ``/`` where it can (a path) and anywhere where it cannot."""
        assert self.writer.width is not None
        room = max(20, self.writer.width - 2)
        lead = f"{mark} "
        while cell_width(name) > room:
            cut = room
            while cell_width(name[:cut]) > room:
                cut -= 1
            slash = name.rfind("/", 0, cut)
            cut = slash + 1 if slash > 0 else cut
            self.writer.line(lead + name[:cut])
            name, lead = name[cut:], "  "
        self.writer.line(lead + name)

    def _exchanges(self, item: Item) -> None:
        for delivery in item.deliveries:
            for line in exchange_lines(delivery):
                self.writer.wrapped(INDENT + line, INDENT + line[:2])

    def _mark(self, outcome: str) -> str:
        kind = _MARKS.get(outcome)
        return self.writer.mark(kind) if kind is not None else "?"


def command_lines(lead: str, command: str, width: int, indent: str) -> list[str]:
    """A shell command in lines of at most ``width`` columns, joined by backslash-newlines.

    A word wider than a line (a long URL) stays whole on a line of its own: cut, it would
    no longer paste.
    """
    words = shlex.split(command)
    lines, current = [], lead + shlex.quote(words[0])
    for word in map(shlex.quote, words[1:]):
        if cell_width(f"{current} {word} \\") > width:
            lines.append(current + " \\")
            current = indent + word
        else:
            current += " " + word
    return [*lines, current]


def summary_line(report: Report) -> str:
    """``5 deliveries: 4 as expected, 1 unexpected``; counts that are 0 are left out."""
    parts = [f"{count} {_label(outcome, count)}" for outcome, count in report.counts.items() if count]
    line = f"{report.total} {_plural(report.noun, report.total)}"
    if parts:
        line += ": " + ", ".join(parts)
    if report.interrupted:
        line = f"interrupted after {line}"
    return line


def _label(outcome: str, count: int = 1) -> str:
    label = _LABELS.get(outcome, outcome.replace("_", " "))
    return _plural(label, count)


def _plural(word: str, count: int) -> str:
    return word if count == 1 else _PLURALS.get(word, word)


def _joined(cells: tuple[str, ...], widths: list[int]) -> str:
    return GAP.join(
        cell + " " * (width - cell_width(cell)) for cell, width in zip(cells, widths, strict=True)
    )
