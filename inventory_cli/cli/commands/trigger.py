"""``invwh trigger``: build a fresh event of a type and send it."""

from __future__ import annotations

import sys

import click

from ...errors import InputError, InvalidPayloadError
from ...events.factory import (
    BadFieldPath,
    apply_overrides,
    event_body,
    field_paths,
    make_event,
    unknown_fields,
)
from ...events.validation import check_event, event_type_names
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
    report_options,
    require_signed_headers,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
)


@click.command(short_help="Build a fresh event of a type and send it.")
@click.argument("event_type", metavar="TYPE", type=click.Choice(event_type_names()))
@click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override a field (repeatable)."
)
@click.option("--print", "print_only", is_flag=True, help="Write the event to stdout instead of sending it.")
@endpoint_options(url_required=False)
@expect_option
@secret_options()
@scheme_option
@header_option("An extra request header, 'Name: value' (repeatable).")
@click.option("--no-validate", is_flag=True, help="Send even if the overrides make it an invalid event.")
@report_options
@click.pass_obj
def trigger(
    app: AppContext,
    event_type: str,
    assignments: tuple[str, ...],
    print_only: bool,
    endpoint: Endpoint | None,
    expected: tuple[int, ...],
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    header_lines: tuple[str, ...],
    no_validate: bool,
    output_format: str,
    junit_path: str | None,
    verbosity: int,
) -> Report | Outcome:
    """Build a fresh TYPE event (new id, current time, plausible fields) and send it like `send`.

    TYPE is stock.increase, stock.decrease or stock.depleted. --set KEY=VALUE
    overrides a field; dotted keys reach into nested objects and values are
    parsed as JSON when they parse, else taken as strings.

    \b
    Examples:
      invwh trigger stock.depleted --url http://localhost:3000/webhooks
      invwh trigger stock.decrease --set sku=GASKET-RUB-12 --set quantityChange=-5 \\
          --set location.warehouseId=WH-RTM-02 --url http://localhost:3000/webhooks
      invwh trigger stock.increase --set newQuantity=null --print > odd-event.json
    """
    event = make_event(event_type)
    template_fields = field_paths(event)
    try:
        event = apply_overrides(event, list(assignments))
    except BadFieldPath as error:  # the core names the key; the words of --set are the CLI's
        if error.parent is not None:
            raise InputError(f"--set {error.key}: {error.parent} is not an object") from None
        raise InputError(
            f"--set takes key=value (dotted keys for nesting), got {error.assignment!r}"
        ) from None
    for key, nearest in unknown_fields(template_fields, list(assignments)):
        # Set anyway (a receiver may be tested with an extra field), but never silently.
        hint = f" (did you mean {nearest}?)" if nearest else ""
        warning = f"--set {key}: a {event_type} event has no such field; added{hint}"
        click.echo(f"invwh: warning: {warning}", err=True)
    body = event_body(event)
    check = check_event(body)
    if not check.ok and not no_validate:
        raise InvalidPayloadError(
            "the overrides make this an invalid event (use --no-validate to send it anyway):",
            map(str, check.problems),
        )
    if print_only:
        sys.stdout.buffer.write(body + b"\n")
        sys.stdout.flush()
        return Outcome.OK
    if endpoint is None:
        raise click.UsageError("give --url to send the event, or --print to write it out")
    scheme = resolve_scheme(scheme_name)
    extra_headers = parse_headers(header_lines)
    require_signed_headers(scheme, extra_headers)
    options = endpoint.delivery_options(
        scheme, resolve_secret(secret_values, secret_file), headers=extra_headers
    )
    from ..output.reporter import open_reporter

    report = delivery_report("trigger", endpoint.url, scheme.name)
    with (
        open_reporter(app, report, output_format, junit_path, verbosity) as reporter,
        Deliverer(options) as deliverer,
    ):
        result = deliverer.deliver(
            body, payload=f"new {event_type} event", event_type=check.event_type, expected=expected or (200,)
        )
        reporter.add(delivery_item(result))
    return report
