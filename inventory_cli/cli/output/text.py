"""A run's report for people: a table that fits the terminal, then one summary line.

Plain text is written directly; colour (ANSI, no rich) only on a terminal or
when asked for. On a terminal no line is wider than the terminal and nothing
is cut: a row too wide for it puts its name on a line of its own, and what
is said about an item (why it failed, what the receiver answered) wraps at
word boundaries under its row. In a pipe or a CI log lines are not wrapped.
A streamed report (a replay) prints one line per item that is not as
expected, as it comes, instead of a table.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from typing import IO

from ...report import (
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
from .exchange import exchange_lines

_MARKS = {
    AS_EXPECTED: ("✓", "32"),
    PASSED: ("✓", "32"),
    UNEXPECTED: ("✗", "31"),
    UNDELIVERED: ("✗", "31"),
    MALFORMED: ("✗", "31"),
    FAILED: ("✗", "31"),
    WARNING: ("!", "33"),
    NOT_PROVEN: ("?", "33"),
    SKIPPED: ("–", "2"),
    INFO: ("i", "34"),
}
_LABELS = {
    AS_EXPECTED: "as expected",
    UNDELIVERED: "not delivered",
    NOT_PROVEN: "not proven",
    INFO: "informational",
}
_PLURALS = {"delivery": "deliveries", "case": "cases", "line": "lines", WARNING: "warnings"}
GAP = "   "
INDENT = "    "


class TextSink:
    def __init__(self, *, color: bool | None, verbosity: int = NORMAL, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        terminal = self.out.isatty()
        self.color = terminal and not os.environ.get("NO_COLOR") if color is None else color
        self.width = shutil.get_terminal_size().columns if terminal else None
        self.verbosity = verbosity
        self.report: Report | None = None
        self.rows: list[Item] = []

    # --- the stream of items ---------------------------------------------------

    def start(self, report: Report) -> None:
        self.report = report
        if self.verbosity > QUIET:
            self._write(self._paint(report.title, "1"))
            for line in report.preamble:
                self._wrapped(line, "")

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
            self._wrapped(f"{item.name}: {mark} {note}", INDENT)
        if self.verbosity >= VERBOSE:
            self._exchanges(item)

    def finish(self, report: Report) -> None:
        if self.rows and self.verbosity > QUIET:
            self._table(report, self.rows)
        elif self.rows and self.verbosity == QUIET:
            for item in self.rows:  # errors only: the items that failed, one line each
                if item.outcome in (UNEXPECTED, UNDELIVERED, FAILED, MALFORMED):
                    note = item.notes[0] if item.notes else _label(item.outcome)
                    self._wrapped(f"{self._mark(item.outcome)} {item.name}: {note}", INDENT)
        if self.verbosity > QUIET:
            for line in report.epilogue:
                self._wrapped(line, INDENT)
        self._write(self._paint(summary_line(report), "1;32" if report.ok else "1;31"))
        self.out.flush()

    def abandon(self) -> None:
        self.out.flush()

    # --- the table ---------------------------------------------------------------

    def _table(self, report: Report, items: list[Item]) -> None:
        headings = report.columns
        rows = [(item.name, *item.cells) for item in items]
        widths = [max(cell_width(row[i]) for row in [headings, *rows]) for i in range(len(headings))]
        full = 2 + sum(widths) + len(GAP) * (len(widths) - 1)
        # Too wide for the terminal: the name goes on a line of its own above the other cells.
        name_apart = self.width is not None and full > self.width
        shown = slice(1, None) if name_apart else slice(None)
        self._write("")
        heading = (INDENT if name_apart else "  ") + _joined(headings[shown], widths[shown])
        self._write(self._paint(heading.rstrip(), "2"))
        for item, row in zip(items, rows, strict=True):
            mark = self._mark(item.outcome)
            if name_apart:
                self._name_line(mark, item.name)
                self._write(INDENT + _joined(row[1:], widths[1:]).rstrip())
            else:
                self._write(f"{mark} " + _joined(row, widths).rstrip())
            for note in item.notes:
                self._wrapped(INDENT + note, INDENT + "  ")
            if self.verbosity >= VERBOSE:
                self._exchanges(item)
        self._write("")

    def _name_line(self, mark: str, name: str) -> None:
        """A name on a line of its own: whole, even with spaces in it, unless it is wider than the
        terminal, when it breaks after a ``/`` where it can (a path) and anywhere where it cannot."""
        assert self.width is not None
        room = max(20, self.width - 2)
        lead = f"{mark} "
        while cell_width(name) > room:
            cut = room
            while cell_width(name[:cut]) > room:
                cut -= 1
            slash = name.rfind("/", 0, cut)
            cut = slash + 1 if slash > 0 else cut
            self._write(lead + name[:cut])
            name, lead = name[cut:], "  "
        self._write(lead + name)

    def _exchanges(self, item: Item) -> None:
        for delivery in item.deliveries:
            for line in exchange_lines(delivery):
                self._wrapped(INDENT + line, INDENT + line[:2])

    # --- writing ---------------------------------------------------------------------

    def _mark(self, outcome: str) -> str:
        mark, style = _MARKS.get(outcome, ("?", "0"))
        return self._paint(mark, style)

    def _paint(self, text: str, style: str) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if self.color else text

    def _wrapped(self, line: str, indent: str) -> None:
        """``line``, wrapped at word boundaries to the terminal's width, continued at ``indent``."""
        if self.width is None or visible_width(line) <= self.width:
            self._write(line)
            return
        lead = len(line) - len(line.lstrip(" "))
        wrapped = textwrap.wrap(
            line.strip(" "),
            width=max(20, self.width),
            initial_indent=" " * lead,
            subsequent_indent=indent,
            break_on_hyphens=False,
            # A word longer than a whole line (a long URL) must be cut somewhere.
            break_long_words=True,
        )
        for part in wrapped or [line]:
            self._write(part)

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")


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


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def visible_width(line: str) -> int:
    """Columns of a line that may hold ANSI colour codes."""
    if "\x1b[" not in line:
        return cell_width(line)
    import re

    return cell_width(re.sub(r"\x1b\[[0-9;]*m", "", line))
