"""``invwh verify``: would a receiver accept this delivery, and if not, why not."""

from __future__ import annotations

import contextlib
import sys
from typing import IO, TYPE_CHECKING

import click

from ...errors import InputError
from ...events.payloads import read_payload
from ...outcome import Outcome
from ...signing.schemes import Scheme
from ...signing.signatures import MAX_UNIX_SECONDS, Secret
from ..context import AppContext
from ..options import (
    FiniteRange,
    check_method,
    check_notification_url,
    format_option,
    header_option,
    notification_url_option,
    parse_headers,
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


@click.command(short_help="Say whether a received delivery is valid, and why not.")
@click.option("--body", "body_path", metavar="PATH", help="The received body: a file, or - for stdin.")
@click.option(
    "--recording",
    "recording_path",
    metavar="FILE",
    help="Audit every delivery in an `invwh listen --record` file instead (- for stdin).",
)
@header_option(
    "A received header, 'Name: value' (repeatable; names are case-insensitive). "
    "@FILE reads 'Name: value' lines from FILE, as `invwh sign` writes them (@- from stdin)."
)
@secret_options(multiple=True)
@scheme_option
@click.option(
    "--method", default="POST", show_default=True, callback=check_method, help="The request's HTTP method."
)
@tolerance_option("Reject timestamps older or further ahead than this many seconds; 0 turns the check off.")
@click.option(
    "--now",
    type=FiniteRange(0, MAX_UNIX_SECONDS),
    metavar="UNIX",
    help="Pin the clock, for reproducible checks.",
)
@notification_url_option(
    "The URL the delivery was sent to, for a scheme that signs it (square; needed there)."
)
@click.option("--no-validate", is_flag=True, help="Check the signature only, not the payload.")
@click.option(
    "--explain",
    is_flag=True,
    help="With --recording: under each failing line, the likely cause verify would name.",
)
@format_option("text", "json")
@progress_option
@click.pass_obj
def verify(
    app: AppContext,
    body_path: str | None,
    recording_path: str | None,
    header_lines: tuple[str, ...],
    secret_values: tuple[str, ...],
    secret_file: tuple[str, ...],
    scheme_name: str,
    method: str,
    tolerance: int,
    now: float | None,
    notification_url: str | None,
    no_validate: bool,
    explain: bool,
    output_format: str,
    progress: bool | None,
) -> Outcome:
    """Check a received delivery's signature, timestamp and payload.

    Exit status 0 when the delivery is valid, 1 when a check fails (with the
    likely cause where one can be found), 2 for usage errors.

    With --recording, audit a whole recording instead: every delivery is
    judged as it would have been on arrival (the timestamp's age is measured
    against its received time), and a summary per event type follows the
    line numbers of the failures. Exit status 1 if any fails, 2 if it holds
    no delivery (requests that were no delivery are skipped). --explain adds
    the likely cause of each failure (JSON: each failure's "hints").

    \b
    Examples:
      invwh verify --body body.json \\
          -H "X-Webhook-Signature: v1=B4XU...Yg==" -H "X-Timestamp: 1700000000"
      invwh verify --body - -H "$SIG_HEADER" -H "$TS_HEADER" --secret-file .secret --format json
      invwh verify --body body.json -H @headers.txt     # as `invwh sign body.json > headers.txt` wrote
      invwh verify --body body.json -H ... --secret-file old.key --secret-file new.key
      invwh verify --body body.json -H ... --tolerance 0     # skip the age check
      invwh verify --recording deliveries.jsonl --secret-file .secret
      invwh verify --recording deliveries.jsonl --secret-file .secret --explain
      invwh verify --body body.json --scheme square -H @headers.txt \\
          --notification-url https://shop.example/hooks/square
    """
    from ...workflows.verdict import judge

    if (body_path is None) == (recording_path is None):
        raise click.UsageError("give --body (one delivery) or --recording (a whole recording)")
    if recording_path is not None and (header_lines or now is not None):
        raise click.UsageError("-H and --now go with --body: a recording has its own headers and times")
    if explain and recording_path is None:
        raise click.UsageError("--explain goes with --recording: --body always names the likely cause")
    scheme = resolve_scheme(scheme_name)
    notification_url = check_notification_url(scheme, notification_url)
    secrets = resolve_secrets(secret_values, secret_file)
    from ...signing.signatures import refuse_unusable

    refuse_unusable(
        scheme, secrets
    )  # a secret not in the scheme's form is an input error, as for sign (exit 2)
    if recording_path is not None:
        return _audit(
            app,
            recording_path,
            scheme,
            secrets,
            tolerance,
            not no_validate,
            explain,
            output_format,
            notification_url,
            progress,
        )
    assert body_path is not None
    if body_path == "-" and "@-" in header_lines:
        raise InputError("-H @-: standard input is taken (--body -); put the headers in a file")
    headers = parse_headers(header_lines, stdin=sys.stdin.buffer)
    loaded = read_payload(body_path)
    verdict = judge(
        scheme,
        secrets,
        loaded.body,
        headers,
        method=method,
        tolerance=tolerance,
        now=now,
        validate=not no_validate,
        url=notification_url,
    )

    if output_format == "json":
        from ..output import json

        json.write(json.verdict_document(loaded.name, verdict))
    else:
        from ..output.text import TextWriter
        from ..output.verdict_text import write_verdict

        write_verdict(TextWriter(app.color), verdict, loaded.name)
    return Outcome.OK if verdict.valid else Outcome.FAILED


def _audit(
    app: AppContext,
    path: str,
    scheme: Scheme,
    secrets: list[Secret],
    tolerance: int,
    validate: bool,
    explain: bool,
    output_format: str,
    notification_url: str | None,
    progress: bool | None,
) -> Outcome:
    from ...files import file_access
    from ...workflows.audit import AuditTally, audit
    from ...workflows.recording import read_recording
    from ..output import progress as shown

    stream: IO[bytes]
    if path == "-":
        stream = sys.stdin.buffer
    else:  # opened here, so that the status line can say how far the reading has come
        with file_access(f"recording {path}"):
            stream = open(path, "rb")  # noqa: SIM115 - closed below
    records = read_recording(stream)
    tally = AuditTally()
    report: AuditJson | AuditText
    if output_format == "json":
        from ..output.json import AuditJson

        report = AuditJson(path, explain=explain)
    else:
        from ..output.verdict_text import AuditText

        report = AuditText(app.color)
    items = audit(
        records,
        scheme,
        secrets,
        tolerance=tolerance,
        validate=validate,
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
    empty = None if tally.deliveries else f"{'standard input' if path == '-' else path} holds no deliveries"
    report.finish(tally, empty)
    if empty is not None:
        raise InputError(empty)
    return Outcome.OK if tally.ok else Outcome.FAILED
