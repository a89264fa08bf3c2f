"""``invwh verify``: would a receiver accept this delivery, and if not, why not."""

from __future__ import annotations

import sys

import click

from ...errors import InputError
from ...events.payloads import read_payload
from ...outcome import Outcome
from ...signing.signatures import MAX_UNIX_SECONDS
from ..context import AppContext
from ..options import (
    FiniteRange,
    check_method,
    check_notification_url,
    format_option,
    header_option,
    notification_url_option,
    parse_headers,
    resolve_scheme,
    resolve_secrets,
    scheme_option,
    secret_options,
    tolerance_option,
)


class VerifyCommand(click.Command):
    """``verify``, whose usage error for the ``--recording`` it once had points to ``invwh audit``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            if error.option_name not in ("--recording", "--explain"):
                raise
            moved = f"no such option {error.option_name!r}: a recording is audited by 'invwh audit RECORDING'"
            raise click.UsageError(moved, ctx) from None


@click.command(cls=VerifyCommand, short_help="Say whether a received delivery is valid, and why not.")
@click.option(
    "--body", "body_path", metavar="PATH", required=True, help="The received body: a file, or - for stdin."
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
@format_option("text", "json")
@click.pass_obj
def verify(
    app: AppContext,
    body_path: str,
    header_lines: tuple[str, ...],
    secret_values: tuple[str, ...],
    secret_file: tuple[str, ...],
    scheme_name: str,
    method: str,
    tolerance: int,
    now: float | None,
    notification_url: str | None,
    no_validate: bool,
    output_format: str,
) -> Outcome:
    """Check a received delivery's signature, timestamp and payload.

    Exit status 0 when the delivery is valid, 1 when a check fails (with the
    likely cause where one can be found), 2 for usage errors.

    A whole recording is judged by `invwh audit RECORDING`.

    \b
    Examples:
      invwh verify --body body.json \\
          -H "X-Webhook-Signature: v1=B4XU...Yg==" -H "X-Timestamp: 1700000000"
      invwh verify --body - -H "$SIG_HEADER" -H "$TS_HEADER" --secret-file .secret --format json
      invwh verify --body body.json -H @headers.txt     # as `invwh sign body.json > headers.txt` wrote
      invwh verify --body body.json -H ... --secret-file old.key --secret-file new.key
      invwh verify --body body.json -H ... --tolerance 0     # skip the age check
      invwh verify --body body.json --scheme square -H @headers.txt \\
          --notification-url https://shop.example/hooks/square
    """
    from ...workflows.verdict import judge

    scheme = resolve_scheme(scheme_name)
    notification_url = check_notification_url(scheme, notification_url)
    secrets = resolve_secrets(secret_values, secret_file)
    from ...signing.signatures import refuse_unusable

    refuse_unusable(
        scheme, secrets
    )  # a secret not in the scheme's form is an input error, as for sign (exit 2)
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
