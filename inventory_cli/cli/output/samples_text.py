"""``invwh samples`` for people: the shipped samples, or what was written where, and a count.

Left-aligned columns, the size right-aligned, with no rule: the listing the
README shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .text import TextWriter, printable

if TYPE_CHECKING:
    from ...events.sample_files import Sample, Written

#: In the order the summary line counts them.
ACTIONS = ("written", "overwritten", "unchanged")


def write_samples_list(writer: TextWriter, shipped: Sequence[Sample]) -> None:
    from ...events.sample_files import summary

    rows = [(s.name, summary(s.check()), f"{len(s.body)} B") for s in shipped]
    writer.table(("sample", "event", "size"), rows, right=(2,), flexible=(1,), rule=False, gap=2)
    invalid = sum(1 for s in shipped if not s.check().ok)
    writer.line(
        f"{len(shipped)} samples, {len(shipped) - invalid} valid and {invalid} invalid; "
        "`invwh samples DIR` writes them into DIR"
    )


def write_samples_written(writer: TextWriter, directory: str, written: Sequence[Written]) -> None:
    from ...events.sample_files import summary

    rows = [
        (item.action, printable(item.path), summary(item.sample.check()), f"{len(item.sample.body)} B")
        for item in written
    ]
    writer.table(None, rows, right=(3,), flexible=(2,), gap=2)
    counts = {action: sum(1 for item in written if item.action == action) for action in ACTIONS}
    done = ", ".join(f"{count} {action}" for action, count in counts.items() if count)
    writer.line(f"{len(written)} samples in {printable(directory)}: {done}")
