"""`invwh replay` against raw-socket servers that misbehave at the edges of HTTP/1.1.

Each test is one way a keep-alive client goes wrong: a POST sent twice, a
traceback on a reset idle connection, the next request written into the middle
of a body, a close-delimited or HTTP/1.0 answer left in the pool, a malformed
answer charged to the next delivery. The servers read every request whole
(head, then Content-Length bytes) and keep every body they read, so a test can
assert what reached the server and how often.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from servers import tcp_server

SOCKET_TIMEOUT = 5.0  # every socket of these servers, and so every wait of theirs
SECRET_ENV = {"INVWH_SECRET": TEST_SECRET}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Peer:
    """One accepted connection, read as HTTP requests framed by Content-Length."""

    def __init__(self, sock: socket.socket, server: RawServer) -> None:
        self.sock = sock
        self.server = server
        self.buffer = b""

    def read_head(self) -> bytes | None:
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head

    def read_body(self, head: bytes) -> bytes | None:
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        while len(self.buffer) < length:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        with self.server.lock:
            self.server.bodies.append(body)
        return body

    def read_request(self) -> bytes | None:
        """The next request's body, read whole; None when the client closed."""
        head = self.read_head()
        return None if head is None else self.read_body(head)

    def idle(self, seconds: float) -> bool:
        """True when nothing came from the client for ``seconds``."""
        return not self.buffer and not select.select([self.sock], [], [], seconds)[0]

    def reset(self) -> None:
        """Close with SO_LINGER 0: the client gets a RST, not a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


@dataclass
class RawServer:
    url: str
    bodies: list[bytes] = field(default_factory=list)  # every body read whole, in arrival order
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_so_far(self) -> int:
        with self.lock:
            return len(self.bodies)

    def read_whole(self, count: int) -> list[bytes]:
        """The bodies, once ``count`` were read (a body fully written may still be on its way)."""
        deadline = time.monotonic() + SOCKET_TIMEOUT
        while self.requests_so_far() < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.bodies


@contextlib.contextmanager
def raw_server(converse: Callable[[Peer], None], *, receive_buffer: int = 0) -> Iterator[RawServer]:
    """A TCP server on port 0 that runs ``converse(peer)`` for each connection, one thread each.

    ``receive_buffer`` caps what a client can have on its way to the server before it reads.
    """
    server = RawServer("")

    def handle(sock: socket.socket) -> None:
        with server.lock:
            server.connections += 1
        with contextlib.suppress(OSError):
            sock.settimeout(SOCKET_TIMEOUT)
            converse(Peer(sock, server))
        sock.close()

    with tcp_server(handle, receive_buffer=receive_buffer) as port:
        server.url = f"http://127.0.0.1:{port}/webhooks"
        yield server


def recording(path: Path, bodies: list[bytes]) -> Path:
    """A recording of ``bodies`` as `invwh listen --record` writes it (re-signed on replay)."""
    with path.open("w", encoding="utf-8") as out:
        for body in bodies:
            line = {
                "method": "POST",
                "path": "/webhooks",
                "headers": {"Content-Type": "application/json"},
                "body": body.decode(),
                "body_encoding": "utf-8",
                "status": 200,
            }
            out.write(json.dumps(line) + "\n")
    return path


def bodies(count: int, size: int = 0) -> list[bytes]:
    """Distinct JSON bodies, padded to ``size`` bytes when given."""
    made = []
    for n in range(count):
        body = b'{"inventoryStockIncreaseEventType": "stock.increase", "n": %d, "pad": "' % n
        made.append(body + b"x" * max(0, size - len(body) - 2) + b'"}')
    return made


@pytest.fixture
def replay(invwh):
    def run(path, url, *args, code=0):
        return invwh("replay", path, "--url", url, "--format", "json", *args, code=code, env=SECRET_ENV)

    return run


# --- 10: a POST whose request was fully written is never sent again -----------------


def answer_first_then_close_silently(peer: Peer) -> None:
    """Answers the first request of each connection; reads the second whole and closes unanswered."""
    if peer.read_request() is None:
        return
    peer.sock.sendall(OK)
    peer.read_request()


def test_a_request_read_whole_then_closed_unanswered_is_reported_not_sent_again(replay, tmp_path):
    sent = bodies(20)
    with raw_server(answer_first_then_close_silently) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, code=3)
    assert Counter(server.bodies) == Counter(sent)  # every body reached the server exactly once
    items = result.json["items"]
    answered = [item for item in items if item["status"] == 200]
    unanswered = [item for item in items if item["status"] is None]
    assert len(answered) == len(unanswered) == 10
    for item in unanswered:
        assert item["error"] == "the server closed the connection without answering"
        assert item["attempts"] == 1
    assert all(item["attempts"] == 1 for item in answered)


def test_retries_may_send_it_again_and_count_the_attempt(replay, tmp_path):
    def close_silently_on_first_sight(peer: Peer) -> None:
        while (body := peer.read_request()) is not None:
            if peer.server.bodies.count(body) == 1:
                return
            peer.sock.sendall(OK)

    sent = bodies(4)
    with raw_server(close_silently_on_first_sight) as server:
        result = replay(
            recording(tmp_path / "r.jsonl", sent), server.url, "--retries", "1", "--concurrency", "4"
        )
    items = result.json["items"]
    assert [(item["status"], item["attempts"]) for item in items] == [(200, 2)] * 4
    assert Counter(server.bodies) == Counter(sent * 2)


# --- 11: an idle pooled connection that the server let go ---------------------------


@pytest.mark.parametrize("close", ["reset", "close"])
def test_an_idle_connection_the_server_drops_is_replaced_not_a_traceback(replay, tmp_path, close):
    """With --rate 5 the connection idles 200 ms between deliveries; the server drops it after 50."""

    def answer_then_drop_when_idle(peer: Peer) -> None:
        while peer.read_request() is not None:
            peer.sock.sendall(OK)
            if peer.idle(0.05):
                peer.reset() if close == "reset" else peer.sock.close()
                return

    sent = bodies(4)
    # A loaded machine can make replay's pacing catch up (two deliveries back to back), so that the
    # server never sees its connection idle and drops nothing: then the run proves nothing, and it
    # runs again, up to three times. What it must show holds on every run.
    dropped = False
    for attempt in range(3):
        with raw_server(answer_then_drop_when_idle) as server:
            result = replay(recording(tmp_path / f"r{attempt}.jsonl", sent), server.url, "--rate", "5")
        items = result.json["items"]
        assert [(item["status"], item["attempts"]) for item in items] == [(200, 1)] * 4
        assert server.bodies == sent  # each once: nothing of a request was written to the dropped connection
        if server.connections > 1:  # it did drop idle connections (all four, unless the machine lagged)
            dropped = True
            break
    assert dropped, "in three runs the server never saw its connection idle for 50 ms"


# --- 12: an answer before the body is fully written --------------------------------


def test_an_early_answer_does_not_let_the_next_request_into_the_body(replay, tmp_path):
    """The server answers on the head, then reads the body slowly: each body must arrive whole."""

    def answer_on_the_head(peer: Peer) -> None:
        while (head := peer.read_head()) is not None:
            peer.sock.sendall(OK)
            time.sleep(0.1)  # the answer is back long before the body is read
            if peer.read_body(head) is None:
                return

    # Larger than the client's send buffer (4 MiB at most) and the server's receive buffer together.
    sent = bodies(4, size=6 * 1024 * 1024)
    with raw_server(answer_on_the_head, receive_buffer=64 * 1024) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, "--concurrency", "2")
        arrived = server.read_whole(4)
    assert [item["status"] for item in result.json["items"]] == [200] * 4
    assert Counter(arrived) == Counter(sent)


# --- 13: answers that end their connection -----------------------------------------


def test_a_close_delimited_answer_ends_the_connection(replay, tmp_path):
    def answer_until_close(peer: Peer) -> None:
        if peer.read_request() is not None:
            peer.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok, until the close")
            time.sleep(0.05)  # the client must wait for the close to know the body ended

    sent = bodies(20)
    with raw_server(answer_until_close) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, "--concurrency", "2")
    items = result.json["items"]
    assert [(item["status"], item["response_preview"]) for item in items] == [
        (200, "ok, until the close")
    ] * 20
    assert Counter(server.bodies) == Counter(sent)
    assert server.connections == 20


def test_an_http_1_0_answer_ends_the_connection(replay, tmp_path):
    """An HTTP/1.0 server does not keep the connection: a second request on it is read and lost."""

    def answer_in_http_1_0(peer: Peer) -> None:
        if peer.read_request() is not None:
            peer.sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            peer.read_request()

    sent = bodies(10)
    with raw_server(answer_in_http_1_0) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, "--concurrency", "2")
    assert [item["status"] for item in result.json["items"]] == [200] * 10
    assert Counter(server.bodies) == Counter(sent)


# --- 14: a malformed answer is its own delivery's --------------------------------


@pytest.mark.parametrize(
    ("first_answer", "first_status", "first_error", "first_failure"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 2\r\n\r\nhello",
            None,
            "malformed HTTP answer: ",
            "malformed_answer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            200,
            None,
            None,
        ),
    ],
    ids=["two-content-lengths", "gzip-then-chunked"],
)
def test_an_odd_first_answer_is_charged_to_its_own_delivery(
    replay, tmp_path, first_answer, first_status, first_error, first_failure
):
    """Two different Content-Lengths are an error of that delivery; `gzip, chunked` is chunked."""

    def odd_first_answer(peer: Peer) -> None:
        while peer.read_request() is not None:
            peer.sock.sendall(first_answer if peer.server.requests_so_far() == 1 else OK)

    sent = bodies(3)
    with raw_server(odd_first_answer) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, code=3 if first_error else 0)
    first, *rest = result.json["items"]
    assert (first["status"], first["failure"]) == (first_status, first_failure)
    if first_error:
        assert first["error"].startswith(first_error)
    else:
        assert (first["error"], first["response_preview"]) == (None, "ok")
    assert [(item["status"], item["error"], item["response_preview"]) for item in rest] == [
        (200, None, "ok")
    ] * 2
    assert server.bodies == sent


# --- 15: answers that never end, or are no answer, fail their own delivery in bounded time --------


def first_answer_then_ok(first: Callable[[Peer], None]) -> Callable[[Peer], None]:
    """Gives the first request ever read ``first``; the others get a plain 200."""

    def converse(peer: Peer) -> None:
        while peer.read_request() is not None:
            if peer.server.requests_so_far() == 1:
                first(peer)
                return
            peer.sock.sendall(OK)

    return converse


def endless_header(peer: Peer) -> None:
    peer.sock.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    deadline = time.monotonic() + SOCKET_TIMEOUT
    while time.monotonic() < deadline:  # until the client gives up (then the write fails)
        peer.sock.sendall(b"x" * 65536)


def endless_chunked_body(peer: Peer) -> None:
    peer.sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    deadline = time.monotonic() + SOCKET_TIMEOUT
    while time.monotonic() < deadline:
        peer.sock.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
        time.sleep(0.001)


def endless_processing(peer: Peer) -> None:
    deadline = time.monotonic() + SOCKET_TIMEOUT
    while time.monotonic() < deadline:  # far under 64 KiB of heads: only the deadline ends it
        peer.sock.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        time.sleep(0.05)


def switching_protocols(peer: Peer) -> None:
    peer.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
    peer.sock.sendall(b"\x00\x00\x12\x04\x00\x00\x00\x00\x00")  # an HTTP/2 SETTINGS frame follows
    time.sleep(0.2)


@pytest.mark.parametrize(
    ("first", "error", "failure"),
    [
        (endless_header, "malformed HTTP answer: its head passed 64 KiB without ending", "too_large"),
        (endless_chunked_body, "no complete answer within 1.5 s (3 times the 0.5 s timeout)", "timeout"),
        (endless_processing, "no complete answer within 1.5 s (3 times the 0.5 s timeout)", "timeout"),
        (
            switching_protocols,
            "malformed HTTP answer: 101 Switching Protocols, and a delivery needs a final answer",
            "malformed_answer",
        ),
    ],
    ids=["endless-header", "endless-chunked-body", "endless-102", "101-switching-protocols"],
)
def test_an_answer_that_never_ends_or_switches_protocols_fails_its_delivery_and_the_run_goes_on(
    replay, tmp_path, first, error, failure
):
    sent = bodies(3)
    started = time.monotonic()
    with raw_server(first_answer_then_ok(first)) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, "--timeout", "0.5", code=3)
    seconds = time.monotonic() - started
    first_item, *rest = result.json["items"]  # the JSON is whole: it parsed
    assert (first_item["status"], first_item["error"], first_item["failure"]) == (None, error, failure)
    assert [(item["status"], item["error"], item["failure"]) for item in rest] == [(200, None, None)] * 2
    assert result.stderr.splitlines() == [f"invwh: error: could not deliver to {server.url}: {error}"]
    assert seconds < SOCKET_TIMEOUT  # it ended at its own deadline, not at the server's


# --- 16: a kept-alive connection closed right after its answer ---------------------------


def test_a_connection_closed_right_after_answering_is_not_charged_as_a_reset_of_the_next(replay, tmp_path):
    """The server answers keep-alive, then closes at once: the next request may race the close.

    When it lost the race, none of it reached the server: it is sent again on a fresh
    connection (not an attempt), or, when that cannot be proven (a reset), it fails saying so,
    never as a plain "connection reset"; then the pool stops reusing connections, so at most
    one delivery is lost to the race (on main: about 3 in 100).
    """

    def answer_then_close(peer: Peer) -> None:
        if peer.read_request() is not None:
            peer.sock.sendall(OK)

    sent = bodies(300)
    with raw_server(answer_then_close) as server:
        result = replay(recording(tmp_path / "r.jsonl", sent), server.url, code=(0, 3))
    arrived = Counter(server.bodies)
    assert max(arrived.values()) == 1  # nothing was sent twice
    for item, body in zip(result.json["items"], sent, strict=True):
        assert item["attempts"] == 1
        if item["status"] == 200:
            assert arrived[body] == 1
        else:
            assert arrived[body] == 0  # the server read none of it: never charged as a plain reset
            assert item["error"] == (
                "connection reset by the server right after its previous answer on this kept-alive "
                "connection, as this request went out: it may have been read, so it was not sent again"
            )
    assert sum(item["status"] is None for item in result.json["items"]) <= 1


def test_https_to_a_plain_http_server_suggests_http(replay, tmp_path):
    with raw_server(lambda peer: peer.sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")) as server:
        https = server.url.replace("http://", "https://")
        result = replay(recording(tmp_path / "r.jsonl", bodies(1)), https, code=3)
    (item,) = result.json["items"]
    assert item["failure"] == "tls"
    assert item["error"].startswith("TLS error: ")
    suggestion = f"the server did not answer in TLS; if it serves plain HTTP, use {server.url}"
    assert item["error"].endswith(suggestion)


# --- every failure of the pool has a kind, in the JSON beside its message -------------------


def reset_after_reading(peer: Peer) -> None:
    if peer.read_request() is not None:
        peer.reset()


def half_an_answer(peer: Peer) -> None:
    if peer.read_request() is not None:
        peer.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")


def silence(peer: Peer) -> None:
    if peer.read_request() is not None:
        time.sleep(1.5)


POOL_FAULT_KINDS = {
    "reset": (reset_after_reading, "reset", "connection reset by the server"),
    "closed": (lambda peer: peer.read_request(), "closed_without_answer", None),
    "closed-mid-answer": (half_an_answer, "closed_mid_answer", None),
    "not-http": (
        lambda peer: peer.read_request() is not None and peer.sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"),
        "not_http",
        "the answer is not HTTP: it starts 'SSH-2.0-OpenSSH_9.6'",
    ),
    "timeout": (silence, "timeout", "no response within 0.3 s (timeout)"),
}


@pytest.mark.parametrize(
    ("converse", "kind", "error"), POOL_FAULT_KINDS.values(), ids=POOL_FAULT_KINDS.keys()
)
def test_each_fault_of_the_pool_has_its_kind_beside_its_message(replay, tmp_path, converse, kind, error):
    with raw_server(converse) as server:
        result = replay(recording(tmp_path / "r.jsonl", bodies(1)), server.url, "--timeout", "0.3", code=3)
    (item,) = result.json["items"]
    assert (item["status"], item["failure"]) == (None, kind)
    assert error is None or item["error"] == error
    assert result.stderr.splitlines() == [f"invwh: error: could not deliver to {server.url}: {item['error']}"]


def test_a_refused_connection_has_its_kind_in_replay(replay, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks"
        result = replay(recording(tmp_path / "r.jsonl", bodies(1)), url, code=3)
    (item,) = result.json["items"]
    assert (item["failure"], item["error"]) == ("refused", "connection refused (is the server running?)")
