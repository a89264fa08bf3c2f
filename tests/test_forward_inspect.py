"""``invwh listen --inspect``: the inspector served from listen, over its recording or what listen records."""

from __future__ import annotations

import json
import socket
import threading
import time

import requests
from conftest import TEST_SECRET
from servers import Reply, serve
from test_forward import OTHER, TIMEOUT, post, signed
from test_listen import listen_subprocess

from inventory_cli.cli.commands.inspect import _curl
from inventory_cli.inspector.actions import Actions, secret_of
from inventory_cli.inspector.feed import MEMORY_ENTRIES, Feed
from inventory_cli.inspector.server import Inspector, InspectorServer
from inventory_cli.inspector.views import Judge
from inventory_cli.signing.schemes import get_scheme

ENV = {"INVWH_SECRET": TEST_SECRET}


def _deliveries(inspector_url: str, count: int) -> list[dict]:
    """``GET /api/deliveries`` until it holds ``count`` (listen records, then answers; the page follows)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = requests.get(inspector_url + "api/deliveries", timeout=TIMEOUT).json()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_listen_inspect_shows_what_it_would_record_without_a_recording():
    with (
        serve(lambda request: Reply(200, b"taken")) as app,
        listen_subprocess("--forward-to", app.endpoint(), "--inspect", env=ENV) as listen,
    ):
        url = listen.lines.get(timeout=15).split()[-1]
        inspector_line = listen.lines.get(timeout=TIMEOUT)
        assert inspector_line.startswith("invwh listen: inspector on http://127.0.0.1:")
        inspector_url = inspector_line.split()[-1]
        assert inspector_url.endswith("/")
        post(url)
        post(url, headers=signed(secret=OTHER))
        deliveries = _deliveries(inspector_url, 2)
        page = requests.get(inspector_url, timeout=TIMEOUT)
        status, _ = listen.stop()
    assert status == 1  # the app took the forgery
    assert [d["verdict"]["valid"] for d in deliveries] == [True, False]
    assert deliveries[0]["forward"]["body"] == "taken"
    assert deliveries[1]["forward"]["agrees"] is False
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_listen_inspect_follows_the_recording_and_says_its_url_in_json(tmp_path):
    record = tmp_path / "rec.jsonl"
    args = ("--record", str(record), "--inspect", "--format", "json")
    with listen_subprocess(*args, env=ENV) as listen:
        url = json.loads(listen.lines.get(timeout=15))["listening"]
        inspector_url = json.loads(listen.lines.get(timeout=TIMEOUT))["inspector"]
        assert inspector_url.startswith("http://127.0.0.1:")
        post(url)
        deliveries = _deliveries(inspector_url, 1)
        status, _ = listen.stop()
    assert status == 0
    assert len(deliveries) == 1 and deliveries[0]["status"] == 200
    assert json.loads(record.read_text("utf-8")) == deliveries[0]


def test_an_inspect_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with listen_subprocess("--inspect", "--inspect-port", str(port), env=ENV) as listen:
            status = listen.process.wait(timeout=15)
            stderr = listen.process.stderr.read()
    assert status == 2
    assert stderr.startswith(f"invwh: error: cannot serve the inspector on 127.0.0.1:{port}")
    assert "Traceback" not in stderr


def test_an_in_memory_feed_keeps_the_last_deliveries_and_the_page_their_numbers():
    feed = Feed.in_memory()
    extra = 3
    for number in range(MEMORY_ENTRIES + extra):
        feed.push(
            json.dumps(
                {"method": "POST", "path": f"/webhooks?n={number}", "headers": {}, "body": ""}
            ).encode()
            + b"\n"
        )
    assert len(feed.entries) == MEMORY_ENTRIES
    assert feed.entries[0].index == extra
    scheme = get_scheme("inventory-v1")
    inspector = Inspector(feed, Judge(scheme, [], 300, None), Actions(scheme, secret_of([]), curl=_curl))
    server = InspectorServer(inspector, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        gone = requests.get(f"{server.url}api/deliveries/0", timeout=TIMEOUT)
        kept = requests.get(f"{server.url}api/deliveries/{extra}", timeout=TIMEOUT)
        listed = requests.get(f"{server.url}api/deliveries", timeout=TIMEOUT).json()
    finally:
        server.shutdown()
        server.stop()
    assert gone.status_code == 404
    assert kept.status_code == 200 and kept.json()["index"] == extra
    assert listed[0]["path"] == f"/webhooks?n={extra}" and len(listed) == MEMORY_ENTRIES
