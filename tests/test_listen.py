"""``invwh listen`` and its core, ``workflows/receive.py``, over real HTTP on port 0."""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import figures
import pytest
import requests
from conftest import TEST_SECRET
from servers import read_message

from inventory_cli.cli.output.log_stream import LogStream
from inventory_cli.errors import InputError
from inventory_cli.signing.schemes import get_scheme
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.workflows.receive import ReceivedDelivery, Receiver, ReceiverConfig, is_loopback
from inventory_cli.workflows.recording import Recorded, read_recording

TIMEOUT = 5  # seconds, for every network call
SCHEME = get_scheme("inventory-v1")
SECRET = Secret(TEST_SECRET)
EVENT = b'{"inventoryStockIncreaseEventType": "stock.increase", "sku": "WIDGET-BLU-M"}'


@contextlib.contextmanager
def running(**overrides: object) -> Iterator[tuple[Receiver, list[ReceivedDelivery]]]:
    """A receiver on a free port, and the deliveries it handed to on_delivery."""
    seen: list[ReceivedDelivery] = []
    settings: dict = {"scheme": SCHEME, "secrets": [SECRET], "port": 0, **overrides}
    with Receiver(ReceiverConfig(**settings), on_delivery=seen.append) as receiver:
        yield receiver, seen


def signed(body: bytes, secret: Secret = SECRET, **kwargs: object) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(SCHEME, secret, body, **kwargs)}


def post(url: str, body: bytes = EVENT, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        url, data=body, headers=signed(body) if headers is None else headers, timeout=TIMEOUT
    )


def raw_exchange(receiver: Receiver, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        return read_message(sock)


# --- the answers ------------------------------------------------------------


def test_a_validly_signed_event_gets_200():
    with running() as (receiver, seen):
        response = post(receiver.url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "valid": True,
        "reason": "ok",
        "event_type": "stock.increase",
        "message": "signature valid",
    }
    assert [(d.status, d.reason, d.event_type, d.body) for d in seen] == [
        (200, "ok", "stock.increase", EVENT)
    ]
    assert TEST_SECRET not in response.text


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (signed(EVENT, Secret("another-secret")), "signature_mismatch"),
        ({"Content-Type": "application/json"}, "missing_signature"),
        (signed(EVENT, timestamp=int(time.time()) - 3600), "stale_timestamp"),
        (signed(EVENT, timestamp=int(time.time()) + 3600), "future_timestamp"),
        ({**signed(EVENT), "X-Webhook-Signature": "v1=not base64!"}, "malformed_signature"),
        ({"X-Webhook-Signature": signed(EVENT)["X-Webhook-Signature"]}, "missing_timestamp"),
        (signed(EVENT, method="PUT"), "signature_mismatch"),
    ],
    ids=["wrong-secret", "no-signature", "stale", "future", "malformed", "no-timestamp", "other-method"],
)
def test_a_bad_signature_or_timestamp_gets_401(headers, reason):
    with running() as (receiver, seen):
        response = post(receiver.url, EVENT, headers)
    assert response.status_code == 401
    assert response.json()["reason"] == reason
    assert response.json()["valid"] is False
    assert seen[0].status == 401 and seen[0].verdict is not None
    assert TEST_SECRET not in response.text


def test_the_same_verdict_as_verify(invwh, tmp_path):
    body = EVENT + b"\n"
    headers = signed(EVENT)  # signed without the trailing newline
    with running() as (receiver, seen):
        post(receiver.url, body, headers)
    (tmp_path / "body.json").write_bytes(body)
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    verdict = invwh(
        "verify",
        "--body",
        tmp_path / "body.json",
        *header_args,
        "--format",
        "json",
        code=1,
        env={"INVWH_SECRET": TEST_SECRET},
    ).json
    assert seen[0].verdict is not None
    assert seen[0].verdict.to_dict() == {k: v for k, v in verdict.items() if k != "body"}


def test_a_signed_body_that_is_no_event_gets_422():
    body = b'{"inventoryStockRestockedEventType": "stock.restocked"}'
    with running() as (receiver, _):
        response = post(receiver.url, body)
    assert response.status_code == 422
    answer = response.json()
    assert (answer["valid"], answer["reason"], answer["event_type"]) == (False, "invalid_payload", None)
    assert "not an inventory event" in answer["message"]


def test_another_path_gets_404_and_a_query_string_is_ignored():
    with running() as (receiver, seen):
        other = post(receiver.url.replace("/webhooks", "/hooks"))
        with_query = post(receiver.url + "?attempt=2")
    assert other.status_code == 404
    assert other.json()["reason"] == "not_found"
    assert with_query.status_code == 200
    assert [d.path for d in seen] == ["/hooks", "/webhooks?attempt=2"]
    assert seen[0].verdict is None


def test_another_method_gets_405_with_allow():
    with running() as (receiver, seen):
        got = requests.get(receiver.url, timeout=TIMEOUT)
        head = requests.head(receiver.url, timeout=TIMEOUT)
        put = requests.put(receiver.url, data=EVENT, headers=signed(EVENT, method="PUT"), timeout=TIMEOUT)
    assert [r.status_code for r in (got, head, put)] == [405, 405, 405]
    assert got.headers["Allow"] == "POST"
    assert got.json()["reason"] == "method_not_allowed"
    assert head.content == b""
    assert [d.method for d in seen] == ["GET", "HEAD", "PUT"]


def test_a_body_over_the_limit_gets_413_before_it_is_sent():
    """The answer comes from Content-Length alone: the client has sent 10 bytes of 2 MB."""
    with running(max_body=1000) as (receiver, seen):
        answer = raw_exchange(
            receiver,
            b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n"
            b"Expect: 100-continue\r\n\r\n0123456789",
        )
    assert answer.startswith(b"HTTP/1.1 413 ")  # no "100 Continue" first
    assert b"Connection: close" in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["reason"] == "body_too_large"
    assert [(d.status, d.body_read, d.body) for d in seen] == [(413, False, b"")]


def test_a_client_that_sends_the_whole_big_body_still_reads_the_413():
    with running(max_body=1000) as (receiver, _):
        response = post(receiver.url, b"x" * 3_000_000, {})
        after = post(receiver.url)  # and the receiver goes on
    assert response.status_code == 413
    assert after.status_code == 200


def test_a_post_without_a_length_gets_411():
    with running() as (receiver, seen):
        answer = raw_exchange(receiver, b"POST /webhooks HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 ")
    assert seen[0].reason == "length_required"


def test_the_411_is_the_transports_rule_whatever_the_path():
    """HTTP decides it, before the receiver routes: a POST to another path without a length is 411
    too (it has no body, RFC 9112 section 6.3), and a GET without one is routed as usual."""
    with running() as (receiver, seen):
        other = raw_exchange(receiver, b"POST /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        get = raw_exchange(receiver, b"GET /webhooks HTTP/1.1\r\nHost: x\r\n\r\n")
    assert other.startswith(b"HTTP/1.1 411 ")
    assert get.startswith(b"HTTP/1.1 405 ")
    assert [d.reason for d in seen] == ["length_required", "method_not_allowed"]


def test_chunked_bodies_are_read_and_capped():
    def chunks(body: bytes) -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    with running(max_body=1000) as (receiver, seen):
        small = requests.post(receiver.url, data=chunks(EVENT), headers=signed(EVENT), timeout=TIMEOUT)
        big = requests.post(receiver.url, data=chunks(b"x" * 5000), headers={}, timeout=TIMEOUT)
    assert small.status_code == 200
    assert seen[0].body == EVENT
    assert big.status_code == 413


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["request-line", "content-length", "chunk-size"],
)
def test_malformed_http_gets_400(request_bytes):
    with running() as (receiver, _):
        answer = raw_exchange(receiver, request_bytes)
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert post(receiver.url).status_code == 200


def test_status_lines_and_refusal_reasons_are_the_same_on_every_python():
    """RFC 9110's phrases, which Python's own table has only from 3.13."""
    with running() as (receiver, _):
        too_long = raw_exchange(receiver, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
        unprocessable = raw_exchange(
            receiver,
            b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in signed(b"{}").items()).encode()
            + b"\r\n{}",
        )
    assert too_long.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert json.loads(too_long.partition(b"\r\n\r\n")[2])["reason"] == "uri_too_long"
    assert unprocessable.startswith(b"HTTP/1.1 422 Unprocessable Content\r\n")


def test_respond_forces_the_status_and_the_verdict_is_still_recorded(tmp_path):
    record = tmp_path / "r.jsonl"
    with running(respond=500, record=str(record)) as (receiver, seen):
        good = post(receiver.url)
        forged = post(receiver.url, EVENT, signed(EVENT, Secret("forged")))
    assert (good.status_code, forged.status_code) == (500, 500)
    assert (good.json()["valid"], forged.json()["reason"]) == (True, "signature_mismatch")
    assert [(d.status, d.valid) for d in seen] == [(500, True), (500, False)]
    records = list(read_recording(record))
    assert [(r.status, r.verdict) for r in records] == [
        (500, {"valid": True, "reason": "ok", "event_type": "stock.increase"}),
        (500, {"valid": False, "reason": "signature_mismatch", "event_type": "stock.increase"}),
    ]


def test_rotation_accepts_any_of_the_secrets():
    old, new = Secret("old-secret"), Secret(TEST_SECRET)
    with running(secrets=[old, new]) as (receiver, seen):
        statuses = [post(receiver.url, EVENT, signed(EVENT, key)).status_code for key in (old, new)]
        statuses.append(post(receiver.url, EVENT, signed(EVENT, Secret("retired"))).status_code)
    assert statuses == [200, 200, 401]
    assert [d.verdict.signature.secret_index for d in seen if d.verdict is not None] == [0, 1, None]


def test_tolerance_zero_turns_the_age_check_off():
    with running(tolerance=0) as (receiver, _):
        assert post(receiver.url, EVENT, signed(EVENT, timestamp=1_000_000_000)).status_code == 200


def test_connections_are_kept_alive():
    with running() as (receiver, seen):
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=TIMEOUT)
        try:
            for _ in range(3):
                connection.request("POST", "/webhooks", body=EVENT, headers=signed(EVENT))
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                assert response.getheader("Connection") != "close"
            first_socket = connection.sock
            connection.request("GET", "/webhooks")
            connection.getresponse().read()
            assert connection.sock is first_socket
        finally:
            connection.close()
    assert len(seen) == 4


# --- robustness ---------------------------------------------------------------


def test_a_stalled_client_blocks_no_one_and_is_dropped():
    with running(read_timeout=1.0) as (receiver, seen):
        stalled = socket.create_connection(("127.0.0.1", receiver.port), timeout=TIMEOUT)
        try:
            stalled.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            assert post(receiver.url).status_code == 200
            stalled.setblocking(False)
            with pytest.raises(BlockingIOError):  # answered while the stalled client is still held
                stalled.recv(1024)
            stalled.settimeout(TIMEOUT)
            assert stalled.recv(1024) == b""  # then closed after the read timeout, unanswered
        finally:
            stalled.close()
    assert [d.status for d in seen] == [200]


def test_close_does_not_wait_for_stalled_or_idle_clients():
    with running() as (receiver, _):
        idle = requests.Session()
        assert idle.post(receiver.url, data=EVENT, headers=signed(EVENT), timeout=TIMEOUT).status_code == 200
        stalled = socket.create_connection(("127.0.0.1", receiver.port), timeout=TIMEOUT)
        stalled.sendall(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.1)
        started = time.monotonic()
        receiver.close()
        assert time.monotonic() - started < 2
        stalled.close()
        idle.close()


def test_after_close_nothing_is_answered():
    with running() as (receiver, _):
        url = receiver.url
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=EVENT, headers=signed(EVENT), timeout=TIMEOUT)


def test_a_port_in_use_is_an_input_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            InputError, match=f"cannot listen on 127.0.0.1:{port}: the port is already in use"
        ):
            Receiver(ReceiverConfig(SCHEME, [SECRET], port=port)).start()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"path": "webhooks"}, "the path must start with '/'"),
        ({"respond": 100}, "between 200 and 599"),
        ({"secrets": []}, "at least one secret"),
    ],
)
def test_unusable_settings_are_input_errors(setting, message):
    with pytest.raises(InputError, match=message):
        Receiver(ReceiverConfig(**{"scheme": SCHEME, "secrets": [SECRET], "port": 0, **setting}))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.1.2.3", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


# --- the command ----------------------------------------------------------------


def test_cli_refuses_a_port_in_use(invwh):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invwh("listen", "--port", port, code=2, env={"INVWH_SECRET": TEST_SECRET})
    assert result.stderr == (
        f"invwh: error: cannot listen on 127.0.0.1:{port}: "
        "the port is already in use (pick another, or 0 for any free port)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--record", "{tmp}"], "is a directory"),
        (["--record", "{tmp}/no/such/dir/r.jsonl"], "no such directory"),
        (["--path", "webhooks"], "the path must start with '/'"),
        (["--respond", "100"], "100 is not in the range 200<=x<=599"),
    ],
)
def test_cli_usage_errors_exit_2(invwh, tmp_path, args, message):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = invwh("listen", "--port", "0", *args, code=2, env={"INVWH_SECRET": TEST_SECRET})
    assert message in result.stderr
    assert result.stdout == ""


def test_cli_needs_a_secret(invwh):
    assert "no secret given" in invwh("listen", "--port", "0", code=2).stderr


def _lines(stream) -> queue.Queue[str]:
    """The stream's lines, read on a thread so that a test can wait for each with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        with stream:  # closed at its end: the process has exited
            for line in stream:
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


class ListenProcess:
    """A running ``invwh listen``, and its stdout's lines as they come (``lines.get(timeout=...)``)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines = _lines(process.stdout)

    def stop(self, timeout: float = 15) -> tuple[int, str]:
        """SIGTERM, as a service manager stops it: its exit status, and all it wrote on stderr."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=timeout)
        with self.process.stderr:
            return status, self.process.stderr.read()


@contextlib.contextmanager
def listen_subprocess(*args: str, env: dict[str, str], cwd: Path | None = None) -> Iterator[ListenProcess]:
    """``invwh listen --port 0 ARGS`` in a subprocess; killed at the end if the test did not stop it."""
    command = [str(Path(sys.executable).parent / "invwh"), "listen", "--port", "0", *args]
    env = {**os.environ, "NO_COLOR": "1", **env}
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True, encoding="utf-8")  # fmt: skip
    try:
        yield ListenProcess(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_the_command_serves_until_sigterm(tmp_path, output_format):
    record = tmp_path / "deliveries.jsonl"
    args = ["--record", str(record), "--format", output_format]
    if output_format == "json":
        args += ["--host", "0.0.0.0"]
    with listen_subprocess(*args, env={"INVWH_SECRET": TEST_SECRET}) as listen:
        first = listen.lines.get(timeout=15)
        if output_format == "json":
            url = json.loads(first)["listening"].replace("0.0.0.0", "127.0.0.1")
        else:
            assert first.startswith("invwh listen: listening on http://127.0.0.1:")
            url = first.split()[-1]
        assert post(url).status_code == 200
        delivery = listen.lines.get(timeout=TIMEOUT)
        status, stderr = listen.stop()
    assert status == 0
    if output_format == "json":
        assert json.loads(delivery) | {"received_at": None} == {
            "received_at": None,
            "method": "POST",
            "path": "/webhooks",
            "status": 200,
            "valid": True,
            "reason": "ok",
            "event_type": "stock.increase",
            "message": "signature valid",
            "hints": [],
            "hint_codes": [],
            "body_bytes": len(EVENT),
        }
        assert "warning: 0.0.0.0 is not a loopback address" in stderr
    else:
        assert "  200  POST /webhooks  stock.increase  ok" in delivery
        assert "warning" not in stderr
    assert "stopped after 1 request" in stderr
    assert "Traceback" not in stderr
    text = record.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 1
    (recorded,) = read_recording(record)
    assert isinstance(recorded, Recorded)
    assert (recorded.status, recorded.body) == (200, EVENT)
    assert TEST_SECRET not in text + first + delivery + stderr


# --- a stop whenever it comes; a log that never blocks serving --------------------


def _stop_right_after_the_url(signum: int) -> tuple[int, str]:
    with listen_subprocess(env={"INVWH_SECRET": TEST_SECRET}) as listen:
        first = listen.lines.get(timeout=15)
        assert first.startswith("invwh listen: listening on ")
        listen.process.send_signal(signum)
        status = listen.process.wait(timeout=15)
        return status, listen.process.stderr.read()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_right_after_the_url_stops_cleanly_every_time(signum):
    """The signal lands while the serving thread starts: once a traceback and exit 1, 19 times in 30."""
    with ThreadPoolExecutor(3) as pool:  # three at a time: the same race, a third of the wait
        outcomes = list(pool.map(lambda _: _stop_right_after_the_url(signum), range(30)))
    failures = [(status, stderr) for status, stderr in outcomes if status != 0 or "Traceback" in stderr]
    assert failures == []
    assert all(stderr.endswith("invwh listen: stopped after 0 requests\n") for _, stderr in outcomes)


DROPPED = re.compile(r"^invwh listen: (\d+) log lines? dropped: stdout is not being read$", re.MULTILINE)


def test_a_stdout_nobody_reads_does_not_freeze_the_receiver(tmp_path):
    """Once the pipe was full, the next delivery was recorded and never answered (after ~1,200)."""
    record = tmp_path / "r.jsonl"
    command = [str(Path(sys.executable).parent / "invwh"), "listen", "--port", "0", "--record", str(record)]
    env = {**os.environ, "NO_COLOR": "1", "INVWH_SECRET": TEST_SECRET}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        first = b""
        while not first.endswith(b"\n"):  # the URL, byte by byte: nothing after it is read
            byte = os.read(process.stdout.fileno(), 1)
            assert byte, process.stderr.read()
            first += byte
        url = first.decode().split()[-1]
        host, port = url.split("/")[2].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        statuses = []
        for n in range(5_000):
            body = EVENT.replace(b"WIDGET-BLU-M", f"SKU-{n}".encode())
            connection.request("POST", "/webhooks", body=body, headers=signed(body))
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        connection.close()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)  # now read: every queued line comes
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert statuses == [200] * 5_000
    assert len(list(read_recording(record))) == 5_000
    assert process.returncode == 0
    text = stderr.decode()
    assert "Traceback" not in text
    dropped = sum(int(count) for count in DROPPED.findall(text))
    assert dropped > 0  # more lines than a pipe holds: some were dropped, and said
    logged = stdout.decode().splitlines()
    assert all("  200  POST /webhooks  stock.increase  ok" in line for line in logged)
    assert len(logged) + dropped == 5_000  # every line not dropped was written, whole
    assert "stopped after 5000 requests" in text
    figures.note(
        "listen unread stdout",
        f"listen, stdout never read: 5000 of 5000 deliveries answered and recorded; "
        f"{len(logged)} log lines written, {dropped} dropped and said",
    )


def deliver_then_stop(
    process: subprocess.Popen[bytes], session: requests.Session, url: str, count: int
) -> bytes:
    """POST ``count`` distinct signed events to a listen process, each answered 200, then stop it
    as a user does (SIGTERM): what it said on stderr."""
    for n in range(count):
        body = EVENT.replace(b"WIDGET-BLU-M", f"SKU-{n}".encode())
        assert session.post(url, data=body, headers=signed(body), timeout=TIMEOUT).status_code == 200
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=30)[1]


def test_every_line_reaches_a_stdout_file_by_the_exit(tmp_path):
    out = tmp_path / "listen.out"
    command = [str(Path(sys.executable).parent / "invwh"), "listen", "--port", "0"]
    env = {**os.environ, "NO_COLOR": "1", "INVWH_SECRET": TEST_SECRET}
    with open(out, "wb") as stdout:
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 15
        while b"\n" not in out.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        url = out.read_text().split()[-1]
        with requests.Session() as session:
            stderr = deliver_then_stop(process, session, url, 300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 301 and all(line.endswith("stock.increase  ok") for line in lines[1:])
    assert b"dropped" not in stderr


def test_the_log_knows_dev_null_from_a_file_and_a_pipe(tmp_path):
    read_end, write_end = os.pipe()
    with open(os.devnull, "w") as null, open(tmp_path / "out", "w") as file, open(write_end, "w") as pipe:
        assert [LogStream(stream, print).discards for stream in (null, file, pipe)] == [True, False, False]
    os.close(read_end)


def test_with_stdout_dev_null_every_delivery_is_still_recorded_and_the_stop_said(tmp_path):
    """No log line is made for /dev/null; the recording and the summary on stderr are as ever."""
    record = tmp_path / "r.jsonl"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    invwh = str(Path(sys.executable).parent / "invwh")
    command = [invwh, "listen", "--port", str(port), "--record", str(record)]
    env = {**os.environ, "NO_COLOR": "1", "INVWH_SECRET": TEST_SECRET}
    with open(os.devnull, "wb") as null:
        process = subprocess.Popen(command, stdout=null, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 15
        while not record.exists():  # created before the URL is printed
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/webhooks"
        with requests.Session() as session:
            for _ in range(50):
                with contextlib.suppress(requests.ConnectionError):
                    session.get(url, timeout=TIMEOUT)
                    break
                time.sleep(0.05)
            stderr = deliver_then_stop(process, session, url, 100)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    posts = [json.loads(line) for line in record.read_text().splitlines() if '"POST"' in line]
    assert [line["status"] for line in posts] == [200] * 100
    assert b"stopped after 101 requests" in stderr  # the GET that found the port is one of them
    assert b"dropped" not in stderr


# --- listen's own option values ----------------------------------------------------


def listen_refused(*args: str) -> subprocess.CompletedProcess[str]:
    """``invwh listen --port 0 ARGS`` in a subprocess that must refuse at once (killed if it serves)."""
    command = [str(Path(sys.executable).parent / "invwh"), "listen", "--port", "0", *args]
    env = {**os.environ, "NO_COLOR": "1", "INVWH_SECRET": TEST_SECRET}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=15, check=False)
    assert result.returncode == 2, result
    return result


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1"])
def test_a_read_timeout_that_is_not_a_finite_positive_number_is_refused(value):
    result = listen_refused("--read-timeout", value)
    assert result.stdout == ""
    assert result.stderr.startswith("invwh: error: invalid value for '--read-timeout': ")
    assert "not a finite number of seconds above 0" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("", "the host must not be empty"),
        ("exämple.test", "is not a host name or an IP address"),
        ("::1::2", "is not an IPv6 address"),
    ],
    ids=["empty", "non-ASCII", "bad-IPv6"],
)
def test_a_host_that_is_no_host_is_one_line_and_exit_2(host, message):
    result = listen_refused("--host", host)
    assert result.stdout == ""
    assert result.stderr.startswith("invwh: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "loopback" not in result.stderr


def test_config_refuses_a_non_finite_read_timeout_and_a_bad_host():
    refused = (({"read_timeout": math.nan}, "read timeout"), ({"host": ""}, "must not be empty"))
    for setting, message in refused:
        with pytest.raises(InputError, match=message):
            Receiver(ReceiverConfig(**{"scheme": SCHEME, "secrets": [SECRET], "port": 0, **setting}))


def test_the_log_counts_dropped_entries_not_lines_and_says_them_all():
    """An entry of several lines (a refused delivery and its likely causes) is one dropped entry."""
    read_end, write_end = os.pipe()
    said: list[int] = []
    entries = [f"entry {n}: refused\n  likely cause: one\n  likely cause: two" for n in range(3_000)]
    with open(read_end, "rb") as pipe:
        with open(write_end, "w", encoding="utf-8") as stdout:
            log = LogStream(stdout, said.append)
            for entry in entries:
                log.put(entry)
            log.close()  # nobody reads: it gives up after STALL_SECONDS without progress
        written = pipe.read().decode()  # what the pipe took, up to the end the close made
    whole = [entry for entry in entries if entry + "\n" in written]
    assert written.startswith(whole[0])
    assert len(whole) + log.dropped == 3_000
    assert sum(said) == log.dropped > 0
