"""The sample events shipped inside the package: which there are, their exact bytes, copying them out.

They are package data (``inventory_cli/samples/``, the invalid ones in its
``invalid/``), read with ``importlib.resources``, so an installed ``invwh``
can give any project the files the README's examples send, byte for byte.
Some are deliberately not written the way ``json.dumps`` would write them
(pretty-printed non-ASCII, ``\\u00e9`` escapes, ``1e3``): a receiver that
re-serializes the JSON before checking the HMAC rejects them.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import NamedTuple

from ..errors import ExistingFilesError, InputError
from ..files import file_access, write_whole
from .validation import EventCheck, check_event

INVALID_DIR = "invalid"


class Sample(NamedTuple):
    name: str  # relative, "/"-separated: "stock-increase.json", "invalid/array.json"
    body: bytes

    def check(self) -> EventCheck:
        return check_event(self.body)


def shipped_samples() -> list[Sample]:
    """The valid samples, sorted by name, then the invalid ones."""
    root = resources.files("inventory_cli.events") / "samples"
    found = []
    for prefix, folder in (("", root), (INVALID_DIR + "/", root / INVALID_DIR)):
        entries = sorted((e for e in folder.iterdir() if e.name.endswith(".json")), key=lambda e: e.name)
        found += [Sample(prefix + entry.name, entry.read_bytes()) for entry in entries]
    return found


def summary(check: EventCheck) -> str:
    """One short line: the event type, or "invalid: " and the gist of the first problem."""
    if check.ok:
        return str(check.event_type)
    message = check.problems[0].message if check.problems else "not an event"
    # The gist is the message's first clause; the whole message is in --format json and `validate`.
    for separator in ("; ", ": ", " ("):
        message = message.split(separator, 1)[0]
    return f"invalid: {message}"


class Written(NamedTuple):
    sample: Sample
    path: str
    action: str  # "written" (new), "unchanged" (already identical), "overwritten" (when forced)


def plan_writes(directory: str, samples: list[Sample]) -> list[Written]:
    """Where each sample goes under ``directory`` and what writing it would do; writes nothing.

    "overwritten" here means the file exists with other bytes: only ``force``
    writes it. Everything that would stop the writing half-way is found here,
    before the first file: a folder or a file under ``directory`` that is a
    symbolic link (dangling or not: it leads outside ``directory``), a file
    where a folder goes, a folder where a file goes.
    """
    if not directory:
        raise InputError("the directory is an empty path")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"{directory}: exists and is not a directory")
    plan = []
    for sample in samples:
        *folders, _ = sample.name.split("/")
        for depth in range(1, len(folders) + 1):
            _check_folder(os.path.join(directory, *folders[:depth]))
        path = os.path.join(directory, *sample.name.split("/"))
        _refuse_link(path)
        plan.append(Written(sample, path, _action(path, sample.body)))
    return plan


def write_samples(directory: str, samples: list[Sample], *, force: bool = False) -> list[Written]:
    """Writes each sample's exact bytes under ``directory``, creating folders as needed.

    An existing file with other bytes is someone's edit: unless ``force``, the
    whole run is refused (ExistingFilesError) before anything is written. Each file is
    written whole (``write_whole``): a failure leaves the file that was there.
    """
    plan = plan_writes(directory, samples)
    differing = [item.path for item in plan if item.action == "overwritten"]
    if differing and not force:
        others = f" and {len(differing) - 1} more" if len(differing) > 1 else ""
        raise ExistingFilesError(
            f"{differing[0]}{others}: already exists with other content; nothing written", differing
        )
    for item in plan:
        if item.action == "unchanged":
            continue
        folder = os.path.dirname(item.path) or "."
        with file_access(folder, verb="create the directory"):
            os.makedirs(folder, exist_ok=True)
        write_whole(item.path, [item.sample.body])
    return plan


def _refuse_link(path: str) -> None:
    if os.path.islink(path):
        raise InputError(f"{path}: is a symbolic link; nothing written (invwh does not write through links)")


def _check_folder(path: str) -> None:
    _refuse_link(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f"{path}: exists and is not a directory; nothing written")


def _action(path: str, body: bytes) -> str:
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, where a sample file would go")
    try:
        with open(path, "rb") as file:
            existing = file.read(len(body) + 1)
    except FileNotFoundError:
        return "written"
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror or error}") from None
    return "unchanged" if existing == body else "overwritten"
