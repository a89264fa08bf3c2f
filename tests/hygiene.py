"""Secret hygiene: no secret the suite uses may show in anything the tool wrote.

``conftest.py`` wires this in for the whole session: every stdout and stderr
of the ``invwh`` fixture, every output of a subprocess (the installed
command), and, at the end, every file under the session's pytest tmp
directory (recordings, JUnit and JSON reports, redirected outputs) are
searched for every registered secret. Any hit fails the session.

A secret is registered with ``register_secret``; it must be distinctive
(``MIN_LENGTH`` characters or more), so that finding it means a leak and not
a common word. Two kinds of file are inputs a test wrote where a secret
belongs, not outputs, and are not searched: a secret file (its whole content
is a secret, give or take surrounding whitespace) and a config file
(``*.toml``). One line of output may hold a secret: ``::add-mask::VALUE`` (a line
of a secret, or the whole secret escaped onto one line),
the command that tells GitHub's runner to hide the secret in the log (the
GitHub Action's run step writes it; the runner never shows it). There is no
other exemption: output that shows a secret is a bug in the tool.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_LENGTH = 6

#: GitHub's workflow command to mask a value in the log: consumed by the runner, never shown.
MASK_COMMAND = b"::add-mask::"

#: Every secret the suite uses in a way that could reach an output.
SECRETS: set[str] = set()


def register_secret(*texts: str) -> None:
    for text in texts:
        if len(text.strip()) < MIN_LENGTH:
            raise ValueError(f"{text!r} is too short to find reliably: use a distinctive secret")
        SECRETS.add(text)


def forms(secret: str) -> set[bytes]:
    """The ways a secret could appear in an output: as UTF-8, or escaped in JSON."""
    found = {secret.encode("utf-8")}
    for ensure_ascii in (True, False):
        found.add(json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1].encode("utf-8"))
    return found


def _as_bytes(data: str | bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    return data.encode("utf-8", "surrogateescape")


@dataclass
class Leak:
    where: str
    secret: str

    def __str__(self) -> str:
        return f"{self.where}: holds the secret {self.secret!r}"


@dataclass
class Hygiene:
    """What the session produced, and the search through it."""

    outputs: list[tuple[str, bytes]] = field(default_factory=list)
    files_searched: int = 0

    def capture(self, where: str, *streams: str | bytes | None) -> None:
        for data in streams:
            if data:
                self.outputs.append((where, _as_bytes(data)))

    def leaks(self, secrets: set[str], roots: list[Path]) -> list[Leak]:
        patterns = {secret: forms(secret) for secret in secrets}
        found = [
            Leak(where, secret)
            for where, data in self.outputs
            for secret, shapes in patterns.items()
            if any(shape in _without_mask_commands(data, shapes) for shape in shapes)
        ]
        self.files_searched = 0
        for path in _files(roots):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if path.suffix == ".toml" or data.strip().decode("utf-8", "replace") in secrets:
                continue  # an input: a config file, or a secret file for --secret-file
            self.files_searched += 1
            found += [
                Leak(str(path), secret)
                for secret, shapes in patterns.items()
                if any(shape in data for shape in shapes)
            ]
        return found


def _without_mask_commands(data: bytes, shapes: set[bytes]) -> bytes:
    # The runner shows no `::add-mask::` line, whatever value it masks: a line of a multi-line
    # secret, or the whole secret escaped (%0A) on one line. A line after it is shown.
    return re.sub(rb"(?m)^" + re.escape(MASK_COMMAND) + rb"[^\n]*\n", b"", data)


def _files(roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        for directory, _, names in os.walk(root):
            for name in names:
                path = Path(directory, name)
                if path.is_file() and not path.is_symlink():
                    yield path


class _Tee:
    """A subprocess pipe that keeps a copy of what the test reads from it."""

    def __init__(self, stream: Any, where: str, hygiene: Hygiene) -> None:
        self._stream = stream
        self._where = where
        self._hygiene = hygiene

    def _keep(self, data: Any) -> Any:
        self._hygiene.capture(self._where, data)
        return data

    def read(self, *args: Any) -> Any:
        return self._keep(self._stream.read(*args))

    def readline(self, *args: Any) -> Any:
        return self._keep(self._stream.readline(*args))

    def readlines(self, *args: Any) -> Any:
        lines = self._stream.readlines(*args)
        for line in lines:
            self._keep(line)
        return lines

    def __iter__(self) -> _Tee:
        return self

    def __next__(self) -> Any:
        return self._keep(next(self._stream))

    def __enter__(self) -> _Tee:  # `with` looks these up on the type, past __getattr__
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def recording_popen(hygiene: Hygiene) -> type[subprocess.Popen]:
    """A ``subprocess.Popen`` that hands every output it produces to ``hygiene``."""

    class RecordingPopen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            super().__init__(args, *rest, **kwargs)
            where = f"{os.environ.get('PYTEST_CURRENT_TEST', '?')}: subprocess {_program(args)}"
            if self.stdout is not None:
                self.stdout = _Tee(self.stdout, f"{where} stdout", hygiene)  # type: ignore[assignment]
            if self.stderr is not None:
                self.stderr = _Tee(self.stderr, f"{where} stderr", hygiene)  # type: ignore[assignment]
            self._hygiene_where = where

        def communicate(self, *args: Any, **kwargs: Any) -> Any:
            stdout, stderr = super().communicate(*args, **kwargs)
            hygiene.capture(f"{self._hygiene_where} output", stdout, stderr)
            return stdout, stderr

    return RecordingPopen


def _program(args: Any) -> str:
    """The program's name only: the arguments may hold a secret, and this label is printed."""
    first = args if isinstance(args, (str, bytes, os.PathLike)) else next(iter(args), "?")
    words = os.fsdecode(first).split()
    return os.path.basename(words[0]) if words else "?"
