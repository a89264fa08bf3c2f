"""The GitHub Action (``action.yml``), run the way the runner runs a composite action.

``run_action`` reads ``action.yml``, and for each step substitutes the
``${{ ... }}`` expressions (inputs, ``github.action_path``, earlier steps'
outputs), sets ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``,
``GITHUB_ACTION_PATH`` and ``RUNNER_TEMP``, and runs the step's script with
its shell as the runner does (``bash --noprofile --norc -eo pipefail``). A
failing step stops the action. Installing invwh into a fresh virtual
environment takes a while, so the session does it once: later runs find it
ready, as a second use of the action in a job does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import cmarkgfm
import figures
import pytest
import yaml
from cmarkgfm.cmark import Options as cmarkgfm_options
from conftest import ROOT, SAMPLES, TEST_SECRET
from hygiene import register_secret
from servers import Reply, serve
from test_listen_load import listen_process

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
#: How the runner runs a `shell: bash` step.
SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
STEP_TIMEOUT = 300  # seconds: the first install step fetches invwh's dependencies
INVWH = Path(sys.executable).parent / "invwh"
KNOWN_SIGNATURE = (
    "v1=B4XUvFJvAFbOv52stVfig7fj7TUdr4AYb1FLKefIOdrwGn6XtiqDTKtFygFM+DY1Kf8oFNN29Iu59Wci2znpYg=="
)


@dataclass
class ActionRun:
    #: The exit status of the step that failed, else 0.
    status: int
    outputs: dict[str, str]
    summary: str
    log: str
    #: Values the steps asked the runner to mask (`::add-mask::`).
    masks: set[str] = field(default_factory=set)


def substitute(text: str, context: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in context, f"action.yml uses ${{{{ {name} }}}}, which this runner does not provide"
        return context[name]

    return EXPRESSION.sub(value, text)


def read_outputs(path: Path) -> dict[str, str]:
    """A GITHUB_OUTPUT file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_action(
    inputs: dict[str, str], runner_temp: Path, workspace: Path, environment: dict[str, str] | None = None
) -> ActionRun:
    declared = ACTION["inputs"]
    assert set(inputs) <= set(declared), f"not inputs of the action: {set(inputs) - set(declared)}"
    context = {f"inputs.{name}": str(spec.get("default", "")) for name, spec in declared.items()}
    context |= {f"inputs.{name}": value for name, value in inputs.items()}
    context["github.action_path"] = str(ROOT)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("INVWH_", "GITHUB_"))}
    base_env |= {"RUNNER_TEMP": str(runner_temp), "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_ACTIONS": "true",
                 "GITHUB_WORKSPACE": str(workspace), "CI": "true", **(environment or {})}  # fmt: skip
    summary, log, masks, status = "", "", set(), 0
    for number, step in enumerate(ACTION["runs"]["steps"]):
        assert "run" in step and "if" not in step, "the test runner runs plain `run:` steps"
        scripts = workspace / ".runner" / f"step-{number}"
        scripts.mkdir(parents=True, exist_ok=True)
        output_file, summary_file = scripts / "output", scripts / "summary"
        output_file.write_text("")
        summary_file.write_text("")
        script = scripts / "script.sh"
        script.write_text(substitute(step["run"], context))
        env = base_env | {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary_file)}
        env |= {name: substitute(str(value), context) for name, value in (step.get("env") or {}).items()}
        done = subprocess.run([*SHELLS[step["shell"]], str(script)], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=STEP_TIMEOUT)  # fmt: skip
        log += done.stdout + done.stderr
        masks |= {
            line[len("::add-mask::") :]
            for line in done.stdout.splitlines()
            if line.startswith("::add-mask::")
        }
        summary += summary_file.read_text(encoding="utf-8")
        if "id" in step:
            context |= {f"steps.{step['id']}.outputs.{k}": v for k, v in read_outputs(output_file).items()}
        if done.returncode != 0:
            status = done.returncode
            break
    # An output of a step that did not write it is empty, as on the runner.
    outputs = {
        name: EXPRESSION.sub(lambda m: context.get(m.group(1), ""), spec["value"])
        for name, spec in ACTION["outputs"].items()
    }
    if outputs["report"]:  # kept where the session's secret hygiene searches every file
        shutil.copy(outputs["report"], workspace / ".runner" / "report.json")
    return ActionRun(status, outputs, summary, log, masks)


@pytest.fixture(scope="session")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """RUNNER_TEMP, with invwh installed by the action's install step once for the session.

    Outside pytest's tmp directory: the installed package's metadata holds the
    README, whose examples show a secret, and would count as a leak.
    """
    temp = Path(tempfile.mkdtemp(prefix="invwh-runner-temp-"))
    try:
        started = time.monotonic()
        installed = run_action(
            {"command": "verify", "args": "--help"}, temp, tmp_path_factory.mktemp("install")
        )
        assert installed.status == 0, installed.log
        seconds = time.monotonic() - started
        figures.note(
            "~action install", f"GitHub Action: invwh installed into a fresh venv in {seconds:.0f} s"
        )
        yield temp
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def test_the_install_goes_into_a_fresh_environment_and_is_reused(runner_temp, tmp_path):
    run = run_action({"command": "verify", "args": "--help"}, runner_temp, tmp_path)
    assert run.status == 0, run.log
    assert "using the environment installed earlier in this job" in run.log
    venvs = list(runner_temp.glob("invwh-venv-*"))
    assert len(venvs) == 1 and (venvs[0] / "pyvenv.cfg").is_file()


def test_a_passing_send_writes_the_summary_the_outputs_and_junit(runner_temp, tmp_path):
    junit = tmp_path / "reports" / "send.xml"
    with listen_process(tmp_path, tmp_path / "deliveries.jsonl") as (_, url):
        run = run_action({"command": "send", "args": str(SAMPLES), "url": url, "secret": TEST_SECRET,
                          "junit": str(junit)}, runner_temp, tmp_path)  # fmt: skip
    assert run.status == 0, run.log
    assert run.outputs["exit-code"] == "0"
    assert run.masks == {TEST_SECRET}, "the secret is masked before anything else is logged"
    report = json.loads(Path(run.outputs["report"]).read_text(encoding="utf-8"))
    assert (report["command"], report["url"], report["ok"]) == ("send", url, True)
    names = [item["name"] for item in report["items"]]
    assert len(names) == len(list(SAMPLES.glob("*.json"))) == report["summary"]["as_expected"]
    # The summary: a heading with the verdict, one row per delivery, the counts.
    assert "### ✅ invwh send: passed" in run.summary
    for name in names:
        assert re.search(
            rf"^\| ✅ \| `{re.escape(name)}` \| as expected \| `200 OK \(processed\)` \|$", run.summary, re.M
        )
    assert f"total {len(names)} · as expected {len(names)} · unexpected 0 · undelivered 0" in run.summary
    cases = ET.parse(junit).getroot().iter("testcase")
    assert len(list(cases)) == len(names)


def test_a_failing_check_fails_the_step_after_the_summary_and_outputs(runner_temp, tmp_path):
    junit = tmp_path / "check.xml"
    # A receiver that accepts anything, forged deliveries included.
    with serve(lambda request: Reply(200)) as server:
        run = run_action({"command": "check", "url": server.endpoint(), "secret": TEST_SECRET,
                          "junit": str(junit)}, runner_temp, tmp_path)  # fmt: skip
    assert run.status == 1 and run.outputs["exit-code"] == "1"
    report = json.loads(Path(run.outputs["report"]).read_text(encoding="utf-8"))
    assert report["ok"] is False and report["summary"]["failed"] > 0
    assert "### ❌ invwh check: failed (exit 1)" in run.summary
    failed_rows = [line for line in run.summary.splitlines() if line.startswith("| ❌ |")]
    assert len(failed_rows) == report["summary"]["failed"]
    assert any("rejects" in row and "answered 200" in row for row in failed_rows), failed_rows
    root = ET.parse(junit).getroot()
    assert (
        sum(int(suite.get("failures", 0)) for suite in root.iter("testsuite")) == report["summary"]["failed"]
    )


def test_a_receiver_s_answer_cannot_break_the_summary_table(runner_temp, tmp_path):
    def handler(request):
        return (
            Reply(422, b'{"error": "bad | sku <script>"}') if b"stock.decrease" in request.body else Reply()
        )

    payload = str(SAMPLES / "stock-decrease.json")
    with serve(handler) as server:
        inputs = {"command": "send", "args": payload, "url": server.endpoint(), "secret": TEST_SECRET}
        run = run_action(inputs, runner_temp, tmp_path)
    assert (run.status, run.outputs["exit-code"]) == (1, "1")
    row = next(line for line in run.summary.splitlines() if line.startswith("| ❌ |"))
    # The phrase is the one the local server sent: Python 3.13 renamed 422's.
    phrase = HTTPStatus(422).phrase
    assert row.endswith(f'| `422 {phrase} (processing failed) – {{"error": "bad \\| sku <script>"}}` |')
    assert len(re.findall(r"(?<!\\)\|", row)) == 5, "four cells, whatever the answer holds"


@pytest.mark.parametrize(
    "timestamp, code, heading, row",
    [
        ("1700000000", 0, "### ✅ invwh verify: valid", "| signature | ✅ | `signature valid` |"),
        ("1700000001", 1, "### ❌ invwh verify: invalid (signature_mismatch)", "| signature | ❌ |"),
    ],
    ids=["valid", "forged"],
)
def test_verify_summarizes_its_own_report(runner_temp, tmp_path, timestamp, code, heading, row):
    # Quoted arguments with spaces come through whole, as a shell would split them.
    args = (f"--body {SAMPLES / 'minimal-increase.json'} -H 'X-Webhook-Signature: {KNOWN_SIGNATURE}' "
            f"-H \"X-Timestamp: {timestamp}\" --tolerance 0")  # fmt: skip
    run = run_action({"command": "verify", "args": args, "secret": "s3cret"}, runner_temp, tmp_path)
    assert (run.status, run.outputs["exit-code"]) == (code, str(code)), run.log
    assert heading in run.summary
    assert row in run.summary


def test_an_audit_summarizes_the_recording(runner_temp, tmp_path):
    recording = tmp_path / "deliveries.jsonl"
    payload = str(SAMPLES / "stock-decrease.json")
    with listen_process(tmp_path, recording) as (_, url):
        for secret in (TEST_SECRET, "another-secret"):  # one valid delivery, one forged
            command = [str(INVWH), "send", payload, "--url", url]
            env = {**os.environ, "INVWH_SECRET": secret}
            assert subprocess.run(command, env=env, capture_output=True, timeout=60).returncode in (0, 1)
    inputs = {"command": "audit", "args": str(recording), "secret": TEST_SECRET}
    run = run_action(inputs, runner_temp, tmp_path)
    assert (run.status, run.outputs["exit-code"]) == (1, "1"), run.log
    assert "### ❌ invwh audit: failed (exit 1)" in run.summary
    assert f"recording `{recording}`" in run.summary
    assert "| `stock.decrease` | 1 | 1 | 0 | 0 |" in run.summary
    assert "- line 2: `bad signature: signature_mismatch`" in run.summary


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"command": "sing"},
         "command must be one of send, check, trigger, replay, verify, audit, got 'sing'"),
        ({"command": "verify", "junit": "x.xml"}, "junit: verify writes no JUnit report"),
        ({"command": "audit", "junit": "x.xml"}, "junit: audit writes no JUnit report"),
        ({"command": "send", "args": "'unclosed"}, "args: No closing quotation"),
        ({"command": "send", "args": "no-such.json", "url": "http://127.0.0.1:9/x", "secret": TEST_SECRET},
         "invwh: error: no-such.json"),
    ],
    ids=["unknown-command", "junit-with-verify", "junit-with-audit", "bad-quoting", "invwh-input-error"],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_still_a_summary(runner_temp, tmp_path, inputs, message):
    run = run_action(inputs, runner_temp, tmp_path)
    assert (run.status, run.outputs["exit-code"]) == (2, "2"), run.log
    errors = [line for line in run.log.splitlines() if line.startswith("invwh: error:")]
    assert len(errors) == 1 and message in errors[0], run.log
    assert "Traceback" not in run.log
    assert "failed (exit 2)" in run.summary and message in run.summary


def test_inputs_reach_the_scripts_only_through_the_environment():
    """No `${{ inputs.* }}` inside a script: an input cannot become shell code, nor a secret an argument."""
    for step in ACTION["runs"]["steps"]:
        assert "inputs." not in step["run"], step["run"]
        if "INVWH_ACTION_SECRET" in (step.get("env") or {}):
            assert "INVWH_ACTION_SECRET" not in step["run"]


def test_the_readme_workflow_uses_the_action_s_inputs_and_outputs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## GitHub Action", 1)[1].split("\n## ", 1)[0]
    workflow = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    uses = [s for s in steps if str(s.get("uses", "")).split("@")[0].endswith("/invwh")]
    assert {s["with"]["command"] for s in uses} == {"send", "check"}
    for step in uses:
        assert set(step["with"]) <= set(ACTION["inputs"])
        assert "secrets." in step["with"]["secret"]
    assert any("upload" in str(s.get("uses", "")) for s in steps), "the JUnit reports are uploaded"


# --- what reaches the log and the summary ---------------------------------------------------

#: A multi-line secret (a PEM key, a JSON credential) with the characters the runner's escaping covers.
MULTI_LINE_SECRET = "first-line-of-secret\nsecond 100% secret line\r\n  third-secret-line  "
register_secret(*(line.strip() for line in MULTI_LINE_SECRET.splitlines()))


def as_the_runner_logs(log: str) -> tuple[list[str], list[str]]:
    """The log lines as the runner shows them, and the masks it registered, in order.

    Each ``::add-mask::`` line registers its value, unescaped as the runner
    unescapes (``%0D``, ``%0A``, ``%25``), from that line on; every other line
    is shown with the values registered so far replaced by ``***``.
    """
    shown: list[str] = []
    masks: list[str] = []
    for line in log.split("\n"):
        if line.startswith("::add-mask::"):
            value = line[len("::add-mask::") :]
            masks.append(value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%"))
            continue
        for value in sorted(masks, key=len, reverse=True):
            line = line.replace(value, "***")
        shown.append(line)
    return shown, masks


@pytest.mark.parametrize("hash_seed", ["0", "1", "2", "3", "4", "5", "6", "7"])
def test_every_line_of_a_multi_line_secret_is_masked_before_anything_is_logged(
    runner_temp, tmp_path, hash_seed
):
    inputs = {"command": "verify", "args": "--help", "secret": MULTI_LINE_SECRET}
    run = run_action(inputs, runner_temp, tmp_path, environment={"PYTHONHASHSEED": hash_seed})
    assert run.status == 0, run.log
    shown, masks = as_the_runner_logs(run.log)
    lines = [line.strip() for line in MULTI_LINE_SECRET.splitlines()]
    for line in shown:
        assert not any(secret_line in line for secret_line in lines), f"in clear in the log: {line!r}"
    # Each line, each line stripped, then the whole: in that order, whatever the hash seed.
    assert masks == [
        "first-line-of-secret",
        "second 100% secret line",
        "  third-secret-line  ",
        "third-secret-line",
        MULTI_LINE_SECRET,
    ]
    assert "::add-mask::second 100%25 secret line" in run.log.splitlines()


def test_a_file_name_cannot_start_a_workflow_command_or_close_the_summary_s_fence(runner_temp, tmp_path):
    name = tmp_path / "a\n::warning::injected\n```\n##[error]also.json"
    inputs = {"command": "send", "args": shlex.quote(str(name)), "url": "http://127.0.0.1:9/x",
              "secret": TEST_SECRET}  # fmt: skip
    run = run_action(inputs, runner_temp, tmp_path)
    assert (run.status, run.outputs["exit-code"]) == (2, "2"), run.log
    for line in run.log.splitlines():
        assert not line.lstrip().startswith("::") or line.startswith("::add-mask::"), line
        assert "##[" not in line, line
    error = next(line for line in run.log.splitlines() if line.startswith("invwh: error:"))
    assert "a\\x0a::warning::injected\\x0a```\\x0a##\\x5berror]also.json" in error
    fences = [line for line in run.summary.splitlines() if line.startswith("```")]
    assert len(fences) == 2 and fences[0] == fences[1] == "````", "a fence longer than what it holds"


def test_a_receiver_s_markdown_is_inert_in_the_job_summary(runner_temp, tmp_path):
    beacon = (b'{"error": "![beacon](https://attacker.example/p.png) <img src=https://attacker.example/i> '
              b'**bold** [click](https://attacker.example/) https://attacker.example/auto `x`"}')  # fmt: skip
    with serve(lambda request: Reply(401, beacon)) as server:
        inputs = {"command": "send", "args": str(SAMPLES / "stock-decrease.json"), "url": server.endpoint(),
                  "secret": TEST_SECRET}  # fmt: skip
        run = run_action(inputs, runner_temp, tmp_path)
    assert run.status == 1, run.log
    html = cmarkgfm.github_flavored_markdown_to_html(run.summary, options=cmarkgfm_options.CMARK_OPT_UNSAFE)
    assert "attacker.example" in html, "the answer is shown"
    for tag in ("<img", "<a ", "<strong>", "<em>"):
        assert tag not in html, f"{tag} rendered from a receiver's answer:\n{html}"
    (row,) = [line for line in run.summary.splitlines() if line.startswith("| ❌ |")]
    assert len(re.findall(r"(?<!\\)\|", row)) == 5, "four cells, whatever the answer holds"


def test_a_secret_echoed_by_a_receiver_is_redacted_from_the_summary_and_the_log(runner_temp, tmp_path):
    echo = json.dumps({"error": f"expected secret {TEST_SECRET}"}).encode()
    with serve(lambda request: Reply(401, echo)) as server:
        inputs = {"command": "send", "args": str(SAMPLES / "stock-decrease.json"), "url": server.endpoint(),
                  "secret": TEST_SECRET, "junit": str(tmp_path / "send.xml")}  # fmt: skip
        run = run_action(inputs, runner_temp, tmp_path)
    assert run.status == 1, run.log
    for text in (run.summary, run.log, (tmp_path / "send.xml").read_text(encoding="utf-8")):
        assert TEST_SECRET not in text.replace(f"::add-mask::{TEST_SECRET}", "")
    assert "expected secret [redacted]" in run.summary
