"""What invwh writes and prints when the world is hostile: links, full disks, and text from outside.

Reports are written whole (a temporary file renamed over the old one) and
never through a symbolic link; a full disk (a real 64 KiB tmpfs) is one line
and leaves the previous report as it was. A receiver's reason phrase and body
(served byte for byte from a raw socket) reach the terminal with their
control characters escaped and the JUnit file as valid XML.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import SAMPLES, TEST_SECRET, Invwh
from hygiene import register_secret
from servers import Received, Reply, read_message, serve, tcp_server

SCRIPT = str(Path(sys.executable).parent / "invwh")
INCREASE = SAMPLES / "stock-increase.json"
#: Sets a terminal's title, rings its bell, clears the screen: what a hostile receiver sends.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x7f"
OLD_REPORT = (
    b"<?xml version='1.0' encoding='utf-8'?>\n<testsuite name=\"yesterday\" tests=\"0\"></testsuite>\n"
)
TIMEOUT = 30


@pytest.fixture
def invwh() -> Invwh:
    return Invwh(env={"INVWH_SECRET": TEST_SECRET})


@contextlib.contextmanager
def raw_receiver(status_line: bytes, body: bytes) -> Iterator[str]:
    """A receiver that answers every request with exactly these bytes: no library tidies them."""

    def handle(connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            connection.settimeout(TIMEOUT)
            read_message(connection)
            head = status_line + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
            connection.sendall(head + body)
            connection.shutdown(socket.SHUT_WR)

    with tcp_server(handle) as port:
        yield f"http://127.0.0.1:{port}/webhooks"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB file system (tmpfs), unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True, timeout=TIMEOUT
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True, timeout=TIMEOUT)


def fill(disk: Path) -> None:
    """Fills ``disk`` to the last byte."""
    with open(disk / "filler", "wb", buffering=0) as file:
        for size in (4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    file.write(b"x" * size)
    assert os.statvfs(disk).f_bavail == 0


def run_invwh(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INVWH_")}
    return subprocess.run(
        [SCRIPT, *map(str, args)],
        env={**base, "INVWH_SECRET": TEST_SECRET, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


# --- the JUnit file -----------------------------------------------------------------


def test_junit_creates_the_directories_its_path_names(invwh, tmp_path):
    junit = tmp_path / "reports" / "invwh" / "report.xml"
    with serve() as server:
        invwh("send", INCREASE, "--url", server.endpoint(), "--junit", junit)
    assert ElementTree.parse(junit).getroot().get("tests") == "1"
    assert sorted(p.name for p in junit.parent.iterdir()) == ["report.xml"], "no temporary file left"


def test_junit_never_writes_through_a_link(invwh, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"keep me")
    for target in (precious, tmp_path / "nowhere.xml"):  # a link to a file, a dangling link
        junit = tmp_path / "report.xml"
        junit.unlink(missing_ok=True)
        junit.symlink_to(target)
        with serve() as server:
            result = invwh("send", INCREASE, "--url", server.endpoint(), "--junit", junit, code=2)
        assert result.stderr == (
            f"invwh: error: the JUnit report {junit}: is a symbolic link; "
            "invwh does not write through links\n"
        )
        assert server.received == [], "refused before any delivery"
    assert precious.read_bytes() == b"keep me"
    assert not (tmp_path / "nowhere.xml").exists()


def test_an_empty_junit_path_is_a_usage_error(invwh):
    with serve() as server:
        result = invwh("send", INCREASE, "--url", server.endpoint(), "--junit", "", code=2)
    assert result.stderr == "invwh: error: --junit: the path is empty\n"
    assert server.received == []


def test_a_junit_report_that_cannot_be_written_whole_keeps_the_old_one(small_disk):
    junit = small_disk / "report.xml"
    junit.write_bytes(OLD_REPORT)
    fill(small_disk)
    with serve() as server:
        done = run_invwh("send", INCREASE, "--url", server.endpoint(), "--format", "json", "--junit", junit)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr == (
        f"invwh: error: the JUnit report {junit}: cannot write: No space left on device; "
        "the previous report is kept\n"
    )
    assert junit.read_bytes() == OLD_REPORT, "the previous report is untouched"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "report.xml"]
    assert json.loads(done.stdout)["summary"]["as_expected"] == 1, "stdout's JSON is still whole"


def test_a_nearly_full_tmpdir_does_not_touch_the_junit_report(small_disk, tmp_path):
    # One page left: Python's probe of TMPDIR fits, seven cases of a JUnit spool do not.
    fill(small_disk)
    filler = small_disk / "filler"
    os.truncate(filler, filler.stat().st_size - 4096)
    junit = tmp_path / "report.xml"
    with serve() as server:
        done = run_invwh("send", SAMPLES, "--url", server.endpoint(), "--junit", junit,
                         env={"TMPDIR": str(small_disk)})  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert ElementTree.parse(junit).getroot().get("tests") == "7"


# --- text from outside --------------------------------------------------------------


def test_a_hostile_reason_phrase_and_body_are_escaped_on_the_terminal_and_valid_in_junit(invwh, tmp_path):
    junit = tmp_path / "report.xml"
    body = f"denied {HOSTILE}".encode()
    with raw_receiver(f"HTTP/1.1 401 No{HOSTILE}".encode("latin-1"), body) as url:
        result = invwh("send", INCREASE, "--url", url, "-v", "--junit", junit, code=1)
    for control in ("\x1b", "\x07", "\x9b", "\x7f"):
        assert control not in result.stdout
    assert "401 No\\x1b]0;pwned\\x07" in result.stdout
    assert "denied \\x1b]0;pwned\\x07" in result.stdout
    case = ElementTree.parse(junit).getroot().find("testcase")  # parses: valid XML
    assert case.find("failure").get("message").startswith("401 No\\x1b]0;pwned\\x07\\x1b[2J")
    assert "< 401 No\\x1b]0;pwned" in case.find("system-out").text


# --- secrets echoed back ----------------------------------------------------------------

#: A standard-webhooks secret: whsec_ and the base64 of the key's bytes.
WHSEC = "whsec_" + base64.b64encode(b"echoed-key-bytes-32-long-enough!").decode()
register_secret(WHSEC, WHSEC.removeprefix("whsec_"))


def echoing(*forms: str) -> Callable[[Received], Reply]:
    """A receiver that refuses, quoting the secret back in its body, in each of ``forms``."""
    said = "; ".join(f"expected key {form}" for form in forms)
    return lambda request: Reply(401, json.dumps({"error": said}).encode())


def test_a_secret_a_receiver_echoes_is_redacted_from_text_json_and_junit(invwh, tmp_path):
    junit = tmp_path / "report.xml"
    with serve(echoing(TEST_SECRET, TEST_SECRET.encode().hex())) as server:
        shown = invwh("send", INCREASE, "--url", server.endpoint(), "-v", "--junit", junit, code=1)
        as_json = invwh("send", INCREASE, "--url", server.endpoint(), "--format", "json", code=1)
    for text in (shown.stdout, as_json.stdout, junit.read_text(encoding="utf-8")):
        assert TEST_SECRET not in text and TEST_SECRET.encode().hex() not in text
        assert "expected key [redacted]; expected key [redacted]" in text
    (item,) = as_json.json["items"]
    assert "[redacted]" in item["response_preview"], "JSON is redacted in its strings, and still parses"


def test_a_whsec_secret_is_redacted_in_its_base64_form_too(invwh, tmp_path):
    body = WHSEC.removeprefix("whsec_")
    with serve(echoing(WHSEC, body)) as server:
        shown = invwh("send", INCREASE, "--url", server.endpoint(), "--scheme", "standard-webhooks", "-v",
                      code=1, env={"INVWH_SECRET": WHSEC})  # fmt: skip
    assert body not in shown.stdout
    assert "expected key [redacted]; expected key [redacted]" in shown.stdout


@pytest.mark.parametrize(
    "command", [("send", str(INCREASE)), ("trigger", "stock.increase"), ("check",)], ids=lambda c: c[0]
)
def test_every_verbose_run_escapes_the_receiver_s_answer(invwh, command):
    with raw_receiver(f"HTTP/1.1 401 No{HOSTILE}".encode("latin-1"), f"denied {HOSTILE}".encode()) as url:
        result = invwh(*command, "--url", url, "-v", code=1)
    assert not set(result.stdout) & {"\x1b", "\x07", "\x9b", "\x7f"}
    assert "< 401 No\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7f" in result.stdout
    assert "< denied \\x1b]0;pwned\\x07" in result.stdout


def test_a_recording_s_hostile_fields_are_escaped_by_replay(invwh, tmp_path):
    body = INCREASE.read_text(encoding="utf-8")
    lines = [
        {"method": f"PO{HOSTILE}ST", "path": "/webhooks", "headers": {}, "body": body},
        {"method": "POST", "path": "/webhooks", "headers": {}, "body": f"{HOSTILE}"},
    ]
    recording = tmp_path / "hostile.jsonl"
    recording.write_text("".join(json.dumps({**line, "body_encoding": "utf-8", "status": 200}) + "\n"
                                 for line in lines))  # fmt: skip
    with serve() as server:
        result = invwh("replay", recording, "--url", server.endpoint(), "-v", code=(0, 1))
    for control in ("\x1b", "\x07", "\x9b", "\x7f"):
        assert control not in result.stdout
    assert "a PO\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7fST request" in result.stdout
    assert "> \\x1b]0;pwned\\x07" in result.stdout


def test_the_json_report_s_sentences_are_escaped_its_data_kept_exact():
    from inventory_cli.cli.output.json import JsonSink
    from inventory_cli.workflows.report import Item, delivery_report

    out = io.StringIO()
    sink = JsonSink(out)
    report = delivery_report("check", "http://127.0.0.1:9/x", "inventory-v1")
    sink.start(report)
    data = {
        "name": "case",
        "outcome": "failed",
        "explanation": f"answered {HOSTILE}",
        "reason": HOSTILE,
        "errors": [f"not HTTP {HOSTILE}"],
        "deliveries": [{"error": HOSTILE, "response_preview": HOSTILE}],
    }
    sink.add(Item("case", "failed", data))
    report.error = f"could not deliver: {HOSTILE}"
    sink.finish(report)
    document = json.loads(out.getvalue())
    (item,) = document["items"]
    escaped = "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x7f"
    assert item["explanation"] == f"answered {escaped}"
    assert item["errors"] == [f"not HTTP {escaped}"]
    assert item["deliveries"][0]["error"] == escaped
    assert document["error"] == f"could not deliver: {escaped}"
    # What the receiver sent, as data, is kept exact: JSON escapes it, a parser gets it back.
    assert item["reason"] == HOSTILE and item["deliveries"][0]["response_preview"] == HOSTILE


@pytest.mark.parametrize("command", ["send", "validate"])
def test_an_error_naming_a_hostile_file_is_one_escaped_line(invwh, tmp_path, command):
    name = str(tmp_path / f"a\n::warning::injected{HOSTILE}.json")
    result = invwh(command, name, *(["--url", "http://127.0.0.1:9/x"] if command == "send" else []), code=2)
    assert result.stderr.count("\n") == 1, "one line: nothing after it can start a workflow command"
    assert "a\\x0a::warning::injected\\x1b]0;pwned\\x07" in result.stderr


def test_a_run_redacts_its_own_secrets_not_an_earlier_runs(invwh, samples):
    """Two runs in one process (a CliRunner, an embedder): the second must not blank text that
    happens to be the first run's secret (a test of 200 x's failed that way, after a property had
    signed with a secret of x's)."""
    from inventory_cli.text import secret_forms

    earlier, later = "an-earlier-runs-secret-0123", "the-later-runs-secret-4567"
    invwh("sign", samples / "minimal-increase.json", "--secret", earlier)
    assert earlier in secret_forms()
    invwh("sign", samples / "minimal-increase.json", "--secret", later)
    assert later in secret_forms()
    assert earlier not in secret_forms()


def test_a_checks_exchange_has_its_answer_error_escaped_in_json():
    from inventory_cli.cli.output.json import sentences_printable

    answer = {"error": "not HTTP \x1b[2J", "reason": "\x1b"}
    shown = sentences_printable({"deliveries": [{"response": answer}]})
    response = shown["deliveries"][0]["response"]
    assert response["error"] == "not HTTP \\x1b[2J"
    assert response["reason"] == "\x1b"  # data stays exact; only sentences are escaped
