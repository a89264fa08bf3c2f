"""`invwh send` against real local HTTP servers on port 0."""

from __future__ import annotations

import socket
import time
from xml.etree import ElementTree

import pytest
from conftest import SAMPLES, TEST_SECRET, VALID_SAMPLES
from servers import Reply, serve

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.verdict import judge

SECRET_ENV = {"INVWH_SECRET": TEST_SECRET}


@pytest.fixture
def send(invwh):
    def run(*args, code=0):
        return invwh("send", *args, code=code, env=SECRET_ENV)

    return run


def test_delivers_exact_bytes_signed_at_send_time(send, tmp_path):
    payload = tmp_path / "event.json"
    body = '{"inventoryStockIncreaseEventType": "stock.increase", "note": "café ☕"}\n'.encode()
    payload.write_bytes(body)
    with serve() as server:
        result = send(payload, "--url", server.endpoint(), "--format", "json")
    (request,) = server.received
    assert request.method == "POST"
    assert request.path == "/webhooks"
    assert request.body == body
    assert request.headers["Content-Type"] == "application/json"
    check = check_signature(INVENTORY_V1, [Secret(TEST_SECRET)], request.body, request.headers)
    assert check.ok, check.message
    assert abs(check.timestamp - time.time()) < 60
    report = result.json
    assert report["ok"] is True
    assert report["items"][0]["status"] == 200
    assert report["items"][0]["meaning"] == "processed"


def test_text_report_names_status_and_meaning(send):
    with serve() as server:
        result = send(SAMPLES / "stock-increase.json", "--url", server.endpoint())
    assert "stock.increase" in result.stdout
    assert "200" in result.stdout
    assert "processed" in result.stdout
    assert "1 delivery: 1 as expected" in result.stdout


def test_422_is_a_failed_check_and_shows_the_response(send):
    with serve(lambda r: Reply(422, b'{"error": "unknown sku"}')) as server:
        result = send(SAMPLES / "stock-decrease.json", "--url", server.endpoint(), code=1)
    assert "processing failed" in result.stdout
    assert "unknown sku" in result.stdout


def test_expect_accepts_other_statuses(send):
    with serve(lambda r: Reply(422)) as server:
        send(
            SAMPLES / "invalid" / "array.json", "--no-validate", "--expect", "422", "--url", server.endpoint()
        )


def test_receiver_with_another_secret_answers_401(send):
    def strict_receiver(request):
        verdict = judge(INVENTORY_V1, [Secret("the-receivers-own-secret")], request.body, request.headers)
        return Reply(200 if verdict.valid else 401, verdict.reason.encode())

    with serve(strict_receiver) as server:
        result = send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--format", "json", code=1)
    delivery = result.json["items"][0]
    assert delivery["status"] == 401
    assert delivery["meaning"] == "rejected"
    assert delivery["response_preview"] == "signature_mismatch"


def test_500_without_retries_is_tried_once(send):
    with serve(lambda r: Reply(500)) as server:
        result = send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--format", "json", code=1)
    assert len(server.received) == 1
    assert result.json["items"][0]["attempts"] == 1


def test_500_then_200_with_retries_succeeds_with_a_fresh_signature(send):
    answers = iter([Reply(500), Reply(503, headers={"Retry-After": "0"}), Reply(200)])
    with serve(lambda r: next(answers)) as server:
        result = send(
            SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--retries", "3", "--format", "json"
        )
    assert len(server.received) == 3
    assert result.json["items"][0]["attempts"] == 3
    for request in server.received:
        assert check_signature(INVENTORY_V1, [Secret(TEST_SECRET)], request.body, request.headers).ok


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_4xx_is_never_retried(send, status):
    with serve(lambda r: Reply(status)) as server:
        send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--retries", "3", code=1)
    assert len(server.received) == 1


def test_redirect_is_reported_not_followed(send):
    with serve(
        lambda r: Reply(307, headers={"Location": "/moved"}) if r.path == "/webhooks" else Reply()
    ) as server:
        result = send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--format", "json", code=1)
    assert [r.path for r in server.received] == ["/webhooks"]
    delivery = result.json["items"][0]
    assert delivery["status"] == 307
    assert delivery["location"] == server.url + "/moved"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_follow_redirects_keeps_post_and_body(send, status):
    with serve(
        lambda r: Reply(status, headers={"Location": "/moved"}) if r.path == "/webhooks" else Reply()
    ) as server:
        send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--follow-redirects")
    first, second = server.received
    assert (second.method, second.path) == ("POST", "/moved")
    assert second.body == first.body == (SAMPLES / "stock-increase.json").read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_exits_3_naming_url_and_cause(send):
    url = f"http://127.0.0.1:{free_port()}/webhooks"
    result = send(SAMPLES / "stock-increase.json", "--url", url, code=3)
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("invwh: error:")]
    assert url in line
    assert "connection refused" in line


def test_timeout_exits_3(send):
    def slow(request):
        time.sleep(2)
        return Reply()

    with serve(slow) as server:
        result = send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "--timeout", "0.3", code=3)
    assert "timeout" in result.stderr
    assert server.endpoint() in result.stderr


def test_directory_sends_every_json_file_sorted(send):
    with serve() as server:
        result = send(SAMPLES, "--url", server.endpoint(), "--format", "json")
    assert [r.body for r in server.received] == [p.read_bytes() for p in VALID_SAMPLES]
    assert [d["payload"] for d in result.json["items"]] == [str(p) for p in VALID_SAMPLES]


def test_invalid_payload_is_refused_before_anything_is_sent(send):
    with serve() as server:
        result = send(
            SAMPLES / "stock-increase.json",
            SAMPLES / "invalid" / "typo-in-type.json",
            "--url",
            server.endpoint(),
            code=1,
        )
    assert server.received == []
    assert "typo-in-type.json" in result.stderr
    assert "nothing was sent" in result.stderr


def test_extra_headers_are_sent(send):
    with serve() as server:
        send(SAMPLES / "stock-increase.json", "--url", server.endpoint(), "-H", "X-Tenant: acme")
    assert server.received[0].headers["X-Tenant"] == "acme"


def test_junit_report(send, tmp_path):
    report = tmp_path / "report.xml"
    refused = (SAMPLES / "stock-decrease.json").read_bytes()

    def handler(request):
        return Reply(422, b"nope") if request.body == refused else Reply()

    with serve(handler) as server:
        send(SAMPLES, "--url", server.endpoint(), "--junit", report, code=1)
    suite = ElementTree.parse(report).getroot()
    assert suite.tag == "testsuite"
    assert suite.get("tests") == str(len(VALID_SAMPLES))
    assert suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [str(p) for p in VALID_SAMPLES]
    (failed,) = [c for c in cases if c.find("failure") is not None]
    assert failed.get("name").endswith("stock-decrease.json")
    assert "422" in failed.find("failure").get("message")


def test_junit_marks_undelivered_as_errors(send, tmp_path):
    report = tmp_path / "report.xml"
    send(
        SAMPLES / "stock-increase.json",
        "--url",
        f"http://127.0.0.1:{free_port()}/",
        "--junit",
        report,
        code=3,
    )
    suite = ElementTree.parse(report).getroot()
    assert suite.get("errors") == "1"
    assert "connection refused" in suite.find("testcase/error").get("message")


@pytest.mark.parametrize("url", ["localhost:3000/webhooks", "ftp://example.test/", "http://"])
def test_bad_url_is_a_usage_error(send, url):
    result = send(SAMPLES / "stock-increase.json", "--url", url, code=2)
    assert "invalid URL" in result.stderr


def test_secret_never_appears_in_output(send):
    with serve(lambda r: Reply(500, b"boom")) as server:
        result = send(SAMPLES, "--url", server.endpoint(), "--format", "json", code=1)
    assert TEST_SECRET not in result.stdout + result.stderr
