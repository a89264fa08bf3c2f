"""``invwh check --list-cases``: each case's id, level and what it checks, as text or JSON.

The text is a table laid out by rich (``text.TextWriter``): what a case
checks wraps under itself when the line is wider than the terminal.
"""

from __future__ import annotations

import json

import click

from ...workflows.check_cases import CASES, PAYLOAD_CASE


def print_cases(output_format: str, color: bool | None = None) -> None:
    if output_format == "json":
        cases = [{"id": c.id, "name": c.name, "level": c.level, "about": c.about} for c in CASES]
        click.echo(json.dumps({"cases": cases}, ensure_ascii=False, indent=2))
        return
    from .text import TextWriter

    writer = TextWriter(color)
    writer.table(None, [(case.id, case.level, case.about) for case in CASES], flexible=(2,), gap=2)
    writer.wrapped(f"With --payload FILE, the n-th payload's case is {PAYLOAD_CASE.format('n')}.")
