"""One report model for send, trigger, replay and check: the shapes CI systems read.

JSON's top level, JUnit's suites and cases, an unreachable receiver, an
interrupted run, -q and -v, and text at 80 columns under a real
pseudo-terminal and in a pipe. The interrupted runs are real processes of the
installed script, stopped by a real signal.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import SAMPLES, TEST_SECRET, Invwh
from servers import Reply, free_port, serve
from terminal import run_on_a_terminal

from inventory_cli.cli.output.reporter import Reporter
from inventory_cli.cli.output.text import cell_width
from inventory_cli.workflows.report import SKIPPED, Item, LineItem, Report, delivery_report

SCRIPT = str(Path(sys.executable).parent / "invwh")
INCREASE = SAMPLES / "stock-increase.json"
#: What a receiver says when it refuses: long enough to need wrapping at 80 columns.
REFUSAL = (
    b'{"valid": false, "reason": "signature_mismatch", "message": "X-Webhook-Signature does not '
    b'match the body under the given secret; check that the sender and the receiver share one"}'
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def invwh() -> Invwh:
    return Invwh(env={"INVWH_SECRET": TEST_SECRET})


def environment(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("INVWH_") and k not in ("COLUMNS", "LINES")
    }
    env.pop("NO_COLOR", None)
    return {**env, "INVWH_SECRET": TEST_SECRET, **extra}


def on_a_terminal(args: list[str], columns: int = 80, cwd: Path | None = None) -> tuple[int, list[str]]:
    """Runs the installed ``invwh`` with its stdout on a pseudo-terminal ``columns`` wide."""
    # stdout's layout; the status line on stderr meanwhile is test_progress's.
    code, shown = run_on_a_terminal(args, columns, cwd=cwd, stderr_too=False)
    return code, ANSI.sub("", shown).splitlines()


def long_named_payloads(directory: Path) -> list[Path]:
    folder = directory / "payloads for the team"
    folder.mkdir()
    paths = []
    for name in ("first", "second"):
        path = folder / f"a-long-sample-name-for-the-{name}-restock-event.json"
        path.write_bytes(INCREASE.read_bytes())
        paths.append(path)
    return paths


def test_a_send_table_fits_80_columns_without_cutting_a_name_or_a_word(tmp_path):
    paths = long_named_payloads(tmp_path)
    with serve(lambda request: Reply(401, REFUSAL)) as server:
        code, lines = on_a_terminal(
            ["send", "payloads for the team", "--url", server.endpoint()], cwd=tmp_path
        )
    assert code == 1
    assert max(cell_width(line) for line in lines) <= 80, "\n".join(lines)
    for path in paths:  # each name whole, on one line of its own
        name = f"payloads for the team/{path.name}"
        assert any(line.endswith(name) for line in lines), "\n".join(lines)
    said = " ".join(line.strip() for line in lines)  # wrapped lines joined again: no word was cut
    assert REFUSAL.decode() in said


def test_in_a_pipe_the_table_is_laid_out_for_80_columns_or_for_columns(invwh, tmp_path):
    paths = long_named_payloads(tmp_path)
    with serve(lambda request: Reply(401, REFUSAL)) as server:
        piped = invwh("send", *paths, "--url", server.endpoint(), code=1, env={"COLUMNS": None}).stdout
        wide = invwh("send", *paths, "--url", server.endpoint(), code=1, env={"COLUMNS": "300"}).stdout
    assert max(cell_width(line) for line in piped.splitlines()) <= 80, piped
    assert "\x1b[" not in piped and "\r" not in piped
    for path in paths:  # a wide log: each row on one line, its answer under it
        (row,) = [line for line in wide.splitlines() if str(path) in line]
        assert row.startswith("✗ ") and "stock.increase   401" in row
    assert f"    401 Unauthorized: {REFUSAL.decode()}" in wide.splitlines()
    assert REFUSAL.decode() in " ".join(line.strip() for line in piped.splitlines())  # wrapped, not cut


def test_a_check_at_80_columns_wraps_each_explanation_under_its_row():
    with serve(lambda request: Reply(401, REFUSAL)) as server:
        code, lines = on_a_terminal(["check", "--url", server.endpoint()])
    assert code == 1
    assert max(cell_width(line) for line in lines) <= 80, "\n".join(lines)
    said = " ".join(line.strip() for line in lines)
    assert (
        "answered 401 Unauthorized: the secret or the scheme (inventory-v1) most likely differs from the "
        "receiver's sent: a stock.increase event, validly signed"
    ) in said
    assert "sent: a valid event whose X-Webhook-Signature is not a well-formed signature" in said


def test_json_is_one_document_whose_counts_add_up(invwh):
    answers = iter([Reply(200), Reply(500, b"boom")])
    with serve(lambda request: next(answers)) as server:
        report = invwh(
            "send", INCREASE, INCREASE, "--url", server.endpoint(), "--format", "json", code=1
        ).json
    assert (report["command"], report["url"], report["scheme"]) == ("send", server.endpoint(), "inventory-v1")
    assert (report["ok"], report["interrupted"], report["error"]) == (False, False, None)
    assert report["summary"] == {"total": 2, "as_expected": 1, "unexpected": 1, "undelivered": 0}
    assert [item["outcome"] for item in report["items"]] == ["as_expected", "unexpected"]
    assert [item["name"] for item in report["items"]] == [str(INCREASE)] * 2


@pytest.mark.parametrize("command", ["send", "check"])
def test_an_unreachable_receiver_still_gets_a_json_document_and_a_junit_error(invwh, tmp_path, command):
    url = f"http://127.0.0.1:{free_port()}/webhooks"
    junit = tmp_path / "report.xml"
    args = [INCREASE] if command == "send" else []
    result = invwh(command, *args, "--url", url, "--format", "json", "--junit", junit, code=3)
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["error"] == f"could not deliver to {url}: connection refused (is the server running?)"
    assert report["summary"]["undelivered"] == report["summary"]["total"] == 1
    (line,) = result.stderr.splitlines()  # the one error line, whatever the format
    assert line == f"invwh: error: {report['error']}"
    suite = ElementTree.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("errors")) == ("1", "1")
    assert "connection refused" in suite.find("testcase/error").get("message")


def test_junit_names_the_command_url_and_scheme_and_shows_request_and_answer(invwh, tmp_path):
    junit = tmp_path / "report.xml"
    with serve(lambda request: Reply(422, b'{"error": "unknown sku"}')) as server:
        invwh("send", INCREASE, "--url", server.endpoint(), "--scheme", "github", "--junit", junit, code=1)
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("name") == f"invwh send {server.endpoint()} (github)"
    (case,) = suite.findall("testcase")
    assert case.find("failure").get("message").startswith("422 Unprocessable")
    output = case.find("system-out").text
    assert f"> POST {server.endpoint()}" in output
    assert "> X-Hub-Signature-256: sha256=" in output
    assert '< {"error": "unknown sku"}' in output


def test_quiet_says_only_what_failed_and_the_summary(invwh):
    answers = iter([Reply(200), Reply(401, b"no")])
    with serve(lambda request: next(answers)) as server:
        result = invwh(  # a wide log: a long checkout path stays on its line
            "send", INCREASE, SAMPLES / "stock-decrease.json", "--url", server.endpoint(), "-q", code=1,
            env={"COLUMNS": "300"},
        )  # fmt: skip
    assert result.stdout.splitlines() == [
        f"✗ {SAMPLES / 'stock-decrease.json'}: 401 Unauthorized: no",
        "2 deliveries: 1 as expected, 1 unexpected",
    ]


def test_verbose_shows_each_request_and_answer(invwh):
    with serve(lambda request: Reply(200, b'{"ok": true}')) as server:
        # A wide log: each header whole on its line.
        result = invwh("trigger", "stock.depleted", "--url", server.endpoint(), "-v", env={"COLUMNS": "300"})
    (request,) = server.received
    lines = result.stdout.splitlines()
    assert f"    > POST {server.endpoint()}" in lines
    assert f"    > X-Webhook-Signature: {request.headers['X-Webhook-Signature']}" in lines
    # The start of the body, on one line: its newlines shown escaped.
    shown = request.body[:200].decode().replace("\n", "\\n")
    assert f"    > {shown}… ({len(request.body)} bytes)" in lines
    assert "    < 200 OK" in lines and '    < {"ok": true}' in lines


def test_quiet_and_verbose_together_are_a_usage_error(invwh):
    result = invwh("send", INCREASE, "--url", "http://127.0.0.1:9/webhooks", "-q", "-v", code=2)
    assert "not both" in result.stderr


def slow_receiver(seconds: float):
    def answer(request):
        time.sleep(seconds)
        return Reply(200)

    return answer


def interrupted(args: list[str], server, *, after: int, signum: int, tmp_path: Path):
    """Runs the installed ``invwh`` until the server has had ``after`` requests, then signals it."""
    junit = tmp_path / "report.xml"
    process = subprocess.Popen(
        [SCRIPT, *args, "--url", server.endpoint(), "--format", "json", "--junit", str(junit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=environment(),
    )
    deadline = time.monotonic() + 30
    while len(server.received) < after and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    return process.returncode, json.loads(stdout), stderr.decode(), ElementTree.parse(junit).getroot()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_send_reports_what_it_did(tmp_path, signum):
    paths = []
    for n in range(20):
        path = tmp_path / f"event-{n:02d}.json"
        path.write_bytes(INCREASE.read_bytes())
        paths.append(str(path))
    with serve(slow_receiver(0.2)) as server:
        code, report, stderr, suite = interrupted(
            ["send", *paths], server, after=3, signum=signum, tmp_path=tmp_path
        )
    assert code == 130
    assert report["interrupted"] is True and report["ok"] is False
    assert 2 <= report["summary"]["total"] < 20
    assert report["summary"]["total"] == len(report["items"]) == report["summary"]["as_expected"]
    assert "invwh: interrupted" in stderr and "Traceback" not in stderr
    names = [case.get("name") for case in suite.findall("testcase")]
    assert names[-1] == "the whole run" and len(names) == report["summary"]["total"] + 1


def test_an_interrupted_replay_reports_what_it_did(tmp_path):
    body = INCREASE.read_text()
    recording = tmp_path / "r.jsonl"
    line = {"method": "POST", "path": "/webhooks", "headers": {}, "body": body, "body_encoding": "utf-8"}
    recording.write_text("".join(json.dumps(line) + "\n" for _ in range(30)))
    with serve(slow_receiver(0.2)) as server:
        # After the 4th request arrived: the 2nd's answer came back 0.2 s before, time enough
        # to be reported even when the replay's pool runs in a process of its own and hands each
        # answer over (the 3rd's may still be on its way when the signal comes).
        code, report, _, suite = interrupted(
            ["replay", str(recording)], server, after=4, signum=signal.SIGTERM, tmp_path=tmp_path
        )
    assert code == 130
    assert report["interrupted"] is True
    assert 2 <= report["summary"]["total"] < 30
    assert [item["line"] for item in report["items"]] == list(range(1, report["summary"]["total"] + 1))
    assert report["statuses"] == {"200": report["summary"]["total"]}
    assert suite.find("testcase[@name='the whole run']/error") is not None


class _Recorded:
    """A format that keeps what it was handed."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.finished: list[Report] = []

    def start(self, report: Report) -> None:
        pass

    def add(self, item: Item) -> None:
        self.items.append(item)

    def finish(self, report: Report) -> None:
        self.finished.append(report)

    def abandon(self) -> None:
        pass


def test_a_signal_waits_for_what_is_counted_beside_an_item():
    # A replay counts its statistics and reports the item in one deferred block: a signal that
    # comes after the count and before the item takes effect once both are done.
    sink = _Recorded()
    counted = []
    report = delivery_report("replay", "http://localhost/", "inventory-v1", streamed=True)
    with Reporter(report, [sink]) as reporter:
        for n in range(1, 4):
            item = LineItem(f"line {n}", SKIPPED, {"line": n}, why="not a POST")
            with reporter.deferred():
                counted.append(n)
                if n == 2:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.05)  # the handler has run: the signal is pending, not raised
                reporter.add(item)
                counted.append(f"after {n}")
    assert counted == [1, "after 1", 2, "after 2"]
    assert [item.name for item in sink.items] == ["line 1", "line 2"]
    assert report.interrupted and report.total == 2 and sink.finished == [report]


def test_an_interrupted_check_reports_the_cases_done(tmp_path):
    with serve(slow_receiver(0.2)) as server:
        code, report, _, _ = interrupted(["check"], server, after=4, signum=signal.SIGTERM, tmp_path=tmp_path)
    assert code == 130
    assert report["interrupted"] is True
    assert 3 <= report["summary"]["total"] < 13
    assert report["items"][0]["name"] == "accepts stock.increase"


def test_sigterm_in_a_thread_that_is_not_main_does_not_break(invwh):
    # The reporter only installs its SIGTERM handler from the main thread (signal's rule).
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with serve() as server:
                invwh("send", INCREASE, "--url", server.endpoint())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert errors == []


def test_demo_at_80_columns_shows_each_rejection_whole():
    code, lines = on_a_terminal(["demo"])
    assert code == 0
    assert max(cell_width(line) for line in lines) <= 80, "\n".join(lines)
    said = " ".join(line.strip() for line in lines)
    assert '"message": "X-Webhook-Signature does not match the body under the given secret"}' in said
    assert 'did you mean \\"stock.increase\\"?"}' in said
