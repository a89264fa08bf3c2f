"""Progress while a long run runs: seen on a real pseudo-terminal before the run ends, never in a pipe.

The receiver holds an answer until the test opens a gate, so the run is
caught while deliveries are still pending: what the terminal shows then is
what a person watching sees.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, TEST_SECRET
from servers import Reply, free_port, serve
from terminal import SCRIPT, Terminal
from test_listen import post
from test_replay import DECREASE, INCREASE, recorded_line

from inventory_cli.cli.output import progress
from inventory_cli.cli.output.hints import hint_words
from inventory_cli.signing.schemes import get_scheme
from inventory_cli.signing.signatures import Secret
from inventory_cli.workflows.audit import AuditTally

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def gated(answers: list[int], gate: threading.Event, hold_from: int):
    """Answers ``answers`` in turn; from request ``hold_from`` on (1-based), only once ``gate`` opens."""
    count = 0
    lock = threading.Lock()

    def answer(request):
        nonlocal count
        with lock:
            count += 1
            number = count
        if number >= hold_from:
            gate.wait(30)
        return Reply(answers[min(number, len(answers)) - 1])

    return answer


def a_recording(path: Path, lines: int) -> Path:
    path.write_bytes(b"".join(recorded_line(INCREASE if n % 2 else DECREASE) for n in range(lines)))
    return path


def piped(args: list[str], *, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [SCRIPT, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**env, "INVWH_SECRET": TEST_SECRET, "TERM": "xterm-256color"},
        check=False,
    )


# --- replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
def test_a_replay_shows_lines_done_rate_and_unexpected_while_deliveries_are_pending(tmp_path, columns):
    recording = a_recording(tmp_path / "r.jsonl", 5)
    gate = threading.Event()
    with serve(gated([200, 503, 200], gate, hold_from=3)) as server:
        terminal = Terminal(["replay", str(recording), "--url", server.endpoint()], columns)
        try:
            # Lines 1 and 2 are answered, line 3 waits at the gate: the run is not over.
            seen = terminal.wait_for("2 / 5 lines")
            still_running = terminal.running()
            shown_while_running = terminal.text
        finally:
            gate.set()
        code, shown = terminal.finish()
    assert seen and still_running, shown
    plain = ESCAPE.sub("", shown_while_running)
    status = plain[plain.rindex("replay  ") :]
    assert re.search(r"replay  2 / 5 lines · [\d,]+/s", status), status
    assert "1 unexpected" in status
    assert code == 1
    assert "5 lines: 4 as expected, 1 unexpected" in shown
    # The status line is erased at the end: the summary is the last thing shown.
    assert ESCAPE.sub("", shown).rstrip().endswith("5 lines: 4 as expected, 1 unexpected")


def test_a_piped_replay_is_plain_text_with_no_progress(tmp_path):
    recording = a_recording(tmp_path / "r.jsonl", 3)
    with serve() as server:
        done = piped(["replay", str(recording), "--url", server.endpoint()])
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        assert b"\x1b" not in stream and b"\r" not in stream
    assert b"lines \xc2\xb7" not in done.stderr  # no status line
    assert done.stdout.decode().endswith("3 lines: 3 as expected\n")


def test_no_progress_turns_the_status_line_off_on_a_terminal(tmp_path):
    recording = a_recording(tmp_path / "r.jsonl", 3)
    with serve() as server:
        args = ["replay", str(recording), "--url", server.endpoint(), "--no-progress"]
        code, shown = Terminal(args).finish()
    assert code == 0
    assert " / 3 lines" not in shown and "lines ·" not in shown


def test_a_dumb_terminal_gets_no_status_line(tmp_path):
    recording = a_recording(tmp_path / "r.jsonl", 3)
    with serve() as server:
        args = ["replay", str(recording), "--url", server.endpoint()]
        code, shown = Terminal(args, env={"TERM": "dumb"}).finish()
    assert code == 0
    assert "\x1b" not in shown and "\r" not in shown and "lines ·" not in shown


def test_progress_forced_into_a_pipe_is_plain_lines(tmp_path):
    recording = a_recording(tmp_path / "r.jsonl", 2)
    gate = threading.Event()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    with serve(gated([200], gate, hold_from=2)) as server:
        process = subprocess.Popen(
            [SCRIPT, "replay", str(recording), "--url", server.endpoint(), "--progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env={**env, "INVWH_SECRET": TEST_SECRET},
        )
        try:
            assert process.stderr is not None
            first = process.stderr.readline()  # line 2 waits at the gate until this line is read
        finally:
            gate.set()
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    said = first + rest
    assert b"\x1b" not in said and b"\r" not in said
    assert first.decode().startswith("replay  1 / 2 lines · "), said


# --- send: rows as they come, retries as they wait ---------------------------------------------------


def test_send_shows_each_row_as_its_delivery_is_answered(tmp_path):
    names = [f"event-{n}.json" for n in (1, 2, 3)]
    for name in names:
        (tmp_path / name).write_bytes(INCREASE)
    gate = threading.Event()
    with serve(gated([200, 200, 200], gate, hold_from=3)) as server:
        terminal = Terminal(["send", *names, "--url", server.endpoint()], 80, cwd=tmp_path)
        try:
            seen = terminal.wait_for("event-2.json   stock.increase")  # rows 1 and 2 answered, 3 at the gate
            still_running = terminal.running()
            shown_while_running = ESCAPE.sub("", terminal.text)
        finally:
            gate.set()
        code, shown = terminal.finish()
    assert seen and still_running, shown
    assert "✓ event-1.json" in shown_while_running and "event-3.json" not in shown_while_running
    assert "send  2 / 3 deliveries" in shown_while_running
    assert code == 0
    # At the end the whole table, once, in order: the rows shown meanwhile are erased with the status.
    plain = ESCAPE.sub("", shown)
    final = plain[plain.index("\n", plain.rindex("send  ")) :]  # after the last status line
    assert [line.split()[1] for line in final.splitlines() if line.startswith("✓ ")] == names, final


def test_check_shows_each_case_as_it_is_done(tmp_path):
    gate = threading.Event()
    # The preflight's three events, the raw body's two, a tampered body: then the gate.
    with serve(gated([200], gate, hold_from=7)) as server:
        terminal = Terminal(["check", "--url", server.endpoint(), "--timeout", "20"], 120)
        try:
            seen = terminal.wait_for("rejects a tampered body")
            # The status line is redrawn by rich's own thread, a moment after the row is printed.
            deadline = time.monotonic() + 30
            while "check  5 cases" not in ESCAPE.sub("", terminal.text) and time.monotonic() < deadline:
                terminal.wait_for("text that never comes", timeout=0.2)
            still_running = terminal.running()
            shown_while_running = ESCAPE.sub("", terminal.text)
        finally:
            gate.set()
        code, shown = terminal.finish()
    assert seen and still_running, shown
    assert "✓ accepts stock.increase" in shown_while_running
    assert "rejects another secret" not in shown_while_running  # its answer is still held
    assert "check  5 cases" in shown_while_running
    assert code == 1  # a receiver that accepts everything fails the check
    assert "rejects another secret" in ESCAPE.sub("", shown)


def test_a_retry_says_how_long_it_waits_and_why_while_it_waits(tmp_path):
    port = free_port()  # nothing listens: every attempt is refused
    url = f"http://127.0.0.1:{port}/webhooks"
    terminal = Terminal(["send", str(SAMPLES / "stock-increase.json"), "--url", url, "--retries", "2"], 120)
    seen = terminal.wait_for("(attempt 2 of 3): connection refused")
    code, shown = terminal.finish()
    assert seen, shown
    plain = ESCAPE.sub("", shown)
    assert re.search(r"retrying in 0\.\d s \(attempt 2 of 3\): connection refused", plain), plain
    assert "(attempt 3 of 3)" in plain  # the second wait, counted anew
    assert code == 3
    assert plain.index("attempt 2 of 3") < plain.index("1 delivery: 1 not delivered")


def test_a_retry_in_a_pipe_says_nothing_on_stderr_but_the_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/webhooks"
    done = piped(["send", str(SAMPLES / "stock-increase.json"), "--url", url, "--retries", "1"])
    assert done.returncode == 3
    assert b"retrying" not in done.stderr and b"\x1b" not in done.stderr
    assert done.stderr.decode().startswith("invwh: error: could not deliver")


# --- the audit --------------------------------------------------------------------------------------


def test_an_audit_shows_deliveries_and_failures_while_it_reads(tmp_path):
    good = recorded_line(INCREASE)
    bad = recorded_line(DECREASE, headers={"X-Webhook-Signature": "v1=forged", "X-Timestamp": "1"})
    read, write = os.pipe()  # the recording comes through a pipe the test feeds
    terminal = Terminal(["audit", "-", "--tolerance", "0"], 80, stdin=read)
    os.close(read)
    try:
        os.write(write, good * 3 + bad)
        seen = terminal.wait_for("4 deliveries")
        still_running = terminal.running()
        shown_while_running = terminal.text
        os.write(write, good)
    finally:
        os.close(write)
    code, shown = terminal.finish()
    assert seen and still_running, shown
    plain = ESCAPE.sub("", shown_while_running)
    status = plain[plain.rindex("audit  ") :]
    assert re.search(r"audit  4 deliveries · [\d,]+/s · 1 failed", status), status
    assert code == 1
    assert "4 of 5 deliveries valid" in shown


def test_the_audit_status_says_how_much_of_the_file_is_read(tmp_path):
    recording = a_recording(tmp_path / "r.jsonl", 400)
    whole = recording.stat().st_size
    tally = AuditTally()
    with recording.open("rb", buffering=0) as stream:
        describe = progress.audit_status(tally, stream)
        assert describe().plain.startswith(f"audit  0 B / {progress.size(whole)} · 0 deliveries")
        stream.read(whole // 2)
        tally.total = 7
        assert describe().plain.startswith(f"audit  {progress.size(whole // 2)} / {progress.size(whole)}")
        assert "7 deliveries" in describe().plain


def test_a_piped_audit_has_no_status_line(tmp_path):
    recording = a_recording(tmp_path / "r.jsonl", 3)
    done = piped(["audit", str(recording), "--tolerance", "0"])
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert b"\x1b" not in done.stdout and b"\r" not in done.stdout


# --- listen: a footer under the log --------------------------------------------------------------


def test_listen_keeps_counts_by_verdict_under_its_log_on_a_terminal():
    terminal = Terminal(["listen", "--port", "0"], 100)
    try:
        assert terminal.wait_for("listening on http://"), terminal.text
        url = re.search(r"listening on (http://\S+)", terminal.text).group(1)
        post(url)
        post(url, headers={"Content-Type": "application/json", "X-Webhook-Signature": "v1=AAAA"})
        assert terminal.wait_for(" 2 requests"), terminal.text
        footer = ESCAPE.sub("", terminal.text)
        footer = footer[footer.rindex("listen  2 requests") :]
        assert re.match(r"listen  2 requests: 1 ok, 1 \w+ · [\d.]+/s", footer), footer
    finally:
        terminal.process.send_signal(signal.SIGINT)
    code, shown = terminal.finish()
    assert code == 0
    plain = ESCAPE.sub("", shown)
    # Each log line on a line of its own, and the footer erased at the end: the stop is the last word.
    assert plain.rstrip().endswith("invwh listen: stopped after 2 requests"), plain
    assert re.search(r"\n\d\d:\d\d:\d\d\.\d{3}  200  POST /webhooks  stock.increase  ok\n", plain), plain


def test_listen_in_a_pipe_has_no_footer():
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    process = subprocess.Popen(
        [SCRIPT, "listen", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**env, "INVWH_SECRET": TEST_SECRET},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().split()[-1]
        post(url)
    finally:
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"\x1b" not in stdout + stderr and b"\r" not in stdout + stderr
    assert b"requests:" not in stdout and b"/s" not in stdout


def test_a_listen_line_wraps_at_word_boundaries_under_its_method():
    from inventory_cli.cli.output import listen_text
    from inventory_cli.cli.output.text import TextWriter
    from inventory_cli.workflows.receive import ReceivedDelivery
    from inventory_cli.workflows.verdict import judge

    body = b'{"inventoryStockIncreaseEventType": "stock.increase"}'
    headers = {"X-Webhook-Signature": "v1=AAAA", "X-Timestamp": "1"}
    verdict = judge(get_scheme("inventory-v1"), [Secret(TEST_SECRET)], body, headers, now=1)
    delivery = ReceivedDelivery(1.0, "POST", "/webhooks", headers, body, verdict, 401, verdict.reason)
    for columns in (60, 100):
        writer = TextWriter(color=False, out=io.StringIO())
        writer.width = columns
        lines = listen_text.delivery_text(writer, delivery, forced=False).splitlines()
        assert max(len(line) for line in lines) <= columns, lines
        assert all(line.startswith(listen_text.CAUSE_INDENT) for line in lines[1:]), lines
        said = " ".join(line.strip() for line in lines)
        assert delivery.message in said and hint_words(verdict.hints[0]) in said  # every word whole, none cut


def test_the_status_words():
    assert [progress.duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 5 s", "1 h 2 min"]
    assert [progress.size(n) for n in (512, 12_500, 80_000_000)] == ["512 B", "12.5 KB", "80.0 MB"]
    assert sys.executable  # the installed script runs beside this interpreter
