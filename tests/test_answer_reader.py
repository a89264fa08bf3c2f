"""One way to read an HTTP answer: replay's pool and ``listen --forward-to``'s client agree on each one.

Both read answers through ``transport/answer_reader.py``; each answer here is sent raw by a
real local server, once to each client, and both must make the same of it.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import TEST_SECRET
from servers import read_message, tcp_server

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.transport import failures
from inventory_cli.transport.client_pool import ClientPool
from inventory_cli.transport.exchange import ClientOptions, Post
from inventory_cli.transport.forward_client import ForwardClient, ForwardError


def pool_for(url: str, **options: Any) -> ClientPool:
    """The pool as ``Deliverer`` opens it (JSON bodies), 16 connections unless told."""
    options.setdefault("connections", 16)
    options.setdefault("headers", {"Content-Type": "application/json"})
    return ClientPool(url, ClientOptions(**options))


TIMEOUT = 5  # seconds, for every network call
SECRET = Secret(TEST_SECRET)
BODY = b'{"sku": "A-1"}'


def answering_once(answer: bytes) -> Callable[[socket.socket], None]:
    """A server's handler that reads one request, sends ``answer`` raw, and closes."""

    def handle(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(TIMEOUT)
            read_message(connection)
            connection.sendall(answer)

    return handle


def through_pool(port: int) -> tuple[int | None, bytes, str | None]:
    pool = pool_for(f"http://127.0.0.1:{port}/x", timeout=TIMEOUT)
    (outcome,) = pool.run([Post(BODY, lambda body: sign(INVENTORY_V1, SECRET, body))])
    return outcome.status, outcome.preview, outcome.error


def through_forward(port: int) -> tuple[int | None, bytes, str | None]:
    client = ForwardClient(f"http://127.0.0.1:{port}", timeout=TIMEOUT)
    try:
        answer = client.send("POST", "/x", [("Host", f"127.0.0.1:{port}")], BODY)
    except ForwardError as error:
        return None, b"", str(error)
    finally:
        client.close()
    return answer.status, answer.body, None


def kind_through_pool(port: int) -> failures.FailureKind | None:
    pool = pool_for(f"http://127.0.0.1:{port}/x", timeout=TIMEOUT)
    (outcome,) = pool.run([Post(BODY, lambda body: sign(INVENTORY_V1, SECRET, body))])
    return outcome.failure_kind


def kind_through_forward(port: int) -> failures.FailureKind | None:
    client = ForwardClient(f"http://127.0.0.1:{port}", timeout=TIMEOUT)
    try:
        client.send("POST", "/x", [("Host", f"127.0.0.1:{port}")], BODY)
    except ForwardError as error:
        return error.failure.kind
    finally:
        client.close()
    return None


ANSWERS = {
    "length": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", (200, b"ok", None)),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
        (200, b"ok!", None),
    ),
    "gzip-then-chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        (200, b"ok", None),
    ),
    "until-close": (b"HTTP/1.1 200 OK\r\n\r\nto the end", (200, b"to the end", None)),
    "not-chunked-coding-until-close": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nto the end",
        (200, b"to the end", None),
    ),
    "interim-then-final": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nhi",
        (201, b"hi", None),
    ),
    "short-body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        (None, b"", failures.CLOSED_MID_ANSWER),
    ),
    # The pool called this "closed without answering": an interim answer is the server answering.
    "interim-then-close": (b"HTTP/1.1 102 Processing\r\n\r\n", (None, b"", failures.CLOSED_MID_ANSWER)),
    "nothing": (b"", (None, b"", failures.CLOSED_WITHOUT_ANSWER)),
    # The forward client called this a malformed HTTP answer.
    "not-http": (
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        (None, b"", "the answer is not HTTP: it starts 'SSH-2.0-OpenSSH_9.2'"),
    ),
    # llhttp takes a Connection: close on an interim answer at its word: nothing may follow. The pool
    # called what followed "not HTTP" (it starts ''), as if no status line had come.
    "close-on-interim": (
        b"HTTP/1.1 103 Early Hints\r\nConnection: close\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        (None, b"", "malformed HTTP answer: Data after `Connection: close`"),
    ),
    "switching-protocols": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
        (None, b"", failures.SWITCHED_PROTOCOLS),
    ),
}


@pytest.mark.parametrize("client", [through_pool, through_forward], ids=["pool", "forward"])
@pytest.mark.parametrize(("answer", "made_of_it"), ANSWERS.values(), ids=ANSWERS.keys())
def test_both_clients_make_the_same_of_an_answer(client, answer, made_of_it):
    with tcp_server(answering_once(answer)) as port:
        assert client(port) == made_of_it


def test_a_reset_after_an_interim_answer_is_not_taken_for_the_keep_alive_race():
    """The pool's second request on a kept-alive connection gets a 102, then a reset: the server read it."""

    def handle(connection: socket.socket) -> None:
        connection.settimeout(TIMEOUT)
        read_message(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        read_message(connection)
        connection.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        time.sleep(0.3)  # the 102 is read before the reset comes
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    signer = lambda body: sign(INVENTORY_V1, SECRET, body)  # noqa: E731
    with tcp_server(handle) as port:
        pool = pool_for(f"http://127.0.0.1:{port}/x", connections=1, timeout=TIMEOUT)
        first, second = pool.run([Post(BODY, signer), Post(BODY, signer)])
    assert (first.status, second.status) == (200, None)
    assert second.error == failures.RESET  # not RESET_AFTER_PREVIOUS_ANSWER: this request was answered


KINDS = {
    "short-body": (ANSWERS["short-body"][0], failures.FailureKind.CLOSED_MID_ANSWER),
    "nothing": (ANSWERS["nothing"][0], failures.FailureKind.CLOSED_WITHOUT_ANSWER),
    "not-http": (ANSWERS["not-http"][0], failures.FailureKind.NOT_HTTP),
    "close-on-interim": (ANSWERS["close-on-interim"][0], failures.FailureKind.MALFORMED_ANSWER),
    "switching-protocols": (ANSWERS["switching-protocols"][0], failures.FailureKind.MALFORMED_ANSWER),
    "endless-head": (b"HTTP/1.1 200 OK\r\nX-Long: " + b"x" * (70 * 1024), failures.FailureKind.TOO_LARGE),
    "answered": (ANSWERS["until-close"][0], None),
}


@pytest.mark.parametrize("client", [kind_through_pool, kind_through_forward], ids=["pool", "forward"])
@pytest.mark.parametrize(("answer", "kind"), KINDS.values(), ids=KINDS.keys())
def test_both_clients_give_a_failure_the_same_kind(client, answer, kind):
    with tcp_server(answering_once(answer)) as port:
        assert client(port) is kind
