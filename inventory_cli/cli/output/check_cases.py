"""``invwh check --list-cases``: each case's id, level and what it checks, as text or JSON."""

from __future__ import annotations

import json

import click

from ...workflows.check_cases import CASES, PAYLOAD_CASE


def print_cases(output_format: str) -> None:
    if output_format == "json":
        cases = [{"id": c.id, "name": c.name, "level": c.level, "about": c.about} for c in CASES]
        click.echo(json.dumps({"cases": cases}, ensure_ascii=False, indent=2))
        return
    width = max(len(case.id) for case in CASES)
    for case in CASES:
        click.echo(f"{case.id:<{width}}  {case.level:<11}  {case.about}")
    click.echo(f"With --payload FILE, the n-th payload's case is {PAYLOAD_CASE.format('n')}.")
