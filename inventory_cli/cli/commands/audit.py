"""``invwh audit``: judge every delivery of a recording as a receiver would have on arrival."""

from __future__ import annotations

import contextlib
import sys
from typing import IO, TYPE_CHECKING

import click

from ...errors import InputError
from ...outcome import Outcome
from ..context import AppContext
from ..options import (
    check_notification_url,
    format_option,
    notification_url_option,
    progress_option,
    resolve_scheme,
    resolve_secrets,
    scheme_option,
    secret_options,
    tolerance_option,
)

if TYPE_CHECKING:
    from ..output.json import AuditJson
    from ..output.verdict_text import AuditText


@click.command(short_help="Judge every delivery of a recording, as it was on arrival.")
@click.argument("recording_path", metavar="RECORDING")
@secret_options(multiple=True)
@scheme_option
@tolerance_option(
    "Reject timestamps older or further ahead than this many seconds of their received time; "
    "0 turns the check off."
)
@notification_url_option(
    "The URL the deliveries were sent to, for a scheme that signs it (square; needed there)."
)
@click.option("--no-validate", is_flag=True, help="Check the signatures only, not the payloads.")
@click.option("--explain", is_flag=True, help="Under each failing line, the likely cause verify would name.")
@format_option("text", "json")
@progress_option
@click.pass_obj
def audit(
    app: AppContext,
    recording_path: str,
    secret_values: tuple[str, ...],
    secret_file: tuple[str, ...],
    scheme_name: str,
    tolerance: int,
    notification_url: str | None,
    no_validate: bool,
    explain: bool,
    output_format: str,
    progress: bool | None,
) -> Outcome:
    """Audit a recording written by `invwh listen --record` (- for stdin).

    Every delivery is judged as it would have been on arrival (the
    timestamp's age is measured against its received time); the line
    numbers of the failures come as the audit reaches them, then a summary
    per event type. Requests that were no delivery are skipped. --explain
    adds the likely cause of each failure (JSON: each failure's "hints").

    Exit status 0 when every delivery is valid, 1 if any fails, 2 for usage
    errors and for a recording that holds no delivery.

    \b
    Examples:
      invwh audit deliveries.jsonl --secret-file .secret
      invwh audit deliveries.jsonl --secret-file .secret --explain
      invwh audit deliveries.jsonl --secret-file old.key --secret-file new.key --format json
      invwh audit - --tolerance 0 < deliveries.jsonl     # from stdin, no age check
      invwh audit deliveries.jsonl --scheme square \\
          --notification-url https://shop.example/hooks/square
    """
    from ...files import file_access
    from ...signing.signatures import refuse_unusable
    from ...workflows.audit import AuditTally
    from ...workflows.audit import audit as judge_each
    from ...workflows.recording import read_recording
    from ..output import progress as shown

    scheme = resolve_scheme(scheme_name)
    notification_url = check_notification_url(scheme, notification_url)
    secrets = resolve_secrets(secret_values, secret_file)
    refuse_unusable(scheme, secrets)  # a secret not in the scheme's form is an input error (exit 2)
    stream: IO[bytes]
    if recording_path == "-":
        stream = sys.stdin.buffer
    else:  # opened here, so that the status line can say how far the reading has come
        with file_access(f"recording {recording_path}"):
            stream = open(recording_path, "rb")  # noqa: SIM115 - closed below
    records = read_recording(stream)
    tally = AuditTally()
    report: AuditJson | AuditText
    if output_format == "json":
        from ..output.json import AuditJson

        report = AuditJson(recording_path, explain=explain)
    else:
        from ..output.verdict_text import AuditText

        report = AuditText(app.color)
    items = judge_each(
        records,
        scheme,
        secrets,
        tolerance=tolerance,
        validate=not no_validate,
        explain=explain,
        url=notification_url,
    )
    writer = getattr(report, "writer", None)
    with (
        contextlib.closing(stream),
        shown.Progress(
            shown.audit_status(tally, stream),
            color=app.color,
            enabled=shown.wanted(progress),
            writers=(writer,),
        ),
    ):
        for item in items:
            tally.add(item)
            report.add(item)
    # A wrong file in CI must not go green: a recording with no delivery is an input error.
    where = "standard input" if recording_path == "-" else recording_path
    empty = None if tally.deliveries else f"{where} holds no deliveries"
    report.finish(tally, empty)
    if empty is not None:
        raise InputError(empty)
    return Outcome.OK if tally.ok else Outcome.FAILED
