"""``invwh demo``: the whole job on built-in events, no setup needed."""

from __future__ import annotations

import click

from .app import AppContext
from .send import delivery_status
from .status import ExitStatus


@click.command(short_help="Run the whole job on built-in events, no setup needed.")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
def demo(app: AppContext, output_format: str) -> ExitStatus:
    """Run a local verifying receiver and deliver signed events to it.

    Starts `invwh listen` in-process on a free port, sends a fresh event of
    each type, a forged one and one that is not an event, and reports what
    the receiver answered. Everything is signed with a built-in demo secret,
    for this demo only. Exit status 0 when every answer is the right one.

    \b
    Examples:
      invwh demo
      invwh demo --format json
    """
    from ..demo import run_demo
    from . import render

    results = run_demo()
    if output_format == "text":
        app.console().print(
            "[bold]invwh demo[/]: a local receiver verifying inventory-v1 signatures with a built-in "
            "demo secret; each row is one delivery and the answer it must get."
        )
    render.delivery_report(app, results, output_format, None, suite="invwh demo")
    return delivery_status(results)
