"""``invwh sign``: the headers that make a payload a validly signed delivery."""

from __future__ import annotations

import sys
import time

import click

from ...config.settings import URL_ENV
from ...errors import InvalidPayloadError
from ...events.payloads import read_payload
from ...outcome import Outcome
from ...signing.signatures import MAX_UNIX_SECONDS
from ..context import AppContext
from ..options import (
    URL,
    check_method,
    check_notification_url,
    format_option,
    header_option,
    notification_url_option,
    parse_headers,
    require_signed_headers,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
)

DEFAULT_URL = "http://127.0.0.1:8787/webhooks"


@click.command(short_help="Print the headers that sign a payload.")
@click.argument("payload", metavar="PAYLOAD")
@secret_options()
@scheme_option
@click.option(
    "--timestamp",
    type=click.IntRange(0, MAX_UNIX_SECONDS),
    help="Unix seconds to sign with, as verify reads them (at most 12 digits) [default: now].",
)
@click.option(
    "--id",
    "message_id",
    metavar="TEXT",
    help="The message id to sign with, for schemes that sign one (standard-webhooks) [default: random].",
)
@click.option(
    "--method",
    default="POST",
    show_default=True,
    callback=check_method,
    help="The HTTP method the signature covers.",
)
@format_option(
    "headers",
    "json",
    "curl",
    "value",
    help_text="headers: 'Name: value' lines; json: an object; curl: a runnable command; "
    "value: the signature alone.",
)
@click.option(
    "--url",
    type=URL(),
    # Applied where a URL is used (curl, a scheme that signs it), not as click's default: click
    # would check it on every start, and that check loads urllib.parse (~3% of sign's start-up).
    show_default=DEFAULT_URL,
    envvar=URL_ENV,
    show_envvar=True,
    help="The URL for --format curl, and the one signed for by a scheme that signs the URL (square).",
)
@notification_url_option(
    "For a scheme that signs the URL the receiver is reached at (square): sign for this URL instead of --url."
)
@header_option(
    "A header to send, 'Name: value' (repeatable; @FILE for a file of them): printed with the "
    "signature, and signed where the scheme's message names it ({header:Name})."
)
@click.option("--no-validate", is_flag=True, help="Sign even if the payload is not a valid inventory event.")
@click.pass_obj
def sign(
    app: AppContext,
    payload: str,
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    timestamp: int | None,
    message_id: str | None,
    method: str,
    output_format: str,
    url: str | None,
    notification_url: str | None,
    header_lines: tuple[str, ...],
    no_validate: bool,
) -> Outcome:
    """Sign PAYLOAD (a file, or - for standard input) and print the headers to send.

    The signature covers the file's exact bytes: send exactly that file.

    \b
    Examples:
      invwh sign samples/stock-increase.json --secret-file .secret
      invwh sign body.json > headers.txt
      curl -H @headers.txt --data-binary @body.json http://localhost:3000/webhooks
      invwh sign body.json --format curl --url http://localhost:3000/webhooks | sh
      cat body.json | invwh sign - --format value --timestamp 1700000000
      invwh sign body.json --scheme standard-webhooks --secret-file whsec.txt --id msg_1
      invwh sign body.json --scheme square --notification-url https://shop.example/hooks/square
      invwh sign body.json --scheme acme -H 'X-Acme-Delivery: d-42'
    """
    from ...signing.signatures import sign as sign_body

    url = url or DEFAULT_URL
    scheme = resolve_scheme(scheme_name)
    if message_id is not None and not scheme.id_header:
        raise click.UsageError(f"--id: the {scheme.name} scheme has no message id")
    notification_url = check_notification_url(scheme, notification_url, needed=False)
    if scheme.signs_url and notification_url is None:
        from ...workflows.delivery import check_url

        notification_url = check_url(url)
    extra_headers = parse_headers(header_lines)
    require_signed_headers(scheme, extra_headers)
    secret = resolve_secret(secret_values, secret_file)
    loaded = read_payload(payload)

    event_type = None
    if not no_validate:
        from ...events.validation import check_event

        check = check_event(loaded.body)
        if not check.ok:
            raise InvalidPayloadError(
                f"{loaded.name} is not a valid inventory event (use --no-validate to sign it anyway):",
                map(str, check.problems),
            )
        event_type = check.event_type

    if timestamp is None:
        timestamp = int(time.time())
    signature_headers = sign_body(
        scheme,
        secret,
        loaded.body,
        method=method,
        timestamp=timestamp,
        headers=extra_headers,
        message_id=message_id,
        url=notification_url,
    )
    headers = {"Content-Type": "application/json", **extra_headers, **signature_headers}

    if output_format == "value":
        sys.stdout.write(signature_headers[scheme.signature_header] + "\n")
    elif output_format == "headers":
        from ..output.sign_text import header_lines as format_header_lines

        sys.stdout.write(format_header_lines(headers))
    elif output_format == "json":
        from ..output import json

        document = json.signature_document(
            scheme,
            event_type=event_type,
            method=method.upper(),
            timestamp=timestamp,
            notification_url=notification_url,
            headers=headers,
            body_bytes=len(loaded.body),
        )
        json.write(document)
    else:
        from ..output.sign_text import curl_command

        sys.stdout.write(curl_command(url, method.upper(), headers, loaded))
    return Outcome.OK
