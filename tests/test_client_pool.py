"""The client pool behind `invwh replay` over http://, against real local servers."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from conftest import TEST_SECRET
from servers import Reply, read_message, serve, tcp_server

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.transport.client_pool import ClientPool
from inventory_cli.transport.exchange import ClientOptions, Post
from inventory_cli.transport.failures import FailureKind
from inventory_cli.transport.retry import RetryPolicy


def pool_for(url: str, **options: Any) -> ClientPool:
    """The pool as ``Deliverer`` opens it (JSON bodies), 16 connections unless told."""
    options.setdefault("connections", 16)
    options.setdefault("headers", {"Content-Type": "application/json"})
    return ClientPool(url, ClientOptions(**options))


SECRET = Secret(TEST_SECRET)


def signer(body: bytes) -> dict[str, str]:
    return sign(INVENTORY_V1, SECRET, body)


def posts(count: int) -> list[Post]:
    return [Post(b'{"n": %d}' % n, signer) for n in range(count)]


def test_delivers_every_body_once_in_order_with_valid_signatures():
    with serve() as server:
        results = list(pool_for(server.endpoint(), connections=8).run(posts(300)))
    assert [r.body for r in results] == [p.body for p in posts(300)]
    assert all(r.status == 200 and r.error is None and r.attempts == 1 for r in results)
    assert sorted(r.body for r in server.received) == sorted(p.body for p in posts(300))
    for request in server.received:
        assert request.headers["Content-Type"] == "application/json"
        assert check_signature(INVENTORY_V1, [SECRET], request.body, request.headers).ok


def test_reports_status_reason_and_the_start_of_the_body():
    with serve(lambda r: Reply(422, b"x" * 5000)) as server:
        (result,) = pool_for(server.endpoint()).run(posts(1))
    # The phrase http.server put on the wire: Python 3.13 renamed 422's (RFC 9110).
    sent_phrase = BaseHTTPRequestHandler.responses[422][0]
    assert (result.status, result.reason) == (422, sent_phrase)
    assert result.preview == b"x" * 512


def test_retries_server_errors_then_succeeds():
    answers = iter([Reply(500), Reply(503, headers={"Retry-After": "0"}), Reply(200)])
    with serve(lambda r: next(answers)) as server:
        (result,) = pool_for(server.endpoint(), retry=RetryPolicy(retries=3, backoff=0.01)).run(posts(1))
    assert (result.status, result.attempts) == (200, 3)
    assert len(server.received) == 3


def test_does_not_retry_4xx():
    with serve(lambda r: Reply(422)) as server:
        (result,) = pool_for(server.endpoint(), retry=RetryPolicy(retries=3, backoff=0.01)).run(posts(1))
    assert (result.status, result.attempts) == (422, 1)


def test_a_server_that_closes_each_connection_still_gets_everything():
    with serve(lambda r: Reply(200, b"ok", headers={"Connection": "close"})) as server:
        results = list(pool_for(server.endpoint(), connections=4).run(posts(40)))
    assert all(r.status == 200 for r in results)
    assert len(server.received) == 40


def test_idle_connections_the_server_said_goodbye_on_are_never_written_to():
    """The server half-closes a connection idle for 50 ms and keeps reading: a request written to
    it after that would arrive. While the source of POSTs pauses, the pool selects nothing: the
    look it had at its idle connections before the pause no longer stands after it."""
    goodbye_then = []  # what arrived on a connection after the server's FIN

    def answer_then_say_goodbye_when_idle(connection: socket.socket) -> None:
        while read_message(connection):
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if select.select([connection], [], [], 0.05)[0]:
                continue  # the next request came in time
            connection.shutdown(socket.SHUT_WR)
            connection.settimeout(1)
            with contextlib.suppress(OSError):
                while chunk := connection.recv(65536):
                    goodbye_then.append(chunk)
            return

    def paused(all_posts: list[Post]) -> Iterator[Post]:
        yield from all_posts[:5]  # the fifth is asked for once answers came: the pool looks
        time.sleep(0.3)  # meanwhile every idle connection gets its FIN
        yield from all_posts[5:]

    sent = posts(8)
    with tcp_server(answer_then_say_goodbye_when_idle) as port:
        results = list(pool_for(f"http://127.0.0.1:{port}/x", connections=4).run(paused(sent)))
    assert [(r.status, r.attempts) for r in results] == [(200, 1)] * 8
    assert goodbye_then == []


def test_connection_refused_is_a_result_not_an_exception():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = list(pool_for(f"http://127.0.0.1:{port}/x", connections=2).run(posts(3)))
    assert [r.error for r in results] == ["connection refused (is the server running?)"] * 3
    assert [r.failure_kind for r in results] == [FailureKind.REFUSED] * 3
    assert not any(r.status for r in results)


def test_unresolvable_host_is_a_result():
    (result,) = pool_for("http://host.invalid/x").run(posts(1))
    assert result.error.startswith("cannot resolve the host name")
    assert result.failure_kind is FailureKind.DNS


def silent_server() -> tuple[socket.socket, list[socket.socket]]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener, accepted


def test_a_server_that_never_answers_times_out():
    listener, accepted = silent_server()
    try:
        started = time.monotonic()
        (result,) = pool_for(f"http://127.0.0.1:{listener.getsockname()[1]}/x", timeout=0.3).run(posts(1))
    finally:
        listener.close()
        for sock in accepted:
            sock.close()
    assert result.error == "no response within 0.3 s (timeout)"
    assert time.monotonic() - started < 5


def raw_server(response: bytes) -> socket.socket:
    """Answers every request on a connection with ``response``, as raw bytes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve_connection(conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                    if len(rest) < length:
                        break
                    buffer = rest[length:]
                    conn.sendall(response)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_connection, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


@pytest.mark.parametrize(
    ("response", "status", "preview"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n",
            200,
            b"ok!!!",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nhi", 201, b"hi"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
    ],
    ids=["chunked", "interim-100", "no-content"],
)
def test_response_framings(response, status, preview):
    listener = raw_server(response)
    try:
        results = list(
            pool_for(f"http://127.0.0.1:{listener.getsockname()[1]}/x", connections=2).run(posts(6))
        )
    finally:
        listener.close()
    assert [(r.status, r.preview) for r in results] == [(status, preview)] * 6


@pytest.mark.parametrize(
    ("status_line", "reason"),
    [
        (b"HTTP/1.1 422 Bad SKU WIDGET-1", "Bad SKU WIDGET-1"),
        (b"HTTP/1.1 422 Unprocessable Entity", "Unprocessable Entity"),
        (b"HTTP/1.1 422 ", ""),
        (b"HTTP/1.1 422", ""),
    ],
    ids=["own-phrase", "pre-rfc9110-phrase", "empty-phrase", "no-phrase"],
)
def test_the_reason_is_the_phrase_on_the_wire_not_a_table_lookup(status_line, reason):
    listener = raw_server(status_line + b"\r\nContent-Length: 0\r\n\r\n")
    try:
        (result,) = pool_for(f"http://127.0.0.1:{listener.getsockname()[1]}/x").run(posts(1))
    finally:
        listener.close()
    assert (result.status, result.reason) == (422, reason)


def test_not_http_is_reported():
    listener = raw_server(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    try:
        (result,) = pool_for(f"http://127.0.0.1:{listener.getsockname()[1]}/x").run(posts(1))
    finally:
        listener.close()
    assert result.error == "the answer is not HTTP: it starts 'SSH-2.0-OpenSSH_9.2'"


def test_takes_only_plain_http():
    with pytest.raises(ValueError):
        pool_for("https://example.test/")


def test_an_endless_answer_head_fails_in_bounded_memory():
    """A header that never ends: llhttp would hold all of it; the pool stops at 64 KiB of head."""

    def endless_header(sock: socket.socket) -> None:
        sock.settimeout(5)
        try:
            read_message(sock)
            sock.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # 5 s of it, unless the client gives up first
                sock.sendall(b"x" * 65536)
        except OSError:
            pass

    with tcp_server(endless_header) as port:
        tracemalloc.start()
        try:
            (result,) = pool_for(f"http://127.0.0.1:{port}/x", timeout=5).run(posts(1))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # main's pool held all it was sent (39 MB in one run)
    assert result.error == "malformed HTTP answer: its head passed 64 KiB without ending"
