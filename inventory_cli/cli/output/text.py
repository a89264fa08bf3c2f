"""Text for people, rendered by rich: the writer every text report uses.

One ``rich.console.Console`` per stream, set up here once: colour as
``theme.color_wanted`` decides (``--color``/``--no-color``, ``NO_COLOR``,
``FORCE_COLOR``, ``TERM=dumb``, a terminal), the width of the terminal, or
in a pipe 80 columns unless ``COLUMNS`` says. rich wraps lines at word
boundaries (a word wider than a whole line is the only thing it cuts),
lays out the tables, and writes no escape sequence where there is no colour.

Nothing given to rich is read as markup, emoji or something to highlight:
every piece of text becomes a ``rich.text.Text`` here, after
``inventory_cli.text.redact`` (so a secret cut in two by wrapping is still
found); text from outside is escaped by ``printable`` before it reaches a
writer. What rich writes passes through ``redact`` once more on its way to
the stream, whoever built it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

from ...text import printable, redact
from .theme import INDENT, MARKS, STYLES, color_wanted, is_terminal, width_for

if TYPE_CHECKING:
    from rich.segment import Segment

__all__ = ["INDENT", "Piece", "Text", "TextWriter", "cell_width", "printable"]

#: A piece of a line: plain text (invwh's own words, or outside text already escaped), or styled.
Piece = str | Text

THEME = Theme(STYLES, inherit=False)

#: A rule under the heading and nothing else: the tables of the audit and of ``schemes``.
HEADING_RULE = box.SIMPLE_HEAD


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    return cell_len(text)


class _Redacting:
    """The stream under rich: what is written is redacted on its way."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        self.stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return is_terminal(self.stream)

    def fileno(self) -> int:
        return self.stream.fileno()


def make_console(stream: IO[str], color: bool | None, *, redraws: bool = False) -> Console:
    """A console for ``stream`` with invwh's theme, colour and width; rich's own reading of the
    environment is turned off (``_environ={}``), so that the decision is ``theme``'s alone.
    ``redraws``: a status line is redrawn in place on it (``progress``)."""
    colour = color_wanted(color, stream)
    return Console(
        file=_Redacting(stream),  # type: ignore[arg-type]
        width=width_for(stream),
        height=25,
        color_system="standard" if colour else None,
        force_terminal=is_terminal(stream),
        force_interactive=redraws,
        theme=THEME,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=False,
        legacy_windows=False,
        _environ={},
    )


def text(*pieces: Piece) -> Text:
    """One line of pieces; plain pieces are redacted here, before rich wraps them."""
    line = Text()
    for piece in pieces:
        line.append(redact(piece) if isinstance(piece, str) else piece)
    return line


class TextWriter:
    """Lines and tables to a stream, through rich, with colour and width decided once for the run."""

    def __init__(self, color: bool | None = None, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.console = make_console(self.out, color)
        self._render_lock = threading.Lock()

    @property
    def width(self) -> int:
        return self.console.width

    @width.setter
    def width(self, columns: int) -> None:
        self.console.width = columns

    @property
    def color(self) -> bool:
        return self.console.color_system is not None

    # --- pieces of a line ---------------------------------------------------------

    def paint(self, piece: str, style: str) -> Text:
        return Text(redact(piece), style=style)

    def mark(self, kind: str) -> Text:
        return Text(MARKS[kind], style=kind)

    # --- writing --------------------------------------------------------------------

    def line(self, *pieces: Piece) -> None:
        """One line, never wrapped (a line of invwh's own that fits, or one that must stay whole)."""
        self.print(text(*pieces), wrap=False)

    def wrapped(self, *pieces: Piece, indent: str = "") -> None:
        """A line wrapped at word boundaries to the width, continued at ``indent`` (a hanging indent)."""
        for part in hanging(self.console, text(*pieces), self.width, indent):
            self.print(part, wrap=False)

    def render(self, *lines: Text, indent: str = "") -> str:
        """``lines`` wrapped as ``wrapped`` would write them, as one string (colours kept, redacted):
        for a writer thread of its own (``log_stream``). Safe to call from any thread."""
        with self._render_lock, self.console.capture() as captured:
            for line in lines:
                for part in hanging(self.console, line, self.width, indent):
                    self.console.print(part, no_wrap=True, crop=False, overflow="ignore")
        return redact(captured.get()).rstrip("\n")

    def plain_line(self, *pieces: str) -> str | None:
        """``render`` of one uncoloured line of ``pieces`` that fits the width, made without rich;
        None when rich must lay it out (colour, a line too wide, text beyond ASCII).

        ``listen`` logs a line per request, and a rich capture costs more than the request's
        verdict: what comes back here is byte for byte what ``render`` gives (a test compares)."""
        if self.color:
            return None
        line = "".join([redact(piece) for piece in pieces])
        if not line.isascii() or len(line) > max(20, self.width):
            return None
        return redact(line.rstrip())

    def print(self, renderable: RenderableType, *, wrap: bool = True) -> None:
        self.console.print(renderable, no_wrap=not wrap, crop=False, overflow="ignore" if not wrap else None)

    def lines(self, renderable: RenderableType) -> list[Text]:
        """``renderable`` as the lines it takes at this width, trailing spaces dropped.

        A table that cannot be narrowed to the width without cutting a column that must stay
        whole (a name, a path) is laid out as narrow as it can be instead: too wide, but whole.
        """
        unbounded = self.console.options.update(width=10**6)
        narrowest = Measurement.get(self.console, unbounded, renderable).minimum
        options = self.console.options.update(width=max(self.width, narrowest))
        rendered = self.console.render_lines(renderable, options, pad=False)
        return [_line_text(segments) for segments in rendered]

    def flush(self) -> None:
        self.out.flush()

    # --- tables -----------------------------------------------------------------------

    def table(
        self,
        headings: Sequence[Piece] | None,
        rows: Sequence[Sequence[Piece]],
        *,
        right: Sequence[int] = (),
        flexible: Sequence[int] = (),
        bold_last: bool = False,
        rule: bool = True,
        gap: int = 3,
    ) -> None:
        """Columns laid out by rich: a heading line (dim, a rule under it unless not ``rule``), then rows.

        A cell may hold several lines. The columns in ``right`` are right-aligned
        (counts, sizes). When the table is wider than the width, the cells of the
        ``flexible`` columns wrap at word boundaries; the others stay whole.
        ``bold_last`` makes the last row a total.
        """
        table = make_table(
            headings, rows, right=right, flexible=flexible, bold_last=bold_last, rule=rule, gap=gap
        )
        if flexible:
            _narrow(table, flexible, self.width)
        for line in self.lines(table):
            self.print(line, wrap=False)


def make_table(
    headings: Sequence[Piece] | None,
    rows: Sequence[Sequence[Piece]],
    *,
    right: Sequence[int] = (),
    flexible: Sequence[int] = (),
    bold_last: bool = False,
    rule: bool = True,
    gap: int = 3,
) -> Table:
    columns = len(headings) if headings else len(rows[0]) if rows else 0
    ruled = bool(headings) and rule
    # With a box, a column divider (one space) sits between the paddings.
    left, right_pad = (gap - 1) // 2 + (gap - 1) % 2, (gap - 1) // 2
    table = Table(
        box=HEADING_RULE if ruled else None,
        show_header=bool(headings),
        show_edge=False,
        header_style="heading",
        border_style="rule",
        padding=(0, right_pad, 0, left) if ruled else (0, gap - gap // 2, 0, gap // 2),
        pad_edge=False,
        expand=False,
    )
    for i in range(columns):
        heading = text(headings[i]) if headings else ""
        table.add_column(
            heading,
            justify="right" if i in right else "left",
            no_wrap=i not in flexible,
            overflow="fold",
        )
    for number, row in enumerate(rows):
        style = "total" if bold_last and number == len(rows) - 1 else None
        table.add_row(*(text(cell) for cell in row), style=style)
    return table


#: Below this a flexible column's wrapped cell is harder to read than a line too long.
NARROWEST = 12


def _narrow(table: Table, flexible: Sequence[int], width: int) -> None:
    """Fix each column's width so that the table fits ``width``, narrowing only the ``flexible``
    columns, widest first, to ``NARROWEST`` at most; rich then wraps their cells (at word
    boundaries, cutting a word only when it is wider than its column). rich's own narrowing
    would cut the other columns too once the flexible ones are even."""
    columns = table.columns
    widths = [
        max((cell_len(line) for cell in column.cells for line in str(cell).split("\n")), default=0)
        for column in columns
    ]
    widths = [max(w, cell_len(str(column.header))) for w, column in zip(widths, columns, strict=True)]
    excess = sum(widths) + _gaps(table) - width
    while excess > 0:
        narrower = [i for i in flexible if widths[i] > NARROWEST]
        if not narrower:
            break
        widths[max(narrower, key=widths.__getitem__)] -= 1
        excess -= 1
    for column, column_width in zip(columns, widths, strict=True):
        column.width = column_width


def _gaps(table: Table) -> int:
    _, right, _, left = table.padding
    divider = 1 if table.box is not None else 0
    return (right + left + divider) * (len(table.columns) - 1)


def hanging(console: Console, line: Text, width: int, indent: str) -> list[Text]:
    """``line`` wrapped by rich at word boundaries: the first line ``width`` wide, the rest continued
    at ``indent`` (a word wider than a line is the only thing cut)."""
    width = max(20, width)
    parts = line.wrap(console, width, overflow="fold")
    for part in parts:
        part.rstrip()
    if len(parts) <= 1 or not indent:
        return list(parts) or [line]
    first = parts[0]
    start = len(first.plain)
    plain = line.plain
    while start < len(plain) and plain[start] == " ":
        start += 1
    rest = line[start:]
    lines = [first]
    for part in rest.wrap(console, max(10, width - cell_len(indent)), overflow="fold"):
        part.rstrip()
        lines.append(Text(indent) + part)
    return lines


def _line_text(segments: list[Segment]) -> Text:
    line = Text()
    for segment in segments:
        if not segment.control:
            line.append(segment.text, segment.style)
    line.rstrip()
    return line
