"""``invwh validate``'s few lines, written without rich: its start-up is a measured goal.

A line per payload, each problem indented under it, and a count. The marks
take the theme's colours (``theme.ansi``) when colour is wanted; nothing is
wrapped or laid out, so nothing here needs rich. Every line is redacted as
it is written, as ``text.TextWriter`` does.
"""

from __future__ import annotations

import sys
from typing import IO

from ...text import printable, redact
from .theme import MARKS, ansi, color_wanted

__all__ = ["PlainWriter", "printable"]


class PlainWriter:
    def __init__(self, color: bool | None = None, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.color = color_wanted(color, self.out)

    def paint(self, text: str, style: str) -> str:
        return ansi(text, style) if self.color else text

    def mark(self, kind: str) -> str:
        return self.paint(MARKS[kind], kind)

    def line(self, text: str = "") -> None:
        self.out.write(redact(text) + "\n")
