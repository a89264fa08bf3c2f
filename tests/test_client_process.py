"""The pool in a process of its own (`invwh replay` on Linux, two cores), against real local servers."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TEST_SECRET
from servers import Reply, serve

from inventory_cli.errors import DeliveryError
from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.transport.client import open_client
from inventory_cli.transport.client_pool import NOT_YET, ClientPool
from inventory_cli.transport.client_process import ProcessClient, forking_pays
from inventory_cli.transport.exchange import ClientOptions, KeptHeaders, Post
from inventory_cli.transport.retry import RetryPolicy, RetryWait

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="a process client forks")

SECRET = Secret(TEST_SECRET)


def signer(body: bytes) -> dict[str, str]:
    return sign(INVENTORY_V1, SECRET, body)


def options(**given: Any) -> ClientOptions:
    given.setdefault("connections", 8)
    given.setdefault("headers", {"Content-Type": "application/json"})
    return ClientOptions(**given)


def process_client(url: str, **given: Any) -> ProcessClient:
    return ProcessClient(ClientPool(url, options(**given)), signer)


def posts(count: int) -> list[Post]:
    return [Post(b'{"n": %d}' % n, signer) for n in range(count)]


def gone(pid: int) -> bool:
    """The process ended and was reaped: no zombie left behind."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_exchanges_are_those_of_the_pool_in_this_process_in_the_posts_order():
    with serve(lambda r: Reply(422 if b'"n": 7}' in r.body else 200, b"seen " + r.body)) as server:
        here = list(ClientPool(server.endpoint(), options()).run(posts(200)))
        client = process_client(server.endpoint())
        try:
            there = list(client.run(posts(200)))
        finally:
            client.close()
    shape = [(e.body, e.status, e.reason, e.preview, e.error, e.attempts) for e in here]
    assert [(e.body, e.status, e.reason, e.preview, e.error, e.attempts) for e in there] == shape
    assert [e.status for e in there].count(422) == 1
    assert Counter(r.body for r in server.received) == Counter(p.body for p in posts(200) * 2)
    for exchange in there:
        assert exchange.url == server.endpoint()
        assert exchange.request_headers["Content-Type"] == "application/json"
        assert exchange.request_headers["Content-Length"] == str(len(exchange.body))
        assert exchange.elapsed > 0


def test_each_post_is_signed_in_the_child_as_it_is_written_or_keeps_its_headers():
    kept = {"X-Webhook-Signature": "t=1,v1=recorded", "X-Webhook-Timestamp": "1"}
    sent = [Post(b'{"n": 1}', signer), Post(b'{"n": 2}', KeptHeaders(kept)), Post(b'{"n": 3}', signer)]
    with serve() as server:
        client = process_client(server.endpoint())
        try:
            exchanges = list(client.run(sent))
        finally:
            client.close()
    by_body = {r.body: r.headers for r in server.received}
    for body in (b'{"n": 1}', b'{"n": 3}'):
        check = check_signature(INVENTORY_V1, [SECRET], body, by_body[body])
        assert check.ok, check.message
        assert check.timestamp is not None and abs(check.timestamp - time.time()) < 60
    assert by_body[b'{"n": 2}']["X-Webhook-Signature"] == "t=1,v1=recorded"
    assert exchanges[1].signed_headers == kept


def test_a_post_signed_any_other_way_is_refused_before_anything_is_sent():
    with serve() as server:
        client = process_client(server.endpoint())
        try:
            with pytest.raises(TypeError, match="its own signer or keeps"):
                list(client.run([Post(b"{}", lambda body: {})]))
        finally:
            client.close()
    assert server.received == []


def test_each_wait_before_a_retry_is_told_in_this_process():
    answers = iter([503, 200])
    waits: list[RetryWait] = []
    with serve(lambda r: Reply(next(answers))) as server:
        client = process_client(
            server.endpoint(),
            connections=1,
            retry=RetryPolicy(retries=1, backoff=0.01),
            on_retry=waits.append,
        )
        try:
            (exchange,) = client.run(posts(1))
        finally:
            client.close()
    assert (exchange.status, exchange.attempts) == (200, 2)
    assert [(w.attempt, w.attempts, w.why) for w in waits] == [(2, 2, "503 Service Unavailable")]


def test_one_client_serves_runs_one_after_another_and_its_child_ends_with_it():
    with serve() as server:
        client = process_client(server.endpoint())
        pid = client.pid
        assert pid is not None
        assert [e.status for e in client.run(posts(3))] == [200] * 3
        assert [e.status for e in client.run(posts(5))] == [200] * 5
        assert [e.status for e in client.run([])] == []
        client.close()
    assert gone(pid)


def test_a_run_left_unfinished_stops_the_child_when_the_client_closes():
    with serve() as server:
        client = process_client(server.endpoint())
        pid = client.pid
        assert pid is not None
        exchanges = client.run(posts(500))
        assert next(exchanges).status == 200
        client.close()
        exchanges.close()
    assert gone(pid)


def test_a_child_killed_mid_run_is_a_delivery_error_that_names_the_url_and_how_it_ended():
    with serve() as server:
        client = process_client(server.endpoint())
        assert client.pid is not None
        exchanges = client.run(posts(100_000))
        next(exchanges)
        os.kill(client.pid, signal.SIGKILL)
        with pytest.raises(DeliveryError) as raised:
            for _ in exchanges:
                pass
        client.close()
    assert str(raised.value) == (
        f"could not deliver to {server.endpoint()}: the process sending the deliveries ended "
        f"before they did (killed by signal {int(signal.SIGKILL)})"
    )


def test_ctrl_c_at_the_moment_of_the_fork_neither_stops_the_child_nor_prints_in_it():
    """Signals are held while the fork is made, until the child has set its own handling.

    Unheld, one in about seven forks here took the parent's handler in the child: Python's
    after-fork hooks printed ``KeyboardInterrupt`` on stderr, or the child died.
    """
    script = (
        "import os, signal, sys\n"
        "sys.path[:0] = [sys.argv[1]]\n"
        "from servers import serve\n"
        "from test_client_process import posts, process_client\n"
        "with serve() as server:\n"
        "    for _ in range(50):\n"
        "        client = process_client(server.endpoint())\n"
        "        os.kill(client.pid, signal.SIGINT)\n"
        "        assert [e.status for e in client.run(posts(1))] == [200]\n"
        "        client.close()\n"
        "print('50 delivered')\n"
    )
    tests = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(
        [sys.executable, "-c", script, tests], capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "50 delivered\n", "")


def test_the_child_ignores_ctrl_c_which_is_for_this_process_to_act_on():
    with serve() as server:
        client = process_client(server.endpoint())
        assert client.pid is not None
        os.kill(client.pid, signal.SIGINT)
        time.sleep(0.05)
        assert [e.status for e in client.run(posts(3))] == [200] * 3
        client.close()


def test_open_client_forks_only_where_it_pays_and_only_when_asked():
    with serve() as server:
        url = server.endpoint()
        asked = open_client(url, options(own_process=True), signer=signer)
        try:
            assert isinstance(asked, ProcessClient) == forking_pays()
        finally:
            asked.close()
        for client in (
            open_client(url, options(), signer=signer),
            open_client(url, options(own_process=True)),  # no signer to hand over
            open_client(url, options(own_process=True), signer=signer, sleep=lambda seconds: None),
        ):
            assert isinstance(client, ClientPool)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forking_pays is Linux's")
def test_forking_pays_with_two_cores_to_run_on_not_one(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert forking_pays()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not forking_pays()


# --- the pool's side: a source with nothing ready yet ---------------------------------


def test_the_pool_serves_its_connections_while_its_source_has_no_post_ready():
    """The first answer comes back while the second POST has not yet been handed over."""
    ready_r, ready_w = os.pipe()
    yielded: list[int] = []

    def source() -> Iterator[Post | object]:
        yield posts(1)[0]
        while not yielded:  # nothing more until the first exchange is out
            yield NOT_YET
        assert os.read(ready_r, 1) == b"!"
        yield posts(2)[1]

    with serve() as server:
        exchanges = ClientPool(server.endpoint(), options()).run(source(), ready_fd=ready_r)  # type: ignore[arg-type]
        first = next(exchanges)
        yielded.append(first.status or 0)
        os.write(ready_w, b"!")
        rest = list(exchanges)
    os.close(ready_r)
    os.close(ready_w)
    assert [first.body, *[e.body for e in rest]] == [b'{"n": 0}', b'{"n": 1}']
    assert [r.body for r in server.received] == [b'{"n": 0}', b'{"n": 1}']


def test_before_waiting_is_called_each_time_the_pool_is_about_to_wait_after_what_it_yielded():
    """The child passes the exchanges on then: each wait comes after those yielded before it."""
    yielded: list[int] = []
    seen_at_each_wait: list[int] = []
    with serve() as server:
        pool = ClientPool(server.endpoint(), options(connections=1))
        for exchange in pool.run(posts(3), before_waiting=lambda: seen_at_each_wait.append(len(yielded))):
            yielded.append(exchange.status or 0)
    assert yielded == [200] * 3
    # One connection: it waits for each answer in turn, having yielded the answers before it.
    assert sorted(set(seen_at_each_wait)) == [0, 1, 2]
    assert seen_at_each_wait == sorted(seen_at_each_wait)


def test_a_server_closing_idle_connections_is_handled_in_the_child_as_in_this_process():
    """A server that closes each connection after one answer: every delivery still arrives once."""
    with serve(lambda r: Reply(200, headers={"Connection": "close"})) as server:
        client = process_client(server.endpoint())
        try:
            exchanges = list(client.run(posts(40)))
        finally:
            client.close()
    assert [e.status for e in exchanges] == [200] * 40
    assert Counter(r.body for r in server.received) == Counter(p.body for p in posts(40))


# --- signed ahead, in this process -------------------------------------------------------


def test_headers_signed_ahead_stand_for_the_first_attempt_written_in_their_second(monkeypatch):
    from inventory_cli.transport import client_process

    now = [1_700_000_000.2]
    monkeypatch.setattr(client_process.time, "time", lambda: now[0])
    afresh: list[bytes] = []

    def sign_afresh(body: bytes) -> dict[str, str]:
        afresh.append(body)
        return {"X-Webhook-Signature": "afresh"}

    ahead = client_process._SignedAhead({"X-Webhook-Signature": "ahead"}, 1_700_000_000, sign_afresh)
    now[0] = 1_700_000_000.9  # written later in the same second
    assert ahead(b"{}") == {"X-Webhook-Signature": "ahead"}
    assert afresh == []
    assert ahead(b"{}") == {"X-Webhook-Signature": "afresh"}  # a retry: signed as it is written
    late = client_process._SignedAhead({"X-Webhook-Signature": "ahead"}, 1_700_000_000, sign_afresh)
    now[0] = 1_700_000_001.0  # written in the next second: its timestamp would be another
    assert late(b"{}") == {"X-Webhook-Signature": "afresh"}
    assert afresh == [b"{}", b"{}"]


def test_a_post_is_signed_ahead_only_when_its_second_is_known(monkeypatch):
    """Signed across a second's turn, it is left for the child to sign as it writes it."""
    from inventory_cli.transport import client_process

    with serve() as server:
        client = process_client(server.endpoint())
        try:
            # Each POST reads the clock before signing, as it signs, and after.
            clock = iter([1_700_000_000.5, 1_700_000_000.6, 1_700_000_000.7])
            clock = iter([*clock, 1_700_000_000.99, 1_700_000_000.995, 1_700_000_001.01])
            monkeypatch.setattr(client_process.time, "time", lambda: next(clock))
            first = client._handed(Post(b'{"n": 1}', signer))
            second = client._handed(Post(b'{"n": 2}', signer))
            monkeypatch.undo()
        finally:
            client.close()
    assert first[0] == b'{"n": 1}' and first[2] == 1_700_000_000 and first[1] is not None
    assert "X-Webhook-Signature" in first[1]
    assert second == (b'{"n": 2}', None, None)


def test_the_window_is_bounded_by_bytes_as_well_as_by_posts(monkeypatch):
    """With room for one body's bytes only, one POST is out at a time, and every one still goes."""
    from inventory_cli.transport import client_process

    in_flight = [0]
    most = [0]

    def slow(request):  # each answer takes a moment, so that POSTs handed together overlap
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        time.sleep(0.02)
        in_flight[0] -= 1
        return Reply()

    for window_bytes, overlapped in ((1, False), (client_process._WINDOW_BYTES, True)):
        monkeypatch.setattr(client_process, "_WINDOW_BYTES", window_bytes)
        most[0] = 0
        with serve(slow) as server:
            client = process_client(server.endpoint())
            try:
                exchanges = list(client.run(posts(12)))
            finally:
                client.close()
        assert [e.body for e in exchanges] == [p.body for p in posts(12)]
        assert (most[0] > 1) is overlapped


@pytest.mark.skipif(not forking_pays(), reason="where forking does not pay, the pool runs here anyway")
def test_where_no_process_can_be_forked_the_pool_runs_here(monkeypatch):
    def no_more_processes() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    with serve() as server:
        client = open_client(server.endpoint(), options(own_process=True), signer=signer)
        assert isinstance(client, ClientPool)
        assert [e.status for e in client.run(posts(3))] == [200] * 3


def test_the_child_keeps_no_file_of_this_process_open():
    """A pipe's write end this process closes is closed: the reader sees its end (a FIFO recording)."""
    read_end, write_end = os.pipe()
    with serve() as server:
        client = process_client(server.endpoint())
        try:
            os.close(write_end)
            # Readable once no process holds a write end: at once, or when the child has let its
            # copy go; never, before, while the child lived.
            assert select.select([read_end], [], [], 5)[0] == [read_end]
            assert os.read(read_end, 1) == b""
            assert [e.status for e in client.run(posts(2))] == [200] * 2
        finally:
            client.close()
            os.close(read_end)


def test_a_child_gone_before_the_run_is_a_delivery_error_not_a_broken_pipe():
    with serve() as server:
        client = process_client(server.endpoint())
        pid = client.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # Ended, not yet reaped: its end of the pipe is closed, so the first write is refused.
        assert os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT) is not None
        with pytest.raises(DeliveryError, match=r"ended before they did \(killed by signal 9\)"):
            list(client.run(posts(3)))
        client.close()
    assert server.received == []
    assert gone(pid)
