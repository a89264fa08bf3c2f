"""`listen` under load and faults: every delivery answered and recorded exactly once.

The long ones are marked ``load``; they run in the default ``pytest`` too
(``-m "not load"`` leaves them out) and print their figures in the summary.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import figures
import pytest
from conftest import TEST_SECRET
from test_listen import SCHEME, SECRET, TIMEOUT, post, raw_exchange, running

from inventory_cli.signing.signatures import sign
from inventory_cli.workflows.recording import BadLine, Recorded, read_recording

DELIVERIES = 20_000
CLIENTS = 64


def event_bodies(count: int, tag: str) -> list[bytes]:
    """A unique valid event per delivery, so each can be found in the recording."""
    return [
        json.dumps(
            {
                "inventoryStockIncreaseEventType": "stock.increase",
                "eventId": f"evt_{tag}_{i:06d}",
                "sku": "W-1",
            }
        ).encode()
        for i in range(count)
    ]


def signed_requests(bodies: list[bytes]) -> list[tuple[bytes, dict[str, str]]]:
    """Signed up front, so that the clients spend their time on HTTP only."""
    return [(body, {"Content-Type": "application/json", **sign(SCHEME, SECRET, body)}) for body in bodies]


def deliver_all(port: int, requests: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    """POST each request on one kept-alive connection; the statuses in order."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses = []
    try:
        for body, headers in requests:
            connection.request("POST", "/webhooks", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        connection.close()
    return statuses


def recorded_bodies(path: Path) -> list[bytes]:
    """The recording's bodies; every line must be a whole record."""
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "the last line is torn"
    records = list(read_recording(path))
    bad = [r for r in records if isinstance(r, BadLine)]
    assert not bad, bad[:3]
    assert len(records) == raw.count(b"\n")
    return [r.body for r in records if isinstance(r, Recorded)]


@pytest.mark.load
def test_20000_deliveries_from_64_clients_are_all_answered_and_recorded_once(tmp_path):
    record = tmp_path / "load.jsonl"
    bodies = event_bodies(DELIVERIES, "load")
    requests = signed_requests(bodies)
    with running(record=str(record)) as (receiver, seen):
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            shares = list(
                pool.map(lambda k: deliver_all(receiver.port, requests[k::CLIENTS]), range(CLIENTS))
            )
        seconds = time.monotonic() - started
    statuses = [status for share in shares for status in share]
    assert statuses == [200] * DELIVERIES  # every delivery answered, and accepted
    assert len(seen) == DELIVERIES
    recorded = recorded_bodies(record)
    assert len(recorded) == DELIVERIES
    assert len(set(recorded)) == DELIVERIES  # none twice
    assert set(recorded) == set(bodies)  # none lost, none invented
    figures.note(
        "listen load",
        f"listen load: {DELIVERIES} deliveries from {CLIENTS} clients in {seconds:.1f} s "
        f"({DELIVERIES / seconds:.0f} requests/s), each answered 200 and recorded exactly once",
    )


# --- SIGTERM in the middle of the load, against the real command ---------------


@contextlib.contextmanager
def listen_process(tmp_path: Path, record: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """``invwh listen --port 0 --record FILE``, its output in files (a pipe would fill and block it)."""
    command = [str(Path(sys.executable).parent / "invwh"), "listen", "--port", "0", "--record", str(record)]
    env = {**os.environ, "INVWH_SECRET": TEST_SECRET, "NO_COLOR": "1"}
    stdout_path, stderr_path = tmp_path / "listen.out", tmp_path / "listen.err"
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    try:
        deadline = time.monotonic() + 15
        while b"\n" not in stdout_path.read_bytes():
            assert process.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, "invwh listen did not say where it listens"
            time.sleep(0.02)
        first = stdout_path.read_text().splitlines()[0]
        assert first.startswith("invwh listen: listening on http://127.0.0.1:")
        yield process, first.split()[-1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TIMEOUT)


@pytest.mark.load
def test_sigterm_during_load_leaves_whole_lines_and_every_answer_recorded(tmp_path):
    record = tmp_path / "sigterm.jsonl"
    clients, per_client = 16, 5_000
    bodies = event_bodies(clients * per_client, "term")
    requests = signed_requests(bodies)
    answered: list[list[bytes]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def client(k: int, port: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            for body, headers in requests[k::clients]:
                connection.request("POST", "/webhooks", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                answered[k].append(body)
                if response.getheader("Connection", "").lower() == "close":
                    return
        except (OSError, http.client.HTTPException) as error:  # the receiver is going away: expected
            errors.append(error)
        finally:
            connection.close()

    previous = os.umask(0o022)
    try:
        with listen_process(tmp_path, record) as (process, url):
            port = int(url.split(":")[2].split("/")[0])
            threads = [threading.Thread(target=client, args=(k, port), daemon=True) for k in range(clients)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            while sum(map(len, answered)) < 2_000 and time.monotonic() < deadline:
                time.sleep(0.01)
            answered_before = sum(map(len, answered))
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=15)
            for thread in threads:
                thread.join(timeout=TIMEOUT)
    finally:
        os.umask(previous)
    assert code == 0
    assert answered_before >= 2_000
    got_200 = [body for share in answered for body in share]
    assert len(got_200) < len(bodies), "the load was over before SIGTERM: nothing was tested"
    recorded = recorded_bodies(record)
    assert len(set(recorded)) == len(recorded)  # none twice
    assert set(got_200) <= set(recorded)  # an answer means a record
    assert set(recorded) <= set(bodies)
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    stderr = (tmp_path / "listen.err").read_text()
    assert "Traceback" not in stderr
    assert f"stopped after {len(recorded)} requests" in stderr
    figures.note(
        "listen sigterm",
        f"listen SIGTERM: stopped under load from {clients} clients after {len(got_200)} answers, "
        f"{len(recorded)} whole lines recorded, none torn or lost, exit 0",
    )


# --- faults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n",  # a TLS hello
        b"POST /webhooks HTTP/9.Z\r\nHost: x\r\n\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost x\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /webhooks HTTP/1.1\r\n: no-name\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
    ],
    ids=[
        "tls-hello",
        "bad-version",
        "header-without-colon",
        "header-without-name",
        "negative-length",
        "signed-length",
        "hex-length",
        "two-lengths",
        "chunk-without-crlf",
    ],
)
def test_more_malformed_http_gets_400(request_bytes):
    with running() as (receiver, seen):
        answer = raw_exchange(receiver, request_bytes)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
        assert b"Connection: close" in answer
        assert post(receiver.url).status_code == 200
    assert all(d.verdict is None for d in seen[:-1])  # nothing malformed was judged


def test_many_stalled_clients_block_no_one():
    """Stalls in the request line, in the headers, in the body, and idle connections: 48 at once."""
    stalls = [
        b"POST /webh",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Le",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        b"",
    ]
    with running(read_timeout=1.0) as (receiver, seen):
        stalled = [socket.create_connection(("127.0.0.1", receiver.port), timeout=TIMEOUT) for _ in range(48)]
        try:
            for index, connection in enumerate(stalled):
                if stalls[index % 4]:
                    connection.sendall(stalls[index % 4])
            started = time.monotonic()
            assert post(receiver.url).status_code == 200
            assert time.monotonic() - started < 0.8  # long before the stalled ones time out (1 s)
            for connection in stalled:  # then each is closed, unanswered
                assert connection.recv(1024) == b""
        finally:
            for connection in stalled:
                connection.close()
    assert [d.status for d in seen] == [200]
