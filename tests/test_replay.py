"""`invwh replay`: recordings made by a real receiver, replayed to real local servers on port 0."""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
from conftest import TEST_SECRET
from servers import Reply, serve

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.receive import ReceivedDelivery, Receiver, ReceiverConfig, status_for
from inventory_cli.workflows.recording import encode_line, read_recording
from inventory_cli.workflows.verdict import judge

TIMEOUT = 5  # seconds, for every network call the tests make themselves
SECRET = Secret(TEST_SECRET)
SECRET_ENV = {"INVWH_SECRET": TEST_SECRET}
HOUR_AGO = int(time.time()) - 3600

INCREASE = b'{"inventoryStockIncreaseEventType": "stock.increase", "sku": "WIDGET-BLU-M"}'
DECREASE = b'{"inventoryStockDecreaseEventType": "stock.decrease", "sku": "BOLT-M8-40"}'
DEPLETED = b'{"inventoryStockDepletedEventType": "stock.depleted", "sku": "GASKET-RUB-12"}'
#: Bodies a recording must give back byte for byte.
AWKWARD_BODIES = [
    INCREASE,
    b"\xff\xfe\x00 not UTF-8 \x80\x81",  # recorded as base64
    DEPLETED + b"\n",  # a trailing newline
    '{"inventoryStockDecreaseEventType": "stock.decrease", "productName": "Café ☕ 東京"}'.encode(),
]


def event(event_type: str, number: int) -> bytes:
    discriminator = {
        "stock.increase": "inventoryStockIncreaseEventType",
        "stock.decrease": "inventoryStockDecreaseEventType",
        "stock.depleted": "inventoryStockDepletedEventType",
    }[event_type]
    return json.dumps({discriminator: event_type, "eventId": f"evt_{number:05d}"}).encode()


def recorded_line(
    body: bytes,
    *,
    received_at: float | None = None,
    timestamp: int | None = None,
    secret: Secret = SECRET,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> bytes:
    """One line of a recording, as `invwh listen --record` writes it.

    Signed at ``timestamp`` (default: the received time) with ``secret``,
    unless ``headers`` are given; judged as a receiver with TEST_SECRET would.
    """
    received_at = time.time() if received_at is None else received_at
    if headers is None:
        stamp = int(received_at) if timestamp is None else timestamp
        headers = {"Content-Type": "application/json", **sign(INVENTORY_V1, secret, body, timestamp=stamp)}
    verdict = judge(INVENTORY_V1, [SECRET], body, headers, method=method, now=received_at)
    delivery = ReceivedDelivery(
        received_at, method, "/webhooks", headers, body, verdict, status_for(verdict), verdict.reason
    )
    return encode_line(delivery)


def record_by_delivering(path: Path, bodies: list[bytes], **sign_options: object) -> list[dict]:
    """Deliver each body to an in-process `invwh listen --record`; the lines it wrote."""
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[SECRET], port=0, record=str(path))
    with Receiver(config) as receiver:
        for body in bodies:
            headers = {"Content-Type": "application/json", **sign(INVENTORY_V1, SECRET, body, **sign_options)}
            requests.post(receiver.url, data=body, headers=headers, timeout=TIMEOUT)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(bodies)
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def replay(invwh):
    def run(*args, code=0, env=None, input=None):
        return invwh("replay", *args, code=code, env=SECRET_ENV if env is None else env, input=input)

    return run


# --- the bytes and the signatures --------------------------------------------


def test_bodies_arrive_byte_for_byte_re_signed_with_a_fresh_timestamp(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    lines = record_by_delivering(recording, AWKWARD_BODIES, timestamp=HOUR_AGO)
    assert [line["body_encoding"] for line in lines] == ["utf-8", "base64", "utf-8", "utf-8"]
    assert {line["verdict"]["reason"] for line in lines} == {"stale_timestamp"}
    with serve() as server:
        result = replay(recording, "--url", server.endpoint(), "--format", "json")
    assert [r.body for r in server.received] == AWKWARD_BODIES
    for request, line in zip(server.received, lines, strict=True):
        assert request.method == "POST" and request.path == "/webhooks"
        check = check_signature(INVENTORY_V1, [SECRET], request.body, request.headers)
        assert check.ok, check.message
        assert abs(check.timestamp - time.time()) < 60
        assert request.headers["X-Webhook-Signature"] != line["headers"]["X-Webhook-Signature"]
    report = result.json
    assert [item["line"] for item in report["items"]] == [1, 2, 3, 4]
    assert [item["status"] for item in report["items"]] == [200] * 4
    assert report["ok"] is True


def test_re_signs_with_the_secret_given(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE))
    with serve() as server:
        replay(recording, "--url", server.endpoint(), "--secret", "the-new-build-secret")
    (request,) = server.received
    assert check_signature(INVENTORY_V1, [Secret("the-new-build-secret")], INCREASE, request.headers).ok
    assert not check_signature(INVENTORY_V1, [SECRET], INCREASE, request.headers).ok


def test_keep_signature_sends_the_recorded_headers_untouched(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    lines = record_by_delivering(recording, AWKWARD_BODIES, timestamp=HOUR_AGO)
    with serve() as server:
        # No secret anywhere: a kept signature needs none.
        replay(recording, "--url", server.endpoint(), "--keep-signature", env={})
    assert [r.body for r in server.received] == AWKWARD_BODIES
    for request, line in zip(server.received, lines, strict=True):
        for name in ("X-Webhook-Signature", "X-Timestamp"):
            assert request.headers[name] == line["headers"][name]
        assert request.headers["X-Timestamp"] == str(HOUR_AGO)


def test_a_strict_receiver_rejects_kept_stale_signatures_and_accepts_re_signed_ones(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    record_by_delivering(recording, [INCREASE, DECREASE, DEPLETED], timestamp=HOUR_AGO)
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[SECRET], port=0)
    with Receiver(config) as receiver:
        kept = replay(recording, "--url", receiver.url, "--keep-signature", "--format", "json", code=1)
        replay(recording, "--url", receiver.url, "--keep-signature", "--expect", "401")
        replay(recording, "--url", receiver.url)
    items = kept.json["items"]
    assert [item["status"] for item in items] == [401, 401, 401]
    assert all(json.loads(item["response_preview"])["reason"] == "stale_timestamp" for item in items)
    assert kept.json["summary"]["unexpected"] == 3


# --- order, concurrency, pace ------------------------------------------------


def test_concurrency_loses_and_duplicates_nothing_and_keeps_the_order(replay, tmp_path):
    types = ["stock.increase", "stock.decrease", "stock.depleted"]
    bodies = [event(types[n % 3], n) for n in range(300)]
    recording = tmp_path / "r.jsonl"
    with recording.open("wb") as out:
        for body in bodies:
            out.write(recorded_line(body))
    in_flight = 0
    most_in_flight = 0
    lock = threading.Lock()

    def jittery(request):
        nonlocal in_flight, most_in_flight
        with lock:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
        time.sleep(random.uniform(0, 0.004))  # answers finish out of order
        with lock:
            in_flight -= 1
        return Reply(200)

    with serve(jittery) as server:
        result = replay(recording, "--url", server.endpoint(), "--concurrency", "8", "--format", "json")
    arrived = Counter(r.body for r in server.received)
    assert len(server.received) == 300
    assert arrived == Counter(bodies)  # every body, once
    assert 1 < most_in_flight <= 8
    report = result.json
    assert [item["line"] for item in report["items"]] == list(range(1, 301))
    assert [item["event_type"] for item in report["items"]] == [types[n % 3] for n in range(300)]
    assert report["summary"]["total"] == report["summary"]["as_expected"] == 300


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_rate_paces_the_deliveries(replay, tmp_path, concurrency):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(b"".join(recorded_line(event("stock.increase", n)) for n in range(6)))
    with serve() as server:
        started = time.monotonic()
        replay(recording, "--url", server.endpoint(), "--rate", "20", "--concurrency", concurrency)
        elapsed = time.monotonic() - started
    assert len(server.received) == 6
    assert elapsed >= 5 / 20 - 0.02


def test_replaying_into_the_receiver_that_records_the_file_replays_it_as_it_was(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    bodies = [INCREASE, DECREASE, DEPLETED]
    record_by_delivering(recording, bodies)
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[SECRET], port=0, record=str(recording))
    with Receiver(config) as receiver:
        # --limit only bounds the run if the replay chased its own deliveries down the file.
        result = replay(recording, "--url", receiver.url, "--limit", "50", "--format", "json")
    assert [item["line"] for item in result.json["items"]] == [1, 2, 3]
    assert [r.body for r in read_recording(recording)] == bodies * 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_reads_a_named_pipe_to_its_end(replay, tmp_path):
    pipe = tmp_path / "recording.pipe"
    os.mkfifo(pipe)
    data = recorded_line(INCREASE) + recorded_line(DEPLETED)

    def write() -> None:
        with open(pipe, "wb") as out:  # blocks until the replay opens the pipe
            out.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with serve() as server:
        replay(pipe, "--url", server.endpoint())
    writer.join(timeout=5)
    assert [r.body for r in server.received] == [INCREASE, DEPLETED]


# --- choosing what to replay -------------------------------------------------


@pytest.mark.parametrize(
    ("options", "wanted"),
    [
        (["--filter", "stock.depleted"], [2, 4, 5]),
        (["--filter", "stock.depleted", "--limit", "2"], [2, 4]),
        (["--limit", "3"], [1, 2, 3]),
        (["--filter", "stock.increase"], [1]),
    ],
    ids=["filter", "filter-and-limit", "limit", "filter-unjudged"],
)
def test_filter_and_limit(replay, tmp_path, options, wanted):
    bodies = [
        event("stock.increase", 1),
        event("stock.depleted", 2),
        event("stock.decrease", 3),
        event("stock.depleted", 4),
        event("stock.depleted", 5),
    ]
    lines = [json.loads(recorded_line(body)) for body in bodies]
    lines[0]["verdict"] = None  # a line without a verdict is typed by its body
    recording = tmp_path / "r.jsonl"
    recording.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with serve() as server:
        result = replay(recording, "--url", server.endpoint(), *options, "--format", "json")
    assert [r.body for r in server.received] == [bodies[n - 1] for n in wanted]
    assert [item["line"] for item in result.json["items"]] == wanted


def test_requests_that_were_no_delivery_are_skipped(replay, tmp_path):
    refused = json.loads(recorded_line(b""))
    refused.update(body_read=False, status=413, verdict=None)
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(
        recorded_line(b"", method="GET") + (json.dumps(refused) + "\n").encode() + recorded_line(INCREASE)
    )
    with serve() as server:
        result = replay(recording, "--url", server.endpoint())
    assert [r.body for r in server.received] == [INCREASE]
    assert "line 1: – skipped: a GET request, not a delivery" in result.stdout
    assert "line 2: – skipped: the body was not recorded (answered 413)" in result.stdout
    assert "1 as expected" in result.stdout and "2 skipped" in result.stdout


# --- malformed lines ---------------------------------------------------------

MALFORMED = [
    (b"this is not JSON\n", "not JSON"),
    (b'{"method": "POST", "headers": {}}\n', "no body"),
    (b'{"body": "!!not base64!!", "body_encoding": "base64"}\n', "not valid base64"),
]


def malformed_recording(path: Path) -> None:
    """Lines 1, 5 and 7 are deliveries; 2, 3 and 4 malformed; 6 blank."""
    path.write_bytes(
        recorded_line(INCREASE)
        + b"".join(line for line, _ in MALFORMED)
        + recorded_line(DECREASE)
        + b"\n"
        + recorded_line(DEPLETED)
    )


def test_malformed_lines_are_reported_skipped_and_fail_the_run(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    malformed_recording(recording)
    with serve() as server:
        result = replay(recording, "--url", server.endpoint(), code=1)
    assert [r.body for r in server.received] == [INCREASE, DECREASE, DEPLETED]
    for number, (_, reason) in enumerate(MALFORMED, start=2):
        (line,) = [text for text in result.stdout.splitlines() if text.startswith(f"line {number}:")]
        assert "malformed line" in line and reason in line
    assert "6 lines: 3 as expected, 3 malformed" in result.stdout


def test_json_report_is_one_document_with_items_and_summary(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    malformed_recording(recording)
    answers = iter([Reply(200), Reply(500, b"boom"), Reply(200)])
    with serve(lambda request: next(answers)) as server:
        result = replay(recording, "--url", server.endpoint(), "--format", "json", code=1)
    report = json.loads(result.stdout)  # the whole of stdout, nothing else
    assert report["url"] == server.endpoint()
    assert report["ok"] is False
    items = {item["line"]: item for item in report["items"]}
    assert sorted(items) == [1, 2, 3, 4, 5, 7]
    assert [items[n]["status"] for n in (1, 5, 7)] == [200, 500, 200]
    assert items[5]["response_preview"] == "boom"
    assert [items[n]["outcome"] for n in (1, 2, 3, 4, 5, 7)] == [
        "as_expected", "malformed", "malformed", "malformed", "unexpected", "as_expected"
    ]  # fmt: skip
    # The counts add up to the items.
    assert report["summary"] == {
        "total": 6,
        "as_expected": 2,
        "unexpected": 1,
        "undelivered": 0,
        "malformed": 3,
        "skipped": 0,
    }
    assert report["statuses"] == {"200": 2, "500": 1}
    assert (report["command"], report["interrupted"], report["error"]) == ("replay", False, None)
    assert report["seconds"] > 0 and report["rate_per_second"] > 0


def test_junit_has_a_case_per_delivery_and_a_failure_per_malformed_line(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    malformed_recording(recording)
    junit = tmp_path / "replay.xml"
    with serve(lambda request: Reply(422) if b"stock.decrease" in request.body else Reply()) as server:
        replay(recording, "--url", server.endpoint(), "--junit", junit, code=1)
    suite = ElementTree.parse(junit).getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        "testsuite",
        "6",
        "4",
        "0",
    )
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == [
        "line 1 (stock.increase)",
        "line 2",
        "line 3",
        "line 4",
        "line 5 (stock.decrease)",
        "line 7 (stock.depleted)",
    ]
    failed = [name for name, case in cases.items() if case.find("failure") is not None]
    assert failed == ["line 2", "line 3", "line 4", "line 5 (stock.decrease)"]
    assert "422" in cases["line 5 (stock.decrease)"].find("failure").get("message")


# --- statuses and exit codes -------------------------------------------------


def test_expect_says_which_answers_are_success(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE) + recorded_line(DEPLETED))
    with serve(lambda request: Reply(422, b'{"error": "unknown sku"}')) as server:
        failed = replay(recording, "--url", server.endpoint(), code=1)
        replay(recording, "--url", server.endpoint(), "--expect", "422")
        replay(recording, "--url", server.endpoint(), "--expect", "200", "--expect", "422")
    assert "line 1 (stock.increase): ✗ 422" in failed.stdout and "unknown sku" in failed.stdout
    assert "2 lines: 2 unexpected" in failed.stdout
    assert len(server.received) == 6


def test_an_unreachable_receiver_exits_3(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE) + recorded_line(DEPLETED))
    url = f"http://127.0.0.1:{free_port()}/webhooks"
    result = replay(recording, "--url", url, "--timeout", "2", code=3)
    (error,) = result.stderr.splitlines()
    assert error.startswith("invwh: error: could not deliver 2 deliveries to ")
    assert url in error and "connection refused" in error
    assert "2 not delivered" in result.stdout


def test_reads_the_recording_from_stdin(replay, tmp_path):
    data = recorded_line(AWKWARD_BODIES[1]) + recorded_line(AWKWARD_BODIES[3])
    with serve() as server:
        result = replay("-", "--url", server.endpoint(), "--format", "json", input=data)
    assert [r.body for r in server.received] == [AWKWARD_BODIES[1], AWKWARD_BODIES[3]]
    assert result.json["summary"]["as_expected"] == 2


def test_a_missing_recording_exits_2_with_one_line(replay, tmp_path):
    with serve() as server:
        result = replay(tmp_path / "nope.jsonl", "--url", server.endpoint(), code=2)
    assert server.received == []
    (line,) = result.stderr.splitlines()
    assert line == f"invwh: error: recording {tmp_path / 'nope.jsonl'}: no such file"


@pytest.mark.parametrize(
    "options",
    [["--concurrency", "0"], ["--rate", "0"], ["--limit", "0"], ["--filter", "stock.restocked"]],
)
def test_bad_options_are_usage_errors(replay, tmp_path, options):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE))
    replay(recording, "--url", "http://127.0.0.1:9/webhooks", *options, code=2)


def test_re_signing_needs_a_secret(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE))
    with serve() as server:
        result = replay(recording, "--url", server.endpoint(), env={}, code=2)
    assert server.received == []
    assert "no secret given" in result.stderr


# --- what a replay says, and what it leaves out ----------------------------------------


def test_an_unexpected_200_names_its_status_and_the_start_of_its_body(replay, tmp_path):
    """The README's --keep-signature --expect 401 example against a receiver that accepts replays."""
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(recorded_line(INCREASE))
    with serve(lambda request: Reply(200, b'{"processed": true}')) as server:
        result = replay(recording, "--url", server.endpoint(), "--keep-signature", "--expect", "401", code=1)
    assert 'line 1 (stock.increase): ✗ 200 OK: {"processed": true}' in result.stdout.splitlines()


def record_with_listen(path: Path) -> None:
    """What `invwh listen --record` writes for a GET, a POST to another path, then a delivery."""
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[SECRET], port=0, record=str(path))
    with Receiver(config) as receiver:
        requests.get(receiver.url, timeout=TIMEOUT)
        other = receiver.url.replace("/webhooks", "/other")
        headers = {"Content-Type": "application/json", **sign(INVENTORY_V1, SECRET, INCREASE)}
        assert requests.post(other, data=INCREASE, headers=headers, timeout=TIMEOUT).status_code == 404
        headers = {"Content-Type": "application/json", **sign(INVENTORY_V1, SECRET, DEPLETED)}
        assert requests.post(receiver.url, data=DEPLETED, headers=headers, timeout=TIMEOUT).ok
    assert [json.loads(line)["status"] for line in path.read_text().splitlines()] == [405, 404, 200]


def test_a_post_to_another_path_is_skipped_never_sent(replay, tmp_path):
    recording = tmp_path / "r.jsonl"
    record_with_listen(recording)
    with serve() as server:
        result = replay(recording, "--url", server.endpoint())
    assert [r.body for r in server.received] == [DEPLETED]
    assert "line 2: – skipped: a POST to '/other', not a delivery (answered 404)" in result.stdout
    assert "3 lines: 1 as expected, 2 skipped" in result.stdout


@pytest.mark.parametrize(
    "options", [["--filter", "stock.depleted"], ["--limit", "1"]], ids=["filter", "limit"]
)
def test_filter_and_limit_list_deliveries_only_and_count_the_rest(replay, tmp_path, options):
    recording = tmp_path / "r.jsonl"
    record_with_listen(recording)
    with serve() as server:
        text = replay(recording, "--url", server.endpoint(), *options, "-v")
        result = replay(recording, "--url", server.endpoint(), *options, "--format", "json")
    assert [r.body for r in server.received] == [DEPLETED] * 2
    assert "skipped" not in text.stdout.replace("2 recorded requests that were no delivery skipped", "")
    assert "2 recorded requests that were no delivery skipped" in text.stdout
    assert [item["line"] for item in result.json["items"]] == [3]
    assert result.json["summary"] == {"total": 1, "as_expected": 1, "unexpected": 0, "undelivered": 0,
                                      "malformed": 0, "skipped": 0}  # fmt: skip
    assert result.json["skipped_requests"] == 2


@pytest.mark.parametrize(
    ("lines", "options", "says"),
    [
        (b"", [], "holds no deliveries"),
        (b"\n\n", [], "holds no deliveries"),
        (recorded_line(b"", method="GET"), [], "holds no deliveries"),
        (recorded_line(INCREASE), ["--filter", "stock.depleted"], "holds no stock.depleted deliveries"),
    ],
    ids=["empty", "blank-lines", "only-a-get", "none-of-the-type"],
)
def test_a_recording_with_no_delivery_is_an_input_error_in_every_format(
    replay, tmp_path, lines, options, says
):
    recording = tmp_path / "r.jsonl"
    recording.write_bytes(lines)
    error = f"{recording} {says}"
    with serve() as server:
        text = replay(recording, "--url", server.endpoint(), *options, code=2)
        result = replay(
            recording, "--url", server.endpoint(), *options, "--format", "json",
            "--junit", tmp_path / "r.xml", code=2,
        )  # fmt: skip
    assert not server.received
    assert text.stderr.splitlines() == [f"invwh: error: {error}"]
    assert result.stderr.splitlines() == [f"invwh: error: {error}"]
    assert (result.json["ok"], result.json["error"]) == (False, error)
    suite = ElementTree.parse(tmp_path / "r.xml").getroot()
    assert suite.get("errors") == "1"
    (case,) = [case for case in suite.iter("testcase") if case.find("error") is not None]
    assert (case.get("name"), case.find("error").get("message")) == ("the recording", error)


def test_the_tally_counts_what_the_report_ends_with():
    """Replay's statistics come from the workflow: statuses, skipped requests, the rate's count."""
    from inventory_cli.transport.exchange import Exchange
    from inventory_cli.transport.failures import Failure, FailureKind
    from inventory_cli.workflows.delivery import DeliveryResult
    from inventory_cli.workflows.replay import ReplayItem, ReplayTally

    def delivered(line: int, status: int | None) -> ReplayItem:
        failure = None if status else Failure(FailureKind.REFUSED, "connection refused")
        exchange = Exchange("http://127.0.0.1:9/", b"{}", status=status, failure=failure)
        return ReplayItem(line, DeliveryResult(f"line {line}", None, (200,), exchange))

    tally = ReplayTally()
    for item in [
        delivered(1, 200),
        ReplayItem(2, skipped="GET, not a delivery"),
        delivered(3, 422),
        ReplayItem(4, skipped="not JSON", malformed=True),
        delivered(5, None),
        ReplayItem(6, skipped="a POST to /other", listed=False),
        delivered(7, 200),
    ]:
        tally.add(item)
    summary = tally.summary()
    assert summary["statuses"] == {"200": 2, "422": 1, "not delivered": 1}
    assert (summary["skipped_requests"], tally.unlisted) == (2, 1)
    assert (tally.delivered, tally.attempted, tally.lines) == (3, 4, 7)
