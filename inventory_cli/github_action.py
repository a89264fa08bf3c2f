"""The GitHub Action's run step (``action.yml``): one invwh command, its job summary and outputs.

The action's inputs arrive as ``INVWH_ACTION_*`` environment variables. This
runs ``invwh COMMAND ARGS --format json`` with the secret as ``INVWH_SECRET``
(masked in the log first), streams the JSON report into a file, passes
invwh's stderr through to the log, then writes a Markdown table of the
report to ``$GITHUB_STEP_SUMMARY``, the outputs ``exit-code`` and ``report``
to ``$GITHUB_OUTPUT``, and exits with invwh's exit code, so the step fails
when invwh does. Run as ``python -m inventory_cli.github_action``.

What reaches the log or the summary came, in part, from outside (a
receiver's answer, a file name): every line of the log goes through
``log_line`` (the secret redacted, control characters escaped, and no line
that the runner would take for a workflow command, ``::warning::`` or
``##[``), and every value in the summary is a Markdown code span
(``code``): no image, link, HTML or emphasis renders from it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from .config.settings import SCHEME_ENV, SECRET_ENV, URL_ENV
from .text import outside, remember_secret, shorten

COMMANDS = ("send", "check", "trigger", "replay", "verify", "audit")
#: Commands whose report is the run report (items and a summary) and that write JUnit.
RUN_COMMANDS = ("send", "check", "trigger", "replay")
USAGE = 2
#: How the action's inputs reach this step: ``INVWH_ACTION_COMMAND`` and so on.
INPUT_PREFIX = "INVWH_ACTION_"

#: Rows in the summary table at most: a replay of a million lines shows its failures, not its lines.
MAX_ROWS = 100
MAX_CELL = 200

PASSING = {"as_expected": "✅", "passed": "✅"}
MARKS = {"warning": "⚠️", "not_proven": "⚠️", "info": "ℹ️", "skipped": "➖"}
FAILING_MARK = "❌"


@dataclass
class Inputs:
    command: str
    args: str
    url: str
    secret: str
    scheme: str
    junit: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Inputs:
        def get(name: str) -> str:
            return environ.get(f"{INPUT_PREFIX}{name.upper()}", "")

        return cls(*(get(name) for name in ("command", "args", "url", "secret", "scheme", "junit")))


class InputProblem(Exception):
    """An input the action cannot run with: one line, and exit 2."""


def command_line(inputs: Inputs, python: str) -> list[str]:
    command = inputs.command.strip()
    if command not in COMMANDS:
        raise InputProblem(f"command must be one of {', '.join(COMMANDS)}, got {command!r}")
    try:
        args = shlex.split(inputs.args)
    except ValueError as error:
        raise InputProblem(f"args: {error}") from None
    argv = [python, "-m", "inventory_cli", command, *args, "--format", "json"]
    if inputs.junit:
        if command not in RUN_COMMANDS:
            raise InputProblem(f"junit: {command} writes no JUnit report (only {', '.join(RUN_COMMANDS)})")
        argv += ["--junit", inputs.junit]
        # The workflow names a path for the report to upload; its directory need not exist yet.
        os.makedirs(os.path.dirname(os.path.abspath(inputs.junit)), exist_ok=True)
    return argv


def child_environment(inputs: Inputs, environ: Mapping[str, str]) -> dict[str, str]:
    """The job's environment, with the inputs as invwh's settings; empty inputs leave the job's own."""
    env = {k: v for k, v in environ.items() if not k.startswith(INPUT_PREFIX)}
    # The child resolves them as any invwh command does: below its --url or --scheme in args.
    settings = {SECRET_ENV: inputs.secret, URL_ENV: inputs.url, SCHEME_ENV: inputs.scheme}
    for name, value in settings.items():
        if value:
            env[name] = value
    env["NO_COLOR"] = "1"
    return env


def mask_values(secret: str) -> list[str]:
    """What to mask, in a fixed order: each line of the secret (the runner masks line by line, so a
    multi-line secret masked only whole shows its lines), each stripped, then the whole value."""
    values: list[str] = []
    for value in [value for line in secret.splitlines() for value in (line, line.strip())] + [secret]:
        if value.strip() and value not in values:
            values.append(value)
    return values


def command_value(text: str) -> str:
    """A workflow command's value escaped as ``@actions/core`` escapes it: ``%``, CR, LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def mask(secret: str, out: TextIO) -> None:
    """Tell the runner to hide the secret in the log, before anything else is written."""
    for value in mask_values(secret):
        out.write(f"::add-mask::{command_value(value)}\n")
    out.flush()


def log_line(text: str) -> str:
    """One line for the job's log: the secret redacted, control characters escaped (no line breaks
    in it), and no workflow command (``::name::`` after leading white space, ``##[name]`` anywhere)."""
    text = outside(text)
    start = len(text) - len(text.lstrip())
    if text.startswith("::", start):
        text = text[:start] + "\\x3a" + text[start + 1 :]
    return text.replace("##[", "##\\x5b")


@dataclass
class Reading:
    """A report file read back: its head and tail fields, the rows to show, and the counts."""

    fields: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    #: Items not shown: more than MAX_ROWS.
    hidden: int = 0


def failing(item: Mapping[str, Any]) -> bool:
    return item.get("outcome") not in (*PASSING, *MARKS)


def read_report(path: str) -> Reading:
    """The report, streamed when it is a run report (one item a line), else parsed whole.

    Raises ValueError when the file is not a whole JSON report (invwh stopped
    before it finished one: a usage error).
    """
    with open(path, encoding="utf-8") as file:
        first = file.readline()
        marker = ', "items": ['
        if not first.rstrip("\n").endswith(marker):
            return Reading(fields=json.loads(first + file.read()))
        reading = Reading(fields=json.loads(first.rstrip("\n")[: -len(marker)] + "}"))
        shown: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for line in file:
            if line.startswith("]"):
                reading.fields.update(json.loads("{" + line[1:].lstrip(", ")))
                break
            item = json.loads(line.strip().rstrip(","))
            reading.total += 1
            if len(shown) < MAX_ROWS:
                shown.append(item)
            if failing(item) and len(failures) < MAX_ROWS:
                failures.append(item)
        else:
            raise ValueError("the report ends before its summary")
    # Everything when it fits; else the failures first, as many as fit.
    reading.rows = shown if reading.total <= MAX_ROWS else (failures or shown)
    reading.hidden = reading.total - len(reading.rows)
    return reading


def code(value: Any) -> str:
    """``value`` as one Markdown code span, safe in a table cell: nothing in it renders (an image,
    a link, HTML, emphasis) and it cannot close the cell, the span or the line."""
    text = outside(shorten(" ".join(str(value).split()), MAX_CELL))
    if not text:
        return ""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text[0] in "` " or text[-1] in "` " else text
    # GitHub splits a table row at every unescaped pipe, in code spans too.
    return fence + padded.replace("|", "\\|") + fence


def cell(value: Any) -> str:
    """A value from the report in the summary: a code span (``code``)."""
    return code(value)


def word(value: Any) -> str:
    """One of invwh's own words (an outcome, a reason: ``signature_mismatch``) as it is; anything
    else (a report not written by this invwh) as code."""
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z][A-Za-z_ ]*", text) else code(text)


def mark(outcome: str) -> str:
    return PASSING.get(outcome) or MARKS.get(outcome) or FAILING_MARK


def detail(item: Mapping[str, Any]) -> str:
    """Why an item came out as it did, in one cell."""
    if item.get("explanation"):  # a check's case
        return str(item["explanation"])
    parts = [str(item[key]) for key in ("status", "reason") if item.get(key) is not None]
    if item.get("meaning"):
        parts.append(f"({item['meaning']})")
    for key in ("error", "skipped"):
        if item.get(key):
            parts.append(str(item[key]))
    if failing(item) and item.get("response_preview"):  # what the receiver said about it
        parts.append(f"– {item['response_preview']}")
    return " ".join(parts)


def run_summary(reading: Reading, exit_code: int) -> list[str]:
    fields = reading.fields
    command = fields.get("command", "?")
    verdict = "passed" if exit_code == 0 else f"failed (exit {exit_code})"
    lines = [
        f"### {mark('passed') if exit_code == 0 else FAILING_MARK} invwh {command}: {verdict}",
        "",
        f"{cell(fields.get('url'))} · scheme {cell(fields.get('scheme'))}",
        "",
    ]
    if fields.get("error"):
        lines += [f"**{cell(fields['error'])}**", ""]
    if reading.rows:
        lines += ["| | item | outcome | detail |", "|---|---|---|---|"]
        lines += [
            f"| {mark(item.get('outcome', ''))} | {cell(item.get('name', ''))} "
            f"| {word(str(item.get('outcome', '')).replace('_', ' '))} | {cell(detail(item))} |"
            for item in reading.rows
        ]
        lines.append("")
    if reading.hidden:
        lines += [f"{reading.hidden} more items in the JSON report (the `report` output).", ""]
    summary = fields.get("summary") or {}
    lines.append(" · ".join(f"{name.replace('_', ' ')} {count}" for name, count in summary.items()))
    return lines


def audit_summary(reading: Reading, exit_code: int) -> list[str]:
    """``invwh audit``'s report: a count per event type and the failing lines."""
    fields = reading.fields
    ok = exit_code == 0
    summary = fields.get("summary") or {}
    verdict = "every delivery valid" if ok else f"failed (exit {exit_code})"
    head = f"### {mark('passed') if ok else FAILING_MARK} invwh audit: {verdict}"
    lines = [head, "", f"recording {cell(fields.get('recording'))}", ""]
    columns = ("valid", "bad_signature", "stale", "invalid_payload")
    lines.append("| event type | " + " | ".join(c.replace("_", " ") for c in columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    for name, counts in sorted((summary.get("by_event_type") or {}).items()):
        lines.append(f"| {cell(name)} | " + " | ".join(str(counts.get(c, 0)) for c in columns) + " |")
    lines.append("")
    failures = fields.get("failures") or []
    for failure in failures[:MAX_ROWS]:
        what = code(f"{failure.get('category')}: {failure.get('reason')}")
        lines.append(f"- line {failure.get('line')}: {what}")
    if len(failures) > MAX_ROWS:
        lines.append(f"- and {len(failures) - MAX_ROWS} more in the JSON report")
    return lines


def verify_summary(reading: Reading, exit_code: int) -> list[str]:
    fields = reading.fields
    ok = exit_code == 0
    head = f"### {mark('passed') if ok else FAILING_MARK} invwh verify: "
    reason = fields.get("reason", "?")
    lines = [
        head + ("valid" if fields.get("valid") else f"invalid ({word(reason)})"),
        "",
        f"body {cell(fields.get('body'))} · scheme {cell(fields.get('scheme'))}",
        "",
        "| check | | detail |",
        "|---|---|---|",
    ]
    checks = fields.get("checks") or {}
    signature = checks.get("signature") or {}
    payload = checks.get("payload") or {}
    lines.append(
        f"| signature | {mark('passed') if signature.get('ok') else FAILING_MARK} "
        f"| {cell(signature.get('message', ''))} |"
    )
    problems = "; ".join(
        str(p.get("message", p)) if isinstance(p, dict) else str(p) for p in payload.get("problems") or []
    )
    lines.append(
        f"| payload | {mark('passed') if payload.get('valid') else FAILING_MARK} "
        f"| {cell(payload.get('event_type') or problems)} |"
    )
    lines += ["", *(f"- likely cause: {cell(hint)}" for hint in fields.get("hints") or [])]
    return lines


def error_summary(command: str, exit_code: int, errors: list[str]) -> list[str]:
    lines = [f"### {FAILING_MARK} invwh {cell(command or '?')}: failed (exit {exit_code})", ""]
    if errors:
        shown = [log_line(error) for error in errors[-20:]]
        # A fence longer than any run of backticks in the lines: none of them can close it.
        longest = max((len(run) for line in shown for run in re.findall("`+", line)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += [fence, *shown, fence]
    return lines


def report_summary(command: str, report_path: str | None, exit_code: int) -> list[str] | None:
    """The job summary's Markdown lines for a run's report; None when there is no whole report."""
    if report_path is None:
        return None
    try:
        reading = read_report(report_path)
    except (OSError, ValueError):  # invwh stopped before a report: it said why on stderr
        return None
    summaries = {"verify": verify_summary, "audit": audit_summary}
    return summaries.get(command, run_summary)(reading, exit_code)


def _stream_lines(stream: Any) -> Iterator[str]:
    for raw in iter(stream.readline, b""):
        yield raw.decode("utf-8", "replace").rstrip("\n")


def run(environ: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> int:
    inputs = Inputs.from_environment(environ)
    if inputs.secret:
        mask(inputs.secret, stdout)
        for value in mask_values(inputs.secret):  # and hidden by log_line and the summary, whoever echoed it
            remember_secret(value)
    temp = environ.get("RUNNER_TEMP") or None
    report_path: str | None = None
    errors: list[str] = []
    try:
        argv = command_line(inputs, sys.executable)
    except InputProblem as problem:
        errors.append(f"invwh: error: {problem}")
        stderr.write(log_line(errors[-1]) + "\n")
        exit_code = USAGE
    else:
        report_path = os.path.join(tempfile.mkdtemp(prefix="invwh-report-", dir=temp), "report.json")
        stdout.write(f"invwh {inputs.command.strip()}: the JSON report goes to {report_path}\n")
        stdout.flush()
        with open(report_path, "wb") as report:
            process = subprocess.Popen(
                argv, stdout=report, stderr=subprocess.PIPE, env=child_environment(inputs, environ)
            )
            for line in _stream_lines(process.stderr):
                stderr.write(log_line(line) + "\n")
                stderr.flush()
                errors.append(line)
            exit_code = process.wait()
    lines = report_summary(inputs.command.strip(), report_path, exit_code)
    if lines is not None:
        stdout.write("".join(log_line(line) + "\n" for line in lines))
    else:  # the error is in the log already, on stderr
        lines = error_summary(inputs.command.strip(), exit_code, errors)
    _append(environ.get("GITHUB_STEP_SUMMARY"), "\n".join(lines) + "\n\n")
    _append(environ.get("GITHUB_OUTPUT"), f"exit-code={exit_code}\nreport={report_path or ''}\n")
    return exit_code


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(text)


def main() -> None:
    sys.exit(run(os.environ, sys.stdout, sys.stderr))


if __name__ == "__main__":
    main()
