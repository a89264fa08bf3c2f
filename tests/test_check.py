"""`invwh check` against real receivers on port 0: `invwh listen`, a permissive one, a strict one."""

from __future__ import annotations

import json
import socket
import time
from xml.etree import ElementTree

import pytest
from conftest import TEST_SECRET
from servers import Reply, serve

from inventory_cli.signing.schemes import INVENTORY_V1, get_scheme
from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.receive import Receiver, ReceiverConfig
from inventory_cli.workflows.verdict import judge

SECRET = Secret(TEST_SECRET)
SECRET_ENV = {"INVWH_SECRET": TEST_SECRET}

ACCEPTS = ["accepts stock.increase", "accepts stock.decrease", "accepts stock.depleted"]
REJECTS = [
    "rejects a tampered body",
    "rejects another secret",
    "rejects a missing signature",
    "rejects a malformed signature",
    "rejects a signature for another method",
]
RAW_BYTES = "verifies the raw body bytes"
SURVIVES = ["survives malformed JSON", "survives an unknown event type"]
TIMESTAMPS = ["rejects a stale timestamp", "rejects a far-future timestamp"]
ALL_CASES = [*ACCEPTS, RAW_BYTES, *REJECTS, *SURVIVES, *TIMESTAMPS, "duplicate delivery"]


def outcome_names(report, outcome):
    """The names of a JSON report's cases that came to ``outcome`` ("failed", "warning", ...)."""
    return [item["name"] for item in report["items"] if item["outcome"] == outcome]


def strict_receiver(*, tolerance: int = 0, crash_on_bad_json: bool = False, dedupe: bool = False):
    """A handler that verifies like the API's SDK: no timestamp age check unless ``tolerance``."""
    seen: set[str] = set()

    def handler(request):
        if crash_on_bad_json:
            try:
                json.loads(request.body)
            except ValueError:
                return Reply(500, b"Internal Server Error")
        verdict = judge(
            INVENTORY_V1, [SECRET], request.body, request.headers, method=request.method, tolerance=tolerance
        )
        if not verdict.signature.ok:
            return Reply(401, verdict.reason.encode())
        if not verdict.valid:
            return Reply(422, b"not an inventory event")
        signature = request.headers["X-Webhook-Signature"]
        if dedupe and signature in seen:
            return Reply(409, b"already processed")
        seen.add(signature)
        return Reply(200)

    return handler


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def check(invwh):
    def run(url, *args, code=0):
        return invwh("check", "--url", url, "--timeout", "5", *args, code=code, env=SECRET_ENV)

    return run


def test_invwh_listen_passes_every_case_with_no_warnings(check):
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[SECRET], port=0)
    with Receiver(config) as receiver:
        report = check(receiver.url, "--format", "json").json
        text = check(receiver.url, "--strict").stdout
    assert (report["ok"], outcome_names(report, "failed"), outcome_names(report, "warning")) == (True, [], [])
    assert [case["case"] for case in report["items"]] == ALL_CASES
    for case in report["items"]:
        assert case["passed"] is (None if case["level"] == "info" else True), case
        assert case["errors"] == []
        # Each case says in one line what it sent and why the answer passes or fails.
        assert case["sent"] and "\n" not in case["sent"]
        assert case["explanation"] and "\n" not in case["explanation"]
    statuses = {case["case"]: case["statuses"] for case in report["items"]}
    assert [statuses[name] for name in ACCEPTS] == [[200]] * 3
    assert statuses[RAW_BYTES] == [200, 200]
    assert {tuple(statuses[name]) for name in REJECTS + TIMESTAMPS} == {(401,)}
    assert [statuses[name] for name in SURVIVES] == [[422], [422]]
    assert statuses["duplicate delivery"] == [200, 200]
    assert "14 cases: 13 passed, 1 informational" in text


def test_a_receiver_that_accepts_everything_fails_naming_the_cases(check):
    with serve() as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
        text = check(server.endpoint(), code=1).stdout
    assert report["ok"] is False
    assert outcome_names(report, "failed") == REJECTS
    # A 200 to what the contract answers 422 is a warning: the receiver claims to have processed it.
    assert outcome_names(report, "warning") == SURVIVES + TIMESTAMPS
    cases = {case["case"]: case for case in report["items"]}
    assert "forged deliveries are accepted" in cases["rejects another secret"]["explanation"]
    assert cases["survives malformed JSON"]["explanation"] == (
        "answered 200 OK: the contract says 422: the receiver claims to have processed it"
    )
    assert "replayed" in cases["rejects a stale timestamp"]["explanation"]
    failed_rows = [line for line in text.splitlines() if line.lstrip().startswith("✗")]
    assert [name for name in REJECTS if any(name in row for row in failed_rows)] == REJECTS
    warned_rows = [line for line in text.splitlines() if line.lstrip().startswith("!")]
    warned = SURVIVES + TIMESTAMPS
    assert [name for name in warned if any(name in row for row in warned_rows)] == warned
    assert "4 passed, 5 failed, 4 warnings" in text


def test_each_case_sends_what_it_says(check):
    """What arrived, judged with the secret check was given."""
    with serve() as server:
        check(server.endpoint(), "--tolerance", "60", code=1)
    requests = server.received
    assert [r.method for r in requests] == ["POST"] * 16
    reasons = [judge(INVENTORY_V1, [SECRET], r.body, r.headers, tolerance=60).reason for r in requests]
    assert reasons == [
        "ok",
        "ok",
        "ok",
        "ok",  # indented, non-ASCII
        "ok",  # as json.dumps writes it
        "signature_mismatch",  # tampered
        "signature_mismatch",  # another secret
        "missing_signature",
        "malformed_signature",
        "signature_mismatch",  # signed for PUT
        "invalid_payload",  # malformed JSON, validly signed
        "invalid_payload",  # unknown event type, validly signed
        "stale_timestamp",
        "future_timestamp",
        "ok",
        "ok",
    ]
    as_sent, as_dumped = requests[3:5]
    sent_event, dumped_event = json.loads(as_sent.body), json.loads(as_dumped.body)
    assert as_sent.body == json.dumps(sent_event, indent=2, ensure_ascii=False).encode()
    assert not as_sent.body.isascii()
    assert as_dumped.body == json.dumps(dumped_event).encode()
    # The same event but for its id: a receiver that deduplicates takes both.
    assert dumped_event == sent_event | {"eventId": dumped_event["eventId"]} != sent_event
    tampered, _, _, _, for_put = requests[5:10]
    original = json.loads(requests[0].body)  # forged requests are built on the first accepted event
    assert json.loads(tampered.body) == original | {"quantityChange": original["quantityChange"] + 1000}
    assert check_signature(INVENTORY_V1, [SECRET], for_put.body, for_put.headers, method="PUT").ok
    assert for_put.body == requests[0].body
    now = time.time()
    assert abs(int(requests[12].headers["X-Timestamp"]) - (now - 660)) < 30
    assert abs(int(requests[13].headers["X-Timestamp"]) - (now + 3660)) < 30
    first, second = requests[14:]
    assert (first.body, first.headers["X-Webhook-Signature"]) == (
        second.body,
        second.headers["X-Webhook-Signature"],
    )


def test_a_receiver_without_a_timestamp_check_passes_with_two_warnings(check):
    with serve(strict_receiver()) as server:
        report = check(server.endpoint(), "--format", "json").json
        text = check(server.endpoint()).stdout
        strict = check(server.endpoint(), "--strict", "--format", "json", code=1).json
    assert (report["ok"], outcome_names(report, "failed"), outcome_names(report, "warning")) == (
        True,
        [],
        TIMESTAMPS,
    )
    assert "14 cases: 11 passed, 2 warnings, 1 informational" in text
    assert (
        strict["ok"],
        strict["strict"],
        outcome_names(strict, "failed"),
        outcome_names(strict, "warning"),
    ) == (
        False,
        True,
        TIMESTAMPS,
        [],
    )


def test_a_receiver_with_a_timestamp_check_passes_strictly(check):
    with serve(strict_receiver(tolerance=300)) as server:
        report = check(server.endpoint(), "--strict", "--format", "json").json
    assert (report["ok"], outcome_names(report, "failed"), outcome_names(report, "warning")) == (True, [], [])


def test_a_receiver_that_crashes_on_malformed_json_fails(check):
    with serve(strict_receiver(tolerance=300, crash_on_bad_json=True)) as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
    assert outcome_names(report, "failed") == ["survives malformed JSON"]
    (case,) = [case for case in report["items"] if case["case"] == "survives malformed JSON"]
    assert case["statuses"] == [500]
    assert "not a crash" in case["explanation"]


def test_the_duplicate_is_reported_not_judged(check):
    with serve(strict_receiver(tolerance=300, dedupe=True)) as server:
        report = check(server.endpoint(), "--format", "json").json
    (case,) = [case for case in report["items"] if case["case"] == "duplicate delivery"]
    assert (case["level"], case["passed"], case["statuses"]) == ("info", None, [200, 409])
    assert "deduplicated" in case["explanation"]


# Strictly, the 200s to malformed JSON and to an unknown event fail too, with the timestamps.
@pytest.mark.parametrize(("strict", "failures"), [([], 5), (["--strict"], 9)])
def test_junit_has_a_case_per_check_and_a_failure_per_failed_case(check, tmp_path, strict, failures):
    junit = tmp_path / "check.xml"
    with serve() as server:
        check(server.endpoint(), "--junit", junit, *strict, code=1)
    suite = ElementTree.parse(junit).getroot()
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        f"invwh check {server.endpoint()} (inventory-v1)",
        "14",
        str(failures),
    )
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ALL_CASES
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert failed == (REJECTS + SURVIVES + TIMESTAMPS if strict else REJECTS)
    (forged,) = [case for case in cases if case.get("name") == "rejects another secret"]
    assert "answered 200" in forged.find("failure").get("message")
    # What was sent and what came back, for every case.
    assert "> POST " + server.endpoint() in forged.find("system-out").text
    assert "< 200 OK" in forged.find("system-out").text
    # A warning is never a plain pass: it is skipped, with why.
    warned = {case.get("name"): case.find("skipped") for case in cases}
    for name in TIMESTAMPS:
        assert (warned[name] is not None) is not strict, name
        if not strict:
            assert warned[name].get("message").startswith("warning: answered 200")


def test_a_scheme_without_timestamp_or_method_has_no_such_cases(check):
    scheme = get_scheme("hmac-sha256-hex")
    config = ReceiverConfig(scheme=scheme, secrets=[SECRET], port=0)
    with Receiver(config) as receiver:
        report = check(receiver.url, "--scheme", "hmac-sha256-hex", "--format", "json").json
    names = [case["case"] for case in report["items"]]
    assert names == [name for name in ALL_CASES if name not in [*TIMESTAMPS, REJECTS[-1]]]
    assert (report["ok"], outcome_names(report, "failed"), outcome_names(report, "warning")) == (True, [], [])


def test_an_unreachable_receiver_exits_3_with_one_line(check):
    url = f"http://127.0.0.1:{free_port()}/webhooks"
    result = check(url, code=3)
    (line,) = result.stderr.splitlines()
    assert line == f"invwh: error: could not deliver to {url}: connection refused (is the server running?)"
    assert "1 case: 1 not delivered" in result.stdout


def test_needs_a_secret(invwh):
    with serve() as server:
        result = invwh("check", "--url", server.endpoint(), code=2)
    assert server.received == []
    assert "no secret given" in result.stderr
