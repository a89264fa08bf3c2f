"""The one colour theme, and the decision whether to colour at all: shared by every text output.

Importing this module costs nothing (no rich): ``invwh validate``, which
prints a few lines without rich, takes its colours from here too.
"""

from __future__ import annotations

import os
from typing import IO

#: Each style invwh's text uses, by name, in rich's style syntax.
STYLES = {
    "ok": "green",
    "fail": "red",
    "warn": "yellow",
    "unproven": "yellow",
    "skip": "dim",
    "info": "blue",
    "title": "bold",
    "heading": "dim",
    "rule": "dim",
    "total": "bold",
    "passed": "bold green",
    "failed": "bold red",
    "cause": "yellow",
    "status.ok": "bold green",
    "status.refused": "bold yellow",
    "status.error": "bold red",
    "name": "bold",
    "aside": "dim",
}

#: Each mark: its character and its style.
OK, FAIL, WARN, UNPROVEN, SKIP, INFO = "ok", "fail", "warn", "unproven", "skip", "info"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!", UNPROVEN: "?", SKIP: "–", INFO: "i"}

INDENT = "    "


def color_wanted(color: bool | None, stream: IO[str]) -> bool:
    """``--color``/``--no-color`` when given; else ``NO_COLOR`` turns colour off, ``FORCE_COLOR``
    on (a CI log that shows colour), ``TERM=dumb`` off; else colour on a terminal only."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return is_terminal(stream) and os.environ.get("TERM") != "dumb"


def is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except ValueError:  # closed
        return False


def can_redraw(stream: IO[str]) -> bool:
    """Whether a line may be redrawn in place (progress): a terminal that is not ``TERM=dumb``."""
    return is_terminal(stream) and os.environ.get("TERM") != "dumb"


def width_for(stream: IO[str]) -> int:
    """Columns to fit: ``COLUMNS`` when set (as ``shutil`` has it), else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0 and is_terminal(stream):
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
    return columns if columns > 0 else 80


_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34"}


def ansi(text: str, style: str) -> str:
    """``text`` in the theme's ``style``, as ANSI codes: for the few lines printed without rich."""
    codes = ";".join(_SGR[word] for word in STYLES[style].split())
    return f"\x1b[{codes}m{text}\x1b[0m" if text else text
