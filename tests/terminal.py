"""The installed ``invwh`` run with its output on a real pseudo-terminal of a given width."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
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
        if not k.startswith("INVWH_") and k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")
    }
    process = subprocess.Popen(
        [SCRIPT, *args],
        stdout=terminal,
        stderr=terminal if stderr_too else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={**base, "TERM": "xterm-256color", "INVWH_SECRET": TEST_SECRET, **(env or {})},
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


class Terminal:
    """The installed ``invwh`` on a pseudo-terminal ``columns`` wide, read while it runs.

    ``wait_for(text)`` reads what the terminal shows until ``text`` appears (or the
    timeout passes, or the process ends) and says whether it did; ``finish()`` reads
    the rest and gives the exit code and everything shown. stdout and stderr share the
    terminal, as they do for a person; stdin is ``stdin`` (a pipe the test writes to,
    or nothing).
    """

    def __init__(
        self,
        args: list[str],
        columns: int = 80,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
    ) -> None:
        self.controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("INVWH_") and k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")
        }
        self.process = subprocess.Popen(
            [SCRIPT, *args],
            stdout=terminal,
            stderr=terminal,
            stdin=stdin,
            env={**base, "TERM": "xterm-256color", "INVWH_SECRET": TEST_SECRET, **(env or {})},
            cwd=cwd,
        )
        os.close(terminal)
        self.shown = b""
        self._closed = False

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.controller], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.controller, 65536)
        except OSError:  # the terminal's other end closed: the process is done
            chunk = b""
        if not chunk:
            self._closed = True
            return False
        self.shown += chunk
        return True

    @property
    def text(self) -> str:
        return self.shown.decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            left = deadline - time.monotonic()
            if left <= 0 or self._closed or not self._read(min(left, 0.1)):
                return text in self.text
        return True

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while not self._closed and time.monotonic() < deadline:
            self._read(0.1)
        os.close(self.controller)
        return self.process.wait(timeout=timeout), self.text.replace("\r\n", "\n")

    def running(self) -> bool:
        return self.process.poll() is None
