"""The context every command is handed: built once per run by the ``invwh`` group.

Its own module so that ``options`` and the commands can name it without
importing ``app`` (which loads them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.load import Config


class AppContext:
    """Built once per run and handed to every command: colour and the config file.

    Commands print through ``cli/output/``'s modules, giving them ``color``.
    """

    def __init__(self, color: bool | None = None, config: Config | None = None) -> None:
        self.color = color  # None: decide by terminal and NO_COLOR (output.text.color_wanted)
        self.config = config  # None: no config file
