"""A local HTTP receiver that verifies each delivery: the core of ``invwh listen``.

Every POST to the configured path is judged by ``verdict.judge``, the function
``invwh verify`` uses, so both reach the same verdict on the same bytes. The
answers:

- 200: a validly signed inventory event;
- 401: a missing, malformed or mismatched signature, or a missing, malformed,
  stale or future timestamp;
- 422: the signature holds but the body is not one of the three events;
- 404 for another path, 405 (``Allow: POST``) for another method;
- 413: a body over ``max_body``, decided from ``Content-Length`` (or from the
  chunk sizes) without reading the body, and the connection is closed;
- 411: a POST with neither ``Content-Length`` nor chunked transfer coding;
- 400: malformed HTTP (``http.server`` finds most of it).

``respond`` forces the status of every delivery (a POST to the path whose
body was read); verification still runs and is recorded. Every answer's body
is a small JSON object: ``valid``, ``reason``, ``event_type``, ``message``.

Each answered request is written to the recording (``recording.py``) and
handed to ``on_delivery`` *before* its answer is sent, so a sender that got
an answer can rely on the record. Malformed HTTP gets its 400 without being
recorded: there is no method or path to record.

Connections are served by threads (``ThreadingHTTPServer``), kept alive
between requests, and closed after ``read_timeout`` seconds of silence, so a
stalled client holds one idle thread for a while and blocks nobody.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from . import __version__
from .errors import InputError
from .recording import Recording
from .schemes import Scheme
from .signing import Secret, key_for
from .verdict import Verdict, judge

#: How long ``close`` waits for requests being answered to finish.
DRAIN_SECONDS = 5.0
#: After refusing a body unread, how long to keep reading (and dropping) what
#: the client still sends, so that closing does not reset the connection
#: before the client has read the answer.
LINGER_SECONDS = 2.0


@dataclass
class ReceiverConfig:
    scheme: Scheme
    secrets: list[Secret]
    host: str = "127.0.0.1"
    port: int = 8787  # 0 picks a free port; ``Receiver.url`` tells which
    path: str = "/webhooks"
    tolerance: int = 300  # seconds; 0 turns the timestamp age check off
    max_body: int = 1024 * 1024
    respond: int | None = None  # force this status on every delivery
    record: str | None = None  # append each answered request to this JSON Lines file
    #: Seconds a connection may stay silent, mid-request or between requests.
    read_timeout: float = 10.0

    def check(self) -> None:
        """Raise InputError for a value the receiver cannot work with."""
        if not self.secrets:
            raise InputError("the receiver needs at least one secret")
        for secret in self.secrets:
            key_for(self.scheme, secret)  # an InputError for a secret not in the scheme's form
        if not self.path.startswith("/"):
            raise InputError(f"the path must start with '/', got {self.path!r}")
        if not 0 <= self.port <= 65535:
            raise InputError(f"the port must be between 0 and 65535, got {self.port}")
        if self.tolerance < 0:
            raise InputError("the tolerance must be 0 (off) or more seconds")
        if self.max_body < 0:
            raise InputError("the body limit must be 0 or more bytes")
        if self.respond is not None and not 200 <= self.respond <= 599:
            raise InputError(f"the forced status must be between 200 and 599, got {self.respond}")
        if self.read_timeout <= 0:
            raise InputError("the read timeout must be more than 0 seconds")


@dataclass
class ReceivedDelivery:
    """One request the receiver answered: what arrived, the verdict, the answer."""

    received_at: float  # unix seconds, when the request's headers had arrived
    method: str
    path: str  # as requested, query string included
    headers: dict[str, str]  # names as sent; repeated headers joined with ", "
    body: bytes
    verdict: Verdict | None  # None when the request was not judged (404, 405, 411, 413, ...)
    status: int  # the status answered
    #: ``verdict.reason``, or why the request was not judged: ``not_found``,
    #: ``method_not_allowed``, ``length_required``, ``body_too_large``, ...
    reason: str = ""
    message: str = ""
    #: False when the body was refused unread (411, 413): ``body`` is then empty.
    body_read: bool = True

    @property
    def valid(self) -> bool:
        return self.verdict is not None and self.verdict.valid

    @property
    def event_type(self) -> str | None:
        return self.verdict.event_type if self.verdict is not None else None


def status_for(verdict: Verdict) -> int:
    """The answer a receiver owes a judged delivery."""
    if verdict.valid:
        return 200
    return 401 if not verdict.signature.ok else 422


def is_loopback(host: str) -> bool:
    """Whether ``host`` keeps the receiver on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class Receiver:
    """Serves ``config`` until closed.

    ``start()`` serves from a background thread (for tests and ``invwh demo``);
    ``serve_forever()`` blocks (for ``invwh listen``) and closes on the way
    out, also when interrupted. ``on_delivery`` runs on the connection's
    thread, once the request is recorded and before its answer is sent; it
    must be quick and must not raise.
    """

    def __init__(
        self, config: ReceiverConfig, on_delivery: Callable[[ReceivedDelivery], None] | None = None
    ) -> None:
        config.check()
        self.config = config
        self.on_delivery = on_delivery
        self._server: _Server | None = None
        self._recording: Recording | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        # Guards the fields below: requests being answered, open connections.
        self._gate = threading.Condition()
        self._active = 0
        self._closing = False
        self._connections: set[socket.socket] = set()

    # --- life cycle --------------------------------------------------------

    def bind(self) -> Receiver:
        """Bind the port and open the recording; raises InputError. Idempotent."""
        if self._server is not None:
            return self
        if self._closing:
            raise RuntimeError("this receiver is closed")
        server = _bind(self)
        if self.config.record is not None:
            try:
                self._recording = Recording(self.config.record)
            except BaseException:
                server.server_close()
                raise
        self._server = server
        return self

    def start(self) -> Receiver:
        """Bind, then serve from a daemon thread. Returns at once."""
        self.bind()
        if self._thread is None:
            assert self._server is not None
            self._serving = True
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="invwh-receiver",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind, then serve on this thread until interrupted; closes on the way out."""
        try:
            self.bind()
            assert self._server is not None
            self._serving = True
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self.close()

    def close(self) -> None:
        """Stop accepting, let the requests being answered finish, close every
        connection and then the recording. Idempotent."""
        with self._gate:
            if self._closing:
                return
            self._closing = True
        server = self._server
        if server is not None:
            if self._serving:
                server.shutdown()  # returns once the accept loop has stopped
            with self._gate:
                self._gate.wait_for(lambda: self._active == 0, timeout=DRAIN_SECONDS)
                connections = list(self._connections)
            for connection in connections:  # wakes threads waiting on idle or stalled clients
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=DRAIN_SECONDS)
        if self._recording is not None:
            self._recording.close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the receiver is not bound yet: call start() or bind()")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Where deliveries go, with the port actually bound: ``http://127.0.0.1:54321/webhooks``."""
        if self._server is None:
            raise RuntimeError("the receiver is not bound yet: call start() or bind()")
        host = str(self._server.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.config.path}"

    # --- used by the request handler ---------------------------------------

    def _enter(self) -> bool:
        """Begin answering a request; False once closing (the request then gets no answer)."""
        with self._gate:
            if self._closing:
                return False
            self._active += 1
            return True

    def _leave(self) -> None:
        with self._gate:
            self._active -= 1
            if self._active == 0:
                self._gate.notify_all()

    def _track(self, connection: socket.socket) -> None:
        with self._gate:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._gate:
            self._connections.discard(connection)

    def _decide(self, request: _Request) -> ReceivedDelivery:
        """The answer to a request whose body has been read (or refused)."""
        config = self.config
        verdict = None
        route = request.path.partition("?")[0]
        if request.refusal is not None and request.refusal.status == 400:
            status, reason, message = request.refusal
        elif route != config.path:
            status, reason, message = 404, "not_found", f"nothing at {route}; deliveries go to {config.path}"
        elif request.method != "POST":
            status, reason, message = 405, "method_not_allowed", f"deliveries are POSTs, not {request.method}"
        elif request.refusal is not None:
            status, reason, message = request.refusal
        else:
            verdict = judge(
                config.scheme,
                config.secrets,
                request.body,
                request.headers,
                method=request.method,
                tolerance=config.tolerance,
                validate=True,
            )
            status = status_for(verdict) if config.respond is None else config.respond
            reason, message = verdict.reason, verdict.message
            if verdict.signature.ok and verdict.event is not None and verdict.event.problems:
                message = f"{message}: {verdict.event.problems[0]}"
        return ReceivedDelivery(
            received_at=request.received_at,
            method=request.method,
            path=request.path,
            headers=request.headers,
            body=request.body,
            verdict=verdict,
            status=status,
            reason=reason,
            message=message,
            body_read=request.refusal is None,
        )

    def _record(self, delivery: ReceivedDelivery) -> bool:
        """Write the delivery to the recording; False when the recording is closed."""
        if self._recording is None:
            return True
        try:
            return self._recording.write(delivery)
        except OSError as error:
            # Saying 200 for a delivery that is not in the recording would lie.
            delivery.status = 503
            delivery.reason = "recording_failed"
            delivery.message = f"could not record the delivery: {error.strerror or error}"
            return True


def _bind(receiver: Receiver) -> _Server:
    host, port = receiver.config.host, receiver.config.port
    server_class = _Server6 if ":" in host else _Server
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return server_class((host.strip("[]"), port), _Handler, receiver)
    except socket.gaierror:
        raise InputError(f"cannot listen on {host}: unknown host") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            cause = "the port is already in use (pick another, or 0 for any free port)"
        elif error.errno == errno.EACCES:
            cause = "permission denied (ports below 1024 need privileges)"
        elif error.errno == errno.EADDRNOTAVAIL:
            cause = "not an address of this machine"
        else:
            cause = error.strerror or str(error)
        raise InputError(f"cannot listen on {where}: {cause}") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # load tools open many connections at once

    def __init__(self, address: tuple[str, int], handler: type[_Handler], receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's name up in DNS, which can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-request gets no answer and no record: not
        # worth a traceback. Anything else is a bug and is shown.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Refusal(NamedTuple):
    status: int
    reason: str
    message: str


@dataclass
class _Request:
    received_at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    refusal: _Refusal | None  # the body was refused unread


class _Abandoned(Exception):
    """The client closed the connection mid-body: nothing to answer."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.receiver.config.read_timeout  # applied by super().setup()
        super().setup()
        self.server.receiver._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the receiver reports deliveries through on_delivery, not a log

    def handle_expect_100(self) -> bool:
        length = self.headers.get("Content-Length", "").strip()
        if length.isascii() and length.isdigit() and int(length) > self.server.receiver.config.max_body:
            return True  # no "100 Continue": the 413 comes before any body
        return super().handle_expect_100()

    def _dispatch(self) -> None:
        receiver = self.server.receiver
        received_at = time.time()
        # Only a delivery needs a declared length: any other request without one has no body.
        is_delivery = self.command == "POST" and self.path.partition("?")[0] == receiver.config.path
        try:
            body, refusal = self._read_body(receiver.config.max_body, required=is_delivery)
        except _Abandoned:
            self.close_connection = True
            return
        request = _Request(received_at, self.command, self.path, _header_dict(self.headers), body, refusal)
        delivery = receiver._decide(request)
        if not receiver._enter():
            self.close_connection = True  # closing: no record, so no answer
            return
        try:
            if not receiver._record(delivery):
                self.close_connection = True
                return
            if receiver.on_delivery is not None:
                receiver.on_delivery(delivery)
            self._respond(
                delivery.status,
                {
                    "valid": delivery.valid,
                    "reason": delivery.reason,
                    "event_type": delivery.event_type,
                    "message": delivery.message,
                },
                allow="POST" if delivery.status == 405 else None,
            )
        finally:
            receiver._leave()
        if refusal is not None:
            self._linger()

    do_POST = do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = _dispatch

    def _read_body(self, max_body: int, *, required: bool) -> tuple[bytes, _Refusal | None]:
        """The body, or a refusal (and the connection closes after the answer)."""
        if self.headers.defects:
            # A header line without a colon: the parser drops it and every header after it,
            # Content-Length included, so what follows would be read as another request.
            return self._refuse(400, "bad_request", "a header line is malformed")
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if coding.strip().lower() != "chunked":
                return self._refuse(501, "unsupported_transfer_coding", f"cannot read {coding!r} bodies")
            if "Content-Length" in self.headers:
                self.close_connection = True  # both framings: do not trust this connection further
            return self._read_chunked(max_body)
        lengths = {value.strip() for value in self.headers.get_all("Content-Length", [])}
        if not lengths:
            if required:
                return self._refuse(
                    411, "length_required", "a delivery needs Content-Length (or chunked transfer coding)"
                )
            return b"", None
        length_text = lengths.pop()
        if lengths or not (length_text.isascii() and length_text.isdigit()):
            return self._refuse(400, "bad_request", "malformed Content-Length")
        length = int(length_text)
        if length > max_body:
            return self._refuse(
                413, "body_too_large", f"the body is {length} bytes; this receiver takes {max_body} at most"
            )
        body = self.rfile.read(length)
        if len(body) < length:
            raise _Abandoned
        return body, None

    def _read_chunked(self, max_body: int) -> tuple[bytes, _Refusal | None]:
        parts = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            if not line:
                raise _Abandoned
            size_text = line.split(b";", 1)[0].strip()
            if (
                not line.endswith(b"\n")
                or not size_text
                or len(size_text) > 16
                or size_text.strip(b"0123456789abcdefABCDEF")
            ):
                return self._refuse(400, "bad_request", "malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > max_body:
                return self._refuse(
                    413, "body_too_large", f"the body is over the {max_body} bytes this receiver takes"
                )
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _Abandoned
            parts.append(chunk)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                return self._refuse(400, "bad_request", "a chunk is not followed by CRLF")
        for _ in range(100):  # the trailer section, up to its blank line
            line = self.rfile.readline(65537)
            if not line:
                raise _Abandoned
            if line in (b"\r\n", b"\n"):
                return b"".join(parts), None
        return self._refuse(400, "bad_request", "too many trailer lines")

    def _refuse(self, status: int, reason: str, message: str) -> tuple[bytes, _Refusal]:
        self.close_connection = True  # the unread body would be taken for the next request
        return b"", _Refusal(status, reason, message)

    def _respond(self, status: int, payload: dict[str, Any], *, allow: str | None = None) -> None:
        """Send the whole answer in one write."""
        phrase = self.responses.get(status, ("",))[0]
        head = [
            f"HTTP/1.1 {status} {phrase}",
            f"Server: invwh/{__version__}",
            f"Date: {self.date_time_string()}",
        ]
        body = b""
        if status >= 200 and status not in (204, 304):
            body = json.dumps(payload).encode("utf-8")
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            if getattr(self, "command", None) == "HEAD":
                body = b""
        if allow:
            head.append(f"Allow: {allow}")
        if self.close_connection:
            head.append("Connection: close")
        elif self.request_version == "HTTP/1.0":
            head.append("Connection: keep-alive")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """``http.server``'s own refusals (400, 414, 431, 501...), as JSON."""
        self.close_connection = True
        reason = (
            "bad_request"
            if code == 400
            else self.responses.get(code, ("error",))[0].lower().replace(" ", "_")
        )
        payload = {"valid": False, "reason": reason, "event_type": None, "message": message or reason}
        with contextlib.suppress(OSError):
            self._respond(code, payload)

    def _linger(self) -> None:
        """Drop what the client still sends for a moment, then let the connection close.

        Closing a socket with unread data resets the connection, and a reset
        can destroy our answer before the client reads it.
        """
        connection = self.connection
        try:
            connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                connection.settimeout(left)
                if not connection.recv(65536):
                    break
        except OSError:
            pass


def _header_dict(message: Any) -> dict[str, str]:
    """Headers with their names as sent; a repeated header's values joined with ", "."""
    headers: dict[str, str] = {}
    first_spelling: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        spelled = first_spelling.setdefault(key, name)
        headers[spelled] = value if spelled not in headers else f"{headers[spelled]}, {value}"
    return headers
