"""``invwh demo``: the whole job on built-in events, no setup needed."""

from __future__ import annotations

import click

from ...workflows.report import Report
from ..context import AppContext
from ..options import format_option


@click.command(short_help="Run the whole job on built-in events, no setup needed.")
@format_option("text", "json")
@click.pass_obj
def demo(app: AppContext, output_format: str) -> Report:
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
    from ...signing.schemes import INVENTORY_V1
    from ...workflows.demo import run_demo
    from ...workflows.report import delivery_item, delivery_report
    from ..output.reporter import open_reporter

    results = run_demo()
    report = delivery_report("demo", results[0].url, INVENTORY_V1.name)
    report.preamble.append(
        "A local receiver verifying inventory-v1 signatures with a built-in demo secret; "
        "each row is one delivery and the answer it must get."
    )
    with open_reporter(app, report, output_format, None) as reporter:
        for result in results:
            reporter.add(delivery_item(result))
    return report
