"""The notification URL a scheme may sign (square's ``{url}``): who signs for which URL, who checks
against which, what a missing or unneeded URL is, and the likely cause when the URLs differ.

Senders sign for the URL they deliver to; ``listen`` checks against its own URL unless told
another (``--notification-url``); ``verify`` needs it. Real receivers on port 0 throughout.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import requests
from conftest import SAMPLES, TEST_SECRET
from servers import Reply, serve
from test_listen import listen_subprocess

from inventory_cli.cli.output.hints import hint_words
from inventory_cli.errors import InputError
from inventory_cli.signing.schemes import GITHUB, SHOPIFY, SQUARE, Scheme
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.receive import ReceivedDelivery, Receiver, ReceiverConfig
from inventory_cli.workflows.verdict import judge

TIMEOUT = 5  # seconds, for every network call
SECRET = Secret(TEST_SECRET)
ENV = {"INVWH_SECRET": TEST_SECRET}
BODY = (SAMPLES / "stock-increase.json").read_bytes()
TUNNEL = "https://abc123.tunnel.example/webhooks"
SIGNATURE = SQUARE.signature_header


@contextlib.contextmanager
def receiving(**settings: object) -> Iterator[tuple[Receiver, list[ReceivedDelivery]]]:
    seen: list[ReceivedDelivery] = []
    config = ReceiverConfig(**{"scheme": SQUARE, "secrets": [SECRET], "port": 0, **settings})  # type: ignore[arg-type]
    with Receiver(config, on_delivery=seen.append) as receiver:
        yield receiver, seen


def post(url: str, signed_for: str, scheme: Scheme = SQUARE) -> requests.Response:
    headers = {"Content-Type": "application/json", **sign(scheme, SECRET, BODY, url=signed_for)}
    return requests.post(url, data=BODY, headers=headers, timeout=TIMEOUT)


# --- the core ---------------------------------------------------------------------------------


def test_a_scheme_that_signs_the_url_needs_one_and_the_others_ignore_it():
    with pytest.raises(InputError, match="the square scheme signs the notification URL, and none was given"):
        sign(SQUARE, SECRET, BODY)
    with pytest.raises(InputError, match="signs the notification URL"):
        check_signature(SQUARE, [SECRET], BODY, {})
    assert sign(GITHUB, SECRET, BODY, url=TUNNEL) == sign(GITHUB, SECRET, BODY)


@pytest.mark.parametrize(
    "signed_for, checked_at, host, cause",
    [
        ("http://localhost:8787/webhooks", "http://127.0.0.1:8787/webhooks", "localhost:8787",
         "made for the notification URL http://localhost:8787/webhooks, not http://127.0.0.1:8787/webhooks"),
        (TUNNEL + "/", TUNNEL, None, f"made for the notification URL {TUNNEL}/, not {TUNNEL}"),
        ("http" + TUNNEL.removeprefix("https"), TUNNEL, None, "made for the notification URL http://abc123"),
    ],
)  # fmt: skip
def test_a_signature_for_another_url_names_that_url(signed_for, checked_at, host, cause):
    headers = sign(SQUARE, SECRET, BODY, url=signed_for)
    if host is not None:
        headers["Host"] = host
    check = judge(SQUARE, [SECRET], BODY, headers, url=checked_at, validate=False)
    assert check.reason == "signature_mismatch"
    assert cause in check.hints[0].text
    assert hint_words(check.hints[0]).endswith(" (--notification-url)")  # the CLI's advice


def test_a_signature_without_the_url_is_named():
    """A sender that signed the body alone, as Shopify does, for a square receiver."""
    headers = {SIGNATURE: sign(SHOPIFY, SECRET, BODY)["X-Shopify-Hmac-Sha256"]}
    check = judge(SQUARE, [SECRET], BODY, headers, url=TUNNEL, validate=False)
    assert check.reason == "signature_mismatch"
    assert [hint.text for hint in check.hints] == [
        f"the signature was made without the notification URL in the signed message ({TUNNEL})"
    ]


def test_a_mismatch_with_no_better_cause_says_which_url_was_checked():
    headers = sign(SQUARE, Secret("another-secret"), BODY, url=TUNNEL)
    check = judge(SQUARE, [SECRET], BODY, headers, url=TUNNEL, validate=False)
    assert check.hints[0].text.endswith(
        f"square signs <notification URL><raw body> with HMAC-SHA256 (the notification URL checked: {TUNNEL})"
    )


# --- the receiver -----------------------------------------------------------------------------


def test_the_receiver_checks_against_its_own_url_by_default():
    with receiving() as (receiver, seen):
        assert receiver.notification_url == receiver.url
        assert post(receiver.url, signed_for=receiver.url).status_code == 200
        # The same receiver under another name: the sender signed for the URL it was given.
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        assert post(by_name, signed_for=by_name).status_code == 401
    assert [d.status for d in seen] == [200, 401]
    assert f"made for the notification URL {by_name}" in seen[1].verdict.hints[0].text


def test_the_receiver_takes_the_url_it_is_told():
    with receiving(notification_url=TUNNEL) as (receiver, seen):
        assert receiver.notification_url == TUNNEL
        assert post(receiver.url, signed_for=TUNNEL).status_code == 200
        assert post(receiver.url, signed_for=receiver.url).status_code == 401
    assert [d.reason for d in seen] == ["ok", "signature_mismatch"]


def test_a_url_for_a_scheme_that_signs_none_is_refused():
    with pytest.raises(InputError, match="the github scheme does not sign the notification URL"):
        Receiver(ReceiverConfig(scheme=GITHUB, secrets=[SECRET], port=0, notification_url=TUNNEL))


# --- the commands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["verify", "--body", SAMPLES / "stock-increase.json", "--scheme", "square", "-H", f"{SIGNATURE}: x"],
         "the square scheme signs the notification URL: give --notification-url URL"),
        (["audit", os.devnull, "--scheme", "square"], "give --notification-url URL"),
        (["verify", "--body", SAMPLES / "stock-increase.json", "--notification-url", TUNNEL],
         "--notification-url: the inventory-v1 scheme does not sign the URL"),
        (["sign", SAMPLES / "stock-increase.json", "--scheme", "github", "--notification-url", TUNNEL],
         "--notification-url: the github scheme does not sign the URL"),
        (["listen", "--port", "0", "--scheme", "stripe", "--notification-url", TUNNEL],
         "--notification-url: the stripe scheme does not sign the URL"),
        (["sign", SAMPLES / "stock-increase.json", "--scheme", "square", "--notification-url",
          "tunnel.example"], "invalid URL 'tunnel.example': it needs http:// or https://"),
    ],
)  # fmt: skip
def test_usage_errors(invwh, args, message):
    result = invwh(*args, env=ENV, code=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_send_signs_for_the_url_it_delivers_to(invwh):
    with receiving() as (receiver, seen):
        report = invwh("send", SAMPLES / "stock-increase.json", "--url", receiver.url, "--scheme", "square",
                       "--format", "json", env=ENV).json  # fmt: skip
    assert report["ok"] is True
    assert [d.status for d in seen] == [200]


def test_verify_checks_against_the_notification_url_given(invwh, tmp_path):
    signed = invwh("sign", SAMPLES / "stock-increase.json", "--scheme", "square",
                   "--notification-url", TUNNEL, env=ENV).stdout  # fmt: skip
    headers = tmp_path / "headers.txt"
    headers.write_text(signed, encoding="utf-8")
    args = ["verify", "--body", SAMPLES / "stock-increase.json", "--scheme", "square", "-H", f"@{headers}"]
    assert invwh(*args, "--notification-url", TUNNEL, env=ENV).stdout.startswith("✓ valid")
    wide = {**ENV, "COLUMNS": "300"}  # a wide log: each line whole
    elsewhere = invwh(*args, "--notification-url", TUNNEL + "/", env=wide, code=1).stdout
    assert f"made for the notification URL {TUNNEL}, not {TUNNEL}/" in elsewhere


def test_check_proves_a_receiver_binds_the_url(invwh):
    with receiving() as (receiver, _):
        report = invwh("check", "--url", receiver.url, "--scheme", "square", "--format", "json",
                       env=ENV).json  # fmt: skip
    case = next(c for c in report["items"] if c["case"] == "rejects a signature for another URL")
    assert (case["verdict"], case["statuses"]) == ("passed", [401])
    assert case["sent"].startswith(f"a valid event signed for {receiver.url}-elsewhere")


def test_check_fails_a_receiver_that_accepts_a_signature_for_another_url(invwh):
    with serve(lambda request: Reply(200)) as server:  # takes anything: binds no URL
        report = invwh("check", "--url", server.endpoint(), "--scheme", "square", "--format", "json",
                       env=ENV, code=1).json  # fmt: skip
    case = next(c for c in report["items"] if c["case"] == "rejects a signature for another URL")
    assert (case["verdict"], case["statuses"]) == ("failed", [200])
    (forged,) = [r for r in server.received if r.headers.get(SIGNATURE) == case["deliveries"][0]["request"]
                 ["headers"][SIGNATURE]]  # fmt: skip
    elsewhere = server.endpoint() + "-elsewhere"
    assert check_signature(SQUARE, [SECRET], forged.body, forged.headers, url=elsewhere).ok


def test_listen_checks_against_the_notification_url_it_is_given():
    args = ["--scheme", "square", "--notification-url", TUNNEL, "--format", "json"]
    with listen_subprocess(*args, env=ENV) as listen:
        url = listen.lines.get(timeout=15).split('"')[3]
        assert post(url, signed_for=TUNNEL).status_code == 200
        assert post(url, signed_for=url).status_code == 401
        for _ in range(2):
            listen.lines.get(timeout=TIMEOUT)
        status, stderr = listen.stop()
    assert status == 0
    assert f"signatures checked for the notification URL {TUNNEL}" in stderr
    assert "Traceback" not in stderr
