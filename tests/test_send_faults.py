"""`invwh send` against real local servers that misbehave on purpose.

Each fault gets its documented exit code (3: nothing was delivered; 1: an
answer outside the contract) and a cause in one line that names the URL.
The servers are raw sockets on port 0, one thread per connection, and every
socket and every command has a timeout.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import figures
import pytest
from conftest import SAMPLES, TEST_SECRET
from servers import Reply, read_message, serve, tcp_server

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret
from inventory_cli.transport.retry import MAX_RETRY_WAIT
from inventory_cli.workflows.delivery import Deliverer, DeliveryOptions

SOCKET_TIMEOUT = 5.0
PAYLOAD = SAMPLES / "stock-increase.json"
FAULTS: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def report_faults() -> Iterator[None]:
    yield
    figures.note(
        "send faults", f"send faults: {len(FAULTS)} kinds, each with its exit code and one-line cause"
    )


@pytest.fixture
def send(invwh):
    def run(*args, code=0):
        return invwh("send", PAYLOAD, *args, code=code, env={"INVWH_SECRET": TEST_SECRET})

    return run


# --- a server that misbehaves ------------------------------------------------


@dataclass
class Misbehaving:
    url: str
    requests: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def misbehaving(behave: Callable[[socket.socket, Misbehaving], None]) -> Iterator[Misbehaving]:
    """A TCP server on port 0 that reads each request and then does ``behave(connection, server)``."""
    server = Misbehaving("")

    def handle(connection: socket.socket) -> None:
        with contextlib.suppress(OSError):
            connection.settimeout(SOCKET_TIMEOUT)
            server.requests.append(read_message(connection))
            behave(connection, server)

    with tcp_server(handle) as port:
        server.url = f"http://127.0.0.1:{port}/webhooks"
        yield server


def reset(connection: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def the_error_line(stderr: str, url: str) -> str:
    """The one line on stderr, which names the URL."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    (line,) = lines
    assert line.startswith("invwh: error: could not deliver ")
    assert url in line
    return line


# --- nothing delivered: exit 3 ------------------------------------------------


def test_a_reset_before_any_answer(send):
    FAULTS.add("reset before the answer")
    with misbehaving(lambda connection, _: reset(connection)) as server:
        result = send("--url", server.url, code=3)
    assert the_error_line(result.stderr, server.url).endswith(": connection reset by the server")
    assert len(server.requests) == 1


def test_a_reset_in_the_middle_of_the_answer(send):
    FAULTS.add("reset during the answer")

    def half_answer(connection: socket.socket, _: Misbehaving) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        time.sleep(0.05)
        reset(connection)

    with misbehaving(half_answer) as server:
        result = send("--url", server.url, code=3)
    assert the_error_line(result.stderr, server.url).endswith(": connection reset by the server")


def test_a_close_without_an_answer(send):
    FAULTS.add("closed without an answer")
    with misbehaving(lambda connection, _: connection.close()) as server:
        result = send("--url", server.url, code=3)
    line = the_error_line(result.stderr, server.url)
    assert line.endswith(": the server closed the connection without answering")


def test_a_server_that_never_answers_is_a_timeout(send):
    FAULTS.add("no answer (timeout)")
    with misbehaving(lambda connection, _: time.sleep(3)) as server:
        started = time.monotonic()
        result = send("--url", server.url, "--timeout", "0.3", code=3)
        took = time.monotonic() - started
    assert the_error_line(result.stderr, server.url).endswith(": no response within 0.3 s (timeout)")
    assert took < 2.5


def trickle(gap: float, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"):
    def behave(connection: socket.socket, _: Misbehaving) -> None:
        for byte in answer:
            time.sleep(gap)
            connection.sendall(bytes([byte]))

    return behave


@pytest.mark.parametrize("timeout", [None, "0.5"], ids=["default-timeout", "timeout-shorter-than-the-whole"])
def test_an_answer_trickled_byte_by_byte_still_counts(send, timeout):
    """--timeout bounds each silence, not the whole answer: a slow but steady receiver has answered.

    (The event was processed; calling it undelivered would invite a duplicate on retry.)
    """
    FAULTS.add("headers trickled slowly")
    with misbehaving(trickle(0.025)) as server:
        started = time.monotonic()
        result = send("--url", server.url, "--format", "json", *(["--timeout", timeout] if timeout else []))
        took = time.monotonic() - started
    (delivery,) = result.json["items"]
    assert (delivery["status"], delivery["response_preview"]) == (200, "ok")
    assert took > 1.0  # longer than the 0.5 s timeout, in 25 ms steps
    assert result.stderr == ""


def test_a_silence_longer_than_the_timeout_mid_answer_is_a_timeout(send):
    FAULTS.add("headers trickled slower than --timeout")
    with misbehaving(trickle(1.0)) as server:
        result = send("--url", server.url, "--timeout", "0.2", code=3)
    assert the_error_line(result.stderr, server.url).endswith(": no response within 0.2 s (timeout)")


def test_an_answer_that_is_not_http(send):
    FAULTS.add("an answer that is not HTTP")
    with misbehaving(lambda connection, _: connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        result = send("--url", server.url, code=3)
    line = the_error_line(result.stderr, server.url)
    assert line.endswith(": the answer is not HTTP: it starts 'SSH-2.0-OpenSSH_9.6'")


def test_a_reset_then_an_answer_with_retries(send):
    """Connection errors are retried; the second attempt is signed afresh and delivered."""
    FAULTS.add("reset, then 200 with --retries")

    def first_reset(connection: socket.socket, server: Misbehaving) -> None:
        if len(server.requests) == 1:
            reset(connection)
        else:
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    with misbehaving(first_reset) as server:
        result = send("--url", server.url, "--retries", "2", "--format", "json")
    (delivery,) = result.json["items"]
    assert (delivery["status"], delivery["attempts"]) == (200, 2)
    bodies = [request.partition(b"\r\n\r\n")[2] for request in server.requests]
    assert bodies == [PAYLOAD.read_bytes()] * 2


# --- answers outside the contract: exit 1 -------------------------------------


def test_503_with_retry_after_is_honoured_then_200(send):
    FAULTS.add("503 with Retry-After, then 200")
    answers = iter([Reply(503, b"busy", {"Retry-After": "1"}), Reply(200)])
    arrivals: list[float] = []

    def handler(request):
        arrivals.append(time.monotonic())
        return next(answers)

    with serve(handler) as server:
        result = send("--url", server.endpoint(), "--retries", "1", "--format", "json")
    (delivery,) = result.json["items"]
    assert (delivery["status"], delivery["attempts"]) == (200, 2)
    assert arrivals[1] - arrivals[0] >= 0.95  # waited as told, not the 0.5 s backoff


def test_503_without_retries_is_an_answer_outside_the_contract(send):
    FAULTS.add("503 without --retries")
    with serve(lambda request: Reply(503, b"busy", {"Retry-After": "1"})) as server:
        result = send("--url", server.endpoint(), code=1)
    assert "server error" in result.stdout
    assert "503 Service Unavailable: busy" in result.stdout
    assert result.stderr == ""


class Sleeps(list):
    """The client's waits, recorded and not waited: its clock moves by each one instead."""

    def __init__(self) -> None:
        super().__init__()
        # Whole seconds: (now + wait) - now is then exactly the wait for every wait here (whole or
        # halves). From a fractional start 60 came back as 59.999999999999545 on one machine.
        self.now = float(int(time.monotonic()))

    def clock(self) -> float:
        return self.now

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [
        ("7", 7.0),
        ("3600", MAX_RETRY_WAIT),  # capped
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date in the past
        ("soon", 0.5),  # not a wait: the backoff instead
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_sets_the_wait(status, retry_after, waited):
    with serve(lambda request: Reply(status, headers={"Retry-After": retry_after})) as server:
        sleeps = Sleeps()
        options = DeliveryOptions(server.endpoint(), INVENTORY_V1, Secret(TEST_SECRET), timeout=5, retries=1)
        waits: list[float] = []
        on_retry = lambda wait: waits.append(wait.seconds)  # noqa: E731
        with Deliverer(options, clock=sleeps.clock, sleep=sleeps, on_retry=on_retry) as deliverer:
            result = deliverer.deliver(PAYLOAD.read_bytes(), payload="p", event_type=None)
    assert (result.status, result.attempts) == (status, 2)
    assert waits == [waited]
    assert sum(sleeps) == waited  # and waited that long, by the client's clock


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_is_reported_not_followed(send, status):
    """A 301 or 302 followed by a client turns the POST into a GET: a lost delivery. So: reported."""
    FAULTS.add("redirect not followed")
    with serve(
        lambda r: Reply(status, headers={"Location": "/moved"}) if r.path == "/webhooks" else Reply()
    ) as server:
        result = send("--url", server.endpoint(), code=1)
    assert [r.path for r in server.received] == ["/webhooks"]
    assert f"{status} " in result.stdout
    assert f"→ {server.url}/moved" in result.stdout
    assert "redirect, not followed" in result.stdout


# --- TLS ------------------------------------------------------------------------


@contextlib.contextmanager
def tls_server(cert) -> Iterator[str]:
    """An HTTPS server on port 0 with a certificate from a CA nobody trusts by default."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that refuses our certificate ends the handshake: expected here

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = Server(("127.0.0.1", 0), Handler)
    # The handshake happens on the connection's thread, not in the accept loop.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/webhooks"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def ca():
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_bundle(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def other_bundle(tmp_path_factory):
    """A CA bundle that does not hold our CA, as a REQUESTS_CA_BUNDLE a CI machine may set."""
    import trustme

    path = tmp_path_factory.mktemp("tls") / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def test_an_untrusted_certificate_is_refused(send, ca):
    FAULTS.add("TLS: untrusted certificate")
    with tls_server(ca.issue_cert("127.0.0.1")) as url:
        result = send("--url", url, code=3)
    line = the_error_line(result.stderr, url)
    assert ": TLS certificate not trusted: " in line
    assert line.endswith("(see --ca-bundle)")


def test_a_certificate_for_another_host_is_refused(send, ca, ca_bundle):
    FAULTS.add("TLS: certificate for another host")
    with tls_server(ca.issue_cert("localhost")) as url:
        result = send("--url", url, "--ca-bundle", ca_bundle, code=3)
    line = the_error_line(result.stderr, url)
    assert ": TLS certificate not trusted: " in line
    assert "127.0.0.1" in line.rpartition("not trusted")[2]


@pytest.mark.parametrize("environment_bundle", [False, True], ids=["", "REQUESTS_CA_BUNDLE-set"])
@pytest.mark.parametrize("flag", ["--ca-bundle", "--insecure"])
def test_ca_bundle_and_insecure_are_honoured(invwh, ca, ca_bundle, other_bundle, flag, environment_bundle):
    """Also when REQUESTS_CA_BUNDLE names another bundle: requests would let it override the session."""
    FAULTS.add(f"TLS: {flag}")
    env = {
        "INVWH_SECRET": TEST_SECRET,
        "REQUESTS_CA_BUNDLE": other_bundle if environment_bundle else None,
        "CURL_CA_BUNDLE": None,  # requests reads this one too
    }
    args = [flag, ca_bundle] if flag == "--ca-bundle" else [flag]
    with tls_server(ca.issue_cert("127.0.0.1")) as url, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invwh("send", PAYLOAD, "--url", url, *args, "--format", "json", env=env)
    assert result.json["items"][0]["status"] == 200
    assert result.stderr == ""
    assert not [w for w in caught if "Unverified HTTPS" in str(w.message)]  # --insecure was asked for


def test_https_to_a_plain_http_server(send):
    FAULTS.add("TLS: https:// to a plain HTTP server")
    with serve() as server:
        url = server.endpoint().replace("http://", "https://")
        result = send("--url", url, code=3)
    line = the_error_line(result.stderr, url)
    assert ": TLS error: " in line
    assert line.endswith(
        "the server did not answer in TLS; if it serves plain HTTP, use " + server.endpoint()
    )


# --- every failure has a kind, in the JSON beside its message ------------------------------


def two_lengths(connection: socket.socket, _: Misbehaving) -> None:
    """An HTTP answer framed two ways at once (RFC 9112 section 6.3): malformed, not "not HTTP"."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello")


def redirect_to_itself(connection: socket.socket, _: Misbehaving) -> None:
    connection.sendall(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /webhooks\r\n"
        b"Connection: close\r\nContent-Length: 0\r\n\r\n"
    )


SEND_FAULT_KINDS = {
    "reset": (lambda connection, _: reset(connection), [], "reset"),
    "closed": (lambda connection, _: connection.close(), [], "closed_without_answer"),
    "timeout": (lambda connection, _: time.sleep(2), ["--timeout", "0.3"], "timeout"),
    "not-http": (lambda connection, _: connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"), [], "not_http"),
    "malformed": (two_lengths, [], "malformed_answer"),
    "redirect-loop": (redirect_to_itself, ["--follow-redirects"], "too_many_redirects"),
}


@pytest.mark.parametrize(("behave", "args", "kind"), SEND_FAULT_KINDS.values(), ids=SEND_FAULT_KINDS.keys())
def test_each_fault_has_its_kind_beside_its_message(send, behave, args, kind):
    """`"failure"` names the kind; `"error"` is the same line stderr shows, word for word."""
    with misbehaving(behave) as server:
        result = send("--url", server.url, "--format", "json", *args, code=3)
    (item,) = result.json["items"]
    assert (item["status"], item["failure"]) == (None, kind)
    assert the_error_line(result.stderr, server.url).endswith(f": {item['error']}")


def test_a_refused_connection_and_an_unresolvable_host_have_their_kinds(send):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks"  # bound, never listening: refused
        refused = send("--url", closed, "--format", "json", code=3).json["items"][0]
    unresolvable = send("--url", "http://host.invalid/webhooks", "--format", "json", code=3).json["items"][0]
    assert (refused["failure"], refused["error"]) == (
        "refused",
        "connection refused (is the server running?)",
    )
    assert unresolvable["failure"] == "dns"
    assert unresolvable["error"].startswith("cannot resolve the host name")


def test_tls_failures_have_the_tls_kind(send, ca):
    with tls_server(ca.issue_cert("127.0.0.1")) as url:
        untrusted = send("--url", url, "--format", "json", code=3).json["items"][0]
    with serve() as server:
        plain = send("--url", server.endpoint().replace("http://", "https://"), "--format", "json", code=3)
    assert untrusted["failure"] == plain.json["items"][0]["failure"] == "tls"
    assert untrusted["error"].startswith("TLS certificate not trusted: ")
