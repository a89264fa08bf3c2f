"""The installed ``invwh`` run with its output on a real pseudo-terminal of a given width."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from conftest import TEST_SECRET

SCRIPT = str(Path(sys.executable).parent / "invwh")


def run_on_a_terminal(
    args: list[str],
    columns: int = 80,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stderr_too: bool = True,
) -> tuple[int, str]:
    """Exit code and what the terminal showed (colours kept), stdout and, if ``stderr_too``, stderr."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("INVWH_") and k not in ("COLUMNS", "LINES", "NO_COLOR")
    }
    process = subprocess.Popen(
        [SCRIPT, *args],
        stdout=terminal,
        stderr=terminal if stderr_too else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**base, "INVWH_SECRET": TEST_SECRET, **(env or {})},
        cwd=cwd,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    return process.wait(timeout=60), output.decode("utf-8").replace("\r\n", "\n")
