"""``invwh replay``: deliver a recording's bodies again to a receiver."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

import click

from ...events.validation import event_type_names
from ...workflows.delivery import Deliverer
from ...workflows.recording import read_recording
from ...workflows.replay import ReplayItem, ReplayOptions, ReplayTally, replay
from ...workflows.report import (
    MALFORMED,
    SKIPPED,
    UNDELIVERED,
    UNEXPECTED,
    Item,
    LineItem,
    Report,
    delivery_item,
    delivery_report,
)
from ..context import AppContext

if TYPE_CHECKING:
    from rich.text import Text
from ..options import (
    Endpoint,
    FiniteRange,
    endpoint_options,
    expect_option,
    progress_option,
    report_options,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
)

#: The slowest rate is one delivery every 1,000 s: a longer wait between two is a typo.
MIN_RATE = 0.001
MAX_RATE = 1_000_000


@click.command(short_help="POST a recording's deliveries again.")
@click.argument("recording", metavar="RECORDING")
@endpoint_options()
@secret_options()
@scheme_option
@click.option(
    "--keep-signature",
    is_flag=True,
    help="Send the recorded signature headers untouched instead of re-signing (tests replay protection).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Deliveries in flight at once, each on its own connection.",
)
@click.option(
    "--rate",
    type=FiniteRange(MIN_RATE, MAX_RATE),
    help=f"At most this many deliveries a second ({MIN_RATE} to {MAX_RATE:,}).",
)
@click.option(
    "--filter", "event_type", type=click.Choice(event_type_names()), help="Replay only this event type."
)
@click.option("--limit", type=click.IntRange(min=1), help="Replay at most this many deliveries.")
@expect_option
@report_options
@progress_option
@click.pass_obj
def replay_command(
    app: AppContext,
    recording: str,
    endpoint: Endpoint,
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    keep_signature: bool,
    concurrency: int,
    rate: float | None,
    event_type: str | None,
    limit: int | None,
    expected: tuple[int, ...],
    output_format: str,
    junit_path: str | None,
    verbosity: int,
    progress: bool | None,
) -> Report:
    """Replay RECORDING (an `invwh listen --record` file, or - for stdin) against --url.

    Each recorded body is POSTed again byte for byte, re-signed with a fresh
    timestamp (or with its recorded signature, --keep-signature), in the
    recording's order. Malformed lines are reported with their line number
    and skipped; so are recorded requests that were no delivery (another
    method or path, a body refused unread), never sent. Exit status 0 when
    every delivery got an expected status, 1 when any got another or a line
    was malformed, 2 when the recording holds no delivery (to replay), 3 when
    any could not be delivered.

    \b
    Examples:
      invwh replay incident.jsonl --url http://localhost:3000/webhooks
      invwh replay day.jsonl --url http://localhost:3000/webhooks --concurrency 8 --rate 200
      invwh replay day.jsonl --url http://localhost:3000/webhooks --filter stock.depleted --limit 10
      invwh replay day.jsonl --url http://localhost:3000/webhooks --keep-signature --expect 401
    """
    scheme = resolve_scheme(scheme_name)
    if keep_signature and not (secret_values or secret_file):
        secret = None
    else:
        secret = resolve_secret(secret_values, secret_file)
    # As it is now: the receiver replayed to may be the one appending to this very file.
    records = read_recording(sys.stdin.buffer if recording == "-" else recording, as_opened=True)
    options = endpoint.delivery_options(scheme, secret, concurrency=concurrency, rate=rate, own_process=True)
    replay_options = ReplayOptions(
        keep_signature=keep_signature,
        event_type=event_type,
        limit=limit,
        expected=expected or (200,),
    )

    from ..output import progress as shown
    from ..output.reporter import open_reporter

    report = delivery_report("replay", endpoint.url, scheme.name, streamed=True)
    tally = ReplayTally()

    def statistics(report: Report) -> None:
        # At the end, even an interrupted one: how fast, and what the receiver answered.
        seconds = tally.seconds()
        report.extra.update(tally.summary())
        if not tally.statuses and not report.interrupted:
            # A wrong file in CI must not go green: no delivery is an input error.
            name = "standard input" if recording == "-" else recording
            chosen = f" {event_type}" if event_type else ""
            report.nothing_to_deliver = f"{name} holds no{chosen} deliveries"
        if tally.unlisted:
            s = "s" if tally.unlisted != 1 else ""
            report.epilogue.append(f"{tally.unlisted} recorded request{s} that were no delivery skipped")
        rate = f" ({tally.delivered / seconds:.0f}/s)" if seconds and tally.delivered else ""
        listed = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
        report.epilogue.append(
            f"replayed to {report.url} in {seconds:.1f} s{rate}; statuses: {listed or 'none'}"
        )

    # Where the replay stands: read by the status line's own thread, a few times a second.
    position: dict[str, int | None] = {"total": None}
    pace = shown.Pace(tally.started)

    def standing() -> Text:
        done, total, delivered = tally.lines, position["total"], tally.attempted
        lines = f"{done:,} / {total:,} lines" if total else f"{done:,} lines"
        parts = [lines, f"{pace.rate(delivered):,.0f}/s"]
        left = pace.left(done, total)
        if left is not None:
            parts.append(f"{left} left")
        failed = report.counts.get(UNEXPECTED, 0) + report.counts.get(UNDELIVERED, 0)
        return shown.status_line("replay", parts, failed, "unexpected")

    with (
        open_reporter(
            app, report, output_format, junit_path, verbosity, before_finish=statistics
        ) as reporter,
        # Opened before any thread of this process starts: it may fork its sending process.
        Deliverer(options) as deliverer,
        shown.for_report(reporter, standing, color=app.color, progress=progress),
    ):
        if recording != "-" and shown.wanted(progress):
            threading.Thread(target=shown.count_lines, args=(recording, position), daemon=True).start()
        for replayed in replay(records, deliverer, scheme, replay_options):
            item = replay_item(replayed) if replayed.listed else None
            # Counted and reported together: a signal between the two would leave the
            # statistics one delivery ahead of the items.
            with reporter.deferred():
                tally.add(replayed)
                if item is not None:
                    reporter.add(item)
    return report


def replay_item(replayed: ReplayItem) -> Item:
    line = f"line {replayed.line}"
    if replayed.result is not None:
        event = replayed.result.event_type or "not an event"
        return delivery_item(replayed.result, f"{line} ({event})", line=replayed.line)
    outcome = MALFORMED if replayed.malformed else SKIPPED
    why = replayed.skipped or ""
    data = {
        "name": line,
        "outcome": outcome,
        "line": replayed.line,
        "ok": not replayed.malformed,
        "reason": why,
    }
    return LineItem(line, outcome, data, why=why)
