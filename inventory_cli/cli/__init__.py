"""The command-line interface: a thin click layer over the core.

``main`` is the ``invwh`` command (the console script and ``python -m
inventory_cli``); ``cli`` is the click group itself, for click's test runner
and for embedding. Importing this package loads neither click nor ``app``:
``main`` loads them, with the garbage collector set up for a short run.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Run ``invwh`` on the command line's arguments: the process's entry point.

    What loads first (click and the group) lives as long as the process, so
    the collections its allocations trigger free nothing, and the full
    collection at exit scans all of it again. So it loads with the collector
    off and is then frozen (``gc.freeze``: kept, never scanned), and the
    collector is back on before any command runs: a long ``listen`` or
    ``replay`` collects as usual. This spares ``invwh sign`` about a tenth of
    its start-up (bench/README.md). Only this entry point does it; code that
    imports ``cli`` keeps its collector as it was.
    """
    try:
        collecting = gc.isenabled()
        gc.disable()
        try:
            from .app import main as run_invwh
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
        run_invwh()
    except KeyboardInterrupt:
        # Ctrl-C while click loads or parses (the commands handle their own, in ``app``):
        # the same line and status as an interrupted command, not a traceback or click's "Aborted!".
        import sys

        sys.stderr.write("invwh: interrupted\n")
        sys.exit(130)


def __getattr__(name: str) -> Any:
    if name == "cli":
        from .app import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
