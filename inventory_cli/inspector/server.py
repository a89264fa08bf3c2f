"""The inspector's HTTP server: the page, its API and its event stream.

Built on the standard library's ``http.server`` (a ``ThreadingHTTPServer``,
a thread per connection, which parses HTTP itself), not on
``transport.server``, listen's llhttp server: the event stream
(``GET /api/events``, Server-Sent Events) is an answer that goes on for as
long as the page is open, and listen's server answers each request whole.
The inspector serves one person's browser on the loopback interface, so a
thread per connection costs nothing that matters.

The routes: ``GET /`` the page, ``/static/...`` its script and style,
``GET /api/settings``, ``GET /api/deliveries`` (the deliveries, each in the
recording's line shape, oldest first), ``GET /api/deliveries/N`` (one, as
the page shows it), ``GET /api/diff?a=N&b=M``, ``GET /api/events`` (each
delivery as an event, the ones already read first; ``Last-Event-ID`` resumes),
``POST /api/replay`` and ``POST /api/curl``.

What keeps another site out of it:

- Every answer carries a Content-Security-Policy that allows scripts,
  styles and connections from the page's own origin only, and no inline
  script or style; the page inserts every body, header and path as text.
- A request whose ``Host`` is not the server's own address is refused with
  421 (DNS rebinding: a name an attacker controls, resolved to 127.0.0.1).
- A POST is refused with 403 unless its ``Origin`` is the page's own and it
  carries the page's token, a random value made for each run and written
  into the page (``X-Invwh-Token``): another site can make a browser send a
  POST, but cannot read the token.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import InvwhError
from .actions import Actions, parse_request
from .feed import Feed
from .views import Judge, detail, diff

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TOKEN_HEADER = "X-Invwh-Token"
#: The page's placeholder for the run's token (a ``<meta>`` tag: no inline script is allowed).
_TOKEN_PLACEHOLDER = "__INVWH_TOKEN__"
#: The largest POST the page sends: an edited body (``listen`` takes 1 MiB at most), escaped as JSON.
MAX_POST_BYTES = 16 * 1024 * 1024
#: How often an idle event stream sends a comment, so that a gone browser is noticed.
KEEPALIVE_SECONDS = 15.0

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}


def own_hosts(host: str, port: int) -> set[str]:
    """The ``Host`` values that name this server: its address and port, and ``localhost`` on loopback."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name given as --host: that name
        return {f"{host.lower()}:{port}"}
    shown = f"[{address}]" if address.version == 6 else str(address)
    hosts = {f"{shown}:{port}"}
    if address.is_loopback:
        hosts.add(f"localhost:{port}")
    return hosts


class Inspector:
    """The inspector's state: the feed, what judges and what acts, the run's token."""

    def __init__(self, feed: Feed, judge: Judge, actions: Actions, *, replay_url: str | None = None) -> None:
        self.feed = feed
        self.judge = judge
        self.actions = actions
        self.replay_url = replay_url
        self.token = secrets.token_urlsafe(32)
        self.stopping = threading.Event()
        self.pages = {path: _read_static(name) for path, (name, _) in _STATIC.items()}

    def settings(self) -> dict[str, Any]:
        return {
            "recording": self.feed.path,
            "scheme": self.judge.scheme.name,
            "secret_known": self.actions.secret is not None,
            "replay_url": self.replay_url,
        }


def _read_static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


class InspectorServer(ThreadingHTTPServer):
    """Serves one ``Inspector`` on ``(host, port)``; port 0 picks a free one."""

    daemon_threads = True  # an event stream never ends by itself: stopping must not wait for it
    block_on_close = False

    def __init__(self, inspector: Inspector, host: str = "127.0.0.1", port: int = 0) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.inspector = inspector
        super().__init__((host, port), _Handler)
        self.host = host
        self.port = self.server_address[1]
        self.hosts = own_hosts(host, self.port)

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"

    def stop(self) -> None:
        """Wake the event streams, stop serving and close the socket (from another thread than
        ``serve_forever``'s, or after it returned)."""
        self.inspector.stopping.set()
        self.inspector.feed.close()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that closed its tab mid-answer is no error; anything else is one line, never a
        # traceback (the page gets no answer for that request, and the server goes on).
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            sys.stderr.write(f"invwh inspect: error: a request failed: {type(error).__name__}: {error}\n")


class _Handler(BaseHTTPRequestHandler):
    server: InspectorServer
    protocol_version = "HTTP/1.1"
    server_version = "invwh-inspector"
    sys_version = ""
    timeout = 60  # a connection silent this long is closed (the event stream writes every 15 s)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the page is the log

    def version_string(self) -> str:
        return self.server_version

    # --- answers ---------------------------------------------------------------

    def _head(self, status: int, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:  # an answer that ends with its connection
            self.send_header("Connection", "close")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self._head(status, content_type, len(body))
        self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    # --- requests --------------------------------------------------------------

    def _own_host(self) -> str | None:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0].strip().lower() not in self.server.hosts:
            return None
        return hosts[0].strip().lower()

    def do_GET(self) -> None:
        if self._own_host() is None:
            self.close_connection = True
            return self._error(HTTPStatus.MISDIRECTED_REQUEST, "this server answers only to its own address")
        inspector = self.server.inspector
        parts = urlsplit(self.path)
        path = parts.path
        if path in _STATIC:
            page = inspector.pages[path]
            if path == "/":
                page = page.replace(_TOKEN_PLACEHOLDER.encode(), inspector.token.encode())
            return self._send(200, page, _STATIC[path][1])
        if path == "/favicon.ico":  # asked for by every browser: there is none
            return self._send(204, b"", "image/x-icon")
        if path == "/api/settings":
            return self._json(inspector.settings())
        if path == "/api/deliveries":
            entries = list(inspector.feed.entries)
            body = ("[" + ",".join(entry.text for entry in entries) + "]").encode("utf-8")
            return self._send(200, body, "application/json; charset=utf-8")
        if path.startswith("/api/deliveries/"):
            entry = self._entry(path.removeprefix("/api/deliveries/"))
            if entry is None:
                return self._error(404, "no such delivery")
            return self._json(detail(entry.index, entry.record(), inspector.judge))
        if path == "/api/diff":
            query = parse_qs(parts.query)
            first, second = (self._entry(query.get(name, [""])[0]) for name in ("a", "b"))
            if first is None or second is None:
                return self._error(404, "no such delivery")
            return self._json(diff(first.record(), second.record()))
        if path == "/api/events":
            return self._events()
        return self._error(404, "not found")

    def _entry(self, text: str) -> Any:
        feed = self.server.inspector.feed
        entries, dropped = feed.entries, feed.dropped  # an in-memory feed lets its oldest go
        if not text.isdigit() or not dropped <= int(text) < dropped + len(entries):
            return None
        return entries[int(text) - dropped]

    def do_POST(self) -> None:
        host = self._own_host()
        if host is None:
            self.close_connection = True
            return self._error(HTTPStatus.MISDIRECTED_REQUEST, "this server answers only to its own address")
        inspector = self.server.inspector
        origin = self.headers.get("Origin")
        token = self.headers.get(TOKEN_HEADER) or ""
        if origin is None or origin.lower() != f"http://{host}":
            self.close_connection = True
            return self._error(403, "refused: the request does not come from the inspector's page")
        if not hmac.compare_digest(token.encode(), inspector.token.encode()):
            self.close_connection = True
            return self._error(403, "refused: the request lacks the page's token")
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.close_connection = True
            return self._error(411, "a POST needs a Content-Length")
        length = int(length_text)
        if length > MAX_POST_BYTES:
            self.close_connection = True
            return self._error(413, f"larger than {MAX_POST_BYTES} bytes")
        raw = self.rfile.read(length)
        path = urlsplit(self.path).path
        if path not in ("/api/replay", "/api/curl"):
            return self._error(404, "not found")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return self._error(400, "expected a JSON object")
        entry = self._entry(str(data.get("index", ""))) if isinstance(data, dict) else None
        if entry is None:
            return self._error(404, "no such delivery")
        try:
            request = parse_request(data)
            act = inspector.actions.replay if path == "/api/replay" else inspector.actions.curl
            answer = act(entry.record(), request)
        except InvwhError as error:
            return self._error(400, str(error))
        return self._json(answer)

    def _refuse_method(self) -> None:
        self.close_connection = True
        self._error(405, "method not allowed")

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def _events(self) -> None:
        """The event stream: every delivery so far, then each as it is read, until the page goes."""
        inspector = self.server.inspector
        feed = inspector.feed
        last = self.headers.get("Last-Event-ID", "")
        sent = int(last) + 1 if last.isdigit() else 0
        self.close_connection = True  # the stream ends only with its connection
        self._head(200, "text/event-stream; charset=utf-8", None)
        bad_sent = 0 if sent == 0 else len(feed.bad_lines)  # a resumed page has seen them
        self.wfile.write(b"retry: 1000\n\n")
        self.wfile.flush()
        while not inspector.stopping.is_set():
            entries, bad = feed.entries[max(0, sent - feed.dropped) :], feed.bad_lines[bad_sent:]
            chunks = [f"id: {entry.index}\nevent: delivery\ndata: {entry.text}\n\n" for entry in entries]
            chunks += [
                "event: skipped\ndata: "
                + json.dumps({"line": line.line, "reason": line.reason}, ensure_ascii=False)
                + "\n\n"
                for line in bad
            ]
            sent = entries[-1].index + 1 if entries else sent
            bad_sent += len(bad)
            try:
                self.wfile.write("".join(chunks).encode("utf-8") if chunks else b": idle\n\n")
                self.wfile.flush()
            except OSError:
                return  # the page went away
            feed.wait(sent, bad_sent, KEEPALIVE_SECONDS)
