"""The pytest plugin, used the way its users use it: inner pytest runs (``pytester``) of test files
that ask for ``webhook_signer`` and ``webhook_receiver``, found through the ``pytest11`` entry point.

The receivers under test verify the way real apps do: the raw body bytes, HMAC-SHA512 computed by
hand, ``hmac.compare_digest``. Each scenario includes a receiver or a sender with a real bug, to show
the fixtures catch it.
"""

from __future__ import annotations

import textwrap

import pytest

# The inner pytest runs are in this process, and pytester forgets the modules
# they import: requests loaded there and loaded again later by the rest of the
# suite would be two copies whose types do not match ("You can only merge into
# CookieJar"). Loaded here first, it is one module for the whole session.
import requests  # noqa: F401
from conftest import HYGIENE
from hygiene import register_secret

from inventory_cli.pytest_plugin import DEFAULT_TEST_SECRET

pytest_plugins = ["pytester"]

INI_SECRET = "ini-configured-webhook-secret"
ENV_SECRET = "env-configured-webhook-secret"
register_secret(DEFAULT_TEST_SECRET, INI_SECRET, ENV_SECRET)

#: How an app verifies an inventory-v1 delivery, written from the README's scheme table, not from invwh.
VERIFY_BY_HAND = """
import base64, hashlib, hmac, time

def signature_ok(secret, method, headers, body, tolerance=300):
    timestamp = headers.get("X-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    message = method.encode() + b"|" + timestamp.encode() + b"|" + body
    expected = "v1=" + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha512).digest()).decode()
    return hmac.compare_digest(headers.get("X-Webhook-Signature", "").encode(), expected.encode())
"""

RECEIVER_TESTS = """
import json, time
import pytest

TYPES = ["stock.increase", "stock.decrease", "stock.depleted"]

@pytest.mark.parametrize("event_type", TYPES)
def test_a_signed_event_is_accepted(client, webhook_signer, event_type):
    body = webhook_signer.event(event_type)
    response = client.post("/webhooks", BODY=body, headers=webhook_signer.sign(body))
    assert response.status_code == 200
    assert response.JSON["received"] == json.loads(body)["eventId"]

def test_overrides_reach_the_app(client, webhook_signer):
    body = webhook_signer.event("stock.decrease", sku="GASKET-RUB-12", **{"location.warehouseId": "WH-T"})
    response = client.post("/webhooks", BODY=body, headers=webhook_signer.sign(body))
    assert response.JSON["location"] == "WH-T"

def test_a_tampered_body_is_refused(client, webhook_signer):
    body = webhook_signer.event("stock.decrease", sku="GASKET-RUB-12")
    headers = webhook_signer.sign(body)
    tampered = body.replace(b"GASKET-RUB-12", b"GASKET-RUB-13")
    assert client.post("/webhooks", BODY=tampered, headers=headers).status_code == 401

def test_another_secret_is_refused(client, webhook_signer):
    body = webhook_signer.event("stock.increase")
    headers = webhook_signer.sign(body, secret="not-" + webhook_signer.secret)
    assert client.post("/webhooks", BODY=body, headers=headers).status_code == 401

def test_a_stale_delivery_is_refused(client, webhook_signer):
    body = webhook_signer.event("stock.increase")
    headers = webhook_signer.sign(body, timestamp=int(time.time()) - 3600)
    assert client.post("/webhooks", BODY=body, headers=headers).status_code == 401

def test_a_signature_for_another_method_is_refused(client, webhook_signer):
    body = webhook_signer.event("stock.increase")
    headers = webhook_signer.sign(body, method="PUT")
    assert client.post("/webhooks", BODY=body, headers=headers).status_code == 401
"""

FLASK_APP = (
    VERIFY_BY_HAND
    + """
import json
import pytest
from flask import Flask, request

def create_app(secret, reserialize=False):
    app = Flask(__name__)

    @app.post("/webhooks")
    def webhooks():
        body = request.get_data()  # the raw bytes, before any parsing
        if reserialize:  # the classic bug: the HMAC over JSON parsed and written again
            body = json.dumps(request.get_json()).encode()
        if not signature_ok(secret, request.method, request.headers, body):
            return {"error": "bad signature"}, 401
        event = json.loads(body)
        return {"received": event["eventId"], "location": event["location"]["warehouseId"]}
    return app

@pytest.fixture
def client(webhook_signer):
    return create_app(webhook_signer.secret, reserialize=REserialize).test_client()
"""
)

FASTAPI_APP = (
    VERIFY_BY_HAND
    + """
import json
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

def create_app(secret):
    app = FastAPI()

    @app.post("/webhooks")
    async def webhooks(request: Request):
        body = await request.body()  # the raw bytes, before any parsing
        if not signature_ok(secret, request.method, request.headers, body):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event = json.loads(body)
        return {"received": event["eventId"], "location": event["location"]["warehouseId"]}
    return app

@pytest.fixture
def client(webhook_signer):
    with TestClient(create_app(webhook_signer.secret)) as client:
        yield client
"""
)

SENDER = '''
import base64, hashlib, hmac, json, time
import requests

def send_event(url, secret, body, *, as_json=False):
    """The sender under test: signs inventory-v1 by hand and POSTs with requests."""
    timestamp = str(int(time.time()))
    message = b"POST|" + timestamp.encode() + b"|" + body
    signature = "v1=" + base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha512).digest()).decode()
    headers = {"X-Timestamp": timestamp, "X-Webhook-Signature": signature}
    if as_json:  # the bug: requests re-serializes the event, so other bytes go out than were signed
        return requests.post(url, json=json.loads(body), headers=headers, timeout=5)
    headers["Content-Type"] = "application/json"
    return requests.post(url, data=body, headers=headers, timeout=5)
'''

SENDER_TESTS = (
    SENDER
    + """
import pytest

def test_the_receiver_accepts_what_the_sender_signs(webhook_receiver, webhook_signer):
    body = webhook_signer.event("stock.depleted")
    response = send_event(webhook_receiver.url, webhook_receiver.secret, body)
    assert response.status_code == 200
    (delivery,) = webhook_receiver.wait_for(1)
    assert (delivery.status, delivery.valid, delivery.reason) == (200, True, "ok")
    assert delivery.event_type == "stock.depleted"
    assert delivery.body == body
    assert delivery.headers["X-Webhook-Signature"].startswith("v1=")
    assert response.json()["valid"] is True

def test_a_sender_that_reserializes_is_refused(webhook_receiver, webhook_signer):
    body = webhook_signer.event("stock.increase")
    assert send_event(webhook_receiver.url, webhook_receiver.secret, body, as_json=True).status_code == 401
    (delivery,) = webhook_receiver.deliveries
    assert (delivery.valid, delivery.reason, delivery.status) == (False, "signature_mismatch", 401)
    assert delivery.body != body

def test_another_secret_is_refused(webhook_receiver, webhook_signer):
    send_event(webhook_receiver.url, "not-" + webhook_receiver.secret, webhook_signer.event("stock.increase"))
    assert [d.reason for d in webhook_receiver.wait_for(1)] == ["signature_mismatch"]

def test_respond_with_forces_the_answer_and_still_verifies(webhook_receiver, webhook_signer):
    webhook_receiver.respond_with(503)
    body = webhook_signer.event("stock.increase")
    assert send_event(webhook_receiver.url, webhook_receiver.secret, body).status_code == 503
    webhook_receiver.respond_with(None)
    assert send_event(webhook_receiver.url, webhook_receiver.secret, body).status_code == 200
    first, second = webhook_receiver.deliveries
    assert (first.status, first.valid, second.status, second.valid) == (503, True, 200, True)
    with pytest.raises(Exception, match="the forced status must be between 200 and 599, got 99"):
        webhook_receiver.respond_with(99)

URLS = []

def test_one_receiver_per_test(webhook_receiver):
    URLS.append(webhook_receiver.url)
    assert webhook_receiver.deliveries == []

def test_and_it_is_stopped_after_the_test(webhook_receiver):
    assert URLS and webhook_receiver.url != URLS[0]
    with pytest.raises(requests.ConnectionError):
        requests.post(URLS[0], data=b"{}", timeout=2)
"""
)


def flask_tests(reserialize: bool, tests: str = RECEIVER_TESTS) -> str:
    source = FLASK_APP.replace("REserialize", str(reserialize)) + tests
    return source.replace("BODY=", "data=").replace(".JSON", ".get_json()")


def fastapi_tests() -> str:
    return (FASTAPI_APP + RECEIVER_TESTS).replace("BODY=", "content=").replace(".JSON", ".json()")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner pytest run, its output searched for secrets like every other output of the suite."""
    # Hypothesis's plugin re-imports hypothesis in every inner run (a second each), for nothing here.
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)
    HYGIENE.capture(f"pytester run of {pytester.path.name}", result.stdout.str(), result.stderr.str())
    return result


def test_a_flask_receiver_tested_with_its_test_client(pytester):
    pytester.makepyfile(test_flask_receiver=flask_tests(reserialize=False))
    run(pytester).assert_outcomes(passed=8)


def test_a_flask_receiver_that_reserializes_json_fails_the_test(pytester):
    only_acceptance = RECEIVER_TESTS.split("def test_overrides_reach_the_app")[0]
    pytester.makepyfile(test_flask_receiver=flask_tests(reserialize=True, tests=only_acceptance))
    result = run(pytester)
    # Indented JSON with non-ASCII text (webhook_signer.event's bytes) is not what json.dumps writes.
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*assert 401 == 200*"])


def test_a_fastapi_receiver_tested_with_its_test_client(pytester):
    pytester.makepyfile(test_fastapi_receiver=fastapi_tests())
    run(pytester).assert_outcomes(passed=8)


def test_a_requests_sender_tested_against_the_receiver(pytester):
    pytester.makepyfile(test_sender=SENDER_TESTS)
    run(pytester, "-p", "no:randomly").assert_outcomes(passed=6)


def test_wait_for_fails_the_test_naming_what_arrived(pytester):
    pytester.makepyfile(
        test_sender=SENDER
        + """
def test_two_deliveries_expected(webhook_receiver, webhook_signer):
    send_event(webhook_receiver.url, webhook_receiver.secret, webhook_signer.event("stock.increase"))
    webhook_receiver.wait_for(2, timeout=0.3)
"""
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: webhook_receiver: 1 of 2 deliveries arrived within 0.3 s at http://127.0.0.1:*",
            "*200 POST /webhooks stock.increase ok*",
        ]
    )


def test_the_fixtures_use_the_fixed_test_secret_by_default_and_never_show_it(pytester):
    pytester.makepyfile(
        """
import json
from inventory_cli.pytest_plugin import DEFAULT_TEST_SECRET

def test_secret(webhook_signer, webhook_receiver):
    assert webhook_signer.secret == webhook_receiver.secret == DEFAULT_TEST_SECRET
    assert webhook_receiver.scheme == webhook_signer.scheme == "inventory-v1"
    assert json.loads(json.dumps({"secret": webhook_signer.secret})) == {"secret": DEFAULT_TEST_SECRET}
    assert DEFAULT_TEST_SECRET not in repr(webhook_signer) + repr(webhook_receiver)

def test_a_failing_assertion_on_the_secret(webhook_signer):
    assert webhook_signer.secret.upper() == webhook_signer.secret
"""
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SecretText(****)*"])
    assert DEFAULT_TEST_SECRET not in result.stdout.str()


def test_the_ini_option_sets_the_secret_and_the_environment_wins(pytester, monkeypatch):
    # pyproject.toml, as a project keeps its pytest settings (the expected secret comes from the
    # environment: a secret in the test's source would show in its traceback if it failed).
    pytester.makepyprojecttoml(f'[tool.pytest.ini_options]\ninvwh_secret = "{INI_SECRET}"\n')
    pytester.makepyfile(
        VERIFY_BY_HAND
        + """
import os

def test_secret(webhook_signer, webhook_receiver):
    expected = os.environ["EXPECTED_SECRET"]
    assert webhook_signer.secret == webhook_receiver.secret == expected
    body = webhook_signer.event("stock.increase")
    assert signature_ok(expected, "POST", webhook_signer.sign(body), body)
"""
    )
    monkeypatch.setenv("EXPECTED_SECRET", INI_SECRET)
    run(pytester).assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECTED_SECRET", DEFAULT_TEST_SECRET)
    run(pytester, "-o", "invwh_secret=").assert_outcomes(passed=1)
    monkeypatch.setenv("INVWH_SECRET", ENV_SECRET)
    monkeypatch.setenv("EXPECTED_SECRET", ENV_SECRET)
    run(pytester).assert_outcomes(passed=1)


def test_the_ini_option_sets_the_scheme_of_both_fixtures(pytester):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ninvwh_scheme = "github"\n')
    pytester.makepyfile(
        """
import hashlib, hmac, requests

def test_github(webhook_signer, webhook_receiver):
    body = webhook_signer.event("stock.increase")
    headers = webhook_signer.sign(body)
    digest = hmac.new(webhook_signer.secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers == {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + digest}
    assert requests.post(webhook_receiver.url, data=body, headers=headers, timeout=5).status_code == 200
    assert webhook_receiver.deliveries[0].valid
"""
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_bad_setting_fails_at_the_fixture_with_one_clear_line(pytester):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ninvwh_scheme = "inventory-v9"\n')
    pytester.makepyfile("def test_it(webhook_signer):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*UnknownSchemeError: unknown scheme 'inventory-v9'; known schemes: *"])


def test_no_invwh_turns_the_plugin_off(pytester):
    pytester.makepyfile(
        textwrap.dedent(
            """
            def test_signer(webhook_signer):
                pass

            def test_receiver(webhook_receiver):
                pass
            """
        )
    )
    run(pytester).assert_outcomes(passed=2)
    result = run(pytester, "-p", "no:invwh")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*fixture 'webhook_signer' not found*", "*fixture 'webhook_receiver' not found*"]
    )


def test_the_plugin_registers_under_its_entry_point_name(pytester):
    from inventory_cli import pytest_plugin

    assert pytester.parseconfigure().pluginmanager.get_plugin("invwh") is pytest_plugin
    run(pytester).stdout.fnmatch_lines(["plugins: *invwh-*"])


def test_wait_for_names_each_rejected_deliverys_likely_cause(pytester):
    pytester.makepyfile(
        test_sender="""
import requests

def test_a_sender_that_adds_a_newline_after_signing(webhook_receiver, webhook_signer):
    body = webhook_signer.event("stock.increase")
    headers = webhook_signer.sign(body)
    requests.post(webhook_receiver.url, data=body + b"\\n", headers=headers, timeout=5)
    webhook_receiver.wait_for(2, timeout=0.3)
"""
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: webhook_receiver: 1 of 2 deliveries arrived within 0.3 s at http://127.0.0.1:*",
            "*401 POST /webhooks stock.increase signature_mismatch: X-Webhook-Signature does not match*",
            "*    likely cause: the signature was made over the body without its trailing newline",
        ]
    )


#: Quotes, a backslash and text beyond ASCII: its repr, JSON and bytes forms all differ from it.
ODD_SECRET = "pl\u00e4in 'r\u00e9port' \\ secret-0042"
register_secret(ODD_SECRET)

PRINTS_THE_SECRET = """
import base64, json, logging, sys

import pytest

FORMS = {
    "sliced": lambda s: s[:],
    "stripped": lambda s: s.strip(),
    "encoded": lambda s: s.encode(),
    "f-string": lambda s: f"the key is {s}!",
    "repr": lambda s: repr(s),
    "str": lambda s: str(s),
    "upper": lambda s: s.upper(),
    "concatenated": lambda s: "key=" + s,
    "joined": lambda s: "".join([s]),
    "base64": lambda s: base64.b64encode(s.encode()),
    "hex": lambda s: s.encode().hex(),
    "json": lambda s: json.dumps({"secret": s}),
}

@pytest.mark.parametrize("form", sorted(FORMS))
def test_prints_the_secret(webhook_signer, form):
    shown = FORMS[form](webhook_signer.secret)
    print(shown)
    sys.stderr.write(f"{shown}\\n")
    logging.getLogger("app").warning("configured with %s", shown)
    assert shown == "something else"

def test_passes_but_prints(webhook_receiver):
    print("the receiver's secret:", str(webhook_receiver.secret))
"""


def test_the_report_hides_the_secret_in_every_form_a_test_prints_it(pytester, monkeypatch):
    import base64
    import json

    monkeypatch.setenv("INVWH_SECRET", ODD_SECRET)
    pytester.makepyfile(test_prints=PRINTS_THE_SECRET)
    # -l shows each frame's locals; -rA prints the captured output of passing tests too.
    result = run(pytester, "-l", "-rA", "-p", "no:randomly", "--junitxml=report.xml")
    result.assert_outcomes(failed=12, passed=1)
    junit = (pytester.path / "report.xml").read_text(encoding="utf-8")
    HYGIENE.capture("the JUnit report of a pytester run", junit, "")
    report = result.stdout.str() + result.stderr.str() + junit
    key = ODD_SECRET.encode()
    forms = {
        "text": ODD_SECRET,
        "upper": ODD_SECRET.upper(),
        "repr": repr(ODD_SECRET)[1:-1],
        "bytes": repr(key)[2:-1],
        "base64": base64.b64encode(key).decode(),
        "hex": key.hex(),
        "json": json.dumps(ODD_SECRET)[1:-1],
    }
    assert {name: form for name, form in forms.items() if form.lower() in report.lower()} == {}
    # pytest shortens long values to their ends around "...": no start or end of a form shows either.
    pieces = {
        piece for form in forms.values() for n in range(6, len(form)) for piece in (form[:n], form[-n:])
    }
    assert sorted(piece for piece in pieces if piece.lower() in report.lower()) == []
    assert report.count("****") >= 12 * 3  # each failing test's value, diff, locals and captured output
    # The report keeps its layout: the one-line summary still gives the failed assertion.
    result.stdout.fnmatch_lines(["*Captured stdout call*", 'FAILED *[[]sliced[]] - assert "****...****"*'])
