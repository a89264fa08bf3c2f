"""`invwh check` against real receivers that are wrong in the ways real ones are.

Each receiver is a real HTTP server on port 0 (``servers.serve``) that
verifies signatures with the core or with a reference library, broken on
purpose: it accepts anything, re-serializes the JSON before the HMAC, crashes
on a malformed signature, sits on another path, has another secret, answers
204, or refuses one SKU. Each test asserts the exit code and what the cases
say, from ``--format json`` or from ``run_checks`` itself.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from xml.etree import ElementTree

import pytest
import standardwebhooks
from servers import Received, Reply, read_message, serve
from test_check import ACCEPTS, RAW_BYTES, REJECTS, SECRET, SECRET_ENV, SURVIVES, TIMESTAMPS
from test_schemes import SW_SECRET

from inventory_cli.events.payloads import Payload
from inventory_cli.events.validation import check_event
from inventory_cli.signing.schemes import INVENTORY_V1, STANDARD_WEBHOOKS, Scheme
from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.check import run_checks
from inventory_cli.workflows.check_results import CaseResult, CheckRun
from inventory_cli.workflows.delivery import Deliverer, DeliveryOptions
from inventory_cli.workflows.report import FAILED, NOT_PROVEN
from inventory_cli.workflows.verdict import judge

RECEIVERS_OWN_SECRET = "the-receivers-own-secret"  # registered in conftest
FIXED_TIME = 1_796_000_000.0  # 2026-11-30: a clock that does not move, for byte-for-byte runs
BAD_SKU = "GASKET-RUB-12"


def case_list(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-case objects of a ``--format json`` report: the one place that knows its shape."""
    return report["items"]


def named(report: dict[str, Any], outcome: str) -> list[str]:
    """The names of the cases that came to ``outcome`` (failed, warning, not_proven, ...)."""
    return [case["name"] for case in case_list(report) if case["outcome"] == outcome]


def cases_by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {case["case"]: case for case in case_list(report)}


def undated(body: bytes) -> bytes:
    """``body`` with its dates blanked (occurredAt, the time part of the id): all a seed does not fix."""
    body = re.sub(rb'"occurredAt": "[^"]*"', b'"occurredAt": ""', body)
    return re.sub(rb'"evt_[0-9A-Z]{10}', b'"evt_', body)


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["case"]: case["verdict"] for case in case_list(report)}


@pytest.fixture
def check(invwh):
    def run(url, *args, code=0, env=SECRET_ENV):
        # A wide log (text is laid out for 80 columns unless COLUMNS says): these tests read whole lines.
        env = {"COLUMNS": "300", **env}
        return invwh("check", "--url", url, "--timeout", "5", *args, code=code, env=env)

    return run


def run_core(url: str, scheme: Scheme = INVENTORY_V1, **kwargs: Any) -> CheckRun:
    options = DeliveryOptions(url=url, scheme=scheme, secret=SECRET, timeout=5)
    with Deliverer(options) as deliverer:
        return run_checks(deliverer, scheme, SECRET, **kwargs)


def failed_cases(run: CheckRun) -> list[CaseResult]:
    return [case for case in run.results if case.outcome == FAILED]


def passed(run: CheckRun) -> bool:
    """A clean run, read strictly: no case failed or went unproven, and the run went to its end."""
    unsure = [case for case in run.results if case.outcome in (FAILED, NOT_PROVEN)]
    return not unsure and run.stopped is None and not run.unreachable


def verifying(secret: Secret = SECRET, *, tolerance: int = 300, ok_status: int = 200, refuse_sku: str = ""):
    """A receiver that verifies as it should: 401 for a bad signature, 422 for a bad event."""

    def handler(request: Received) -> Reply:
        verdict = judge(INVENTORY_V1, [secret], request.body, request.headers, tolerance=tolerance)
        if not verdict.signature.ok:
            return Reply(401, verdict.reason.encode())
        if not verdict.valid:
            return Reply(422, b"not an inventory event")
        if refuse_sku and json.loads(request.body).get("sku") == refuse_sku:
            return Reply(422, b'{"error": "unknown sku"}')
        return Reply(ok_status)

    return handler


# --- receivers broken in the ways real ones are --------------------------------------------


def test_a_receiver_that_accepts_anything_passes_nothing_it_should_reject(check):
    with serve() as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
    said = verdicts(report)
    assert [said[name] for name in [*ACCEPTS, RAW_BYTES]] == ["passed"] * 4
    assert [said[name] for name in REJECTS + SURVIVES + TIMESTAMPS] == ["failed"] * 9
    assert named(report, "warning") == SURVIVES + TIMESTAMPS
    cases = cases_by_name(report)
    assert cases["rejects another secret"]["explanation"].startswith("answered 200 OK: forged deliveries")


def reserializing(request: Received) -> Reply:
    """Verifies the HMAC over json.dumps of the parsed body: what a Flask app using request.json does."""
    try:
        document = json.loads(request.body)
    except ValueError:
        return Reply(400, b"bad json")
    again = json.dumps(document).encode()
    if not check_signature(INVENTORY_V1, [SECRET], again, request.headers, tolerance=300).ok:
        return Reply(401, b"bad signature")
    if not check_event(again).ok:
        return Reply(422, b"not an inventory event")
    return Reply(200)


def test_a_receiver_that_reserializes_is_told_so_not_blamed_on_the_secret(check):
    with serve(reserializing) as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
    cases = cases_by_name(report)
    said = verdicts(report)
    assert [said[name] for name in ACCEPTS] == ["failed"] * 3
    assert said[RAW_BYTES] == "failed"
    why = cases[RAW_BYTES]["explanation"]
    assert why.startswith(
        "answered 401 Unauthorized, then 200 OK: the receiver most likely computes the HMAC"
    )
    assert "re-serialized JSON instead of the raw request bytes" in why
    assert "request.get_data() in Flask" in why and "await request.body() in FastAPI" in why
    assert "re-serialized JSON" in cases["accepts stock.increase"]["explanation"]
    assert "secret or the scheme" not in json.dumps(report)
    assert "re-serialized JSON" in report["diagnosis"]
    # The forged cases are built on the bytes it does accept, so their rejections still prove something.
    assert [said[name] for name in REJECTS] == ["passed"] * 5
    assert [said[name] for name in TIMESTAMPS] == ["passed"] * 2
    forged = server.received[5]  # after 3 acceptance requests and the 2 of the formats case
    assert forged.body == json.dumps(json.loads(forged.body)).encode()


def test_a_receiver_that_crashes_on_a_malformed_signature_fails_that_case(check):
    """It decodes each signature's base64 unguarded, as the standardwebhooks library did up to 1.1
    (1.3 refuses a malformed one with its own error), then verifies with the library."""
    library = standardwebhooks.Webhook(SW_SECRET)

    def handler(request: Received) -> Reply:
        # Catches only the library's own error, as its README shows: anything else is a 500.
        try:
            sent = next((v for k, v in request.headers.items() if k.lower() == "webhook-signature"), "")
            for entry in sent.split():
                base64.b64decode(entry.partition(",")[2])  # binascii.Error for "not a signature!"
            library.verify(request.body, request.headers, json_parse=False)
        except standardwebhooks.WebhookVerificationError:
            return Reply(401, b"invalid signature")
        except Exception as error:  # what a web framework does with an unhandled error
            return Reply(500, type(error).__name__.encode())
        return Reply(200 if check_event(request.body).ok else 422)

    env = {"INVWH_SECRET": SW_SECRET}
    with serve(handler) as server:
        report = check(
            server.endpoint(), "--scheme", "standard-webhooks", "--format", "json", code=1, env=env
        ).json
    assert named(report, "failed") == ["rejects a malformed signature"]
    case = cases_by_name(report)["rejects a malformed signature"]
    assert case["statuses"] == [500]
    assert case["explanation"] == (
        "answered 500 Internal Server Error: a forged request must get a 4xx (401), not a crash"
    )
    assert case["deliveries"][0]["response"]["body_preview"] == "Error"  # binascii.Error
    assert verdicts(report)["rejects a changed message id"] == "passed"


@pytest.mark.parametrize(
    ("reply", "answered"),
    [
        (Reply(404, b"no such page"), "answered 404 Not Found"),
        (Reply(405, b"GET only"), "answered 405 Method Not Allowed"),
        (
            Reply(302, headers={"Location": "/login"}),
            "answered 302 Found (a redirect to {base}/login)",
        ),
    ],
    ids=["404", "405", "redirect"],
)
def test_a_url_that_is_not_the_webhook_endpoint_stops_the_run(check, reply, answered):
    def handler(request: Received) -> Reply:
        return verifying()(request) if request.path == "/webhooks" else reply

    with serve(handler) as server:
        url = server.endpoint("/hooks")
        report = check(url, "--format", "json", code=1).json
        text = check(url, code=1).stdout
    line = (
        f"{url} {answered.format(base=server.url)} to a validly signed event: is this the webhook endpoint?"
    )
    assert report["stopped"] == line
    assert report["ok"] is False
    # The first answer says it all: no rejection case is run or counted.
    assert [case["case"] for case in case_list(report)] == ["accepts stock.increase"]
    assert len(server.received) == 2  # one per run
    assert f"stopped: {line}" in text.splitlines()
    assert "1 case: 1 failed" in text


@contextlib.contextmanager
def not_http(answer: bytes) -> Iterator[str]:
    """A TCP server on port 0 that answers each request with ``answer``, which is not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(OSError):
                    read_message(connection)
                    connection.sendall(answer)

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/webhooks"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_an_answer_that_is_not_http_stops_the_run_as_a_wrong_endpoint(check):
    with not_http(b"SSH-2.0-OpenSSH_9.6\r\n") as url:
        report = check(url, "--format", "json", code=1).json
    assert report["stopped"] == (
        f"{url} answered with something that is not HTTP (the answer is not HTTP: it starts "
        "'SSH-2.0-OpenSSH_9.6') to a validly signed event: is this the webhook endpoint?"
    )
    assert [case["case"] for case in case_list(report)] == ["accepts stock.increase"]


def test_a_receiver_with_another_secret_proves_no_rejection(check):
    with serve(verifying(Secret(RECEIVERS_OWN_SECRET))) as server:
        report = check(server.endpoint(), "--format", "json", code=1).json
        text = check(server.endpoint(), code=1).stdout
    said = verdicts(report)
    assert [said[name] for name in ACCEPTS] == ["failed"] * 3
    cases = cases_by_name(report)
    assert cases["accepts stock.decrease"]["explanation"] == (
        "answered 401 Unauthorized: the secret or the scheme (inventory-v1) most likely differs "
        "from the receiver's"
    )
    # A receiver that refuses everything proves nothing: not one rejection counts as passed.
    unproven = [RAW_BYTES, *REJECTS, *SURVIVES, *TIMESTAMPS]
    assert [said[name] for name in unproven] == ["not proven"] * len(unproven)
    assert all(cases[name]["passed"] is None for name in unproven)
    assert named(report, "not_proven") == unproven
    assert named(report, "failed") == ACCEPTS
    assert "the secret or the scheme (inventory-v1) most likely differs" in report["diagnosis"]
    assert "14 cases: 3 failed, 10 not proven, 1 informational" in text
    assert RECEIVERS_OWN_SECRET not in text


def test_a_receiver_answering_204_passes_with_expect_204_only(check):
    with serve(verifying(ok_status=204)) as server:
        without = check(server.endpoint(), "--format", "json", code=1).json
        with_expect = check(server.endpoint(), "--expect", "204", "--format", "json").json
        text = check(server.endpoint(), code=1).stdout
    said = verdicts(without)
    assert named(without, "failed") == ACCEPTS
    accepts = cases_by_name(without)["accepts stock.increase"]
    assert accepts["explanation"] == "answered 204 No Content, not 200: if that means accepted, expect it too"
    assert accepts["accepted_instead"] == 204  # the fact; the flag is the command line's advice:
    assert "if 204 means accepted, say so with --expect 204" in text
    # A 2xx still shows the receiver takes valid events, so its rejections count.
    assert [said[name] for name in REJECTS] == ["passed"] * 5
    assert (with_expect["ok"], named(with_expect, "failed"), with_expect["expect"]) == (True, [], [204])
    assert cases_by_name(with_expect)["duplicate delivery"]["statuses"] == [204, 204]


def accepted_bodies(run: CheckRun) -> list[bytes]:
    return [case.deliveries[0].request_body for case in run.results if case.name in ACCEPTS]


def test_a_business_rule_fails_the_same_way_on_every_run_with_a_seed():
    with serve(verifying(refuse_sku=BAD_SKU)) as server:
        url = server.endpoint()
        # Find, by running, one seed whose events the receiver takes and one with the refused SKU.
        outcomes = {seed: run_core(url, seed=seed, clock=lambda: FIXED_TIME) for seed in range(12)}
        passing = [seed for seed, run in outcomes.items() if passed(run)]
        failing = [seed for seed, run in outcomes.items() if not passed(run)]
        assert passing and failing, outcomes
        for seed in (passing[0], failing[0]):
            again = [run_core(url, seed=seed, clock=lambda: FIXED_TIME) for _ in range(4)]
            assert {passed(run) for run in again} == {passed(outcomes[seed])}
            assert all(accepted_bodies(run) == accepted_bodies(outcomes[seed]) for run in again)
            assert all(
                [c.verdict for c in run.results] == [c.verdict for c in again[0].results] for run in again
            )
    refused = outcomes[failing[0]]
    assert [case.name for case in failed_cases(refused)] == [
        case.name for case in refused.results[:3] if BAD_SKU.encode() in case.deliveries[0].request_body
    ]
    # The phrase http.server sent: Python 3.13 renamed 422's (RFC 9110).
    answered = f"answered 422 {BaseHTTPRequestHandler.responses[422][0]}"
    assert all(case.explanation.startswith(answered) for case in failed_cases(refused))


def test_own_payloads_with_a_good_sku_pass_and_with_the_refused_one_fail(check, samples, tmp_path):
    good = samples / "stock-decrease.json"  # WIDGET-BLU-M
    bad = tmp_path / "gasket.json"
    bad.write_bytes(good.read_bytes().replace(b"WIDGET-BLU-M", BAD_SKU.encode()))
    with serve(verifying(refuse_sku=BAD_SKU)) as server:
        report = check(server.endpoint(), "--payload", good, "--format", "json").json
        sent = server.received[0].body
        refused = check(
            server.endpoint(), "--payload", good, "--payload", bad, "--format", "json", code=1
        ).json
    assert sent == good.read_bytes()  # byte for byte, as given
    assert report["ok"] is True
    assert [case["case"] for case in case_list(report)][:2] == [f"accepts {good}", RAW_BYTES]
    assert named(refused, "failed") == [f"accepts {bad}"]


def test_own_payload_is_the_base_of_the_forged_requests(check, samples):
    minimal = samples / "minimal-increase.json"  # no field to change: whitespace is appended
    with serve() as server:
        check(server.endpoint(), "--payload", minimal, "--format", "json", code=1)
    assert server.received[0].body == minimal.read_bytes()
    tampered = server.received[3]
    assert tampered.body == minimal.read_bytes() + b" "
    # Another secret, no signature, a malformed one, one for PUT: all on the payload's own bytes.
    assert [r.body for r in server.received[4:8]] == [minimal.read_bytes()] * 4


def test_an_invalid_payload_is_a_failed_check_and_nothing_is_sent(check, samples):
    invalid = sorted((samples / "invalid").glob("*.json"))[0]
    with serve() as server:
        # Exit 1, as for send and sign: an invalid payload to be sent is a failed check.
        result = check(server.endpoint(), "--payload", invalid, code=1)
    assert server.received == []
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"invwh: error: {invalid} is not a valid inventory event: ")


# --- what a failing run gives to repeat it, and to see what happened ------------------------


def test_a_seed_gives_the_same_bodies_and_another_seed_others(check):
    def bodies(*args):
        with serve(verifying()) as server:
            report = check(server.endpoint(), *args, "--format", "json").json
        return report, [r.body for r in server.received]

    first, first_bodies = bodies("--seed", "42")
    _, again = bodies("--seed", "42")
    _, other = bodies("--seed", "43")
    unseeded, unseeded_bodies = bodies()
    _, repeated = bodies("--seed", str(unseeded["seed"]))
    assert first["seed"] == 42
    assert list(map(undated, again)) == list(map(undated, first_bodies))
    assert other[:3] != first_bodies[:3]
    assert list(map(undated, repeated)) == list(map(undated, unseeded_bodies))


def test_json_shows_each_request_and_answer(check):
    with serve(verifying()) as server:
        report = check(server.endpoint(), "--format", "json", "--seed", "7").json
    received = server.received
    deliveries = [d for case in case_list(report) for d in case["deliveries"]]
    assert len(deliveries) == len(received)
    for delivery, arrived in zip(deliveries, received, strict=True):
        request = delivery["request"]
        assert (request["method"], request["url"]) == ("POST", server.endpoint())
        assert request["body_bytes"] == len(arrived.body)
        assert request["body_preview"] == arrived.body[:200].decode("utf-8", "replace")
        sent_headers = {k.lower(): v for k, v in request["headers"].items()}
        # Every header as it arrived, Host included: the pool writes each of them itself.
        assert sent_headers == {k.lower(): v for k, v in arrived.headers.items()}
    tampered = cases_by_name(report)["rejects a tampered body"]["deliveries"][0]
    assert tampered["response"] == {
        "status": 401,
        "reason": "Unauthorized",
        "body_preview": "signature_mismatch",
        "error": None,
        "failure": None,
    }
    assert (
        len(cases_by_name(report)["accepts stock.increase"]["deliveries"][0]["request"]["body_preview"])
        <= 200
    )


def test_verbose_text_and_junit_show_each_request_and_answer(check, tmp_path):
    junit = tmp_path / "check.xml"
    with serve(verifying(tolerance=0)) as server:
        text = check(server.endpoint(), "-v", "--strict", "--junit", junit, code=1).stdout
    url = server.endpoint()
    lines = text.splitlines()
    (start,) = [n for n, line in enumerate(lines) if line.startswith("✓ rejects a missing signature ")]
    block = lines[start + 3 : start + 14]  # after the explanation and what was sent
    assert block[0] == f"    > POST {url}"
    assert "    > Content-Type: application/json" in block
    assert not any("X-Webhook-Signature" in line for line in block[: block.index("    < 401 Unauthorized")])
    assert "    < missing_signature" in block
    suite = ElementTree.parse(junit).getroot()
    outputs = {case.get("name"): case.findtext("system-out") for case in suite.findall("testcase")}
    assert f"> POST {url}" in outputs["rejects a stale timestamp"]  # a failed case has it too
    assert "< 200 OK" in outputs["rejects a stale timestamp"]
    assert "< 401 Unauthorized" in outputs["rejects another secret"]


def test_a_forged_request_answered_404_or_429_is_not_a_rejection():
    def handler(request: Received) -> Reply:
        verdict = judge(INVENTORY_V1, [SECRET], request.body, request.headers)
        if verdict.valid:
            return Reply(200)
        if verdict.reason == "missing_signature":
            return Reply(404, b"hidden")  # hides the endpoint from unsigned requests
        return Reply(429 if verdict.reason == "malformed_signature" else 401)

    with serve(handler) as server:
        run = run_core(server.endpoint())
    results = {case.name: case for case in run.results}
    assert run.stopped is None
    assert [case.name for case in failed_cases(run)] == [
        "rejects a missing signature",
        "rejects a malformed signature",
    ]
    assert results["rejects a missing signature"].explanation == (
        "answered 404 Not Found: that says there is no such path, not that the request was refused; "
        "a forged request must get a 4xx such as 401"
    )
    assert "rate limiting" in results["rejects a malformed signature"].explanation
    assert results["rejects another secret"].passed is True


def test_the_core_runs_one_delivery_per_request_and_keeps_the_payloads_bytes():
    body = b'{"inventoryStockIncreaseEventType":"stock.increase","sku":"WIDGET-BLU-M","quantityChange":4}'
    with serve(verifying()) as server:
        run = run_core(server.endpoint(), payloads=[Payload("compact.json", body)], seed=1)
    assert passed(run) and run.seed == 1
    assert server.received[0].body == body
    tampered = next(case for case in run.results if case.name == "rejects a tampered body")
    assert tampered.sent == "a body changed after signing (quantityChange + 1000)"
    assert tampered.deliveries[0].request_body == body.replace(
        b'"quantityChange":4', b'"quantityChange":1004'
    )
    assert sum(len(case.deliveries) for case in run.results) == len(server.received)


def test_a_standard_webhooks_receiver_from_the_library_passes(check):
    library = standardwebhooks.Webhook(SW_SECRET)

    def handler(request: Received) -> Reply:
        try:
            library.verify(request.body, request.headers, json_parse=False)
        except Exception:  # this one catches everything, as it should
            return Reply(401, b"invalid signature")
        return Reply(200 if check_event(request.body).ok else 422)

    with serve(handler) as server:
        report = check(
            server.endpoint(), "--scheme", STANDARD_WEBHOOKS.name, "--strict", "--format", "json",
            env={"INVWH_SECRET": SW_SECRET},
        ).json  # fmt: skip
    assert (report["ok"], named(report, "failed"), named(report, "warning"), named(report, "not_proven")) == (
        True,
        [],
        [],
        [],
    )
