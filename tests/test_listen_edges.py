"""``listen`` at the edges of HTTP/1.1, attacked with raw sockets (issue 11, problems 1-9).

Each test reproduces a problem found on the hand-written server: a connection
kept open although a ``Connection`` header said close, request smuggling
shapes parsed unlike llhttp and h11, header values and names RFC 9112 rejects,
absolute-form targets, a client that pipelines without reading, a half-close,
running out of descriptors, slowloris, and malformed HTTP in the recording.
The process-level ones run the real ``invwh listen`` and read its memory and
CPU time from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import figures
import pytest
from conftest import TEST_SECRET
from servers import read_message
from test_listen import EVENT, TIMEOUT, running, signed

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def request_bytes(target: str = "/webhooks", body: bytes = EVENT, extra: str = "") -> bytes:
    """A validly signed POST, as one buffer."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in signed(body).items())
    return (
        f"POST {target} HTTP/1.1\r\nHost: x\r\n{headers}{extra}Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def everything_answered(port: int, data: bytes, *, wait: float = TIMEOUT) -> tuple[bytes, bool]:
    """Send ``data``, then read until the server closes (True) or is silent for ``wait`` (False)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        sock.settimeout(wait)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return received, False
        except ConnectionResetError:
            pass
    return received, True


def statuses(received: bytes) -> list[int]:
    return [int(status) for status in STATUS_LINE.findall(received)]


# --- 1. any Connection: close closes ------------------------------------------------


@pytest.mark.parametrize(
    "connection_lines",
    [
        "Connection: TE, close\r\n",
        "Connection: keep-alive\r\nConnection: close\r\n",
        "Connection: Keep-Alive, CLOSE\r\n",
    ],
    ids=["te-close", "two-lines", "list-any-case"],
)
def test_any_connection_header_listing_close_closes(connection_lines):
    with running() as (receiver, seen):
        pipelined = request_bytes(extra=connection_lines) + request_bytes()
        received, closed = everything_answered(receiver.port, pipelined, wait=2)
    assert statuses(received) == [200]  # the second request is not served
    assert b"Connection: close\r\n" in received
    assert closed
    assert len(seen) == 1


# --- 2. smuggling shapes: 400 and close, nothing after them answered ---------------

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
CHUNKED_HEAD = b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "request_bytes_",
    [
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0b\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        CHUNKED_HEAD + b"5\nhello\n0\n\n" + SMUGGLED,
        b"POST /webhooks HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        CHUNKED_HEAD + b"  5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        CHUNKED_HEAD + b"5\r\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n" + SMUGGLED,
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        b"0\r\n\r\n" + SMUGGLED,
    ],
    ids=[
        "te-chunked-then-identity",
        "te-chunked-vertical-tab",
        "bare-lf-chunk-lines",
        "http10-keep-alive-chunked",
        "chunk-size-leading-spaces",
        "chunk-size-cr-cr-lf",
        "trailer-without-colon",
        "te-and-content-length",
    ],
)
def test_smuggling_shapes_get_400_and_close(request_bytes_, tmp_path):
    record = tmp_path / "r.jsonl"
    with running(record=str(record)) as (receiver, seen):
        received, closed = everything_answered(receiver.port, request_bytes_, wait=2)
    assert statuses(received) == [400], received[:300]
    assert b"Connection: close\r\n" in received
    assert closed
    assert seen == []  # malformed HTTP is not a delivery
    assert record.read_bytes() == b""


# --- 3. header values and names, Host ------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-Note: a\x00b\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-Note: a\rb\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX(foo): 1\r\n",
        b"POST /webhooks HTTP/1.1\r\n",
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nHost: y\r\n",
        b"POST /webhooks HTTP/1.0\r\nHost: x\r\nHost: y\r\n",
    ],
    ids=["nul-in-value", "bare-cr-in-value", "parenthesis-in-name", "no-host", "two-hosts", "two-hosts-1.0"],
)
def test_bad_header_fields_and_host_get_400_and_are_not_recorded(head, tmp_path):
    record = tmp_path / "r.jsonl"
    request = head + b"Content-Length: %d\r\n\r\n" % len(EVENT) + EVENT
    with running(record=str(record)) as (receiver, seen):
        received, closed = everything_answered(receiver.port, request, wait=2)
    assert statuses(received) == [400], received[:300]
    assert closed
    assert seen == []
    assert record.read_bytes() == b""


def test_http10_without_host_is_served():
    with running() as (receiver, seen):
        request = request_bytes().replace(b"HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.0\r\n")
        received, closed = everything_answered(receiver.port, request)
    assert statuses(received) == [200]
    assert closed  # HTTP/1.0 without keep-alive: one request
    assert [d.status for d in seen] == [200]


# --- 4. absolute-form targets -------------------------------------------------------


def test_an_absolute_form_target_is_served_and_recorded_with_its_path(tmp_path):
    record = tmp_path / "r.jsonl"
    with running(record=str(record)) as (receiver, seen):
        target = f"http://127.0.0.1:{receiver.port}/webhooks?attempt=2"
        received, _ = everything_answered(receiver.port, request_bytes(target, extra="Connection: close\r\n"))
    assert statuses(received) == [200]
    assert [(d.status, d.path) for d in seen] == [(200, "/webhooks?attempt=2")]


# --- the real command, in a subprocess ------------------------------------------------


@contextlib.contextmanager
def listen_command(
    tmp_path: Path, *args: str, max_files: int | None = None
) -> Iterator[tuple[subprocess.Popen, int]]:
    """``invwh listen --port 0 ARGS`` (optionally with a descriptor limit); yields it and its port."""
    code = "import sys\nfrom inventory_cli.cli import main\nsys.argv[0] = 'invwh'\nsys.exit(main())\n"
    if max_files is not None:
        code = (
            f"import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, ({max_files}, {max_files}))\n"
            + code
        )
    env = {**os.environ, "INVWH_SECRET": TEST_SECRET, "NO_COLOR": "1"}
    out, err = tmp_path / "listen.out", tmp_path / "listen.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "listen", "--port", "0", *args],
            stdout=stdout,
            stderr=stderr,
            env=env,
        )
    try:
        deadline = time.monotonic() + 15
        while b"\n" not in out.read_bytes():
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "invwh listen did not say where it listens"
            time.sleep(0.02)
        url = out.read_text().splitlines()[0].split()[-1]
        yield process, int(url.split(":")[2].split("/")[0])
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=TIMEOUT)
    assert "Traceback" not in err.read_text()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answer_once(port: int) -> list[int]:
    received, _ = everything_answered(port, request_bytes(extra="Connection: close\r\n"))
    return statuses(received)


# --- 5. back-pressure -----------------------------------------------------------------


def test_a_client_that_pipelines_and_never_reads_does_not_grow_memory(tmp_path):
    burst = request_bytes() * 200  # ~70 KB a write
    sent = 0
    with listen_command(tmp_path) as (process, port):
        assert answer_once(port) == [200]
        before = rss_mb(process.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.settimeout(1.0)
            deadline = time.monotonic() + 3
            with contextlib.suppress(TimeoutError):  # the server stopped reading: what we want
                while time.monotonic() < deadline and sent < 300_000_000:
                    sock.sendall(burst)
                    sent += len(burst)
            after = rss_mb(process.pid)
        assert answer_once(port) == [200]  # and it serves others meanwhile
    growth = after - before
    assert growth < 8, f"grew {growth:.1f} MB after {sent / 1e6:.0f} MB sent without reading"
    figures.note(
        "listen back-pressure",
        f"listen back-pressure: a client pipelining without reading sent {sent / 1e6:.1f} MB "
        f"before the server stopped reading; RSS grew {growth:.1f} MB",
    )


# --- 6. half-close --------------------------------------------------------------------


def test_every_request_before_a_half_close_is_answered():
    """The client writes everything, half-closes, and starts reading half a second later (or
    after 3 s, when a server that pushes back has stopped reading it): the answers are then
    waiting to be sent when the server reads the half-close."""
    count = 30_000
    data = request_bytes() * count
    received = bytearray()
    with running() as (receiver, seen), socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        sock.settimeout(TIMEOUT)
        written = threading.Event()

        def send_then_half_close() -> None:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            written.set()

        sender = threading.Thread(target=send_then_half_close, daemon=True)
        sender.start()
        written.wait(3.0)
        time.sleep(0.5)
        while chunk := sock.recv(1 << 20):
            received += chunk
        sender.join(TIMEOUT)
    assert statuses(bytes(received)) == [200] * count
    assert len(seen) == count


# --- 7. out of descriptors --------------------------------------------------------------


def test_out_of_descriptors_the_server_waits_without_spinning_and_recovers(tmp_path):
    with listen_command(tmp_path, max_files=40) as (process, port):
        assert answer_once(port) == [200]
        hogs = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(60)]
        try:
            time.sleep(0.3)
            spent = cpu_seconds(process.pid)
            time.sleep(1.0)
            spent = cpu_seconds(process.pid) - spent
        finally:
            for hog in hogs:
                hog.close()
        assert spent < 0.3, f"{spent:.2f} s of CPU in 1 s out of descriptors"
        assert answer_once(port) == [200]


# --- 8. slowloris ------------------------------------------------------------------------


def trickle(port: int, clients: int) -> tuple[int, float]:
    """Clients that send a head one byte every 0.2 s; how many are still open after 4 s, and
    when the last was dropped."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in range(clients)]
    started = time.monotonic()
    still_open = set(range(clients))
    last_dropped = 0.0
    try:
        for sock in socks:
            sock.sendall(b"POST /webhooks HTTP/1.1\r\nX-Slow: ")
            sock.setblocking(False)
        while still_open and time.monotonic() - started < 4:
            for index in list(still_open):
                try:
                    socks[index].send(b"a")
                    if socks[index].recv(1024) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    still_open.discard(index)
                    last_dropped = time.monotonic() - started
            time.sleep(0.2)
    finally:
        for sock in socks:
            sock.close()
    return len(still_open), last_dropped


def test_a_head_sent_one_byte_at_a_time_is_dropped_at_the_read_timeout():
    """The deadline covers the whole head: bytes that keep trickling in do not extend it."""
    with running(read_timeout=1.0) as (receiver, seen):
        still_open, last_dropped = trickle(receiver.port, 20)
        assert still_open == 0, f"{still_open} of 20 trickling clients still open after 4 s"
        assert last_dropped < 2.5
        assert answer_once(receiver.port) == [200]
    assert [d.status for d in seen] == [200]


def test_read_timeout_is_an_option_of_the_command(tmp_path):
    with listen_command(tmp_path, "--read-timeout", "1") as (_, port):
        still_open, last_dropped = trickle(port, 4)
        assert still_open == 0
        assert last_dropped < 2.5
        assert answer_once(port) == [200]
    assert "read timeout 1 s" in (tmp_path / "listen.err").read_text()


# --- what the new server keeps ------------------------------------------------------------


def test_a_large_body_on_a_worker_keeps_the_pipelined_order():
    """A body over 64 KiB is judged on a worker thread; the request pipelined after it waits its turn."""
    large = b'{"inventoryStockIncreaseEventType": "stock.increase", "note": "' + b"x" * 200_000 + b'"}'
    with running() as (receiver, seen):
        pipelined = request_bytes(body=large) + request_bytes(extra="Connection: close\r\n")
        received, closed = everything_answered(receiver.port, pipelined)
    assert statuses(received) == [200, 200]
    assert closed
    assert [len(d.body) for d in seen] == [len(large), len(EVENT)]


def test_expect_100_continue_gets_100_before_the_body():
    with running() as (receiver, seen), socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        sock.settimeout(TIMEOUT)
        head, _, body = request_bytes(extra="Expect: 100-continue\r\n").partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert statuses(sock.recv(65536)) == [200]
    assert [d.status for d in seen] == [200]


# --- issue 19: Upgrade, trailers, Host values, slow bodies ---------------------------------

H2C_UPGRADE = (
    "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
)


def chunked_request(body: bytes, headers: dict[str, str], trailer: str = "", extra: str = "") -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST /webhooks HTTP/1.1\r\nHost: x\r\n{lines}{extra}Transfer-Encoding: chunked\r\n\r\n"
    half = len(body) // 2
    chunks = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\n" % (half, body[:half], len(body) - half, body[half:])
    return head.encode() + chunks + trailer.encode() + b"\r\n"


def test_a_post_asking_for_an_upgrade_has_its_body_read_and_judged(tmp_path):
    """What ``curl --http2`` sends to an http:// URL: the body is read (no switch), then it closes."""
    record = tmp_path / "r.jsonl"
    with running(record=str(record)) as (receiver, seen):
        received, closed = everything_answered(receiver.port, request_bytes(extra=H2C_UPGRADE) + SMUGGLED)
    assert statuses(received) == [200], received[:300]
    assert b"101" not in received.split(b"\r\n")[0]
    assert b"Connection: close\r\n" in received
    assert closed
    assert [(d.status, d.body) for d in seen] == [(200, EVENT)]
    assert record.read_text().count("\n") == 1
    assert '"body": ""' not in record.read_text()


def test_a_chunked_post_asking_for_an_upgrade_has_its_body_read():
    with running() as (receiver, seen):
        request = chunked_request(EVENT, signed(EVENT), extra=H2C_UPGRADE)
        received, closed = everything_answered(receiver.port, request + SMUGGLED)
    assert statuses(received) == [200], received[:300]
    assert closed
    assert [(d.status, d.body) for d in seen] == [(200, EVENT)]


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /webhooks HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 405),
        (
            b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" + H2C_UPGRADE.encode() + b"\r\n",
            401,
        ),
    ],
    ids=["get-no-length", "post-length-0"],
)
def test_an_upgrade_without_a_body_is_answered_and_the_server_serves_on(head, status):
    with running() as (receiver, seen):
        received, closed = everything_answered(receiver.port, head + b"\x81\x05hello")
        assert statuses(received) == [status]
        assert closed
        assert answer_once(receiver.port) == [200]
    assert [d.status for d in seen] == [status, 200]


def test_trailer_fields_never_reach_the_verdict_or_the_recorded_headers(tmp_path):
    record = tmp_path / "r.jsonl"
    signature = signed(EVENT)
    del signature["Content-Type"]
    trailer = "".join(f"{name}: {value}\r\n" for name, value in signature.items())
    with running(record=str(record)) as (receiver, seen):
        only_in_trailer = chunked_request(
            EVENT, {"Content-Type": "application/json"}, trailer, "Connection: close\r\n"
        )
        received, _ = everything_answered(receiver.port, only_in_trailer)
        assert statuses(received) == [401]
        with_host = chunked_request(
            EVENT, signed(EVENT), "Host: y\r\nX-Trailer: 1\r\n", "Connection: close\r\n"
        )
        received, _ = everything_answered(receiver.port, with_host)
        assert statuses(received) == [200]
    assert [d.status for d in seen] == [401, 200]
    assert not any(name.lower().startswith("x-webhook") for name in seen[0].headers)
    assert seen[1].headers["Host"] == "x"
    assert "X-Trailer" not in seen[1].headers
    text = record.read_text()
    assert '"x, y"' not in text and "X-Trailer" not in text


def test_a_trailer_over_the_head_bound_gets_431():
    head = b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with running() as (receiver, seen):
        request = (
            head + b"5\r\nhello\r\n0\r\n" + b"".join(b"X-T%d: %s\r\n" % (i, b"a" * 900) for i in range(80))
        )
        received, closed = everything_answered(receiver.port, request + b"\r\n")
    assert statuses(received) == [431]
    assert closed
    assert seen == []


def test_an_endless_trailer_value_is_cut_off_without_growing_memory(tmp_path):
    head = (
        b"POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Long: "
    )
    piece = b"a" * 65536
    sent = 0
    with listen_command(tmp_path) as (process, port):
        assert answer_once(port) == [200]
        before = rss_mb(process.pid)
        answer = b""
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(head)
            with contextlib.suppress(ConnectionResetError, BrokenPipeError, TimeoutError):
                while sent < 50_000_000 and not answer:
                    sock.sendall(piece)
                    sent += len(piece)
                    if select.select([sock], [], [], 0)[0]:
                        answer = sock.recv(65536)
            after = rss_mb(process.pid)
        assert answer_once(port) == [200]
    assert statuses(answer) == [431], f"{answer[:100]!r} after {sent} bytes of one trailer value"
    assert after - before < 8, f"grew {after - before:.1f} MB"
    figures.note(
        "listen endless trailer",
        f"listen endless trailer: 431 after {sent / 1024:.0f} KiB of one trailer value; "
        f"RSS grew {after - before:.1f} MB",
    )


@pytest.mark.parametrize(
    "host", ["a, b", "a b", "x:99999", "http://x/", "x:", "x:8a", ":80", "[::1", "[zz]:80", "[::1]x", "a@b"]
)
def test_an_invalid_host_value_gets_400_and_is_not_recorded(host, tmp_path):
    record = tmp_path / "r.jsonl"
    with running(record=str(record)) as (receiver, seen):
        request = request_bytes().replace(b"Host: x\r\n", f"Host: {host}\r\n".encode())
        received, closed = everything_answered(receiver.port, request, wait=2)
    assert statuses(received) == [400], received[:300]
    assert closed
    assert seen == []
    assert record.read_bytes() == b""


@pytest.mark.parametrize("host", ["x", "x:8080", "127.0.0.1:1", "[::1]:65535", "my-host.example", ""])
def test_a_valid_host_value_is_served(host):
    with running() as (receiver, seen):
        request = request_bytes(extra="Connection: close\r\n").replace(
            b"Host: x\r\n", f"Host: {host}\r\n".encode()
        )
        received, _ = everything_answered(receiver.port, request)
    assert statuses(received) == [200]
    assert [d.headers["Host"] for d in seen] == [host]


def trickle_bodies(port: int, clients: int, *, chunked: bool = False) -> list[socket.socket]:
    """Clients that send a whole head at once, then nothing of the body yet."""
    socks = []
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 1000"
        sock.sendall(f"POST /webhooks HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n".encode())
        sock.setblocking(False)
        socks.append(sock)
    return socks


def keep_trickling(socks: list[socket.socket], seconds: float, *, chunked: bool = False) -> tuple[int, float]:
    """One body byte (or 1-byte chunk) a client every 0.2 s; how many are open at the end, and when the
    last was dropped."""
    started = time.monotonic()
    still_open = set(range(len(socks)))
    last_dropped = 0.0
    while still_open and time.monotonic() - started < seconds:
        for index in list(still_open):
            try:
                socks[index].send(b"1\r\na\r\n" if chunked else b"a")
                if socks[index].recv(1024) == b"":
                    raise ConnectionResetError
            except BlockingIOError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                still_open.discard(index)
                last_dropped = time.monotonic() - started
        time.sleep(0.2)
    return len(still_open), last_dropped


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_sent_one_byte_at_a_time_is_dropped_at_its_deadline(chunked):
    """The body must be whole read_timeout (+1 s per 64 KiB) after its head: trickling does not extend it."""
    with running(read_timeout=1.0) as (receiver, seen):
        socks = trickle_bodies(receiver.port, 10, chunked=chunked)
        try:
            still_open, last_dropped = keep_trickling(socks, 5, chunked=chunked)
        finally:
            for sock in socks:
                sock.close()
        assert still_open == 0, f"{still_open} of 10 trickling bodies still open after 5 s"
        assert last_dropped < 2.5
        assert answer_once(receiver.port) == [200]
    assert [d.status for d in seen] == [200]


def test_a_large_declared_body_gets_a_second_per_64_kib():
    """Content-Length 256 KiB: 1 s + 4 s to arrive; sent in time, it is served."""
    large = b'{"inventoryStockIncreaseEventType": "stock.increase", "note": "' + b"x" * (256 * 1024) + b'"}'
    with (
        running(read_timeout=1.0) as (receiver, seen),
        socket.create_connection(("127.0.0.1", receiver.port)) as sock,
    ):
        sock.settimeout(TIMEOUT)
        data = request_bytes(body=large, extra="Connection: close\r\n")
        head_end = data.index(b"\r\n\r\n") + 4
        sock.sendall(data[:head_end])
        for start in range(head_end, len(data), 65536):  # 0.5 s apart: 2.5 s in all, past read_timeout
            time.sleep(0.5)
            sock.sendall(data[start : start + 65536])
        assert statuses(read_message(sock)) == [200]
    assert [len(d.body) for d in seen] == [len(large)]


def test_trickling_bodies_over_the_descriptor_limit_do_not_starve_a_delivery(tmp_path):
    """80 tricklers against 64 descriptors: each is dropped at its body deadline, so a valid delivery
    queued behind them is answered after a few deadlines, not never."""
    with listen_command(tmp_path, "--read-timeout", "1", max_files=64) as (_, port):
        socks = trickle_bodies(port, 80)
        stop = threading.Event()

        def trickle_until_stopped() -> None:
            while not stop.is_set():
                keep_trickling(socks, 0.3)

        trickler = threading.Thread(target=trickle_until_stopped)
        trickler.start()
        try:
            time.sleep(0.5)
            started = time.monotonic()
            received, _ = everything_answered(port, request_bytes(extra="Connection: close\r\n"), wait=15)
            waited = time.monotonic() - started
        finally:
            stop.set()
            trickler.join(TIMEOUT)
            for sock in socks:
                sock.close()
    assert statuses(received) == [200]
    figures.note(
        "listen body slowloris",
        f"listen body slowloris: 80 trickling bodies against 64 descriptors, --read-timeout 1: "
        f"a valid delivery answered after {waited:.1f} s",
    )
