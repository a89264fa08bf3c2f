"""Recordings: byte-exact bodies, whole lines under concurrency, a reader that never raises."""

from __future__ import annotations

import io
import json
import os
import random
import resource
import signal
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import TEST_SECRET
from test_listen import (
    EVENT,
    SCHEME,
    SECRET,
    TIMEOUT,
    listen_refused,
    listen_subprocess,
    post,
    running,
    signed,
)

from inventory_cli.errors import InputError
from inventory_cli.workflows.receive import ReceivedDelivery
from inventory_cli.workflows.recording import (
    BadLine,
    Recorded,
    Recording,
    iso_utc,
    parse_line,
    read_recording,
)

BODIES = {
    "not UTF-8": b"\xff\xfe\x00\x01 binary \x80\x81",
    "non-ASCII text and a trailing newline": '{"productName": "Café ☕ 東京"}\n'.encode(),
    "line and paragraph separators, CRLF, NUL": '{"a": "\u2028\u2029\r\n\x00\x1c\x85"}\r\n'.encode(),
    "empty": b"",
    "a valid event": EVENT,
}


def test_bodies_round_trip_byte_for_byte(tmp_path):
    record = tmp_path / "r.jsonl"
    with running(record=str(record)) as (receiver, _):
        for body in BODIES.values():
            post(receiver.url, body)
    records = list(read_recording(record))
    assert all(isinstance(r, Recorded) for r in records)
    assert [r.body for r in records] == list(BODIES.values())
    assert [r.line for r in records] == [1, 2, 3, 4, 5]
    lines = record.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(BODIES) + 1
    encodings = [json.loads(line)["body_encoding"] for line in lines[:-1]]
    assert encodings == ["base64", "utf-8", "utf-8", "utf-8", "utf-8"]
    assert "Café ☕ 東京" in record.read_text(encoding="utf-8")  # text stays readable


def test_a_record_holds_the_request_and_the_answer(tmp_path):
    record = tmp_path / "r.jsonl"
    headers = {**signed(EVENT), "X-Mixed-CASE": "kept"}
    with running(record=str(record)) as (receiver, _):
        post(receiver.url + "?try=1", EVENT, headers)
    data = json.loads(record.read_text(encoding="utf-8"))
    assert set(data) == {
        "received_at",
        "received_at_unix",
        "method",
        "path",
        "headers",
        "body",
        "body_encoding",
        "verdict",
        "status",
    }
    assert data["received_at"] == iso_utc(data["received_at_unix"])
    assert (data["method"], data["path"], data["status"]) == ("POST", "/webhooks?try=1", 200)
    assert data["verdict"] == {"valid": True, "reason": "ok", "event_type": "stock.increase"}
    assert data["headers"]["X-Mixed-CASE"] == "kept"
    assert data["headers"]["X-Webhook-Signature"] == headers["X-Webhook-Signature"]
    (recorded,) = read_recording(record)
    assert recorded.headers == data["headers"]
    assert recorded.received_at_unix == data["received_at_unix"]
    assert recorded.verdict == data["verdict"]


def test_requests_that_were_not_judged_are_recorded_too(tmp_path):
    record = tmp_path / "r.jsonl"
    with running(record=str(record), max_body=10) as (receiver, _):
        requests.get(receiver.url, timeout=TIMEOUT)
        post(receiver.url, b"x" * 100, {})
    got, too_big = read_recording(record)
    assert (got.method, got.status, got.verdict, got.body_read) == ("GET", 405, None, True)
    assert (too_big.status, too_big.verdict, too_big.body_read, too_big.body) == (413, None, False, b"")


def test_iso_utc():
    assert iso_utc(1700000000.123) == "2023-11-14T22:13:20.123Z"
    assert iso_utc(1700000000) == "2023-11-14T22:13:20.000Z"


def test_the_file_is_private_and_appended_to(tmp_path):
    record = tmp_path / "r.jsonl"
    previous = os.umask(0o022)
    try:
        for _ in range(2):
            with running(record=str(record)) as (receiver, _):
                post(receiver.url)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert len(list(read_recording(record))) == 2


def test_a_closed_recording_writes_nothing(tmp_path):
    recording = Recording(tmp_path / "r.jsonl")
    delivery = ReceivedDelivery(1.0, "POST", "/webhooks", {}, b"{}", None, 200)
    assert recording.write(delivery) is True
    recording.close()
    assert recording.write(delivery) is False
    assert recording.count == 1


def test_concurrent_deliveries_are_all_answered_and_each_recorded_once(tmp_path):
    record = tmp_path / "r.jsonl"
    count, clients = 200, 16
    bodies = [
        json.dumps({"inventoryStockIncreaseEventType": "stock.increase", "eventId": f"evt_{i}"}).encode()
        for i in range(count)
    ]
    local = threading.local()

    def deliver(body: bytes) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session.post(receiver.url, data=body, headers=signed(body), timeout=TIMEOUT).status_code

    with running(record=str(record)) as (receiver, seen), ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(deliver, bodies))
    assert statuses == [200] * count
    assert len(seen) == count
    raw = record.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == count
    records = list(read_recording(record))
    assert not [r for r in records if isinstance(r, BadLine)]
    assert sorted(r.body for r in records) == sorted(bodies)


# --- reading ------------------------------------------------------------------

GOOD = json.dumps({"method": "POST", "path": "/webhooks", "headers": {}, "body": "{}", "status": 200})

MALFORMED = [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"headers": {}}', "no body"),
    (b'{"body": 5}', "body is not a string"),
    (b'{"body": "!!!", "body_encoding": "base64"}', "not valid base64"),
    (b'{"body": "x", "body_encoding": "rot13"}', "unknown body_encoding 'rot13'"),
    (b'{"body": "x", "body_encoding": ["utf-8"]}', "unknown body_encoding (a JSON list)"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100_000, "not JSON"),
    (b'{"body": "\\ud800"}', "lone surrogate"),
    (b'{"body": "x", "headers": {"a": 1}}', "headers is not an object of strings"),
    (b'{"body": "x", "headers": []}', "headers is not an object of strings"),
    (b'{"body": "x", "status": "200"}', "status is not an integer"),
    (b'{"body": "x", "status": true}', "status is not an integer"),
    (b'{"body": "x", "received_at_unix": 1' + b"0" * 400 + b"}", "out of range"),
    (b'{"body": "x", "received_at_unix": "now"}', "not a number"),
    (b'{"body": "x", "verdict": "ok"}', "verdict is not an object"),
    (b'{"body": "x", "method": 1}', "must be strings"),
    (b'{"body": "x", "body_read": "no"}', "body_read"),
]


def test_malformed_lines_are_bad_lines_with_their_number():
    lines = [GOOD.encode()]
    for line, _ in MALFORMED:
        lines += [line, b"   "]  # blank lines are skipped but counted
    lines.append(GOOD.encode())
    results = list(read_recording(io.BytesIO(b"\n".join(lines) + b"\n")))
    assert isinstance(results[0], Recorded) and results[0].line == 1
    assert isinstance(results[-1], Recorded) and results[-1].line == 2 * len(MALFORMED) + 2
    bad = results[1:-1]
    assert [b.line for b in bad] == [2 + 2 * i for i in range(len(MALFORMED))]
    for result, (_, reason) in zip(bad, MALFORMED, strict=True):
        assert isinstance(result, BadLine)
        assert reason in result.reason


def test_a_torn_last_line_is_a_bad_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + GOOD.encode()[:20])
    first, torn = read_recording(path)
    assert isinstance(first, Recorded)
    assert torn == BadLine(2, torn.reason) and torn.reason.startswith("not JSON")


def test_an_overlong_line_is_skipped_without_reading_it_whole():
    stream = io.BytesIO(b'{"body": "' + b"x" * 5000 + b'"}\n' + GOOD.encode() + b"\n")
    results = list(read_recording(stream, max_line_bytes=1000))
    assert results[0] == BadLine(1, "longer than 1000 bytes")
    assert isinstance(results[1], Recorded) and results[1].line == 2


def test_text_streams_are_read_too():
    (recorded,) = read_recording(io.StringIO(GOOD + "\n"))
    assert recorded.body == b"{}" and recorded.method == "POST"


def test_minimal_records_get_defaults():
    recorded = parse_line(b'{"body": "aGk=", "body_encoding": "base64"}')
    assert recorded == Recorded(line=1, method="POST", path="/", headers={}, body=b"hi")


def test_the_reader_never_raises_on_garbage():
    rng = random.Random(1234)
    alphabet = b'{}[]":,\\ 0123456789abcdefnulltrue\x00\xff\xc3\xa9body_encodingheadersbase64'
    lines = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(60))) for _ in range(3000)]
    lines += [b'{"body": ' + line + b"}" for line in lines[:1000]]
    results = list(read_recording(io.BytesIO(b"\n".join(lines))))
    assert all(isinstance(r, (Recorded, BadLine)) for r in results)
    assert len(results) >= 3000  # only blank lines are skipped


def test_an_unreadable_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_recording(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        read_recording(tmp_path)


def test_the_secret_is_never_recorded(tmp_path):
    record = tmp_path / "r.jsonl"
    with running(record=str(record), secrets=[SECRET]) as (receiver, _):
        post(receiver.url)
        post(receiver.url, EVENT, signed(EVENT, timestamp=1))
        post(receiver.url, b"{}", {})
    assert len(record.read_text(encoding="utf-8").splitlines()) == 3
    assert TEST_SECRET not in record.read_text(encoding="utf-8")
    assert SCHEME.name  # the scheme is known; its secret stays out of every line


# --- whole lines on a full disk -----------------------------------------------------


@pytest.mark.parametrize("failing", ["ftruncate", "fstat"])
def test_a_cut_line_that_cannot_be_taken_back_at_once_is_cut_before_the_next_line(
    tmp_path, monkeypatch, failing
):
    """The disk cuts a line short, and taking it back fails too (the truncate itself, or finding
    where the line began): the line is refused, and the file is cut back before the next line,
    so it holds whole lines only. The faults are injected: no disk fails on cue."""
    path = tmp_path / "r.jsonl"
    delivery = ReceivedDelivery(1700000000.25, "POST", "/webhooks", {}, EVENT, None, 200)
    real_write, real_call = os.write, getattr(os, failing)
    faults = {"write": 0, failing: 0}

    def write_half_then_fail(fd: int, data: bytes) -> int:
        faults["write"] += 1
        if faults["write"] == 1:
            return real_write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    def fail_once(*args: object) -> object:
        faults[failing] += 1
        if faults[failing] == 1:
            raise OSError(5, "Input/output error")
        return real_call(*args)

    with Recording(path) as recording:
        assert recording.write(delivery)
        whole = path.read_bytes()
        monkeypatch.setattr(os, "write", write_half_then_fail)
        monkeypatch.setattr(os, failing, fail_once)
        with pytest.raises(OSError):
            recording.write(delivery)
        monkeypatch.undo()
        assert len(path.read_bytes()) > len(whole)  # the cut line's first half is still there
        assert recording.write(delivery)
    assert path.read_bytes() == whole * 2  # the half is gone, the next line whole after the first
    assert faults == {"write": 2, failing: 1}


FILE_SIZE_LIMIT = 64 * 1024


def _limit_file_size() -> None:  # in the child, before exec: every file it writes stops at the limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def test_a_line_the_disk_cuts_short_is_taken_back_whole_and_answered_503(tmp_path):
    """RLIMIT_FSIZE cuts a write short (then EFBIG), as a full disk does (then ENOSPC).

    (Python ignores SIGXFSZ, so the write fails rather than the process.) The
    old recording kept the cut line's first part, and the next line was
    appended to it.
    """
    record = tmp_path / "r.jsonl"
    command = [str(Path(sys.executable).parent / "invwh"), "listen", "--port", "0", "--record", str(record)]
    env = {**os.environ, "NO_COLOR": "1", "INVWH_SECRET": TEST_SECRET, "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True, preexec_fn=_limit_file_size)  # fmt: skip
    try:
        url = process.stdout.readline().split()[-1]
        with requests.Session() as session:

            def deliver(body: bytes) -> requests.Response:
                return session.post(url, data=body, headers=signed(body), timeout=TIMEOUT)

            assert deliver(EVENT).status_code == 200
            before = record.read_bytes()
            # A body as large as the room left: its line cannot fit, and the write is cut short.
            too_big = deliver(b"x" * (FILE_SIZE_LIMIT - len(before)))
            assert (too_big.status_code, too_big.json()["reason"]) == (503, "recording_failed")
            assert record.read_bytes() == before  # not a byte of it is left
            # The room is still there for smaller lines: each goes in whole, until none fits.
            statuses = [deliver(EVENT).status_code for _ in range(200)]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "Traceback" not in stderr
    assert 200 in statuses and 503 in statuses
    answered = 1 + statuses.count(200)
    data = record.read_bytes()
    assert data.endswith(b"\n") and len(data) <= FILE_SIZE_LIMIT
    # Lines differ by a byte or two (the receive time's digits), so a shorter line may still fit
    # after a longer one did not, even among the last deliveries (one in 50 was, once). By the
    # end, though, the room left is less than a line of the longest size written: it was used.
    assert FILE_SIZE_LIMIT - len(data) < max(len(line) for line in data.splitlines(keepends=True))
    records = list(read_recording(record))
    assert all(isinstance(r, Recorded) for r in records)
    assert [(r.status, r.body) for r in records] == [(200, EVENT)] * answered  # every 200, nothing else


# --- what --record refuses, and what it warns of ------------------------------------


def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    (tmp_path / "r.jsonl").symlink_to(target)
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "not-yet.jsonl")
    for link in ("r.jsonl", "dangling.jsonl"):
        result = listen_refused("--record", str(tmp_path / link))
        assert result.stdout == ""
        assert result.stderr == (
            f"invwh: error: recording {tmp_path / link}: is a symbolic link; "
            "name the file itself (links are not followed)\n"
        )
    assert target.read_text() == "" and not (tmp_path / "not-yet.jsonl").exists()


def test_what_is_not_a_regular_file_is_refused_before_the_url(tmp_path):
    """A FIFO blocked the old command before it printed its URL."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "a FIFO"), (Path(os.devnull), "a device")):
        result = listen_refused("--record", str(path))
        assert result.stdout == ""
        assert result.stderr == f"invwh: error: recording {path}: not a regular file ({kind})\n"
    with pytest.raises(InputError, match="is a directory"):
        Recording(tmp_path)


def test_a_recording_others_can_read_is_used_with_a_warning_naming_its_mode(tmp_path):
    record = tmp_path / "r.jsonl"
    record.write_text("")
    record.chmod(0o644)
    with listen_subprocess("--record", str(record), env={"INVWH_SECRET": TEST_SECRET}) as listen:
        url = listen.lines.get(timeout=15).split()[-1]
        assert post(url).status_code == 200
        status, stderr = listen.stop()
    assert status == 0
    assert (
        f"invwh listen: warning: the recording {record} has mode 0644: others on this machine can read "
        f"or change it, and it holds bodies and signatures (chmod 600 {record})\n"
    ) in stderr
    assert stat.S_IMODE(record.stat().st_mode) == 0o644  # said, not changed behind the user's back
    assert len(list(read_recording(record))) == 1
    record.chmod(0o600)
    assert Recording(record).loose_mode is None
