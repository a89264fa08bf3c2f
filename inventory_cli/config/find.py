"""Finding the config file (``load.py`` reads it).

Every run looks, and most find none, so this is apart from ``load.py``,
which a run imports only when there is a file to read.
"""

from __future__ import annotations

import os

CONFIG_NAME = "invwh.toml"
PYPROJECT_NAME = "pyproject.toml"
# A cheap look at pyproject.toml before parsing it: could it hold [tool.invwh]?
# Compiled only for a pyproject.toml that names invwh at all: most do not, and
# compiling costs every start a tenth of a millisecond.
_MAY_HOLD_TOOL_INVWH = rb"""^[ \t]*(\[[ \t]*tool[ \t]*\]|\[?[ \t]*tool[ \t]*\.[ \t]*["']?invwh\b)"""


def find_config(directory: str | os.PathLike[str] | None = None) -> tuple[str, bool] | None:
    """The config file in ``directory`` (default: the current one) and whether it is
    ``pyproject.toml`` (settings under ``[tool.invwh]``), or None."""
    # os.path, not pathlib: this runs on every start, and pathlib's import costs more than the look.
    directory = os.fspath(directory) if directory is not None else os.curdir
    own = os.path.join(directory, CONFIG_NAME)
    if os.path.isfile(own):
        return own, False
    pyproject = os.path.join(directory, PYPROJECT_NAME)
    if os.path.isfile(pyproject):
        try:
            with open(pyproject, "rb") as file:
                text = file.read()
        except OSError:
            return None  # not ours to complain about: it is only looked at in passing
        if b"invwh" in text:
            import re

            if re.search(_MAY_HOLD_TOOL_INVWH, text, re.MULTILINE):
                return pyproject, True
    return None
