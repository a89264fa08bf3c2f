"""``invwh check``: a conformance and security suite against a live receiver."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import click

from ..delivery import Deliverer
from ..report import CHECK_OUTCOMES, FAILED, INFO, PASSED, UNDELIVERED, WARNING, Item, Report
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

if TYPE_CHECKING:
    from ..conformance import CaseResult


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
    verbosity: int,
) -> Report:
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

    from ..conformance import run_checks
    from .output import open_reporter

    report = Report("check", endpoint.url, scheme.name, CHECK_OUTCOMES, "case", ("case", "level"))
    report.extra["strict"] = strict
    with (
        open_reporter(app, report, output_format, junit_path, verbosity) as reporter,
        Deliverer(options) as deliverer,
    ):

        def add(case: CaseResult) -> None:
            # The first case is a plain valid delivery: when it cannot be made the receiver
            # cannot be reached, and each further case would only fail the same way. A case
            # whose request got no answer later on (a timeout) is a failed case.
            unreachable = report.total == 0 and any(not d.delivered for d in case.deliveries)
            reporter.add(case_item(case, strict, unreachable=unreachable))
            if unreachable:
                raise _Unreachable

        with contextlib.suppress(_Unreachable):
            run_checks(deliverer, scheme, secret, tolerance=tolerance, strict=strict, on_result=add)
    return report


class _Unreachable(Exception):
    """Stops a check whose receiver did not answer its first request."""


def case_item(case: CaseResult, strict: bool, *, unreachable: bool = False) -> Item:
    from ..conformance import RECOMMENDED, REQUIRED

    if unreachable:
        outcome = UNDELIVERED
    elif case.passed is None:
        outcome = INFO
    elif case.passed:
        outcome = PASSED
    elif case.level == REQUIRED or (strict and case.level == RECOMMENDED):
        outcome = FAILED
    else:
        outcome = WARNING
    return Item(
        case.name,
        outcome,
        {"name": case.name, "outcome": outcome, **case.to_dict()},
        sum(d.elapsed for d in case.deliveries),
        cells=(case.level,),
        notes=(case.explanation, f"sent: {case.sent}"),
        deliveries=case.deliveries,
    )
