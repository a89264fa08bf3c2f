"""Reading payloads: a file's exact bytes, or standard input's."""

from __future__ import annotations

import os
import sys
from typing import BinaryIO, NamedTuple

from ..errors import InputError
from ..files import file_access

#: Bigger than any real webhook body; keeps a wrong path (a log, an image)
#: from being read into memory whole.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


class Payload(NamedTuple):
    name: str  # the path as given, or "<stdin>"
    body: bytes


def read_payload(path: str, *, stdin: BinaryIO | None = None, limit: int = MAX_PAYLOAD_BYTES) -> Payload:
    """The exact bytes of ``path`` (``-`` reads standard input). Raises InputError."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise InputError(f"<stdin> is larger than the {_size(limit)} limit for a payload")
        return Payload("<stdin>", body)
    with file_access(path, directory="is a directory, not a payload file"), open(path, "rb") as handle:
        body = handle.read(limit + 1)
    if len(body) > limit:
        raise InputError(f"{path}: larger than the {_size(limit)} limit for a payload")
    return Payload(path, body)


def expand_paths(paths: list[str]) -> list[str]:
    """Each path as given, except that a directory stands for its ``*.json`` files, sorted."""
    out: list[str] = []
    for path in paths:
        if path != "-" and os.path.isdir(path):
            names = (os.path.join(path, name) for name in os.listdir(path) if name.endswith(".json"))
            found = sorted(name for name in names if os.path.isfile(name))
            if not found:
                raise InputError(f"{path}: no *.json files in this directory")
            out.extend(found)
        else:
            out.append(path)
    return out


def _size(count: int) -> str:
    return f"{count // (1024 * 1024)} MiB" if count >= 1024 * 1024 else f"{count} bytes"
