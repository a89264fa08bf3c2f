"""A run's ``Report`` for people: a table that fits the terminal, then one summary line.

rich lays it out (``text.TextWriter``), to the terminal's width, or 80
columns in a pipe unless ``COLUMNS`` says. No line is wider and nothing is
cut: a row too wide puts its name on a line of its own, and what is said
about an item (why it failed, what the receiver answered) wraps at word
boundaries under its row, and a command to re-run it breaks between its
words with a backslash at each line's end, so that it pastes whole. A
streamed report (a replay) prints one line per item that is not as
expected, as it comes, instead of a table.
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
from . import theme as marks
from .exchange import exchange_lines
from .items import COLUMNS, cells, notes
from .text import INDENT, Text, TextWriter, cell_width, make_table, printable, text

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
            self.writer.line(self.writer.paint(report.title, "title"))
            for line in report.preamble:
                self.writer.wrapped(printable(line))

    def add(self, item: Item) -> None:
        assert self.report is not None
        if not self.report.streamed:
            self.rows.append(item)  # a table needs every row's width first
            return
        if self.verbosity == QUIET or (item.outcome == AS_EXPECTED and self.verbosity < VERBOSE):
            return
        mark = self._mark(item.outcome)
        for note in notes(item) or (_label(item.outcome),):
            self.writer.wrapped(f"{printable(item.name)}: ", mark, f" {printable(note)}", indent=INDENT)
        if self.verbosity >= VERBOSE:
            self._exchanges(item)

    def finish(self, report: Report) -> None:
        if self.rows and self.verbosity > QUIET:
            self._table(report, self.rows)
        elif self.rows and self.verbosity == QUIET:
            for item in self.rows:  # what is not a pass, one line each: failures, warnings, unproven
                if item.outcome in (UNEXPECTED, UNDELIVERED, FAILED, MALFORMED, WARNING, NOT_PROVEN):
                    said = notes(item)
                    note = said[0] if said else _label(item.outcome)
                    self.writer.wrapped(
                        self._mark(item.outcome), f" {printable(item.name)}: {printable(note)}", indent=INDENT
                    )
        if self.verbosity > QUIET:
            for line in report.epilogue:
                self.writer.wrapped(printable(line), indent=INDENT)
        self.writer.line(self.writer.paint(summary_line(report), "passed" if report.ok else "failed"))
        self.writer.flush()

    def abandon(self) -> None:
        self.writer.flush()

    # --- the table ---------------------------------------------------------------

    def _table(self, report: Report, items: list[Item]) -> None:
        writer = self.writer
        heading, rows = self._layout(report, items)
        writer.line()
        writer.print(heading, wrap=False)
        for item, row in zip(items, rows, strict=True):
            for line in row:
                writer.print(line, wrap=False)
            for note in notes(item):
                self._note(item, note)
            if self.verbosity >= VERBOSE:
                self._exchanges(item)
        writer.line()

    def so_far(self, room: int) -> Text | None:
        """The table's last rows so far, at most ``room`` lines with its heading: what a status line
        shows above it on a terminal while the run goes on (the whole table follows at the end)."""
        items = list(self.rows[-room:])  # a copy: the run appends meanwhile
        if self.report is None or not items or self.verbosity == QUIET:
            return None
        heading, rows = self._layout(self.report, items)
        lines = [line for row in rows for line in row][-max(1, room - 1) :]
        return Text("\n").join([heading, *lines])

    def _layout(self, report: Report, items: list[Item]) -> tuple[Text, list[list[Text]]]:
        """The heading line, and each item's row as lines (its notes not included)."""
        # Names, cells and notes hold what came from outside (file names, a receiver's answer):
        # each is shown through ``printable``, so whatever a command puts in them is safe.
        writer = self.writer
        headings = COLUMNS[report.noun]
        names = [printable(item.name) for item in items]
        shown = [tuple(map(printable, cells(item))) for item in items]
        marks = [self._mark(item.outcome) for item in items]
        whole = make_table(
            ("  " + headings[0], *headings[1:]),
            [(text(mark, " ", name), *row) for mark, name, row in zip(marks, names, shown, strict=True)],
            rule=False,
        )
        # Too wide for the width: the name goes on a line of its own above the other cells.
        unbounded = writer.console.options.update(width=10**6)
        if writer.console.measure(whole, options=unbounded).maximum <= writer.width:
            lines = writer.lines(whole)
            heading, rows = lines[0], [[line] for line in lines[1:]]
        else:
            apart = writer.lines(make_table(headings[1:], shown, rule=False))
            heading = Text(INDENT) + apart[0]
            rows = [
                [*self._name_lines(mark, name), Text(INDENT) + line]
                for mark, name, line in zip(marks, names, apart[1:], strict=True)
            ]
        return heading, rows

    def _note(self, item: Item, note: str) -> None:
        rerun = item.data.get("rerun")
        if rerun and note == f"rerun: {rerun}":
            # A command to copy: broken only between its words, each line but the last ending
            # in a backslash, so that it pastes into a shell whole.
            for line in command_lines(
                INDENT + "rerun: ", printable(rerun), self.writer.width, INDENT + "    "
            ):
                self.writer.line(line)
            return
        self.writer.wrapped(INDENT + printable(note), indent=INDENT + "  ")

    def _name_lines(self, mark: Text, name: str) -> list[Text]:
        """A name on a line of its own: whole, even with spaces in it, unless it is wider than the
        width, when it breaks after a ``/`` where it can (a path) and anywhere where it cannot."""
        room = max(20, self.writer.width - 2)
        lead: Text | str = mark
        lines = []
        while cell_width(name) > room:
            cut = room
            while cell_width(name[:cut]) > room:
                cut -= 1
            slash = name.rfind("/", 0, cut)
            cut = slash + 1 if slash > 0 else cut
            lines.append(text(lead, " ", name[:cut]))
            name, lead = name[cut:], " "
        return [*lines, text(lead, " ", name)]

    def _exchanges(self, item: Item) -> None:
        for delivery in item.deliveries:
            for line in exchange_lines(delivery):
                self.writer.wrapped(INDENT + line, indent=INDENT + line[:2])

    def _mark(self, outcome: str) -> Text:
        kind = _MARKS.get(outcome)
        return self.writer.mark(kind) if kind is not None else Text("?")


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
