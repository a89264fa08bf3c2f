"""``invwh check``: a conformance and security suite against a live receiver."""

from __future__ import annotations

import click

from ..delivery import Deliverer, DeliveryOptions, check_url
from ..errors import DeliveryError, InputError
from .app import AppContext
from .options import resolve_scheme, resolve_secret, scheme_option, secret_options
from .status import ExitStatus


@click.command()
@click.option("--url", required=True, envvar="INVWH_URL", show_envvar=True, help="The receiver's URL.")
@secret_options()
@scheme_option
@click.option(
    "--tolerance",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    envvar="INVWH_TOLERANCE",
    show_envvar=True,
    help="The timestamp age, in seconds, the receiver should reject beyond; 0 if it does not check "
    "ages (the timestamp cases are skipped).",
)
@click.option("--strict", is_flag=True, help="Fail on the recommended cases too (timestamp freshness).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True)
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.option(
    "--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="Trust this CA bundle for TLS."
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write a JUnit XML report.")
@click.pass_obj
def check(
    app: AppContext,
    url: str,
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    tolerance: int,
    strict: bool,
    timeout: float,
    insecure: bool,
    ca_bundle: str | None,
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
    if insecure and ca_bundle:
        raise InputError("give --insecure or --ca-bundle, not both")
    check_url(url)
    scheme = resolve_scheme(scheme_name)
    secret = resolve_secret(secret_values, secret_file)
    options = DeliveryOptions(
        url=url, scheme=scheme, secret=secret, timeout=timeout, tls_verify=ca_bundle or not insecure
    )

    from ..conformance import CaseResult, run_checks
    from . import render

    reached = False

    def stop_if_unreachable(case: CaseResult) -> None:
        # The first case is a plain valid delivery: when it cannot be made the
        # receiver cannot be reached, and each further case would only fail the same way.
        nonlocal reached
        if not reached and case.deliveries and not case.deliveries[0].delivered:
            raise DeliveryError(url, case.deliveries[0].error or "not delivered")
        reached = True

    with Deliverer(options) as deliverer:
        run = run_checks(
            deliverer, scheme, secret, tolerance=tolerance, strict=strict, on_result=stop_if_unreachable
        )
    render.check_report(app, run, url, output_format, junit_path)
    # A case whose request got no answer later on (a timeout, a dropped
    # connection) is a failed case, not an unreachable receiver.
    return ExitStatus.OK if run.ok else ExitStatus.CHECK_FAILED
