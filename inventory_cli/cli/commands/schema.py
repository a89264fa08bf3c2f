"""``invwh schema``: print the JSON Schema of an event type, or of the union."""

from __future__ import annotations

import click

from ...events.validation import event_type_names, get_event_type, union_schema
from ...outcome import Outcome


@click.command(short_help="Print an event type's JSON Schema.")
@click.argument("event_type", required=False, metavar="[TYPE]", type=click.Choice(event_type_names()))
def schema(event_type: str | None) -> Outcome:
    """Print the JSON Schema (draft 2020-12) of TYPE, or of the union of all three.

    \b
    Examples:
      invwh schema                       # the InventoryChangeEvent union
      invwh schema stock.depleted > depleted.schema.json
    """
    from ..output import json

    json.write(get_event_type(event_type).schema if event_type else union_schema())
    return Outcome.OK
