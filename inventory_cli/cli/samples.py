"""``invwh samples``: list the sample events shipped with invwh, or write them into a directory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from ..sample_events import Sample, Written, shipped_samples, summary, write_samples
from ..verdict import event_check_dict
from .app import AppContext
from .console import escape
from .options import format_option
from .status import ExitStatus

#: In the order the summary line counts them.
ACTIONS = ("written", "overwritten", "unchanged")


@click.command(short_help="List the shipped sample events, or write them into a directory.")
@click.argument("directory", required=False, metavar="[DIR]")
@click.option("--force", is_flag=True, help="Overwrite existing files whose content differs.")
@format_option("text", "json")
@click.pass_obj
def samples(app: AppContext, directory: str | None, force: bool, output_format: str) -> ExitStatus:
    """List the sample events that ship with invwh, or write them into DIR.

    Valid events go at the top of DIR and invalid ones in DIR/invalid/, byte
    for byte: some are pretty-printed with non-ASCII text, some use \\u00e9
    escapes or numbers like 1e3, so a receiver that re-serializes the JSON
    before checking the signature rejects them. DIR is created if missing;
    a file already there with the same bytes is left alone, one with other
    bytes stops the run with nothing written, unless --force.

    \b
    Examples:
      invwh samples
      invwh samples samples/
      invwh samples samples/ && invwh send samples/ --url http://localhost:3000/webhooks
      invwh samples --format json | jq -r '.samples[] | select(.valid) | .name'
    """
    shipped = shipped_samples()
    if directory is None:
        if output_format == "json":
            _write_json({"samples": [_sample_dict(sample) for sample in shipped]})
        else:
            _list_text(app, shipped)
        return ExitStatus.OK
    written = write_samples(directory, shipped, force=force)
    if output_format == "json":
        _write_json(
            {
                "directory": directory,
                "samples": [
                    {**_sample_dict(item.sample), "path": item.path, "action": item.action}
                    for item in written
                ],
            }
        )
    else:
        _written_text(app, directory, written)
    return ExitStatus.OK


def _sample_dict(sample: Sample) -> dict[str, Any]:
    check = sample.check()
    return {
        "name": sample.name,
        "size": len(sample.body),
        "summary": summary(check),
        **event_check_dict(check),
    }


def _write_json(data: Any) -> None:
    from . import render

    render.write_json(data)


def _rows(app: AppContext, rows: Sequence[tuple[str, ...]]) -> None:
    """Left-aligned columns, the last (a size) right-aligned; plain text, no table to import."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    console = app.console()
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        console.print(escape("  ".join([*cells, row[-1].rjust(widths[-1])])))


def _list_text(app: AppContext, shipped: list[Sample]) -> None:
    rows = [("sample", "event", "size")]
    rows += [(s.name, summary(s.check()), f"{len(s.body)} B") for s in shipped]
    _rows(app, rows)
    invalid = sum(1 for s in shipped if not s.check().ok)
    app.console().print(
        f"{len(shipped)} samples, {len(shipped) - invalid} valid and {invalid} invalid; "
        "`invwh samples DIR` writes them into DIR"
    )


def _written_text(app: AppContext, directory: str, written: list[Written]) -> None:
    rows = [
        (item.action, item.path, summary(item.sample.check()), f"{len(item.sample.body)} B")
        for item in written
    ]
    _rows(app, rows)
    counts = {action: sum(1 for item in written if item.action == action) for action in ACTIONS}
    done = ", ".join(f"{count} {action}" for action, count in counts.items() if count)
    app.console().print(f"{len(written)} samples in {escape(directory)}: {done}")
