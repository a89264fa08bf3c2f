"""``invwh samples``: list the sample events shipped with invwh, or write them into a directory."""

from __future__ import annotations

import click

from ...errors import ExistingFilesError, InputError
from ...events.sample_files import shipped_samples, write_samples
from ...outcome import Outcome
from ..context import AppContext
from ..options import format_option


@click.command(short_help="List the shipped sample events, or write them into a directory.")
@click.argument("directory", required=False, metavar="[DIR]")
@click.option("--force", is_flag=True, help="Overwrite existing files whose content differs.")
@format_option("text", "json")
@click.pass_obj
def samples(app: AppContext, directory: str | None, force: bool, output_format: str) -> Outcome:
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
    from ..output import json
    from ..output.samples_text import write_samples_list, write_samples_written
    from ..output.text import TextWriter

    if directory == "":  # "$DIR" of an unset variable: not the current directory
        raise click.UsageError("the directory is an empty path; name one (. for this one)")
    shipped = shipped_samples()
    if directory is None:
        if output_format == "json":
            json.write(json.samples_document(shipped))
        else:
            write_samples_list(TextWriter(app.color), shipped)
        return Outcome.OK
    try:
        written = write_samples(directory, shipped, force=force)
    except ExistingFilesError as error:
        raise InputError(f"{error} (--force overwrites)") from None
    if output_format == "json":
        json.write(json.written_samples_document(directory, written))
    else:
        write_samples_written(TextWriter(app.color), directory, written)
    return Outcome.OK
