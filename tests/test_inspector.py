"""``invwh inspect``: the inspector's server over plain HTTP, its refusals, its replays, its start-up.

The page itself is tested in a real browser (``test_inspector_browser.py``);
here every route is asked with real HTTP on a real port, and the replays
reach a real local server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from conftest import ROOT, TEST_SECRET, sign_in_a_fresh_process
from inspecting import DECREASE, EVENT, SCHEME, SECRET, TIMEOUT, inspecting, line
from servers import Reply, serve

from inventory_cli.inspector.feed import Feed
from inventory_cli.inspector.server import CONTENT_SECURITY_POLICY, TOKEN_HEADER
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature

STATIC = ROOT / "inventory_cli" / "inspector" / "static"


def write(path: Path, *lines: bytes) -> None:
    with open(path, "ab") as file:
        for data in lines:
            file.write(data)


def wait_for(predicate, what: str, timeout: float = TIMEOUT):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def act(served, what: str, data: dict, *, origin: str | None = "own", token: str | None = "own"):
    headers = {"Content-Type": "application/json"}
    if origin is not None:
        headers["Origin"] = served.url.rstrip("/") if origin == "own" else origin
    if token is not None:
        headers[TOKEN_HEADER] = served.token if token == "own" else token
    return requests.post(f"{served.url}api/{what}", json=data, headers=headers, timeout=TIMEOUT)


@pytest.fixture
def recording(tmp_path) -> Path:
    path = tmp_path / "rec.jsonl"
    write(path, line(EVENT), line(DECREASE), line(EVENT, secret=Secret("another-secret")))
    return path


# --- the recording, followed ------------------------------------------------------


def test_the_deliveries_are_the_recordings_lines_oldest_first(recording):
    with inspecting(recording) as served:
        answer = requests.get(served.url + "api/deliveries", timeout=TIMEOUT)
    assert answer.status_code == 200
    expected = [json.loads(text) for text in recording.read_bytes().splitlines()]
    assert answer.json() == expected
    assert [d["verdict"]["reason"] for d in answer.json()] == ["ok", "ok", "signature_mismatch"]


def test_a_growing_recording_is_followed_and_a_torn_last_line_waited_for(recording):
    feed = Feed(recording)
    feed.poll()
    assert len(feed.entries) == 3
    whole = line(DECREASE)
    write(recording, whole[:40])  # listen is half-way through its write
    assert feed.poll() == 0 and len(feed.entries) == 3  # its 40 bytes wait for the rest: below
    write(recording, whole[40:], b"\n", b"not json\n")
    assert feed.poll() == 2
    assert json.loads(feed.entries[3].text) == json.loads(whole)
    assert feed.entries[3].line == 4
    assert [(bad.line, bad.reason[:8]) for bad in feed.bad_lines] == [(6, "not JSON")]  # line 5 is blank
    feed.close()


def test_a_line_holding_cr_is_sent_without_it(tmp_path):
    path = tmp_path / "rec.jsonl"
    write(
        path, line(EVENT).replace(b'"method": ', b'"method":\r ')
    )  # legal JSON whitespace; an SSE line break
    feed = Feed(path)
    feed.poll()
    (entry,) = feed.entries
    assert "\r" not in entry.text and entry.record().body == EVENT
    feed.close()


def test_the_event_stream_sends_the_history_then_each_new_delivery(recording):
    with inspecting(recording) as served:
        stream = requests.get(served.url + "api/events", stream=True, timeout=TIMEOUT)
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        lines = stream.iter_lines(chunk_size=1, decode_unicode=True)

        def next_event() -> dict[str, str]:
            event: dict[str, str] = {}
            for text in lines:
                if not text:
                    if "data" in event:
                        return event
                    continue
                name, _, value = text.partition(": ")
                event[name] = value
            raise AssertionError("the stream ended")

        history = [next_event() for _ in range(3)]
        assert [(e["id"], e["event"]) for e in history] == [
            ("0", "delivery"),
            ("1", "delivery"),
            ("2", "delivery"),
        ]
        new = line(DECREASE)
        write(recording, new, b"{\n")
        arrived = next_event()
        assert (arrived["id"], json.loads(arrived["data"])) == ("3", json.loads(new))
        skipped = next_event()
        assert skipped["event"] == "skipped" and json.loads(skipped["data"])["line"] == 5
        stream.close()
        # A page that reconnects says what it saw last, and gets only what came after.
        resumed = requests.get(
            served.url + "api/events", headers={"Last-Event-ID": "2"}, stream=True, timeout=TIMEOUT
        )
        lines = resumed.iter_lines(chunk_size=1, decode_unicode=True)
        assert next_event()["id"] == "3"
        resumed.close()


def test_a_missing_recording_is_one_line_and_exit_2(invwh, tmp_path):
    result = invwh("inspect", tmp_path / "none.jsonl", code=2)
    assert result.stderr == f"invwh: error: recording {tmp_path / 'none.jsonl'}: no such file\n"


# --- the command ------------------------------------------------------------------


def _interruptible() -> None:  # in the child, before exec
    # A suite started in the background by a shell without job control runs with SIGINT ignored,
    # and a program keeps an ignored SIGINT ignored, as it should: the command is started as from
    # a terminal, where Ctrl-C reaches it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_command(recording: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inventory_cli", "inspect", str(recording), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        preexec_fn=_interruptible,
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_command_prints_its_url_first_serves_and_stops_cleanly(recording, stop):
    process = start_command(recording)
    try:
        first = process.stdout.readline()
        assert first.startswith("invwh inspect: inspector on http://127.0.0.1:"), first
        url = first.split(" on ", 1)[1].strip()
        assert url.endswith("/")
        deliveries = requests.get(url + "api/deliveries", timeout=TIMEOUT).json()
        assert len(deliveries) == 3
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped after 3 deliveries" in stderr
    assert "no secret: the recorded verdicts are shown" in stderr


def test_the_json_format_prints_the_url_as_an_object(recording):
    env = {"INVWH_SECRET": TEST_SECRET, "INVWH_URL": "http://localhost:3000/webhooks"}
    process = start_command(recording, "--format", "json", env=env)
    try:
        url = json.loads(process.stdout.readline())["inspector"]
        settings = requests.get(url + "api/settings", timeout=TIMEOUT).json()
        assert settings == {
            "recording": str(recording),
            "scheme": "inventory-v1",
            "secret_known": True,  # and nothing of the secret itself
            "replay_url": "http://localhost:3000/webhooks",
        }
        process.terminate()
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
    assert process.returncode == 0 and "1 secret" in stderr


@pytest.mark.parametrize(
    "code",
    [
        "import inventory_cli.cli.commands.sign",
        "from inventory_cli.cli import cli\ntry:\n    cli(['--version'])\nexcept SystemExit:\n    pass",
        "from inventory_cli.cli import cli\ntry:\n    cli(['validate', 'samples/stock-increase.json'])\n"
        "except SystemExit:\n    pass",
    ],
    ids=["sign", "--version", "validate"],
)
def test_nothing_of_the_inspector_loads_unless_inspect_runs(code):
    if code.startswith("import"):
        loaded = sign_in_a_fresh_process("", "sorted(m for m in sys.modules if 'inspect' in m)")
    else:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys\n{code}\nprint(sorted(m for m in sys.modules if 'inspect' in m))",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        loaded = done.stdout.splitlines()[-1]
    assert "inventory_cli.inspector" not in loaded and "commands.inspect" not in loaded, loaded


def test_without_a_browser_the_browser_tests_are_skipped_with_one_line_naming_the_packages(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/test_inspector_browser.py",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "INSPECTOR_TEST_CHROMIUM": str(tmp_path / "no-chromium")},
    )
    skipped = [text for text in done.stdout.splitlines() if text.startswith("SKIPPED")]
    assert done.returncode == 5, done.stdout  # pytest's "no tests ran": the file alone, all skipped
    assert len(skipped) == 1, done.stdout
    assert "apt-get install chromium chromium-driver" in skipped[0]
    assert " passed" not in done.stdout.splitlines()[-1]


# --- refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [b"evil.example", b"evil.example:{port}", b"127.0.0.1:1", b"127.0.0.2:{port}", None, b"two"],
    ids=["another-name", "another-name-same-port", "another-port", "another-address", "none", "doubled"],
)
def test_a_host_that_is_not_the_servers_own_is_refused(recording, host):
    with inspecting(recording) as served:
        port = str(served.server.port).encode()
        if host is None:
            head = b""
        elif host == b"two":
            head = b"Host: 127.0.0.1:" + port + b"\r\nHost: 127.0.0.1:" + port + b"\r\n"
        else:
            head = b"Host: " + host.replace(b"{port}", port) + b"\r\n"
        answer = raw_request(
            served.url, b"GET /api/deliveries HTTP/1.1\r\n" + head + b"Connection: close\r\n\r\n"
        )
        own = raw_request(
            served.url,
            b"GET /api/deliveries HTTP/1.1\r\nHost: localhost:" + port + b"\r\nConnection: close\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 421 "), answer[:200]
    assert b"stock.increase" not in answer
    assert own.startswith(b"HTTP/1.1 200 ") and b"stock.increase" in own


@pytest.mark.parametrize(
    ("origin", "token"),
    [(None, "own"), ("http://evil.example", "own"), ("null", "own"), ("own", None), ("own", "guessed")],
    ids=["no-origin", "another-origin", "null-origin", "no-token", "wrong-token"],
)
def test_a_replay_not_from_the_page_is_refused_and_sends_nothing(recording, origin, token):
    with serve() as target, inspecting(recording) as served:
        data = {"index": 0, "url": target.endpoint(), "mode": "resign"}
        refused = act(served, "replay", data, origin=origin, token=token)
        assert refused.status_code == 403, refused.text
        assert target.received == []
        accepted = act(served, "replay", data)
    assert accepted.status_code == 200 and accepted.json()["status"] == 200
    assert len(target.received) == 1


def test_every_answer_forbids_inline_script_and_other_origins(recording):
    with inspecting(recording) as served:
        answers = [
            requests.get(served.url + path, timeout=TIMEOUT)
            for path in (
                "",
                "static/app.js",
                "static/app.css",
                "api/deliveries",
                "api/deliveries/0",
                "nowhere",
            )
        ]
    for answer in answers:
        policy = answer.headers["Content-Security-Policy"]
        assert policy == CONTENT_SECURITY_POLICY
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answers[0].headers["Content-Type"] == "text/html; charset=utf-8"
    assert answers[-1].status_code == 404


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            self.in_script = True
            if not names.get("src", "").startswith("/static/"):
                self.problems.append("a script not from /static/")
        if tag == "link" and not names.get("href", "/").startswith("/"):
            self.problems.append(f"a link to another origin: {names['href']}")
        self.problems += [f"<{tag} {name}>" for name in names if name.startswith("on") or name == "style"]

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.problems.append("an inline script")


def test_the_page_has_no_inline_script_and_inserts_text_only(recording):
    with inspecting(recording) as served:
        page = requests.get(served.url, timeout=TIMEOUT).text
    parser = _PageParser()
    parser.feed(page)
    assert parser.problems == []
    assert f'<meta name="invwh-token" content="{served.token}">' in page
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    for asset in STATIC.iterdir():  # nothing from a CDN: the page works offline
        assert "https://" not in asset.read_text(encoding="utf-8"), asset.name


# --- one delivery, as the page shows it -----------------------------------------------


def test_a_body_is_shown_with_its_invisible_characters_made_visible(tmp_path):
    body = b'{"note": "tab\there\\u00e9"}\r\n\xff\xfe\x00\xe2\x80\x8b\n'
    path = tmp_path / "rec.jsonl"
    write(path, line(body))
    with inspecting(path) as served:
        shown = requests.get(served.url + "api/deliveries/0", timeout=TIMEOUT).json()["body"]
    tokens = [tuple(token[:2]) for token in shown["tokens"]]
    assert tokens == [
        ("text", '{"note": "tab'),
        ("mark", "\\t"),
        ("text", 'here\\u00e9"}'),
        ("mark", "\\r"),
        ("newline", "\\n"),
        ("byte", "\\xff"),
        ("byte", "\\xfe"),
        ("mark", "\\x00"),
        ("mark", "<U+200B>"),
        ("newline", "\\n"),
    ]
    assert shown["facts"] == [
        f"{len(body)} bytes",
        "not UTF-8: 2 bytes that are not",
        "line endings: CRLF ×1, LF ×1",
        "ends with a newline",
    ]
    assert shown["pretty"] is None and shown["not_json"] == "not JSON: not UTF-8"
    assert shown["text"] is None and shown["crlf"] is True


def test_a_json_body_is_shown_pretty_with_its_numbers_as_written(tmp_path):
    body = b'{"inventoryStockIncreaseEventType":"stock.increase","big":12345678901234567890,"f":0.1}'
    path = tmp_path / "rec.jsonl"
    write(path, line(body))
    with inspecting(path) as served:
        shown = requests.get(served.url + "api/deliveries/0", timeout=TIMEOUT).json()["body"]
    assert shown["pretty"] == (
        '{\n  "inventoryStockIncreaseEventType": "stock.increase",\n'
        '  "big": 12345678901234567890,\n  "f": 0.1\n}'
    )
    assert shown["facts"][-1] == "no trailing newline"


def test_a_failed_signature_gets_its_likely_cause_only_with_the_secret(tmp_path):
    signed_without_newline = sign(SCHEME, SECRET, EVENT)
    path = tmp_path / "rec.jsonl"
    write(path, line(EVENT + b"\n", headers={"Content-Type": "application/json", **signed_without_newline}))
    with inspecting(path) as served:
        with_secret = requests.get(served.url + "api/deliveries/0", timeout=TIMEOUT).json()["judgement"]
    with inspecting(path, secrets=()) as served:
        without = requests.get(served.url + "api/deliveries/0", timeout=TIMEOUT).json()["judgement"]
    assert with_secret["recorded"] == {
        "valid": False,
        "reason": "signature_mismatch",
        "event_type": "stock.increase",
    }
    assert with_secret["judged"]["reason"] == "signature_mismatch"
    assert any("trailing newline" in hint for hint in with_secret["judged"]["hints"])
    assert without == {
        "recorded": with_secret["recorded"],
        "judged": None,
        "error": None,
        "secret_known": False,
    }


def test_two_deliveries_are_diffed_by_bytes_json_and_headers(tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, line(b'{"a": 1,\n "b": 2}'), line(b'{"a": 1,\r\n "b": 3}'))
    with inspecting(path) as served:
        diff = requests.get(served.url + "api/diff?a=0&b=1", timeout=TIMEOUT).json()
        missing = requests.get(served.url + "api/diff?a=0&b=9", timeout=TIMEOUT)
    assert diff["same_bytes"] is False and diff["same_json"] is False
    assert diff["bytes"] == [
        ["-", '{"a": 1,\\n'],
        ["-", ' "b": 2}'],
        ["+", '{"a": 1,\\r\\n'],
        ["+", ' "b": 3}'],
    ]
    assert (
        ["-", '  "b": 2'] in diff["json"]
        and ["+", '  "b": 3'] in diff["json"]
        and [" ", '  "a": 1,'] in diff["json"]
    )
    assert any(op == "-" and text.startswith("X-Webhook-Signature: ") for op, text in diff["headers"])
    assert missing.status_code == 404


# --- actions: replay and curl -----------------------------------------------------


def valid_signature(received) -> bool:
    return check_signature(SCHEME, [SECRET], received.body, received.headers).ok


def test_a_replay_re_signed_sends_the_recorded_bytes_with_a_fresh_valid_signature(tmp_path):
    body = b'{"inventoryStockIncreaseEventType": "stock.increase"}\r\n'
    path = tmp_path / "rec.jsonl"
    old = line(body, received_at=1_700_000_000)  # long stale: only a fresh signature passes
    write(path, old)
    with serve(lambda request: Reply(200, b'{"ok": true}')) as target, inspecting(path) as served:
        answer = act(served, "replay", {"index": 0, "url": target.endpoint(), "mode": "resign"}).json()
    (received,) = target.received
    assert received.body == body
    assert valid_signature(received)
    assert received.headers["X-Webhook-Signature"] != json.loads(old)["headers"]["X-Webhook-Signature"]
    assert (answer["status"], answer["response_preview"], answer["mode"]) == (200, '{"ok": true}', "resign")
    assert answer["request"]["body_bytes"] == len(body)
    assert TEST_SECRET not in json.dumps(answer)


def test_a_replay_as_received_carries_the_recorded_signature(recording):
    recorded = json.loads(recording.read_bytes().splitlines()[0])
    with serve() as target, inspecting(recording, secrets=()) as served:
        refused = act(served, "replay", {"index": 0, "url": target.endpoint(), "mode": "resign"})
        answer = act(served, "replay", {"index": 0, "url": target.endpoint(), "mode": "as_received"}).json()
    assert refused.status_code == 400 and "no secret to sign with" in refused.json()["error"]
    (received,) = target.received
    assert received.body == EVENT and answer["status"] == 200
    for name in ("X-Webhook-Signature", "X-Timestamp"):
        assert received.headers[name] == recorded["headers"][name]


def test_an_edited_delivery_is_sent_as_edited_and_signed_anew(recording):
    edited = '{"inventoryStockDecreaseEventType": "stock.decrease", "sku": "édité"}\n'
    headers = [
        ["X-Trace", " edited-1 "],
        ["Host", "elsewhere"],
        ["Content-Length", "1"],
        ["X-Webhook-Signature", "v1=old"],
    ]
    with serve() as target, inspecting(recording) as served:
        data = {"index": 2, "url": target.endpoint(), "mode": "edited", "body": edited, "headers": headers}
        answer = act(served, "replay", data)
        bad = act(served, "replay", {**data, "headers": [["Bad Name", "x"]]})
        control = act(served, "replay", {**data, "headers": [["X-A", "a\rb"]]})
    assert answer.status_code == 200, answer.text
    (received,) = target.received  # the refused ones sent nothing
    assert received.body == edited.encode()
    assert valid_signature(received)
    assert received.headers["X-Trace"] == "edited-1"
    assert received.headers["Host"] == target.url.removeprefix("http://")
    assert received.headers["Content-Length"] == str(len(edited.encode()))
    assert bad.status_code == 400 and "not a header name" in bad.json()["error"]
    assert control.status_code == 400 and "control characters" in control.json()["error"]


def test_a_replay_to_an_unreachable_url_says_why(recording):
    from servers import free_port

    with inspecting(recording) as served:
        answer = act(
            served, "replay", {"index": 0, "url": f"http://127.0.0.1:{free_port()}/x", "mode": "resign"}
        )
        not_a_url = act(served, "replay", {"index": 0, "url": "localhost:3000", "mode": "resign"})
    assert answer.status_code == 200 and answer.json()["status"] is None
    assert "refused" in answer.json()["error"]
    assert not_a_url.status_code == 400 and "http:// or https://" in not_a_url.json()["error"]


@pytest.mark.parametrize("url", ["http://[::1/webhooks", "http://127.0.0.1:99999/webhooks"])
def test_a_url_the_parser_refuses_is_a_400_not_a_failed_request(recording, url):
    with inspecting(recording) as served:
        answer = act(served, "replay", {"index": 0, "url": url, "mode": "resign"})
    assert answer.status_code == 400 and answer.json()["error"].startswith(f"invalid URL {url!r}: ")


def test_copy_as_curl_is_signed_fresh_and_runs(recording, tmp_path):
    with serve() as target, inspecting(recording) as served:
        answer = act(served, "curl", {"index": 1, "url": target.endpoint(), "mode": "resign"}).json()
        command = answer["curl"]
        assert command.startswith(f"curl -sS --fail-with-body --request POST --url {target.endpoint()}")
        assert TEST_SECRET not in command
        done = subprocess.run(["sh"], input=command, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    (received,) = target.received
    assert received.body == DECREASE and valid_signature(received)


def test_no_answer_shows_the_secret(recording):
    with serve() as target, inspecting(recording) as served:
        bodies = [
            requests.get(served.url + path, timeout=TIMEOUT).text
            for path in ("", "api/settings", "api/deliveries", "api/deliveries/2", "api/diff?a=0&b=2")
        ]
        bodies.append(act(served, "replay", {"index": 2, "url": target.endpoint(), "mode": "resign"}).text)
        bodies.append(act(served, "curl", {"index": 2, "url": target.endpoint(), "mode": "resign"}).text)
    for body in bodies:
        assert TEST_SECRET not in body


def test_a_port_in_use_is_one_line_and_exit_2(invwh, recording):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invwh("inspect", recording, "--port", port, code=2)
    assert result.stderr.startswith(f"invwh: error: cannot serve on 127.0.0.1:{port}: ")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", {"127.0.0.1:4040", "localhost:4040"}),
        ("::1", {"[::1]:4040", "localhost:4040"}),
        ("192.0.2.7", {"192.0.2.7:4040"}),  # another interface: its own address only
        ("Inspector.Example", {"inspector.example:4040"}),
    ],
)
def test_the_hosts_the_server_answers_to_are_its_own_address(host, expected):
    from inventory_cli.inspector.server import own_hosts

    assert own_hosts(host, 4040) == expected
