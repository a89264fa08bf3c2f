"""``invwh validate``: is each payload one of the three inventory events."""

from __future__ import annotations

import click

from ...events.payloads import expand_paths, read_payload
from ...events.validation import check_event
from ...outcome import Outcome
from ..context import AppContext
from ..options import format_option


@click.command(short_help="Check payloads against the three event schemas.")
@click.argument("payloads", nargs=-1, required=True, metavar="PAYLOAD...")
@format_option("text", "json")
@click.pass_obj
def validate(app: AppContext, payloads: tuple[str, ...], output_format: str) -> Outcome:
    """Validate each PAYLOAD (a file, a directory of *.json, or - for stdin) against the event schemas.

    Exit status 0 when every payload is a valid event, 1 when any is not.

    \b
    Examples:
      invwh validate samples/*.json
      invwh validate - < body.json
      invwh validate samples/*.json --format json | jq '.files[] | select(.valid | not)'
    """
    results = [(p.name, check_event(p.body)) for p in map(read_payload, expand_paths(list(payloads)))]

    if output_format == "json":
        from ..output import json

        json.write(json.validation_document(results))
    else:
        from ..output.plain import PlainWriter
        from ..output.verdict_text import write_validation

        write_validation(PlainWriter(app.color), results)
    return Outcome.OK if all(check.ok for _, check in results) else Outcome.FAILED
