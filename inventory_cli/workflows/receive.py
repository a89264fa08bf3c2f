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
- 411: a POST with neither ``Content-Length`` nor chunked transfer coding
  (any path: HTTP refuses it before the receiver routes, as it does a 413);
- 400: malformed HTTP (llhttp's verdict, a missing or doubled ``Host``, or a
  ``Host`` that is not ``host[:port]``); 414 / 431 for an over-long target,
  head or trailer section, 501 for an unknown method or transfer coding,
  505 for another HTTP version (``transport/request_reader.py`` reads HTTP;
  trailer fields never reach ``headers``).

A scheme that signs the notification URL (square) is checked against
``notification_url``, by default the receiver's own URL: a receiver reached
by another name (``localhost``, a tunnel, a proxy) must be told the URL its
senders sign for.

``respond`` forces the status of every delivery (a POST to the path whose
body was read); verification still runs and is recorded. Every answer's body
is a small JSON object: ``valid``, ``reason``, ``event_type``, ``message``.

Each answered request is written to the recording (``recording.py``) and
handed to ``on_delivery`` *before* its answer is sent, so a sender that got
an answer can rely on the record. What is recorded is every request that
reached the routing: 200, 401, 422, 404, 405, 411, 413 (and a forced or 503
status). What is not HTTP (400, 414, 431, 501, 505) is answered without
being recorded or handed on: it has no trustworthy method, path or body.

Connections are multiplexed by one thread (``transport.server.HttpServer``),
kept alive between requests, and closed after ``read_timeout`` seconds of
silence or when a request head is not whole ``read_timeout`` seconds after
it began, so a stalled or trickling client blocks nobody.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError
from ..json_text import use_fast_decoder
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, refuse_unusable
from ..signing.verifier import Verifier
from ..transport.request_reader import Refusal, Request
from ..transport.server import Answer, HttpServer, listening_socket
from ..version import __version__
from .forward import Forwarder, ForwardResult, ForwardTally, answer_headers
from .recording import Recording
from .verdict import Verdict, judge_with

#: How long ``close`` waits for requests being answered to finish.
DRAIN_SECONDS = 5.0
#: Answer bodies kept for reuse: most answers are one of a few.
ANSWER_CACHE_SIZE = 256
#: With ``forward_to``: the worker threads that wait on the app, so deliveries that many at once
#: are forwarded (``hey -c 32``) while the serving thread goes on with the other connections.
FORWARD_WORKERS = 64


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
    #: Seconds a connection may stay silent (between requests, in a body, while its answers wait),
    #: and the time a request head has in all, from its first byte to its end.
    read_timeout: float = 10.0
    #: For a scheme that signs the notification URL (square): the URL senders
    #: sign for. None: the receiver's own URL (``Receiver.url``).
    notification_url: str | None = None
    #: Send every judged delivery on to this ``http://`` URL (the app) and answer what it answers.
    forward_to: str | None = None
    #: Seconds each silence of a forward may last (connect, write, read); 3 times that in all.
    forward_timeout: float = 10.0
    #: With ``forward_to``: answer an invalid delivery here (401/422), without forwarding it.
    block_invalid: bool = False

    def check(self) -> None:
        """Raise InputError for a value the receiver cannot work with."""
        if not self.secrets:
            raise InputError("the receiver needs at least one secret")
        refuse_unusable(self.scheme, self.secrets)  # an InputError for a secret not in the scheme's form
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
        # ``nan <= 0`` is false and ``inf`` never passes: either would keep silent connections forever.
        if not math.isfinite(self.read_timeout) or self.read_timeout <= 0:
            raise InputError(
                f"the read timeout must be a finite number of seconds above 0, got {self.read_timeout:g}"
            )
        problem = host_problem(self.host)
        if problem is not None:
            raise InputError(problem)
        if self.notification_url is not None and not self.scheme.signs_url:
            raise InputError(f"the {self.scheme.name} scheme does not sign the notification URL")
        if self.forward_to is None:
            if self.block_invalid:
                raise InputError("blocking invalid deliveries needs a URL to forward the others to")
        else:
            if not self.forward_to.lower().startswith("http://"):
                raise InputError(f"deliveries are forwarded to an http:// URL, not {self.forward_to!r}")
            if self.respond is not None:
                raise InputError("a forced status and a forward exclude each other: the app answers")
        if not math.isfinite(self.forward_timeout) or self.forward_timeout <= 0:
            raise InputError(
                "the forward timeout must be a finite number of seconds above 0, "
                f"got {self.forward_timeout:g}"
            )


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
    #: With ``forward_to``: what the app answered (``status`` is then the app's status, or 502).
    forward: ForwardResult | None = None

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


#: One label of a host name (RFC 1123): letters, digits and inner hyphens, up to 63 characters;
#: underscores too, which container service names use and resolvers accept.
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")


def host_problem(host: str) -> str | None:
    """Why ``host`` is not an address or host name to listen on; None when it is one.

    An empty host would bind every interface (what ``socket.bind`` makes of
    ``""``), and a name that is not ASCII fails deep in the resolver: both are
    said here, in one line.
    """
    if not host:
        return "the host must not be empty (127.0.0.1 is this machine only, 0.0.0.0 every interface)"
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            return f"the host {host!r} is not an IPv6 address"
        return None
    name = bare[:-1] if bare.endswith(".") else bare
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return f"the host {host!r} is not a host name or an IP address"
    return None


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
    out, also when interrupted. ``on_delivery`` runs on the receiver's thread
    (or, for a large body, a worker thread), once the request is recorded and
    before its answer is sent; it must be quick and must not raise.
    """

    def __init__(
        self, config: ReceiverConfig, on_delivery: Callable[[ReceivedDelivery], None] | None = None
    ) -> None:
        config.check()
        self.config = config
        use_fast_decoder()  # a body a delivery: msgspec decodes it in 1.2 µs, the scanner in 2.7
        #: The compiled scheme and the keyed HMACs, made once for every delivery to come.
        self._verifier = Verifier(config.scheme, config.secrets)
        self.on_delivery = on_delivery
        self._server: HttpServer | None = None
        self._address: tuple[str, int] = ("", 0)
        self._recording: Recording | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closing = False
        self._answers: dict[tuple[int, bool, str, str | None, str], bytes] = {}
        self._notification_url: str | None = None
        self._stop_requested = False
        self._forwarder: Forwarder | None = None
        #: With ``forward_to``: the run's counts, for the summary at the stop.
        self.tally: ForwardTally | None = ForwardTally() if config.forward_to is not None else None

    # --- life cycle --------------------------------------------------------

    def bind(self) -> Receiver:
        """Bind the port and open the recording; raises InputError. Idempotent."""
        if self._server is not None:
            return self
        if self._closing:
            raise RuntimeError("this receiver is closed")
        listener = listening_socket(self.config.host, self.config.port)
        if self.config.record is not None:
            try:
                self._recording = Recording(self.config.record)
            except BaseException:
                listener.close()
                raise
        self._address = listener.getsockname()[:2]
        forwarding = self.config.forward_to is not None
        if forwarding:
            assert self.config.forward_to is not None
            self._forwarder = Forwarder(
                self.config.forward_to,
                timeout=self.config.forward_timeout,
                max_answer=max(self.config.max_body, 1024 * 1024),  # bounded: one per worker
            )
        self._server = HttpServer(
            listener,
            self._answer,
            self._refusal_body,
            server_name=f"invwh/{__version__}",
            max_body=self.config.max_body,
            read_timeout=self.config.read_timeout,
            drain_seconds=DRAIN_SECONDS,
            hand_off=self._is_delivery if forwarding else None,
            workers=FORWARD_WORKERS if forwarding else 2,
        )
        self._notification_url = self.notification_url
        if self._stop_requested:  # a signal came while binding: serving ends as soon as it begins
            self._server.stop()
        return self

    def stop(self) -> None:
        """Ask ``serve_forever`` (or the serving thread) to return: any thread, or a signal handler.

        It only sets flags and writes a byte to a socket pair, so it is safe at
        any moment, before ``bind`` too (serving then ends as soon as it begins).
        ``close`` still does the closing.
        """
        self._stop_requested = True
        server = self._server
        if server is not None:
            server.stop()

    def start(self) -> Receiver:
        """Bind, then serve from a daemon thread. Returns at once."""
        self.bind()
        if self._thread is None:
            assert self._server is not None
            self._thread = threading.Thread(target=self._server.serve, name="invwh-receiver", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind, then serve until interrupted; closes on the way out.

        The connections are served from a thread of their own: this one only
        waits, so a signal handler that raises here (Ctrl-C, SIGTERM) never
        interrupts a request between its record and its answer.
        """
        try:
            self.start()
            assert self._thread is not None
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.close()

    def close(self) -> None:
        """Stop accepting, let the requests being answered finish, close every
        connection and then the recording. Idempotent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True  # from now on, requests are not recorded, so not answered
        server = self._server
        if server is not None:
            if self._thread is not None:
                server.stop()
                try:
                    self._thread.join(timeout=DRAIN_SECONDS + 1)
                except RuntimeError:  # interrupted inside Thread.start: it never began serving
                    server.close()
            else:
                server.close()
        if self._recording is not None:
            self._recording.close()
        if self._forwarder is not None:
            self._forwarder.close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the receiver is not bound yet: call start() or bind()")
        return int(self._address[1])

    @property
    def recording_mode(self) -> int | None:
        """The mode of an existing recording that group or others may use (``0o644``); None if private."""
        return self._recording.loose_mode if self._recording is not None else None

    @property
    def notification_url(self) -> str | None:
        """The URL a scheme that signs one checks signatures against; None for other schemes."""
        if not self.config.scheme.signs_url:
            return None
        return self.config.notification_url or self.url

    @property
    def url(self) -> str:
        """Where deliveries go, with the port actually bound: ``http://127.0.0.1:54321/webhooks``."""
        if self._server is None:
            raise RuntimeError("the receiver is not bound yet: call start() or bind()")
        host = str(self._address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.config.path}"

    @property
    def respond(self) -> int | None:
        """The status forced on every delivery, or None to answer by the verdict.

        Settable while serving (the pytest plugin's ``respond_with``): each
        delivery reads it when it is answered.
        """
        return self.config.respond

    @respond.setter
    def respond(self, status: int | None) -> None:
        if status is not None and not 200 <= status <= 599:
            raise InputError(f"the forced status must be between 200 and 599, got {status}")
        self.config.respond = status

    # --- answering a request ------------------------------------------------

    def _answer(self, request: Request) -> Answer | None:
        """Decide, record, report, then the answer; None once closing (no record, no answer)."""
        delivery = self._decide(request)
        if self._closing:
            return None
        if self._forwarder is not None and delivery.verdict is not None:
            return self._forward(request, delivery, self._forwarder)
        if not self._record(delivery):
            return None
        if self.on_delivery is not None:
            self.on_delivery(delivery)
        return Answer(
            delivery.status,
            self._answer_body(
                delivery.status, delivery.valid, delivery.reason, delivery.event_type, delivery.message
            ),
            allow="POST" if delivery.status == 405 else None,
            close=request.refusal is not None,  # the unread body would be taken for the next request
        )

    def _is_delivery(self, request: Request) -> bool:
        """A request to forward: handed to a worker, since it waits for the app."""
        return (
            request.method == "POST"
            and request.refusal is None
            and request.path.partition("?")[0] == self.config.path
        )

    def _forward(self, request: Request, delivery: ReceivedDelivery, forwarder: Forwarder) -> Answer | None:
        """Send a judged delivery to the app (on a worker thread), record both, answer the app's answer."""
        assert delivery.verdict is not None
        if self.config.block_invalid and not delivery.valid:
            result = ForwardResult(0.0, blocked=True)
        else:
            result = forwarder.forward(
                request.path,
                request.headers,
                request.body,
                sender=request.peer,
                valid=delivery.valid,
                reason=delivery.reason,
            )
        delivery.forward = result
        if result.status is not None:
            delivery.status = result.status
        elif not result.blocked:
            delivery.status = 502
        # Once the app has it, it is recorded even if a stop began meanwhile (while the recording is
        # open, for the drain's few seconds): what the app acted on must not be missing from the record.
        if not self._record(delivery):
            return None
        assert self.tally is not None
        self.tally.count(result)
        if self.on_delivery is not None:
            self.on_delivery(delivery)
        if result.status is not None and delivery.status == result.status:
            return Answer(result.status, result.body, headers=answer_headers(result.headers))
        # Blocked (invwh's own answer), the app unreachable (502), or the recording failed (503).
        reason, message = delivery.reason, delivery.message
        if delivery.status == 502:
            reason, message = "forward_failed", f"the app could not be reached: {result.error}"
        body = self._answer_body(delivery.status, delivery.valid, reason, delivery.event_type, message)
        return Answer(delivery.status, body)

    def _answer_body(
        self, status: int, valid: bool, reason: str, event_type: str | None, message: str
    ) -> bytes:
        key = (status, valid, reason, event_type, message)
        body = self._answers.get(key)
        if body is None:
            payload = {"valid": valid, "reason": reason, "event_type": event_type, "message": message}
            body = json.dumps(payload).encode("utf-8")
            if len(self._answers) >= ANSWER_CACHE_SIZE:
                self._answers.clear()
            self._answers[key] = body
        return body

    def _refusal_body(self, refusal: Refusal) -> bytes:
        """The answer to what is not HTTP (not recorded, not handed on): 400, 414, 431, 501, 505."""
        return self._answer_body(
            refusal.status, False, refusal.reason, None, refusal.message or refusal.reason
        )

    def _decide(self, request: Request) -> ReceivedDelivery:
        """The answer to a request whose body has been read (or refused)."""
        config = self.config
        verdict = None
        route = request.path.partition("?")[0]
        if request.refusal is not None:  # HTTP's verdict comes before the route (transport/server.py)
            status, reason, message = request.refusal
        elif route != config.path:
            status, reason, message = 404, "not_found", f"nothing at {route}; deliveries go to {config.path}"
        elif request.method != "POST":
            status, reason, message = 405, "method_not_allowed", f"deliveries are POSTs, not {request.method}"
        else:
            verdict = judge_with(
                self._verifier,
                request.body,
                request.headers,
                method=request.method,
                tolerance=config.tolerance,
                validate=True,
                url=self._notification_url,
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
