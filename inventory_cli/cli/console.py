"""Where text output goes: rich on a terminal, plain lines everywhere else.

Reports are written with rich markup (``[green]✓[/]``). On a terminal, or
with colour forced, rich renders it. In a pipe or a CI log there is nothing
to colour, so markup is stripped by a few lines here instead, and rich (a
fifth of a second's worth of imports on a slow disk) is only loaded for the
tables some reports print.
"""

from __future__ import annotations

import re
import sys
from typing import IO, Any

# Rich's own tag syntax: backslashes, then [tag]; an odd number of backslashes escapes it.
_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")


def escape(text: str) -> str:
    """``text`` with anything that looks like a tag escaped, as ``rich.markup.escape`` does."""
    text = _TAG.sub(lambda m: f"{m.group(1)}{m.group(1)}\\[{m.group(2)}]", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        text += "\\"
    return text


# Bell, backspace, vertical tab, form feed and carriage return: rich drops them, so do we.
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))


def strip_markup(markup: str) -> str:
    """The text rich prints for ``markup``, without its styles (``rich.markup.render``'s rules)."""
    if "[" not in markup:
        return markup.translate(_CONTROL)
    out = []
    position = 0
    for match in _TAG.finditer(markup):
        backslashes, escaped = divmod(len(match.group(1)), 2)
        out.append(markup[position : match.start()].replace("\\[", "["))
        out.append("\\" * backslashes)
        if escaped:  # an escaped tag is text
            out.append(f"[{match.group(2)}]")
        position = match.end()
    out.append(markup[position:].replace("\\[", "["))
    return "".join(out).translate(_CONTROL)


class PlainConsole:
    """The part of rich's Console that reports use, for output that is not a terminal."""

    is_terminal = False

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self._rich: Any = None

    def print(self, renderable: Any = "") -> None:
        if isinstance(renderable, str):
            self.file.write(strip_markup(renderable) + "\n")
            self.file.flush()
            return
        if self._rich is None:  # a table: rich lays it out, without colour
            self._rich = rich_console(self.file, color=False)
        self._rich.print(renderable)


def rich_console(file: IO[str], *, color: bool | None) -> Any:
    from rich.console import Console

    return Console(
        file=file,
        force_terminal=color,
        # Logs and pipes have no width; rich's 80 columns would fold tables.
        width=None if file.isatty() else 120,
        no_color=color is False or None,
        soft_wrap=True,
        highlight=False,
    )


def make_console(*, stderr: bool, color: bool | None) -> Any:
    stream = sys.stderr if stderr else sys.stdout
    if color or (color is None and stream.isatty()):
        return rich_console(stream, color=color)
    return PlainConsole(stream)
