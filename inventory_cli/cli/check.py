"""``invwh check``: a conformance and security suite against a live receiver."""

from __future__ import annotations

import click

from ..delivery import Deliverer
from ..errors import DeliveryError
from .app import AppContext
from .options import (
    Endpoint,
    endpoint_options,
    report_options,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
    tolerance_option,
)
from .status import ExitStatus


@click.command(short_help="Prove a receiver accepts valid events and rejects forged ones.")
@endpoint_options(retries=False)
@secret_options()
@scheme_option
@tolerance_option(
    "The timestamp age, in seconds, the receiver should reject beyond; 0 if it does not check "
    "ages (the timestamp cases are skipped)."
)
@click.option("--strict", is_flag=True, help="Fail on the recommended cases too (timestamp freshness).")
@report_options
@click.pass_obj
def check(
    app: AppContext,
    endpoint: Endpoint,
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    tolerance: int,
    strict: bool,
    output_format: str,
    junit_path: str | None,
) -> ExitStatus:
    """Prove that a receiver accepts valid events and rejects forged ones.

    Sends one request per case: each event type validly signed (must get
    200); a tampered body, another secret, no signature, a malformed
    signature and a signature for another method (must be rejected); bad JSON
    and an unknown event type (must not get a 5xx). Stale and future
    timestamps are recommended rejections: warnings, failures with --strict.
    Exit status 0 when every required case passes, 1 otherwise, 3 when the
    receiver cannot be reached.

    \b
    Examples:
      invwh check --url http://localhost:3000/webhooks
      invwh check --url http://localhost:3000/webhooks --strict --junit security.xml
    """
    scheme = resolve_scheme(scheme_name)
    secret = resolve_secret(secret_values, secret_file)
    options = endpoint.delivery_options(scheme, secret)

    from ..conformance import CaseResult, run_checks
    from . import render

    reached = False

    def stop_if_unreachable(case: CaseResult) -> None:
        # The first case is a plain valid delivery: when it cannot be made the
        # receiver cannot be reached, and each further case would only fail the same way.
        nonlocal reached
        if not reached and case.deliveries and not case.deliveries[0].delivered:
            raise DeliveryError(endpoint.url, case.deliveries[0].error or "not delivered")
        reached = True

    with Deliverer(options) as deliverer:
        run = run_checks(
            deliverer, scheme, secret, tolerance=tolerance, strict=strict, on_result=stop_if_unreachable
        )
    render.check_report(app, run, endpoint.url, output_format, junit_path)
    # A case whose request got no answer later on (a timeout, a dropped
    # connection) is a failed case, not an unreachable receiver.
    return ExitStatus.OK if run.ok else ExitStatus.CHECK_FAILED
