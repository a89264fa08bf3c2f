"""``invwh verify``: would a receiver accept this delivery, and if not, why not."""

from __future__ import annotations

import click

from ..payloads import read_payload
from .app import AppContext
from .options import (
    check_method,
    header_option,
    parse_headers,
    resolve_scheme,
    resolve_secrets,
    scheme_option,
    secret_options,
)
from .status import ExitStatus


@click.command()
@click.option(
    "--body", "body_path", required=True, metavar="PATH", help="The received body: a file, or - for stdin."
)
@header_option("A received header, 'Name: value' (repeatable; names are case-insensitive).")
@secret_options(multiple=True)
@scheme_option
@click.option(
    "--method", default="POST", show_default=True, callback=check_method, help="The request's HTTP method."
)
@click.option(
    "--tolerance",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Reject timestamps older or further ahead than this many seconds; 0 turns the check off.",
)
@click.option("--now", type=float, metavar="UNIX", help="Pin the clock, for reproducible checks.")
@click.option("--no-validate", is_flag=True, help="Check the signature only, not the payload.")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
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
    no_validate: bool,
    output_format: str,
) -> ExitStatus:
    """Check a received delivery's signature, timestamp and payload.

    Exit status 0 when the delivery is valid, 1 when a check fails (with the
    likely cause where one can be found), 2 for usage errors.

    \b
    Examples:
      invwh verify --body body.json \\
          -H "X-Webhook-Signature: v1=B4XU...Yg==" -H "X-Timestamp: 1700000000"
      invwh verify --body - -H "$SIG_HEADER" -H "$TS_HEADER" --secret-file .secret --format json
      invwh verify --body body.json -H ... --secret-file old.key --secret-file new.key
      invwh verify --body body.json -H ... --tolerance 0     # skip the age check
    """
    from ..verdict import judge

    scheme = resolve_scheme(scheme_name)
    headers = parse_headers(header_lines)
    secrets = resolve_secrets(secret_values, secret_file)
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
    )

    from . import render

    if output_format == "json":
        render.write_json({"body": loaded.name, **verdict.to_dict()})
    else:
        render.verdict_text(app, verdict, loaded.name)
    return ExitStatus.OK if verdict.valid else ExitStatus.CHECK_FAILED
