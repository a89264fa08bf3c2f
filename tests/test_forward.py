"""``invwh listen --forward-to``: a verifying proxy in front of a real app on port 0."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from conftest import TEST_SECRET
from servers import Reply, free_port, read_message, serve, tcp_server
from test_listen import listen_subprocess

from inventory_cli.errors import InputError
from inventory_cli.signing.schemes import get_scheme
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.transport import forward_client
from inventory_cli.workflows.forward import ACCEPTED_REJECTED, REFUSED_ACCEPTED, request_headers
from inventory_cli.workflows.receive import ReceivedDelivery, Receiver, ReceiverConfig
from inventory_cli.workflows.recording import read_recording
from inventory_cli.workflows.verdict import judge

TIMEOUT = 10  # seconds, for every network call
SCHEME = get_scheme("inventory-v1")
SECRET = Secret(TEST_SECRET)
OTHER = Secret("another-secret-not-the-apps")
#: Bytes a re-serializing forwarder would change: CRLF, a tab, spacing, escaped and raw non-ASCII,
#: a trailing newline.
EVENT = (
    b'{"inventoryStockIncreaseEventType" :  "stock.increase",\r\n\t"sku": "CAF\\u00c9-\xc3\xa9",'
    b' "quantity": 1.50}\n'
)


@contextlib.contextmanager
def proxy(app_url: str, **overrides: object) -> Iterator[tuple[Receiver, list[ReceivedDelivery]]]:
    seen: list[ReceivedDelivery] = []
    settings: dict = {"scheme": SCHEME, "secrets": [SECRET], "port": 0, "forward_to": app_url, **overrides}
    with Receiver(ReceiverConfig(**settings), on_delivery=seen.append) as receiver:
        yield receiver, seen


def signed(body: bytes = EVENT, secret: Secret = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign(SCHEME, secret, body)}


def post(url: str, body: bytes = EVENT, headers: dict[str, str] | None = None) -> requests.Response:
    headers = signed(body) if headers is None else headers
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT)


def verifying_app(request):  # an app that checks the signature with the same secret, as a real one does
    verdict = judge(SCHEME, [SECRET], request.body, request.headers, tolerance=300)
    if verdict.signature.ok:
        return Reply(200, b'{"stored": true}', {"X-App": "yes", "Content-Type": "application/json"})
    return Reply(401, b"bad signature", {"X-App": "yes"})


# --- what the app gets, what the sender gets ---------------------------------------------------


def test_the_app_gets_the_exact_bytes_and_the_signature_and_verifies_them():
    with serve(verifying_app) as app, proxy(app.endpoint("/hooks/inventory")) as (receiver, seen):
        headers = signed()
        response = post(receiver.url, headers=headers)
    assert response.status_code == 200
    assert response.content == b'{"stored": true}'
    assert response.headers["X-App"] == "yes"
    [arrived] = app.received
    assert arrived.body == EVENT
    assert arrived.path == "/hooks/inventory"  # the app's own path
    for name, value in headers.items():
        if name != "Content-Type":
            assert arrived.headers[name] == value
    assert arrived.headers["Host"] == app.url.removeprefix("http://")
    assert arrived.headers["X-Forwarded-For"] == "127.0.0.1"
    assert arrived.headers["Forwarded"] == f'for=127.0.0.1;proto=http;host="127.0.0.1:{receiver.port}"'
    assert seen[0].forward is not None and seen[0].forward.agrees
    assert seen[0].status == 200


def test_a_refused_delivery_gets_the_apps_own_answer():
    with serve(verifying_app) as app, proxy(app.endpoint()) as (receiver, _):
        response = post(receiver.url, headers=signed(secret=OTHER))
    assert response.status_code == 401
    assert response.content == b"bad signature"
    assert len(app.received) == 1


def test_hop_by_hop_fields_are_not_passed_on_either_way():
    """RFC 9110 §7.6.1: Connection, the fields it names, Keep-Alive, TE, Upgrade, Proxy-*; the answer too."""
    arrived: list[bytes] = []

    def app(connection: socket.socket) -> None:
        with connection:
            arrived.append(read_message(connection))
            connection.sendall(
                b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: X-App-Hop\r\nX-App-Hop: 1\r\n"
                b"Keep-Alive: timeout=1\r\nX-Kept: 2\r\n\r\nhello"
            )

    with tcp_server(app) as port, proxy(f"http://127.0.0.1:{port}/in") as (receiver, _):
        headers = {
            **signed(),
            "Connection": "keep-alive, X-Sender-Hop",
            "X-Sender-Hop": "private",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "X-Kept-Too": "yes",
        }
        response = post(receiver.url, headers=headers)
    assert response.status_code == 201
    assert response.content == b"hello"
    assert response.headers["X-Kept"] == "2"
    assert "X-App-Hop" not in response.headers and "Keep-Alive" not in response.headers
    head = arrived[0].partition(b"\r\n\r\n")[0].lower()
    for name in (b"x-sender-hop", b"keep-alive", b"te:", b"proxy-authorization", b"connection"):
        assert name not in head
    assert b"x-kept-too: yes" in head
    assert arrived[0].endswith(b"\r\n\r\n" + EVENT)


def test_a_chunked_answer_reaches_the_sender_whole():
    def app(connection: socket.socket) -> None:
        with connection:
            read_message(connection)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            )

    with tcp_server(app) as port, proxy(f"http://127.0.0.1:{port}/") as (receiver, _):
        response = post(receiver.url)
    assert response.content == b"hello world"
    assert response.headers["Content-Length"] == "11" and "Transfer-Encoding" not in response.headers
    assert response.headers["Content-Type"] == "text/plain"


def test_forwarded_headers_add_to_what_earlier_proxies_said():
    headers = request_headers(
        {"Host": "hooks.example", "X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9"},
        app_host="127.0.0.1:3000",
        sender="::1",
    )
    assert headers[0] == ("Host", "127.0.0.1:3000")
    assert ("X-Forwarded-For", "203.0.113.9, ::1") in headers
    assert ("Forwarded", 'for=203.0.113.9, for="[::1]";proto=http;host="hooks.example"') in headers


# --- the recording -------------------------------------------------------------------------------


def test_the_recording_holds_the_apps_answer(tmp_path):
    record = tmp_path / "rec.jsonl"
    with serve(verifying_app) as app, proxy(app.endpoint(), record=str(record)) as (receiver, _):
        post(receiver.url)
        post(receiver.url, headers=signed(secret=OTHER))
    lines = [json.loads(line) for line in record.read_text("utf-8").splitlines()]
    first, second = lines
    assert first["status"] == 200 and first["verdict"]["valid"] is True
    assert first["forward"]["status"] == 200
    assert first["forward"]["body"] == '{"stored": true}'
    assert first["forward"]["headers"]["X-App"] == "yes"
    assert first["forward"]["agrees"] is True
    assert first["forward"]["seconds"] >= 0
    assert second["status"] == 401 and second["forward"]["body"] == "bad signature"
    [one, _] = list(read_recording(record))
    assert one.body == EVENT  # the request's body, as ever
    assert one.forward is not None and one.forward["status"] == 200


def test_an_app_answer_that_is_not_utf8_is_recorded_as_base64(tmp_path):
    record = tmp_path / "rec.jsonl"
    with (
        serve(lambda request: Reply(200, b"\xff\xfe\x00")) as app,
        proxy(app.endpoint(), record=str(record)) as (receiver, _),
    ):
        assert post(receiver.url).content == b"\xff\xfe\x00"
    forward = json.loads(record.read_text("utf-8"))["forward"]
    assert forward["body"] == "//4A" and forward["body_encoding"] == "base64"


def test_an_app_that_is_down_gets_the_sender_a_502_and_listen_goes_on(tmp_path):
    record = tmp_path / "rec.jsonl"
    with proxy(f"http://127.0.0.1:{free_port()}/", record=str(record)) as (receiver, seen):
        first = post(receiver.url)
        second = post(receiver.url)
    assert first.status_code == second.status_code == 502
    assert first.json()["reason"] == "forward_failed"
    assert "refused" in first.json()["message"]
    line = json.loads(record.read_text("utf-8").splitlines()[0])
    assert line["status"] == 502
    assert "refused" in line["forward"]["error"]
    assert "status" not in line["forward"]
    assert len(seen) == 2


# --- disagreements ---------------------------------------------------------------------------------


def test_an_app_that_accepts_a_forgery_is_a_disagreement(tmp_path):
    record = tmp_path / "rec.jsonl"
    with (
        serve(lambda request: Reply(200, b"ok")) as app,
        proxy(app.endpoint(), record=str(record)) as (receiver, seen),
    ):
        response = post(receiver.url, headers=signed(secret=OTHER))
        assert receiver.tally is not None
        tally = receiver.tally
    assert response.status_code == 200  # the sender gets what the app said
    forward = seen[0].forward
    assert forward is not None and forward.disagreement == ACCEPTED_REJECTED
    assert "accepted (200)" in forward.why and "signature" in forward.why
    line = json.loads(record.read_text("utf-8"))
    assert line["forward"]["agrees"] is False
    assert line["forward"]["disagreement"] == ACCEPTED_REJECTED
    assert tally.accepted_rejected == 1 and tally.statuses[200] == 1


def test_an_app_that_refuses_a_valid_delivery_is_a_disagreement():
    with serve(lambda request: Reply(403, b"no")) as app, proxy(app.endpoint()) as (receiver, seen):
        assert post(receiver.url).status_code == 403
    forward = seen[0].forward
    assert forward is not None and forward.disagreement == REFUSED_ACCEPTED
    assert "another secret" in forward.why


def test_block_invalid_answers_a_forgery_without_forwarding_it():
    with serve(verifying_app) as app, proxy(app.endpoint(), block_invalid=True) as (receiver, seen):
        refused = post(receiver.url, headers=signed(secret=OTHER))
        accepted = post(receiver.url)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "signature_mismatch"
    assert accepted.status_code == 200
    assert [request.body for request in app.received] == [EVENT]  # only the valid one reached the app
    assert seen[0].forward is not None and seen[0].forward.blocked


def test_settings_that_cannot_work_together_are_refused():
    with pytest.raises(InputError, match="forced status"):
        ReceiverConfig(SCHEME, [SECRET], forward_to="http://127.0.0.1:1/", respond=200).check()
    with pytest.raises(InputError, match="needs a URL"):
        ReceiverConfig(SCHEME, [SECRET], block_invalid=True).check()
    with pytest.raises(InputError, match="http://"):
        ReceiverConfig(SCHEME, [SECRET], forward_to="https://127.0.0.1:1/").check()
    with pytest.raises(InputError, match="forward timeout"):
        forever = float("inf")
        ReceiverConfig(SCHEME, [SECRET], forward_to="http://127.0.0.1:1/", forward_timeout=forever).check()


# --- the HTTP client to the app ---------------------------------------------------------------------


def test_a_slow_answer_does_not_hold_up_other_deliveries():
    release = threading.Event()

    def app(request):
        if b"slow" in request.body:
            release.wait(TIMEOUT)
        return Reply(200, request.body[:4])

    slow_body = EVENT.replace(b"CAF", b"slow")
    with serve(app) as server, proxy(server.endpoint()) as (receiver, _), ThreadPoolExecutorOne() as pool:
        slow = pool.submit(post, receiver.url, slow_body)
        while not any(b"slow" in r.body for r in server.received):
            time.sleep(0.01)
        fast = post(receiver.url)  # answered while the slow one waits on the app
        assert fast.status_code == 200
        assert not slow.done()
        release.set()
        assert slow.result(TIMEOUT).status_code == 200


class ThreadPoolExecutorOne(contextlib.AbstractContextManager):
    def __enter__(self):
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(1)
        return self.pool

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True)


class _PortRecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    ports: list[int]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def port_recording_app() -> Iterator[tuple[str, list[int]]]:
    """An app that notes the client port of each request: which connection carried it."""
    ports: list[int] = []
    handler = type("Handler", (_PortRecordingHandler,), {"ports": ports})
    app = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    app.daemon_threads = True
    threading.Thread(target=app.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{app.server_address[1]}/", ports
    finally:
        app.shutdown()
        app.server_close()


def test_forwards_keep_their_connection_to_the_app_alive():
    with port_recording_app() as (url, ports), proxy(url) as (receiver, _):
        for _ in range(5):
            assert post(receiver.url).status_code == 200
    assert len(ports) == 5 and len(set(ports)) == 1


def test_a_connection_idle_for_long_is_not_reused(monkeypatch):
    """An app may close an idle connection just as a request is written to it: an old one is not risked."""
    monkeypatch.setattr(forward_client, "IDLE_SECONDS", 0.2)
    with port_recording_app() as (url, ports), proxy(url) as (receiver, _):
        post(receiver.url)
        post(receiver.url)
        time.sleep(0.4)
        post(receiver.url)
    assert ports[0] == ports[1] != ports[2]


def test_a_post_is_never_sent_twice_when_the_app_closes_without_answering():
    requests_seen: list[bytes] = []

    def app(connection: socket.socket) -> None:
        with connection:
            while True:
                message = read_message(connection)
                if not message:
                    return
                requests_seen.append(message)
                if len(requests_seen) == 1:
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                else:
                    return  # read the second, then close without a word

    with tcp_server(app) as port, proxy(f"http://127.0.0.1:{port}/") as (receiver, seen):
        assert post(receiver.url).status_code == 200
        response = post(receiver.url)
    assert response.status_code == 502
    assert "closed the connection without answering" in response.json()["message"]
    assert len(requests_seen) == 2  # the second was not written again, on this or a fresh connection
    assert seen[1].forward is not None and seen[1].forward.error is not None


def test_an_app_that_never_answers_is_given_up_on_after_the_forward_timeout():
    def app(connection: socket.socket) -> None:
        with connection:
            read_message(connection)
            time.sleep(TIMEOUT)

    with tcp_server(app) as port, proxy(f"http://127.0.0.1:{port}/", forward_timeout=0.3) as (receiver, _):
        response = post(receiver.url)
    assert response.status_code == 502
    assert "no answer" in response.json()["message"] or "0.3" in response.json()["message"]


# --- the command -------------------------------------------------------------------------------------


def _url(first_line: str) -> str:
    return first_line.split()[-1]


def test_listen_exits_1_when_the_app_accepted_a_forgery():
    env = {"INVWH_SECRET": TEST_SECRET}
    with (
        serve(lambda request: Reply(200, b"ok")) as app,
        listen_subprocess("--forward-to", app.endpoint(), env=env) as listen,
    ):
        url = _url(listen.lines.get(timeout=15))
        assert post(url).status_code == 200
        assert post(url, headers=signed(secret=OTHER)).status_code == 200
        lines = [listen.lines.get(timeout=TIMEOUT)]
        while "disagreement" not in lines[-1]:  # the forgery's line, its message and likely causes
            lines.append(listen.lines.get(timeout=TIMEOUT))
        status, stderr = listen.stop()
    assert status == 1
    assert "-> app 200" in lines[0]
    assert "disagreement: the app accepted (200) a delivery invwh rejects" in "".join(lines)
    assert "2 deliveries, 2 forwarded (the app answered 200 x2); 1 disagreement" in stderr
    assert "the app ACCEPTED 1 delivery invwh rejects" in stderr
    assert TEST_SECRET not in stderr


def test_listen_exits_0_when_the_app_agrees_and_says_so_in_json():
    with serve(verifying_app) as app:
        args = ("--forward-to", app.endpoint(), "--format", "json")
        with listen_subprocess(*args, env={"INVWH_SECRET": TEST_SECRET}) as listen:
            url = json.loads(listen.lines.get(timeout=15))["listening"]
            post(url)
            post(url, headers=signed(secret=OTHER))
            lines = [json.loads(listen.lines.get(timeout=TIMEOUT)) for _ in range(2)]
            status, stderr = listen.stop()
    assert status == 0
    assert lines[0]["forward"] == {
        "status": 200,
        "body_bytes": len(b'{"stored": true}'),
        "seconds": lines[0]["forward"]["seconds"],
        "agrees": True,
    }
    assert lines[1]["status"] == 401 and lines[1]["forward"]["agrees"] is True
    assert "0 disagreements" in stderr


def test_listen_refuses_a_forward_url_that_is_not_one():
    with listen_subprocess("--forward-to", "localhost:3000", env={"INVWH_SECRET": TEST_SECRET}) as listen:
        status = listen.process.wait(timeout=15)
        stderr = listen.process.stderr.read()
    assert status == 2
    assert stderr.startswith("invwh: error: ") and "Traceback" not in stderr


def test_a_stop_while_the_app_works_still_answers_and_records_that_delivery(tmp_path):
    record = tmp_path / "rec.jsonl"
    arrived = threading.Event()

    def app(request):
        arrived.set()
        time.sleep(0.5)  # the stop comes while the app works
        return Reply(200, b"done")

    with serve(app) as server:
        receiver = Receiver(
            ReceiverConfig(SCHEME, [SECRET], port=0, forward_to=server.endpoint(), record=str(record))
        ).start()
        with ThreadPoolExecutorOne() as pool:
            answer = pool.submit(post, receiver.url)
            assert arrived.wait(TIMEOUT)
            receiver.close()
            response = answer.result(TIMEOUT)
    assert response.status_code == 200 and response.content == b"done"
    assert json.loads(record.read_text("utf-8"))["forward"]["body"] == "done"
