"""``invwh check``: a conformance and security suite against a live receiver."""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile

import click

from ...errors import InputError, UnknownCaseError
from ...outcome import Outcome
from ...workflows.check import check_payloads, new_seed, run_checks
from ...workflows.check_cases import select_cases
from ...workflows.check_results import CaseResult, case_item
from ...workflows.delivery import Deliverer
from ...workflows.report import CHECK_OUTCOMES, FAILED, NOT_PROVEN, WARNING, Report
from ..context import AppContext
from ..options import (
    Endpoint,
    endpoint_options,
    expect_option,
    progress_option,
    report_options,
    resolve_scheme,
    resolve_secret,
    scheme_option,
    secret_options,
    tolerance_option,
)

#: The tolerance a rerun need not repeat: --tolerance's default.
DEFAULT_TOLERANCE = 300


@click.command(short_help="Prove a receiver accepts valid events and rejects forged ones.")
@endpoint_options(retries=False, url_required=False, url_not_needed_with="--list-cases")
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
    help="Generate the same events, byte for byte but dated now, as the run that reported this seed.",
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
@click.option(
    "--case",
    "case_ids",
    multiple=True,
    metavar="ID",
    help="Run only this case (repeatable), after the preflight it needs: the valid events, "
    "whose answers the forged cases build on. --list-cases lists the ids.",
)
@click.option("--list-cases", is_flag=True, help="List the cases' ids, each with what it checks, and exit.")
@click.option(
    "--reproduce",
    "reproduce_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the command that re-runs each failed, warned or not proven case to FILE, one a line.",
)
@report_options
@progress_option
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
    case_ids: tuple[str, ...],
    list_cases: bool,
    reproduce_path: str | None,
    output_format: str,
    junit_path: str | None,
    verbosity: int,
    progress: bool | None,
) -> Report | Outcome:
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
    sends the same events again, dated now. Each case has an id (--list-cases):
    --case ID runs just that one, after the valid events, and each case that
    fails, warns or is not proven prints the command that re-runs it. Exit
    status 0 when every required case passes, 1 otherwise, 3 when the
    receiver cannot be reached.

    \b
    Examples:
      invwh check --url http://localhost:3000/webhooks
      invwh check --url http://localhost:3000/webhooks --strict --junit security.xml
      invwh check --url http://localhost:3000/webhooks --seed 421337 -v
      invwh check --url http://localhost:3000/webhooks --expect 202 --payload event.json
      invwh check --url http://localhost:3000/webhooks --seed 421337 --case tampered-body
      invwh check --list-cases
    """
    if list_cases:
        from ..output.check_cases import print_cases

        print_cases(output_format, app.color)
        return Outcome.OK
    if endpoint is None:
        raise click.UsageError("Missing option '--url'.")
    scheme = resolve_scheme(scheme_name)
    expect = expected or (200,)

    from ...events.payloads import read_payload
    from ..output import progress as shown
    from ..output.reporter import open_reporter

    payloads = [read_payload(path) for path in payload_paths]
    check_payloads(payloads)  # an invalid event is a failed check, before anything is sent
    try:
        selected = select_cases(case_ids, scheme, tolerance, len(payloads)) if case_ids else None
    except UnknownCaseError as error:
        raise InputError(f"{error} (--list-cases lists them)") from None
    secret = resolve_secret(secret_values, secret_file)
    options = endpoint.delivery_options(scheme, secret)
    seed = new_seed() if seed is None else seed
    if reproduce_path is not None:
        _check_writable(reproduce_path)
    rerun = _Rerun(endpoint.url, seed, scheme.name, expect, strict, tolerance, payload_paths)
    report = Report("check", endpoint.url, scheme.name, CHECK_OUTCOMES, "case")
    report.preamble.append(f"seed {seed}: --seed {seed} sends the same events again")
    report.extra.update(strict=strict, seed=seed, expect=sorted(expect))
    reruns: list[str] = []
    with open_reporter(app, report, output_format, junit_path, verbosity) as reporter:
        standing = shown.delivery_status("check", report, "cases")
        status = shown.for_report(reporter, standing, color=app.color, progress=progress)
        with Deliverer(options, on_retry=status.retrying) as deliverer, status:

            def stream(case: CaseResult) -> None:
                # Each case is reported as it is done: its result never changes after.
                command = rerun.command(case.id)
                if case.outcome in (FAILED, WARNING, NOT_PROVEN):
                    reruns.append(command)
                reporter.add(case_item(case, command))

            run = run_checks(
                deliverer,
                scheme,
                secret,
                tolerance=tolerance,
                strict=strict,
                expect=expect,
                seed=seed,
                payloads=payloads,
                cases=selected,
                on_result=stream,
            )
            report.extra.update(stopped=run.stopped, diagnosis=run.diagnosis)
            if run.stopped:
                report.epilogue.append(f"stopped: {run.stopped}")
            elif run.diagnosis:
                report.epilogue.append(f"note: {run.diagnosis}")
    if reproduce_path is not None:
        _write_lines(reproduce_path, reruns)
    return report


class _Rerun:
    """The command that re-runs one case of this run: the same URL, seed, scheme, expectations
    and strictness (and tolerance and payloads when given), never the secret."""

    def __init__(
        self,
        url: str,
        seed: int,
        scheme: str,
        expect: tuple[int, ...],
        strict: bool,
        tolerance: int,
        payload_paths: tuple[str, ...],
    ) -> None:
        words = ["invwh", "check", "--url", url, "--seed", str(seed), "--scheme", scheme]
        for status in sorted(expect) if tuple(expect) != (200,) else ():
            words += ["--expect", str(status)]
        if strict:
            words.append("--strict")
        if tolerance != DEFAULT_TOLERANCE:
            words += ["--tolerance", str(tolerance)]
        for path in payload_paths:
            words += ["--payload", path]
        self.words = words

    def command(self, case_id: str) -> str:
        return shlex.join([*self.words, "--case", case_id])


def _check_writable(path: str) -> None:
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise InputError(f"cannot write {path}: no directory {directory}")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: it is a directory")


def _write_lines(path: str, lines: list[str]) -> None:
    """``lines`` to ``path``, whole or not at all: a temporary file beside it, then renamed."""
    directory = os.path.dirname(path) or "."
    try:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".invwh-", suffix=".tmp")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
        os.replace(temporary, path)  # replaces a symlink itself, never what it points to
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
