"""``invwh schemes`` for people: a table of each scheme, what it sends and what it signs.

rich lays it out: when the table is wider than the terminal (or 80 columns in
a pipe), the "sends" and "signs" cells wrap at word boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .text import TextWriter, printable, text

if TYPE_CHECKING:
    from ...signing.schemes import Scheme


def write_schemes(writer: TextWriter, listed: Sequence[tuple[Scheme, str]], default: str) -> None:
    rows = []
    for scheme, source in listed:
        default_mark = " (default)" if scheme.name == default else ""
        name = text(writer.paint(printable(scheme.name), "name"), default_mark)
        sends = "\n".join(_sends_line(header, shape) for header, shape in scheme.sends())
        signs = (
            f"HMAC-{scheme.hash.upper()} of {printable(scheme.describe_message())}\n"
            f"key: {printable(scheme.describe_secret())}"
        )
        rows.append((text(name, "\n", writer.paint(printable(source), "aside")), sends, signs))
    writer.line()
    writer.table(("scheme", "sends", "signs"), rows, flexible=(1, 2))
    writer.line()
    writer.wrapped(writer.paint("`invwh schemes show NAME` prints one as a block for invwh.toml", "aside"))


def _sends_line(header: str, shape: str) -> str:
    """``Header: shape``, with a note in parentheses (several signatures allowed) on a line of its own."""
    shape, parenthesis, note = shape.partition(" (")
    line = f"{printable(header)}: {printable(shape)}"
    return line + (f"\n  ({printable(note)}" if parenthesis else "")
