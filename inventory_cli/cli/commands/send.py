"""``invwh send``: deliver signed payloads to a receiver and report its answers."""

from __future__ import annotations

import click

from ...errors import InvalidPayloadError
from ...events.payloads import expand_paths, read_payload
from ...outcome import Outcome
from ...workflows.delivery import Deliverer
from ...workflows.report import Report, delivery_item, delivery_report
from ..context import AppContext
from ..options import (
    Endpoint,
    endpoint_options,
    expect_option,
    header_option,
    parse_headers,
    progress_option,
    report_options,
    require_signed_headers,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
)


@click.command(short_help="Sign payloads and POST them to a receiver.")
@click.argument("paths", nargs=-1, required=True, metavar="PAYLOAD_OR_DIR...")
@endpoint_options()
@expect_option
@secret_options()
@scheme_option
@header_option("An extra request header, 'Name: value' (repeatable).")
@click.option("--follow-redirects", is_flag=True, help="Follow redirects, re-sending the POST and its body.")
@click.option("--no-validate", is_flag=True, help="Send payloads even if they are not valid events.")
@report_options
@progress_option
@click.pass_obj
def send(
    app: AppContext,
    paths: tuple[str, ...],
    endpoint: Endpoint,
    expected: tuple[int, ...],
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    header_lines: tuple[str, ...],
    follow_redirects: bool,
    no_validate: bool,
    output_format: str,
    junit_path: str | None,
    verbosity: int,
    progress: bool | None,
) -> Report | Outcome:
    """Sign each payload at send time and POST its exact bytes to --url.

    A directory stands for every *.json file in it, sorted. Exit status 0 when
    every delivery got an expected status, 1 when any got another, 3 when any
    could not be delivered, 2 for usage or input errors, 130 when interrupted
    (the report of what was sent so far is still printed).

    \b
    Examples:
      invwh send samples/stock-increase.json --url http://localhost:3000/webhooks
      invwh send samples/ --url http://localhost:3000/webhooks --junit report.xml
      invwh send bad-event.json --no-validate --expect 422 --url http://localhost:3000/webhooks
      invwh send samples/ --url https://dev.local/hooks --ca-bundle dev-ca.pem --retries 3
    """
    scheme = resolve_scheme(scheme_name)
    secret = resolve_secret(secret_values, secret_file)
    extra_headers = parse_headers(header_lines)
    require_signed_headers(scheme, extra_headers)
    payloads = [read_payload(path) for path in expand_paths(list(paths))]

    from ...events.validation import check_event

    checks = [check_event(p.body) for p in payloads]
    if not no_validate:
        invalid = [(p, c) for p, c in zip(payloads, checks, strict=True) if not c.ok]
        if invalid:
            raise InvalidPayloadError(
                f"{len(invalid)} payload(s) are not valid inventory events; nothing was sent",
                (f"{payload.name}: {problem}" for payload, check in invalid for problem in check.problems),
            )

    options = endpoint.delivery_options(
        scheme, secret, headers=extra_headers, follow_redirects=follow_redirects
    )
    from ..output import progress as shown
    from ..output.reporter import open_reporter

    report = delivery_report("send", endpoint.url, scheme.name)
    with open_reporter(app, report, output_format, junit_path, verbosity) as reporter:
        standing = shown.delivery_status("send", report, "deliveries", len(payloads))
        status = shown.for_report(reporter, standing, color=app.color, progress=progress)
        with Deliverer(options, on_retry=status.retrying) as deliverer, status:
            for payload, check in zip(payloads, checks, strict=True):
                result = deliverer.deliver(
                    payload.body,
                    payload=payload.name,
                    event_type=check.event_type,
                    expected=expected or (200,),
                )
                reporter.add(delivery_item(result))
    return report
