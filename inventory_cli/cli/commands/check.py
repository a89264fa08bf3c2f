"""``invwh check``: a conformance and security suite against a live receiver."""

from __future__ import annotations

import click

from ...workflows.check import CaseResult, case_item, check_payloads, new_seed, run_checks, unreachable
from ...workflows.delivery import Deliverer
from ...workflows.report import CHECK_OUTCOMES, Report
from ..context import AppContext
from ..options import (
    Endpoint,
    endpoint_options,
    expect_option,
    report_options,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
    tolerance_option,
)


@click.command(short_help="Prove a receiver accepts valid events and rejects forged ones.")
@endpoint_options(retries=False)
@expect_option
@secret_options()
@scheme_option
@tolerance_option(
    "The timestamp age, in seconds, the receiver should reject beyond; 0 if it does not check "
    "ages (the timestamp cases are skipped)."
)
@click.option("--strict", is_flag=True, help="Fail on the recommended cases too (timestamp freshness).")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Generate the same events, byte for byte, as the run that reported this seed.",
)
@click.option(
    "--payload",
    "payload_paths",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Use this valid event for the acceptance cases and as the base of the forged ones "
    "(repeatable), instead of generated events.",
)
@report_options
@click.pass_obj
def check(
    app: AppContext,
    endpoint: Endpoint,
    expected: tuple[int, ...],
    secret_values: str | None,
    secret_file: str | None,
    scheme_name: str,
    tolerance: int,
    strict: bool,
    seed: int | None,
    payload_paths: tuple[str, ...],
    output_format: str,
    junit_path: str | None,
    verbosity: int,
) -> Report:
    """Prove that a receiver accepts valid events and rejects forged ones.

    First each event type validly signed (must be accepted: 200, or what
    --expect says). If that answer is 404, 405, a redirect or not HTTP, the
    URL is not the webhook endpoint and the run stops. Then the same event
    indented with non-ASCII text and as json.dumps writes it (both must be
    accepted: a receiver that takes only the second verifies re-serialized
    JSON); a tampered body, another secret, no signature, a malformed
    signature, a signature for another method (or another URL, for a
    scheme that signs it: square) (must get a 4xx, other
    than 404, 405, 408 and 429); bad JSON and an unknown event type (must
    not get a 5xx). Stale and future timestamps are recommended rejections:
    warnings, failures with --strict. When no valid event is accepted, the
    rejections prove nothing and are reported as not proven.

    Events are generated from a seed, printed with the report: --seed N
    sends the same events again. Exit status 0 when every required case
    passes, 1 otherwise, 3 when the receiver cannot be reached.

    \b
    Examples:
      invwh check --url http://localhost:3000/webhooks
      invwh check --url http://localhost:3000/webhooks --strict --junit security.xml
      invwh check --url http://localhost:3000/webhooks --seed 421337 -v
      invwh check --url http://localhost:3000/webhooks --expect 202 --payload event.json
    """
    scheme = resolve_scheme(scheme_name)
    secret = resolve_secret(secret_values, secret_file)
    options = endpoint.delivery_options(scheme, secret)

    from ...events.payloads import read_payload
    from ..output.reporter import open_reporter

    payloads = [read_payload(path) for path in payload_paths]
    check_payloads(payloads)  # an invalid event is an input error, before anything is sent
    seed = new_seed() if seed is None else seed
    report = Report("check", endpoint.url, scheme.name, CHECK_OUTCOMES, "case", ("case", "level"))
    report.preamble.append(f"seed {seed}: --seed {seed} sends the same events again")
    report.extra.update(strict=strict, seed=seed, expect=sorted(expected or (200,)))
    with (
        open_reporter(app, report, output_format, junit_path, verbosity) as reporter,
        Deliverer(options) as deliverer,
    ):
        # The preflight's findings rewrite the verdicts of cases already run (a wrong secret,
        # re-serialized JSON), so cases reach the report once the run is over, or stopped.
        cases: list[CaseResult] = []

        def collect(case: CaseResult) -> None:
            cases.append(case)
            # The first case is a plain valid delivery: when it cannot be made the receiver
            # cannot be reached, and each further case would only fail the same way. A case
            # whose request got no answer later on (a timeout) is a failed case.
            if len(cases) == 1 and _cannot_reach(cases):
                raise _Unreachable

        try:
            run = run_checks(
                deliverer,
                scheme,
                secret,
                tolerance=tolerance,
                strict=strict,
                expect=expected or (200,),
                seed=seed,
                payloads=payloads,
                on_result=collect,
            )
            report.extra.update(stopped=run.stopped, diagnosis=run.diagnosis)
            if run.stopped:
                report.epilogue.append(f"stopped: {run.stopped}")
            elif run.diagnosis:
                report.epilogue.append(f"note: {run.diagnosis}")
        except _Unreachable:
            pass
        finally:
            cut_off = _cannot_reach(cases)
            for index, case in enumerate(cases):
                reporter.add(case_item(case, strict, unreachable=cut_off and index == 0))
    return report


class _Unreachable(Exception):
    """Stops a check whose receiver did not answer its first request."""


def _cannot_reach(cases: list[CaseResult]) -> bool:
    """Whether the run's first request found no receiver at all (refused, DNS, a timeout)."""
    return bool(cases) and bool(cases[0].deliveries) and unreachable(cases[0].deliveries[0])
