"""``invwh validate``: is each payload one of the three inventory events."""

from __future__ import annotations

import click

from ..events import check_event
from ..payloads import expand_paths, read_payload
from ..verdict import event_check_dict
from .app import AppContext
from .status import ExitStatus


@click.command(short_help="Check payloads against the three event schemas.")
@click.argument("payloads", nargs=-1, required=True, metavar="PAYLOAD...")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def validate(app: AppContext, payloads: tuple[str, ...], output_format: str) -> ExitStatus:
    """Validate each PAYLOAD (a file, a directory of *.json, or - for stdin) against the event schemas.

    Exit status 0 when every payload is a valid event, 1 when any is not.

    \b
    Examples:
      invwh validate samples/*.json
      invwh validate - < body.json
      invwh validate samples/*.json --format json | jq '.files[] | select(.valid | not)'
    """
    results = [(p.name, check_event(p.body)) for p in map(read_payload, expand_paths(list(payloads)))]

    from . import render

    if output_format == "json":
        render.write_json(
            {
                "ok": all(check.ok for _, check in results),
                "files": [{"file": name, **event_check_dict(check)} for name, check in results],
            }
        )
    else:
        render.validation_text(app, results)
    return ExitStatus.OK if all(check.ok for _, check in results) else ExitStatus.CHECK_FAILED
