"""Plain text for people: the writer every text report uses.

Lines are written directly to the stream; nothing is rendered from markup.
Colour is ANSI escape codes, added only on a terminal (or with ``--color``)
and never with ``NO_COLOR``. On a terminal no line is wider than the
terminal: long lines wrap at word boundaries, and a table too wide wraps the
cells of its flexible columns (cutting a word only when nothing else fits);
in a pipe or a CI log lines are never wrapped.
Text that came from outside (file names, headers, a receiver's answer) is
shown with its control characters escaped (``printable``), so it cannot move
the cursor or clear the screen; and every line written is redacted
(``inventory_cli.text.redact``): no known secret reaches the terminal,
whoever echoed it.

Importing this module costs almost nothing: ``invwh validate`` and
``invwh verify`` print through it on every run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import IO

from ...text import printable, redact

__all__ = ["TextWriter", "printable"]

# ANSI styles.
BOLD, DIM, RED, GREEN, YELLOW, BLUE = "1", "2", "31", "32", "33", "34"
BOLD_RED, BOLD_GREEN, BOLD_YELLOW = "1;31", "1;32", "1;33"

#: Each mark and its colour.
OK, FAIL, WARN, UNPROVEN, SKIP, INFO = "ok", "fail", "warn", "unproven", "skip", "info"
MARKS = {
    OK: ("✓", GREEN),
    FAIL: ("✗", RED),
    WARN: ("!", YELLOW),
    UNPROVEN: ("?", YELLOW),
    SKIP: ("–", DIM),
    INFO: ("i", BLUE),
}

GAP = "   "
INDENT = "    "


def color_wanted(color: bool | None, stream: IO[str]) -> bool:
    """``--color``/``--no-color`` when given; else colour on a terminal, unless ``NO_COLOR`` is set."""
    if color is not None:
        return color
    return _isatty(stream) and not os.environ.get("NO_COLOR")


def _isatty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def terminal_width(stream: IO[str]) -> int | None:
    """The terminal's columns (``COLUMNS`` wins, as in ``shutil``), or None off a terminal."""
    if not _isatty(stream):
        return None
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError):
            columns = 0
    return columns or 80


class TextWriter:
    """Lines to a stream, with colour and wrapping decided once for the run."""

    def __init__(self, color: bool | None = None, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.color = color_wanted(color, self.out)
        self.width = terminal_width(self.out)

    # --- pieces of a line ---------------------------------------------------------

    def paint(self, text: str, style: str) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if self.color and text else text

    def mark(self, kind: str) -> str:
        mark, style = MARKS[kind]
        return self.paint(mark, style)

    # --- writing --------------------------------------------------------------------

    def line(self, text: str = "") -> None:
        self.out.write(redact(text) + "\n")

    def wrapped(self, line: str, indent: str) -> None:
        """``line``, wrapped at word boundaries to the terminal's width, continued at ``indent``."""
        line = redact(line)  # before wrapping: a secret cut in two is not found in either half
        if self.width is None or visible_width(line) <= self.width:
            self.line(line)
            return
        for part in wrap(line, max(20, self.width), indent):
            self.line(part)

    def flush(self) -> None:
        self.out.flush()

    # --- tables -----------------------------------------------------------------------

    def table(
        self,
        headings: Sequence[str] | None,
        rows: Sequence[Sequence[str]],
        *,
        right: Sequence[int] = (),
        flexible: Sequence[int] = (),
        bold_last: bool = False,
        rule: bool = True,
        gap: str = GAP,
    ) -> None:
        """Columns of text: a heading line (dim, a rule under it unless not ``rule``), then the rows.

        A cell may hold several lines. The columns in ``right`` are right-aligned
        (counts, sizes). On a terminal too narrow for the table, the cells of the
        ``flexible`` columns are wrapped at word boundaries until it fits; a word
        is cut only when it is wider than the column can be. ``bold_last`` makes
        the last row a total.
        """
        table = [
            [redact(cell).split("\n") for cell in row]
            for row in ([headings] if headings else []) + list(rows)
        ]
        if not table:
            return
        columns = len(table[0])
        widths = [max(visible_width(line) for row in table for line in row[i]) for i in range(columns)]
        if self.width is not None and flexible:
            widths = _fitted(table, widths, flexible, self.width - len(gap) * (columns - 1))
            table = [
                [_wrap_cell(cell, widths[i]) if i in flexible else cell for i, cell in enumerate(row)]
                for row in table
            ]
        for number, row in enumerate(table):
            style = ""
            if headings and number == 0:
                style = DIM
            elif bold_last and number == len(table) - 1:
                style = BOLD
            for depth in range(max(len(cell) for cell in row)):
                cells = [
                    _aligned(cell[depth] if depth < len(cell) else "", widths[i], i in right)
                    for i, cell in enumerate(row)
                ]
                text = gap.join(cells).rstrip()
                self.line(self.paint(text, style) if style else text)
            if headings and number == 0 and rule:
                self.line(self.paint("─" * (sum(widths) + len(gap) * (columns - 1)), DIM))


def _aligned(text: str, width: int, right: bool) -> str:
    padding = " " * (width - visible_width(text))
    return padding + text if right else text + padding


def _fitted(table: list[list[list[str]]], widths: list[int], flexible: Sequence[int], room: int) -> list[int]:
    """``widths`` with the widest flexible column narrowed, a column at a time, until they fit ``room``:
    first no narrower than the column's longest word, then, if that is not enough, further."""
    widths = list(widths)
    narrowest = 12  # below this a wrapped cell is harder to read than a line too long
    longest_word = {
        i: max((visible_width(word) for row in table for line in row[i] for word in line.split()), default=0)
        for i in flexible
    }
    for floor in ({i: max(narrowest, longest_word[i]) for i in flexible}, dict.fromkeys(flexible, narrowest)):
        while sum(widths) > room:
            narrower = [i for i in flexible if widths[i] > floor[i]]
            if not narrower:
                break
            widths[max(narrower, key=lambda i: widths[i])] -= 1
    return widths


def _wrap_cell(lines: list[str], width: int) -> list[str]:
    wrapped: list[str] = []
    for line in lines:
        wrapped += wrap(line, width, "") if visible_width(line) > width else [line]
    return wrapped


def wrap(line: str, width: int, indent: str) -> list[str]:
    """``line`` broken at word boundaries into lines of at most ``width`` columns, continued at
    ``indent``; a word longer than a whole line (a long URL) is cut."""
    import textwrap

    lead = len(line) - len(line.lstrip(" "))
    return textwrap.wrap(
        line.strip(" "),
        width=max(1, width),
        initial_indent=" " * lead,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=True,
    ) or [line]


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def visible_width(line: str) -> int:
    """Columns of a line that may hold ANSI colour codes."""
    if "\x1b[" not in line:
        return cell_width(line)
    import re

    return cell_width(re.sub(r"\x1b\[[0-9;]*m", "", line))
