"""The presets against their reference libraries, both ways: ``standardwebhooks``, ``stripe``,
``slack_sdk`` and ``squareup``.

Each library signs what invwh verifies (core and ``invwh verify``), and verifies
what invwh signs (core and ``invwh sign``), for every sample, non-ASCII
bodies, several signatures in one header, and tampering. Square's SDK only
verifies: what it accepts, made as its helper computes it, is what invwh checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import pytest
import standardwebhooks
import stripe
from conftest import VALID_SAMPLES
from hygiene import register_secret
from slack_sdk.signature import Clock, SignatureVerifier
from square.utils import webhooks_helper as square_webhooks
from test_schemes import (
    SLACK_BODY,
    SLACK_SECRET,
    SLACK_SIGNATURE,
    SLACK_TIMESTAMP,
    SQUARE_BODY,
    SQUARE_SECRET,
    SQUARE_SIGNATURE,
    SQUARE_URL,
    STRIPE_BODY,
    STRIPE_SECRET,
    STRIPE_SIGNATURE,
    STRIPE_TIMESTAMP,
    SW_BODY,
    SW_ID,
    SW_SECRET,
    SW_SIGNATURE,
    SW_TIMESTAMP,
)

from inventory_cli.signing.schemes import SLACK, SQUARE, STANDARD_WEBHOOKS, STRIPE
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature

OTHER_SW_SECRET = "whsec_" + "QmFzZTY0IGVuY29kZWQgcm90YXRpb24ga2V5IQ=="
OTHER_STRIPE_SECRET = "whsec_rotated_stripe_secret"
register_secret(
    OTHER_SW_SECRET, OTHER_STRIPE_SECRET, "another-slack-signing-secret", "another-square-signature-key"
)

NON_ASCII_BODY = (
    '{"inventoryStockIncreaseEventType": "stock.increase", '
    '"note": "caf\u00e9 \u2014 \u65e5\u672c \U0001f4e6"}'
).encode()
BODIES = [p.read_bytes() for p in VALID_SAMPLES] + [NON_ASCII_BODY, NON_ASCII_BODY + b"\n"]
BODY_IDS = [p.name for p in VALID_SAMPLES] + ["non-ascii", "trailing-newline"]


def header_args(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]


# --- Standard Webhooks ------------------------------------------------------------------


def sw_library_sign(secret: str, msg_id: str, stamp: int, body: bytes) -> str:
    when = datetime.fromtimestamp(stamp, tz=timezone.utc)
    return standardwebhooks.Webhook(secret).sign(msg_id, when, body.decode("utf-8"))


def test_the_library_gives_the_known_answer():
    assert sw_library_sign(SW_SECRET, SW_ID, SW_TIMESTAMP, SW_BODY) == SW_SIGNATURE


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_standardwebhooks_verifies_what_invwh_signs(body):
    headers = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), body)
    assert standardwebhooks.Webhook(SW_SECRET).verify(body, headers, json_parse=False) is None
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SW_SECRET).verify(body + b" ", headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(OTHER_SW_SECRET).verify(body, headers)


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_standardwebhooks_verifies_what_invwh_sign_prints(invwh, sample):
    signed = invwh("sign", sample, "--scheme", "standard-webhooks", "--format", "json",
                   env={"INVWH_SECRET": SW_SECRET}).json  # fmt: skip
    headers = {k: v for k, v in signed["headers"].items() if k != "Content-Type"}
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    event = standardwebhooks.Webhook(SW_SECRET).verify(sample.read_bytes(), headers)
    assert event == json.loads(sample.read_bytes())


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_invwh_verifies_what_standardwebhooks_signs(body):
    stamp = int(time.time())
    headers = {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sw_library_sign(SW_SECRET, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", stamp, body),
    }
    check = check_signature(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], body, headers)
    assert (check.ok, check.reason) == (True, "ok")
    assert check_signature(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], body + b" ", headers).reason == (
        "signature_mismatch"
    )


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_invwh_verify_accepts_what_standardwebhooks_signs(invwh, sample):
    stamp = int(time.time())
    headers = {
        "Webhook-Id": SW_ID,
        "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": sw_library_sign(SW_SECRET, SW_ID, stamp, sample.read_bytes()),
    }
    result = invwh("verify", "--body", sample, "--scheme", "standard-webhooks", *header_args(headers),
                   "--format", "json", env={"INVWH_SECRET": SW_SECRET})  # fmt: skip
    assert (result.json["valid"], result.json["reason"]) == (True, "ok")


def test_several_signatures_in_one_header_both_ways():
    """Key rotation: the sender signs with the old and the new secret, space-separated."""
    body = BODIES[0]
    stamp = int(time.time())
    both = " ".join(sw_library_sign(s, SW_ID, stamp, body) for s in (OTHER_SW_SECRET, SW_SECRET))
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(stamp), "webhook-signature": both}
    for secrets, index in (([SW_SECRET], 0), ([OTHER_SW_SECRET], 0), ([OTHER_STRIPE_SECRET, SW_SECRET], 1)):
        check = check_signature(STANDARD_WEBHOOKS, [Secret(s) for s in secrets], body, headers)
        assert (check.ok, check.secret_index) == (True, index)
    # And the library accepts a header invwh signed among other signatures.
    ours = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), body, timestamp=stamp, message_id=SW_ID)
    mixed = {**ours, "webhook-signature": f"v1,{'A' * 44} " + ours["webhook-signature"]}
    assert standardwebhooks.Webhook(SW_SECRET).verify(body, mixed, json_parse=False) is None


def test_both_reject_a_changed_id_or_timestamp():
    body = BODIES[0]
    headers = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), body)
    later = str(int(headers["webhook-timestamp"]) + 1)
    for changed in ({**headers, "webhook-id": "msg_other"}, {**headers, "webhook-timestamp": later}):
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook(SW_SECRET).verify(body, changed)
        assert not check_signature(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], body, changed).ok


def test_both_reject_a_stale_delivery():
    body = BODIES[0]
    stale = int(time.time()) - 3600
    headers = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), body, timestamp=stale)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError, match="too old"):
        standardwebhooks.Webhook(SW_SECRET).verify(body, headers)
    assert check_signature(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], body, headers).reason == "stale_timestamp"


# --- Stripe -------------------------------------------------------------------------------


def test_the_stripe_library_gives_the_known_answer():
    header = stripe.WebhookSignature.generate_signature_header(
        STRIPE_BODY.decode(), STRIPE_SECRET, timestamp=STRIPE_TIMESTAMP
    )
    assert header == STRIPE_SIGNATURE


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_stripe_verifies_what_invwh_signs(body):
    header = sign(STRIPE, Secret(STRIPE_SECRET), body)["Stripe-Signature"]
    assert stripe.WebhookSignature.verify_header(body, header, STRIPE_SECRET, tolerance=300) is True
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body + b" ", header, STRIPE_SECRET, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, header, OTHER_STRIPE_SECRET, tolerance=300)


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_stripe_construct_event_accepts_what_invwh_sign_prints(invwh, sample):
    signed = invwh("sign", sample, "--scheme", "stripe", "--format", "json",
                   env={"INVWH_SECRET": STRIPE_SECRET}).json  # fmt: skip
    assert set(signed["headers"]) == {"Content-Type", "Stripe-Signature"}
    event = stripe.Webhook.construct_event(
        sample.read_bytes(), signed["headers"]["Stripe-Signature"], STRIPE_SECRET
    )
    assert event.to_dict() == json.loads(sample.read_bytes())


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_invwh_verifies_what_stripe_signs(body):
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET)
    check = check_signature(STRIPE, [Secret(STRIPE_SECRET)], body, {"Stripe-Signature": header})
    assert (check.ok, check.reason) == (True, "ok")
    assert not check_signature(STRIPE, [Secret(STRIPE_SECRET)], body[:-1], {"Stripe-Signature": header}).ok


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_invwh_verify_accepts_what_stripe_signs(invwh, sample):
    header = stripe.WebhookSignature.generate_signature_header(sample.read_bytes().decode(), STRIPE_SECRET)
    result = invwh("verify", "--body", sample, "--scheme", "stripe", "-H", f"Stripe-Signature: {header}",
                   "--format", "json", env={"INVWH_SECRET": STRIPE_SECRET})  # fmt: skip
    assert (result.json["valid"], result.json["reason"]) == (True, "ok")


def test_several_v1_signatures_both_ways():
    """Stripe sends one v1 per active secret while a secret is rolled, and a v0 in test mode."""
    body = BODIES[0]
    stamp = int(time.time())
    old = stripe.WebhookSignature.generate_signature_header(
        body.decode(), OTHER_STRIPE_SECRET, timestamp=stamp
    )
    new = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET, timestamp=stamp)
    header = f"{new},{old.split(',')[1]},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
    for secret in (STRIPE_SECRET, OTHER_STRIPE_SECRET):
        assert stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)
        assert check_signature(STRIPE, [Secret(secret)], body, {"Stripe-Signature": header}).ok
    check = check_signature(STRIPE, [Secret("whsec_neither-one"), Secret(OTHER_STRIPE_SECRET)], body,
                            {"Stripe-Signature": header})  # fmt: skip
    assert (check.ok, check.secret_index) == (True, 1)


def test_both_reject_a_stale_stripe_delivery():
    body = BODIES[0]
    header = sign(STRIPE, Secret(STRIPE_SECRET), body, timestamp=int(time.time()) - 3600)["Stripe-Signature"]
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.WebhookSignature.verify_header(body, header, STRIPE_SECRET, tolerance=300)
    check = check_signature(STRIPE, [Secret(STRIPE_SECRET)], body, {"Stripe-Signature": header})
    assert (check.reason, check.signature_ok) == ("stale_timestamp", True)


# --- Slack ---------------------------------------------------------------------------------


def slack_verifier(secret: str = SLACK_SECRET, now: float | None = None) -> SignatureVerifier:
    class PinnedClock(Clock):
        def now(self) -> float:
            return time.time() if now is None else now

    return SignatureVerifier(secret, clock=PinnedClock())


def test_the_slack_sdk_gives_the_documented_answer():
    verifier = slack_verifier(now=SLACK_TIMESTAMP)
    assert verifier.generate_signature(timestamp=str(SLACK_TIMESTAMP), body=SLACK_BODY) == SLACK_SIGNATURE
    assert verifier.is_valid(SLACK_BODY, str(SLACK_TIMESTAMP), SLACK_SIGNATURE)


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_slack_sdk_verifies_what_invwh_signs(body):
    headers = sign(SLACK, Secret(SLACK_SECRET), body)
    assert slack_verifier().is_valid_request(body, headers) is True
    assert slack_verifier().is_valid_request(body + b" ", headers) is False
    assert slack_verifier("another-slack-signing-secret").is_valid_request(body, headers) is False


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_slack_sdk_verifies_what_invwh_sign_prints(invwh, sample):
    signed = invwh("sign", sample, "--scheme", "slack", "--format", "json",
                   env={"INVWH_SECRET": SLACK_SECRET}).json  # fmt: skip
    headers = {k: v for k, v in signed["headers"].items() if k != "Content-Type"}
    assert set(headers) == {"X-Slack-Request-Timestamp", "X-Slack-Signature"}
    assert slack_verifier().is_valid_request(sample.read_bytes(), headers) is True


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_invwh_verifies_what_the_slack_sdk_signs(body):
    stamp = str(int(time.time()))
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_verifier().generate_signature(timestamp=stamp, body=body),
    }
    check = check_signature(SLACK, [Secret(SLACK_SECRET)], body, headers)
    assert (check.ok, check.reason) == (True, "ok")
    assert check_signature(SLACK, [Secret(SLACK_SECRET)], body[:-1], headers).reason == "signature_mismatch"


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_invwh_verify_accepts_what_the_slack_sdk_signs(invwh, sample):
    stamp = str(int(time.time()))
    signature = slack_verifier().generate_signature(timestamp=stamp, body=sample.read_bytes())
    result = invwh("verify", "--body", sample, "--scheme", "slack", "-H", f"X-Slack-Signature: {signature}",
                   "-H", f"X-Slack-Request-Timestamp: {stamp}", "--format", "json",
                   env={"INVWH_SECRET": SLACK_SECRET})  # fmt: skip
    assert (result.json["valid"], result.json["reason"]) == (True, "ok")


def test_both_reject_a_stale_or_shifted_slack_delivery():
    body = BODIES[0]
    stale = sign(SLACK, Secret(SLACK_SECRET), body, timestamp=int(time.time()) - 3600)
    assert slack_verifier().is_valid_request(body, stale) is False
    check = check_signature(SLACK, [Secret(SLACK_SECRET)], body, stale)
    assert (check.reason, check.signature_ok) == ("stale_timestamp", True)
    fresh = sign(SLACK, Secret(SLACK_SECRET), body)
    shifted = {**fresh, "X-Slack-Request-Timestamp": str(int(fresh["X-Slack-Request-Timestamp"]) - 1)}
    assert slack_verifier().is_valid_request(body, shifted) is False
    assert check_signature(SLACK, [Secret(SLACK_SECRET)], body, shifted).reason == "signature_mismatch"


# --- Square --------------------------------------------------------------------------------
# squareup's helper takes the body as text and signs its UTF-8 bytes: the bodies here are UTF-8.

SQUARE_ENDPOINT = "https://shop.example/hooks/square"


def square_verifies(body: bytes, signature: str, *, url: str = SQUARE_ENDPOINT,
                    key: str = SQUARE_SECRET) -> bool:  # fmt: skip
    return square_webhooks.verify_signature(
        request_body=body.decode("utf-8"), signature_header=signature, signature_key=key, notification_url=url
    )


def test_the_squareup_sdk_accepts_the_known_answer():
    assert square_verifies(SQUARE_BODY, SQUARE_SIGNATURE, url=SQUARE_URL)
    assert not square_verifies(SQUARE_BODY, SQUARE_SIGNATURE, url=SQUARE_URL + "/")


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_squareup_verifies_what_invwh_signs(body):
    signature = sign(SQUARE, Secret(SQUARE_SECRET), body, url=SQUARE_ENDPOINT)[
        "x-square-hmacsha256-signature"
    ]
    assert square_verifies(body, signature)
    assert not square_verifies(body + b" ", signature)
    assert not square_verifies(body, signature, url=SQUARE_ENDPOINT + "-elsewhere")
    assert not square_verifies(body, signature, key="another-square-signature-key")


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_squareup_verifies_what_invwh_sign_prints(invwh, sample):
    signed = invwh("sign", sample, "--scheme", "square", "--notification-url", SQUARE_ENDPOINT,
                   "--format", "json", env={"INVWH_SECRET": SQUARE_SECRET}).json  # fmt: skip
    assert set(signed["headers"]) == {"Content-Type", "x-square-hmacsha256-signature"}
    assert square_verifies(sample.read_bytes(), signed["headers"]["x-square-hmacsha256-signature"])


@pytest.mark.parametrize("body", BODIES, ids=BODY_IDS)
def test_invwh_verifies_what_squareup_accepts(body):
    """The SDK only verifies: a signature it accepts, made as its helper computes one, checked both ways."""
    raw = hmac.new(SQUARE_SECRET.encode(), SQUARE_ENDPOINT.encode() + body, hashlib.sha256).digest()
    signature = base64.b64encode(raw).decode()
    assert square_verifies(body, signature)
    headers = {"X-Square-HmacSha256-Signature": signature}
    check = check_signature(SQUARE, [Secret(SQUARE_SECRET)], body, headers, url=SQUARE_ENDPOINT)
    assert (check.ok, check.reason) == (True, "ok")
    elsewhere = check_signature(SQUARE, [Secret(SQUARE_SECRET)], body, headers, url=SQUARE_ENDPOINT + "/")
    assert elsewhere.reason == "signature_mismatch"
