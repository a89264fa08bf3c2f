"""The preset schemes as data: known answers, round trips, every reason on malformed input, the
diagnosis across presets, `invwh schemes`, and `check`/`send`/`replay`/`verify` with every preset."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import standardwebhooks
from conftest import SAMPLES, TEST_SECRET, VALID_SAMPLES, generate_secret
from hygiene import register_secret
from servers import Reply, serve

from inventory_cli.cli.output.hints import hints_words
from inventory_cli.config.load import load_config
from inventory_cli.errors import InputError, UnknownSchemeError
from inventory_cli.signing.schemes import (
    BUILTIN_SCHEMES,
    GITHUB,
    INVENTORY_V1,
    SHOPIFY,
    SLACK,
    SQUARE,
    STANDARD_WEBHOOKS,
    STRIPE,
    CompiledScheme,
    Scheme,
)
from inventory_cli.signing.signatures import Secret, key_for, sign, signature_header_value
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.receive import Receiver, ReceiverConfig
from inventory_cli.workflows.recording import read_recording
from inventory_cli.workflows.verdict import judge

# GitHub's documented vector (docs.github.com, "Validating webhook deliveries").
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# The Standard Webhooks specification's vector (the same in every official library's tests).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# Stripe publishes no full vector; this one is stripe-python's own test payload and secret,
# signed by `stripe.WebhookSignature.generate_signature_header` (test_interop_presets.py
# checks the library still gives it).
STRIPE_SECRET = "whsec_test_secret"
STRIPE_BODY = b'{\n  "id": "evt_test_webhook",\n  "object": "event"\n}'
STRIPE_TIMESTAMP = 1700000000
STRIPE_SIGNATURE = "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150"

# Slack's documented example ("Verifying requests from Slack", docs.slack.dev): a slash
# command's form-encoded body; test_interop_presets.py checks slack_sdk gives the same.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# Shopify publishes no vector. Its reference, @shopify/shopify-api's webhook validation
# (validateHmacString(config, rawBody, hmac, HashFormat.Base64) in lib/utils/hmac-validator.ts),
# is base64 HMAC-SHA256 of the raw body keyed with the client secret's UTF-8 bytes; this
# vector is one published independently (SQLPage's tests, "Shopify webhook HMAC validation").
SHOPIFY_SECRET = "test-webhook-secret"
SHOPIFY_BODY = b'{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}'
SHOPIFY_SIGNATURE = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="

# Square's vector: the same in every Square SDK's webhooks-helper tests; test_interop_presets.py
# checks the squareup SDK's verify_signature accepts it.
SQUARE_SECRET = "Ibxx_5AKakO-3qeNVR61Dw"
SQUARE_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
SQUARE_BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
    b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z",'
    b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}'
)
SQUARE_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="

register_secret(SW_SECRET, STRIPE_SECRET, SLACK_SECRET, SHOPIFY_SECRET, SQUARE_SECRET)

PRESETS = list(BUILTIN_SCHEMES.values())
NEW_PRESETS = [STANDARD_WEBHOOKS, STRIPE, GITHUB, SLACK, SHOPIFY, SQUARE]
#: The notification URL the core tests sign for and check against: only square reads it.
URL = "https://receiver.example/webhooks"
NOW = 1_700_000_000
SECRET = Secret(TEST_SECRET)


def in_form(scheme: Scheme, text: str) -> Secret:
    """A secret made of ``text`` in the form ``scheme`` takes (standard-webhooks: whsec_ and base64)."""
    if scheme.secret_encoding == "utf8":
        return Secret(text)
    return Secret(scheme.secret_prefix + base64.b64encode(text.encode()).decode("ascii"))


BODY = (SAMPLES / "minimal-increase.json").read_bytes()


def ids(scheme: Scheme) -> str:
    return scheme.name


# --- known answers -------------------------------------------------------------


def test_github_known_answer():
    assert sign(GITHUB, Secret(GITHUB_SECRET), GITHUB_BODY) == {"X-Hub-Signature-256": GITHUB_SIGNATURE}
    headers = {"X-Hub-Signature-256": GITHUB_SIGNATURE}
    assert check_signature(GITHUB, [Secret(GITHUB_SECRET)], GITHUB_BODY, headers).ok


def test_github_known_answer_cli(invwh, tmp_path):
    path = tmp_path / "hello.txt"
    path.write_bytes(GITHUB_BODY)
    signed = invwh("sign", path, "--scheme", "github", "--no-validate", "--format", "value",
                   env={"INVWH_SECRET": GITHUB_SECRET})  # fmt: skip
    assert signed.stdout == GITHUB_SIGNATURE + "\n"
    verified = invwh("verify", "--body", path, "--scheme", "github", "--no-validate",
                     "-H", f"X-Hub-Signature-256: {GITHUB_SIGNATURE}",
                     env={"INVWH_SECRET": GITHUB_SECRET})  # fmt: skip
    assert verified.stdout.startswith("✓ valid")


def test_standard_webhooks_known_answer():
    headers = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), SW_BODY, timestamp=SW_TIMESTAMP, message_id=SW_ID)
    assert headers == {
        "webhook-id": SW_ID,
        "webhook-timestamp": str(SW_TIMESTAMP),
        "webhook-signature": SW_SIGNATURE,
    }
    check = check_signature(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], SW_BODY, headers, now=SW_TIMESTAMP)
    assert (check.ok, check.timestamp) == (True, SW_TIMESTAMP)


def test_standard_webhooks_known_answer_cli(invwh, tmp_path):
    path = tmp_path / "body.json"
    path.write_bytes(SW_BODY)
    signed = invwh("sign", path, "--scheme", "standard-webhooks", "--no-validate",
                   "--timestamp", SW_TIMESTAMP, "--id", SW_ID, "--format", "json",
                   env={"INVWH_SECRET": SW_SECRET}).json  # fmt: skip
    assert signed["headers"]["webhook-signature"] == SW_SIGNATURE
    assert signed["timestamp"] == SW_TIMESTAMP
    header_args = [a for name, value in signed["headers"].items() for a in ("-H", f"{name}: {value}")]
    verified = invwh("verify", "--body", path, "--scheme", "standard-webhooks", "--no-validate", *header_args,
                     "--now", SW_TIMESTAMP, "--format", "json", env={"INVWH_SECRET": SW_SECRET})  # fmt: skip
    assert verified.json["valid"] is True


def test_stripe_known_answer():
    headers = sign(STRIPE, Secret(STRIPE_SECRET), STRIPE_BODY, timestamp=STRIPE_TIMESTAMP)
    assert headers == {"Stripe-Signature": STRIPE_SIGNATURE}
    check = check_signature(STRIPE, [Secret(STRIPE_SECRET)], STRIPE_BODY, headers, now=STRIPE_TIMESTAMP)
    assert (check.ok, check.timestamp) == (True, STRIPE_TIMESTAMP)


def test_stripe_known_answer_is_independently_computed():
    digest = hmac.new(STRIPE_SECRET.encode(), b"1700000000." + STRIPE_BODY, hashlib.sha256).hexdigest()
    assert f"t=1700000000,v1={digest}" == STRIPE_SIGNATURE


def test_standard_webhooks_known_answer_is_independently_computed():
    key = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    raw = hmac.new(key, f"{SW_ID}.{SW_TIMESTAMP}.".encode() + SW_BODY, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(raw).decode() == SW_SIGNATURE


def test_slack_known_answer():
    headers = sign(SLACK, Secret(SLACK_SECRET), SLACK_BODY, timestamp=SLACK_TIMESTAMP)
    assert headers == {"X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": SLACK_SIGNATURE}
    check = check_signature(SLACK, [Secret(SLACK_SECRET)], SLACK_BODY, headers, now=SLACK_TIMESTAMP)
    assert (check.ok, check.timestamp) == (True, SLACK_TIMESTAMP)


def test_slack_known_answer_cli(invwh, tmp_path):
    path = tmp_path / "command.txt"
    path.write_bytes(SLACK_BODY)
    env = {"INVWH_SECRET": SLACK_SECRET}
    signed = invwh("sign", path, "--scheme", "slack", "--no-validate", "--timestamp", SLACK_TIMESTAMP,
                   "--format", "value", env=env)  # fmt: skip
    assert signed.stdout == SLACK_SIGNATURE + "\n"
    verified = invwh("verify", "--body", path, "--scheme", "slack", "--no-validate", "--now", SLACK_TIMESTAMP,
                     "-H", f"x-slack-signature: {SLACK_SIGNATURE}",
                     "-H", f"x-slack-request-timestamp: {SLACK_TIMESTAMP}", env=env)  # fmt: skip
    assert verified.stdout.startswith("✓ valid")


def test_shopify_known_answer():
    assert sign(SHOPIFY, Secret(SHOPIFY_SECRET), SHOPIFY_BODY) == {"X-Shopify-Hmac-Sha256": SHOPIFY_SIGNATURE}
    headers = {"x-shopify-hmac-sha256": SHOPIFY_SIGNATURE}
    assert check_signature(SHOPIFY, [Secret(SHOPIFY_SECRET)], SHOPIFY_BODY, headers).ok


def test_shopify_known_answer_is_the_reference_computation():
    """@shopify/shopify-api's createSHA256HMAC(secret, rawBody, HashFormat.Base64), in Python."""
    raw = hmac.new(SHOPIFY_SECRET.encode("utf-8"), SHOPIFY_BODY, hashlib.sha256).digest()
    assert base64.b64encode(raw).decode() == SHOPIFY_SIGNATURE


def test_shopify_known_answer_cli(invwh, tmp_path):
    path = tmp_path / "order.json"
    path.write_bytes(SHOPIFY_BODY)
    env = {"INVWH_SECRET": SHOPIFY_SECRET}
    signed = invwh("sign", path, "--scheme", "shopify", "--no-validate", "--format", "json", env=env).json
    assert signed["headers"]["X-Shopify-Hmac-Sha256"] == SHOPIFY_SIGNATURE
    assert set(signed["headers"]) == {"Content-Type", "X-Shopify-Hmac-Sha256"}
    assert (signed["timestamp"], signed["notification_url"]) == (None, None)


def test_square_known_answer():
    headers = sign(SQUARE, Secret(SQUARE_SECRET), SQUARE_BODY, url=SQUARE_URL)
    assert headers == {"x-square-hmacsha256-signature": SQUARE_SIGNATURE}
    assert check_signature(SQUARE, [Secret(SQUARE_SECRET)], SQUARE_BODY, headers, url=SQUARE_URL).ok
    # The URL is part of what is signed: the same delivery does not verify at another URL.
    elsewhere = check_signature(SQUARE, [Secret(SQUARE_SECRET)], SQUARE_BODY, headers, url=URL)
    assert elsewhere.reason == "signature_mismatch"


def test_square_known_answer_is_independently_computed():
    raw = hmac.new(SQUARE_SECRET.encode(), SQUARE_URL.encode() + SQUARE_BODY, hashlib.sha256).digest()
    assert base64.b64encode(raw).decode() == SQUARE_SIGNATURE


def test_square_known_answer_cli(invwh, tmp_path):
    path = tmp_path / "notification.json"
    path.write_bytes(SQUARE_BODY)
    env = {"INVWH_SECRET": SQUARE_SECRET}
    signed = invwh("sign", path, "--scheme", "square", "--no-validate", "--notification-url", SQUARE_URL,
                   "--format", "json", env=env).json  # fmt: skip
    assert signed["headers"]["x-square-hmacsha256-signature"] == SQUARE_SIGNATURE
    assert signed["notification_url"] == SQUARE_URL
    # Without --notification-url, sign signs for --url: where --format curl sends it.
    via_url = invwh("sign", path, "--scheme", "square", "--no-validate", "--url", SQUARE_URL,
                    "--format", "value", env=env)  # fmt: skip
    assert via_url.stdout == SQUARE_SIGNATURE + "\n"
    verified = invwh("verify", "--body", path, "--scheme", "square", "--no-validate",
                     "--notification-url", SQUARE_URL,
                     "-H", f"X-Square-HmacSha256-Signature: {SQUARE_SIGNATURE}",
                     "--format", "json", env=env).json  # fmt: skip
    assert (verified["valid"], verified["reason"]) == (True, "ok")


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("secret", [SECRET, Secret(SW_SECRET)], ids=["text-secret", "whsec-secret"])
def test_round_trip_every_preset_every_sample(scheme, sample, secret):
    body = sample.read_bytes()
    secret = in_form(scheme, TEST_SECRET) if secret is SECRET else secret
    headers = sign(scheme, secret, body, timestamp=NOW, url=URL)
    assert [name for name, _ in scheme.sends()] == list(headers)
    check = check_signature(scheme, [secret], body, headers, now=NOW, url=URL)
    assert (check.ok, check.reason, check.secret_index) == (True, "ok", 0)
    assert check.timestamp == (NOW if scheme.uses_timestamp else None)
    tampered = body.replace(b"stock.", b"stock_", 1)
    check = check_signature(scheme, [secret], tampered, headers, now=NOW, url=URL)
    assert check.reason == "signature_mismatch"


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_round_trip_through_the_cli_with_lower_case_headers(invwh, scheme, sample):
    env = {"INVWH_SECRET": in_form(scheme, TEST_SECRET).key.decode()}
    url = ["--notification-url", URL] if scheme.signs_url else []
    signed = invwh("sign", sample, "--scheme", scheme.name, *url, "--format", "json", env=env).json
    args = [a for name, value in signed["headers"].items() for a in ("-H", f"{name.lower()}: {value}")]
    verified = invwh("verify", "--body", sample, "--scheme", scheme.name, *args, *url, "--format", "json",
                     env=env)  # fmt: skip
    assert (verified.json["valid"], verified.json["scheme"]) == (True, scheme.name)


@pytest.mark.parametrize("scheme", [s for s in PRESETS if s.signature_separator], ids=ids)
def test_a_signed_body_stays_valid_under_a_header_with_other_signatures(scheme):
    old, current = in_form(scheme, "old-secret"), in_form(scheme, "another-secret")
    headers = sign(scheme, current, BODY, timestamp=NOW)
    stamp = str(NOW) if scheme.uses_timestamp else None
    rotated = sign(scheme, old, BODY, timestamp=NOW, headers=headers)[scheme.signature_header]
    # The sender signs with both secrets during a rotation: one header, two signatures.
    values = [
        entry
        for value in (rotated, headers[scheme.signature_header])
        for entry in value.split(scheme.signature_separator)
        if not entry.startswith("t=")
    ]
    both = {**headers, scheme.signature_header: signature_header_value(scheme, values, stamp)}
    for secrets, index in (([current], 0), ([old], 0), ([in_form(scheme, "stranger-secret"), current], 1)):
        check = check_signature(scheme, secrets, BODY, both, now=NOW)
        assert (check.ok, check.secret_index) == (True, index)
    assert not check_signature(scheme, [Secret("stranger-secret")], BODY, both, now=NOW).ok


def test_rotation_accepts_any_secret_for_any_preset():
    for scheme in PRESETS:
        secrets = [in_form(scheme, "old-secret"), in_form(scheme, "another-secret")]
        headers = sign(scheme, secrets[1], BODY, timestamp=NOW, url=URL)
        check = check_signature(scheme, secrets, BODY, headers, now=NOW, url=URL)
        assert (check.ok, check.secret_index) == (True, 1), scheme.name


def test_standard_webhooks_makes_a_new_message_id_each_time():
    first = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), BODY, timestamp=NOW)["webhook-id"]
    second = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), BODY, timestamp=NOW)["webhook-id"]
    assert first != second
    assert first.startswith("msg_") and len(first) == 4 + 32


def test_stripe_ignores_entries_of_other_versions():
    headers = sign(STRIPE, SECRET, BODY, timestamp=NOW)
    with_v0 = {"Stripe-Signature": headers["Stripe-Signature"] + ",v0=6ffbb59b2300aae63f272406069a9788"}
    assert check_signature(STRIPE, [SECRET], BODY, with_v0, now=NOW).ok
    # The timestamp may come anywhere among the entries, with spaces around them.
    t, v1 = headers["Stripe-Signature"].split(",")
    assert check_signature(STRIPE, [SECRET], BODY, {"stripe-signature": f" {v1} , {t} "}, now=NOW).ok


# --- secrets -----------------------------------------------------------------------


def test_whsec_secrets_are_decoded_with_or_without_the_prefix():
    raw = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert key_for(STANDARD_WEBHOOKS, Secret(SW_SECRET)) == raw
    assert key_for(STANDARD_WEBHOOKS, Secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")) == raw
    # Text outside the alphabet is skipped, as the reference library's base64.b64decode skips it;
    # the text's UTF-8 bytes (what invwh once used) are a key no peer of the scheme would use.
    reference = standardwebhooks.Webhook(TEST_SECRET)._whsecret
    assert key_for(STANDARD_WEBHOOKS, Secret(TEST_SECRET)) == reference != TEST_SECRET.encode()
    # Stripe's whsec_ secrets are used as text, prefix and all.
    assert key_for(STRIPE, Secret(STRIPE_SECRET)) == STRIPE_SECRET.encode()


@pytest.mark.parametrize("text", ["whsec_not base64!", "whsec_Zq9Xk", "whsec_%%%%", "whsec_", "clé"])
def test_a_whsec_secret_that_is_not_base64_is_refused_without_showing_it(text):
    with pytest.raises(InputError) as caught:
        sign(STANDARD_WEBHOOKS, Secret(text), BODY)
    assert "whsec_<base64>" in str(caught.value)
    if text.removeprefix("whsec_"):
        assert text.removeprefix("whsec_") not in str(caught.value).replace("whsec_<base64>", "")
    check = judge(
        STANDARD_WEBHOOKS,
        [Secret(text)],
        BODY,
        sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), BODY),
        validate=False,
    )
    assert check.reason == "signature_mismatch"
    assert "secret #1 is not in the form the standard-webhooks scheme needs" in check.hints[0].text


def test_a_whsec_secret_that_is_not_base64_is_a_usage_error(invwh):
    result = invwh("sign", SAMPLES / "minimal-increase.json", "--scheme", "standard-webhooks",
                   env={"INVWH_SECRET": "whsec_not base64 at all, xyz"}, code=2)  # fmt: skip
    assert "not in the form the standard-webhooks scheme needs" in result.stderr
    assert "not base64 at all" not in result.stderr
    unusable = Secret("whsec_not base64 at all, xyz")
    config = ReceiverConfig(scheme=STANDARD_WEBHOOKS, secrets=[unusable], port=0)
    with pytest.raises(InputError, match="whsec_<base64>"):
        config.check()


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
def test_generated_secrets_fit_their_scheme(scheme):
    secret = generate_secret(scheme)
    assert secret.key.startswith(scheme.secret_prefix.encode())
    headers = sign(scheme, secret, BODY, timestamp=NOW, url=URL)
    assert check_signature(scheme, [secret], BODY, headers, now=NOW, url=URL).ok


# --- every malformed input is a failed check with a reason ---------------------------

SW_GOOD = sign(STANDARD_WEBHOOKS, Secret(SW_SECRET), BODY, timestamp=NOW)
STRIPE_GOOD = sign(STRIPE, SECRET, BODY, timestamp=NOW)["Stripe-Signature"]
STRIPE_V1 = STRIPE_GOOD.split(",")[1]
SLACK_GOOD = sign(SLACK, SECRET, BODY, timestamp=NOW)


@pytest.mark.parametrize(
    "scheme, headers, reason, in_message",
    [
        (STRIPE, {}, "missing_signature", "no Stripe-Signature header"),
        (STRIPE, {"Stripe-Signature": STRIPE_V1}, "missing_timestamp",
         "Stripe-Signature has no t=<unix seconds>"),
        (STRIPE, {"Stripe-Signature": f"t=soon,{STRIPE_V1}"}, "malformed_timestamp",
         "unix seconds, got 'soon'"),
        (STRIPE, {"Stripe-Signature": "t=1700000000"}, "malformed_signature", "t=<unix seconds>,v1=<hex"),
        (STRIPE, {"Stripe-Signature": "t=1700000000,v1=xyz"}, "malformed_signature", "should look like"),
        (STRIPE, {"Stripe-Signature": "t=1700000000,v0=abcd"}, "malformed_signature", "should look like"),
        (STRIPE, {"Stripe-Signature": f"t=1700000001,{STRIPE_V1}"}, "signature_mismatch", "does not match"),
        (STRIPE, {"Stripe-Signature": STRIPE_GOOD.replace("t=", "t=-")}, "malformed_timestamp",
         "unix seconds"),
        (STRIPE, {"Stripe-Signature": ",,, ,"}, "missing_timestamp", "has no t="),
        (STANDARD_WEBHOOKS, {**SW_GOOD, "webhook-id": " "}, "missing_id", "no webhook-id header"),
        (STANDARD_WEBHOOKS, {k: v for k, v in SW_GOOD.items() if k != "webhook-id"}, "missing_id",
         "the standard-webhooks scheme signs it"),
        (STANDARD_WEBHOOKS, {**SW_GOOD, "webhook-timestamp": "now"}, "malformed_timestamp", "unix seconds"),
        (STANDARD_WEBHOOKS, {k: v for k, v in SW_GOOD.items() if k != "webhook-timestamp"},
         "missing_timestamp", "no webhook-timestamp header"),
        (STANDARD_WEBHOOKS, {**SW_GOOD, "webhook-signature": "v1,%%%"}, "malformed_signature", "v1,<base64"),
        (STANDARD_WEBHOOKS, {**SW_GOOD, "webhook-signature": "v2,abcd v1a,abcd"}, "malformed_signature",
         "more signatures allowed"),
        (STANDARD_WEBHOOKS, {**SW_GOOD, "webhook-id": "msg_other"}, "signature_mismatch", "does not match"),
        (GITHUB, {"X-Hub-Signature-256": "sha1=abcd"}, "malformed_signature", "sha256=<hex HMAC-SHA256>"),
        (GITHUB, {"X-Hub-Signature": "sha1=abcd"}, "missing_signature", "no X-Hub-Signature-256 header"),
        (GITHUB, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, "signature_mismatch", "does not match"),
        (SLACK, {"X-Slack-Signature": SLACK_GOOD["X-Slack-Signature"]}, "missing_timestamp",
         "no X-Slack-Request-Timestamp header"),
        (SLACK, {**SLACK_GOOD, "X-Slack-Signature": "v1=abcd"}, "malformed_signature",
         "v0=<hex HMAC-SHA256>"),
        (SLACK, {**SLACK_GOOD, "X-Slack-Request-Timestamp": "1700000001"}, "signature_mismatch",
         "does not match"),
        (SHOPIFY, {"X-Shopify-Hmac-Sha256": "not base64!"}, "malformed_signature", "<base64 HMAC-SHA256>"),
        (SHOPIFY, {"X-Shopify-Hmac-Sha256": "A" * 43 + "="}, "signature_mismatch", "does not match"),
        (SQUARE, {}, "missing_signature", "no x-square-hmacsha256-signature header"),
        (SQUARE, {"X-Square-HmacSha256-Signature": "A" * 43 + "="}, "signature_mismatch", "does not match"),
    ],
)  # fmt: skip
def test_failure_reasons(scheme, headers, reason, in_message):
    check = check_signature(scheme, [in_form(scheme, TEST_SECRET)], BODY, headers, now=NOW, url=URL)
    assert (check.ok, check.reason) == (False, reason)
    assert in_message in check.message


@pytest.mark.parametrize("age, reason", [(-400, "stale_timestamp"), (400, "future_timestamp"), (0, "ok")])
@pytest.mark.parametrize("scheme", [s for s in PRESETS if s.uses_timestamp], ids=ids)
def test_timestamp_age_for_the_presets_with_timestamps(scheme, age, reason):
    secret = in_form(scheme, TEST_SECRET)
    headers = sign(scheme, secret, BODY, timestamp=NOW + age)
    check = check_signature(scheme, [secret], BODY, headers, now=NOW, tolerance=300)
    assert (check.reason, check.signature_ok) == (reason, True)


def _garbage(rng: random.Random) -> str:
    alphabet = "t=v1,0123456789abcdefABCDEF+/= _-.:;\u00e9\u2603\x00\t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))


REASONS = {
    "ok",
    "missing_signature",
    "malformed_signature",
    "missing_id",
    "missing_timestamp",
    "malformed_timestamp",
    "signature_mismatch",
    "stale_timestamp",
    "future_timestamp",
}


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
def test_check_signature_never_raises(scheme):
    rng = random.Random(scheme.name)
    for _ in range(300):
        headers = {name: _garbage(rng) for name, _ in scheme.sends() if rng.random() < 0.8}
        secrets = [Secret(_garbage(rng) + "k") for _ in range(rng.randrange(1, 3))]
        body = rng.randbytes(rng.randrange(0, 50))
        check = check_signature(scheme, secrets, body, headers, now=NOW, url=URL)
        assert check.reason in REASONS
        assert check.ok is (check.reason == "ok")


# --- the diagnosis knows the presets --------------------------------------------------


@pytest.mark.parametrize("other", NEW_PRESETS, ids=ids)
def test_a_delivery_signed_under_another_preset_names_it(other):
    headers = sign(other, in_form(other, TEST_SECRET), BODY, timestamp=NOW, url=URL)
    check = judge(INVENTORY_V1, [SECRET], BODY, headers, now=NOW, validate=False)
    assert check.reason == "missing_signature"
    assert f"try --scheme {other.name}" in " ".join(hints_words(check.hints))


def test_a_github_signature_in_the_header_of_another_scheme_is_named():
    value = sign(GITHUB, SECRET, BODY)["X-Hub-Signature-256"]
    check = judge(
        BUILTIN_SCHEMES["hmac-sha256-hex"], [SECRET], BODY, {"X-Webhook-Signature": value}, validate=False
    )
    assert check.reason == "malformed_signature"
    assert hints_words(check.hints) == ["the signature follows the github scheme: try --scheme github"]


def test_a_standard_webhooks_signature_made_with_the_secret_text_as_key_is_explained():
    # A sender that forgot to base64-decode the whsec_ secret.
    as_text = Scheme(**{**STANDARD_WEBHOOKS.definition(), "name": "as-text", "secret_encoding": "utf8",
                        "secret_prefix": ""})  # fmt: skip
    headers = sign(as_text, Secret(SW_SECRET), BODY, timestamp=NOW)
    check = judge(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], BODY, headers, now=NOW, validate=False)
    assert check.reason == "signature_mismatch"
    assert "the secret's UTF-8 bytes as the key" in check.hints[0].text
    assert "standard-webhooks uses the bytes of whsec_<base64>" in check.hints[0].text


def test_a_stripe_signature_over_a_reserialized_body_is_explained():
    pretty = (SAMPLES / "stock-increase.json").read_bytes()
    compact = json.dumps(json.loads(pretty), separators=(",", ":")).encode()
    headers = sign(STRIPE, SECRET, compact, timestamp=NOW)
    check = judge(STRIPE, [SECRET], pretty, headers, now=NOW, validate=False)
    assert check.reason == "signature_mismatch"
    assert "re-serialized JSON (compact JSON)" in check.hints[0].text


# --- schemes are validated as data ------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field, complaint",
    [
        ({"message_template": "{id}.{body}"}, "message_template", "no id_header"),
        ({"message_template": "{timestamp}.{body}", "timestamp_header": "X-Sig"}, "signature_separator",
         "is needed"),
        ({"timestamp_header": "X-Sig", "signature_separator": ",", "message_template": "{timestamp}{body}"},
         "timestamp_template", "needs text around"),
        ({"signature_separator": ",", "value_template": "a,{digest}"}, "signature_separator",
         "must not appear"),
        ({"signature_separator": "a"}, "signature_separator", "not a digest character"),
        ({"signature_separator": ""}, "signature_separator", "not a digest character"),
        ({"message_template": "{tiemstamp}.{body}"}, "message_template", "unknown placeholder {tiemstamp}"),
        ({"message_template": "{method}"}, "message_template", "must include {body}"),
        ({"timestamp_template": "ts"}, "timestamp_template", "needs one {timestamp}"),
        ({"secret_encoding": "base32"}, "secret_encoding", "must be one of utf8, base64, hex"),
        ({"signature_header": "X Sig"}, "signature_header", "not an HTTP header name"),
        ({"id_header": "webhook id:"}, "id_header", "not an HTTP header name"),
    ],
)  # fmt: skip
def test_bad_definitions_name_the_field(fields, field, complaint):
    with pytest.raises(UnknownSchemeError) as caught:
        Scheme(**{"name": "bad", "summary": "", "signature_header": "X-Sig", **fields})
    assert caught.value.field == field
    assert complaint in str(caught.value)


def test_every_preset_describes_what_it_sends():
    assert dict(STRIPE.sends()) == {
        "Stripe-Signature": "t=<unix seconds>,v1=<hex HMAC-SHA256> "
        "(more signatures allowed, separated by ',')"
    }
    assert dict(STANDARD_WEBHOOKS.sends())["webhook-id"] == "msg_<random>"
    assert STANDARD_WEBHOOKS.signed_header_names() == ["webhook-id", "webhook-timestamp", "webhook-signature"]
    assert STRIPE.signed_header_names() == ["Stripe-Signature"]
    assert GITHUB.signed_header_names() == ["X-Hub-Signature-256"]
    assert dict(SLACK.sends()) == {
        "X-Slack-Request-Timestamp": "<unix seconds>",
        "X-Slack-Signature": "v0=<hex HMAC-SHA256>",
    }
    assert SLACK.describe_message() == "v0:{timestamp}:<raw body>"
    assert dict(SHOPIFY.sends()) == {"X-Shopify-Hmac-Sha256": "<base64 HMAC-SHA256>"}
    assert dict(SQUARE.sends()) == {"x-square-hmacsha256-signature": "<base64 HMAC-SHA256>"}
    assert SQUARE.describe_message() == "<notification URL><raw body>"
    assert [s.name for s in PRESETS if s.signs_url] == ["square"]


# --- invwh schemes -----------------------------------------------------------------------


def test_schemes_lists_every_preset(invwh):
    text = invwh("schemes", env={"COLUMNS": "300"}).stdout  # a wide log: no cell wrapped
    for scheme in PRESETS:
        assert scheme.name in text
    assert "inventory-v1 (default)" in text
    assert "webhook-id: msg_<random>" in text
    assert "X-Hub-Signature-256: sha256=<hex HMAC-SHA256>" in text


def test_schemes_json(invwh):
    data = invwh("schemes", "--format", "json").json
    assert data["default"] == "inventory-v1"
    assert [s["name"] for s in data["schemes"]] == list(BUILTIN_SCHEMES)
    stripe = data["schemes"][3]
    assert stripe["source"] == "built-in"
    assert stripe["sends"] == dict(STRIPE.sends())
    assert (stripe["signs"], stripe["hmac"], stripe["encoding"]) == (
        "{timestamp}.<raw body>",
        "HMAC-SHA256",
        "hex",
    )
    assert stripe["definition"] == STRIPE.definition()


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
def test_schemes_show_prints_a_block_that_reads_back_as_the_same_scheme(invwh, tmp_path, scheme):
    text = invwh("schemes", "show", scheme.name).stdout
    assert f"\n[schemes.{scheme.name}]\n" in text
    (tmp_path / "invwh.toml").write_text(text, encoding="utf-8")
    config = load_config(directory=tmp_path)
    assert config is not None and config.schemes[scheme.name] == scheme


def test_schemes_show_an_unknown_name_is_a_usage_error(invwh):
    assert "unknown scheme 'nope'" in invwh("schemes", "show", "nope", code=2).stderr


def test_scheme_help_lists_the_presets_and_the_environment_variable(invwh):
    text = invwh("sign", "--help").stdout
    assert "standard-webhooks, stripe," in text
    assert "INVWH_SCHEME" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_offers_scheme_names(shell):
    """Click's own completion, as the README documents it: `_INVWH_COMPLETE=bash_source invwh`."""
    from click.testing import CliRunner

    from inventory_cli.cli import cli

    words = "invwh sign x.json --scheme st"
    # fish passes the word being completed where bash and zsh pass its index.
    env = {
        "_INVWH_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": "st" if shell == "fish" else "4",
    }
    result = CliRunner().invoke(cli, [], prog_name="invwh", env=env)
    assert result.exit_code == 0
    assert "standard-webhooks" in result.stdout and "stripe" in result.stdout
    assert "github" not in result.stdout
    source = CliRunner().invoke(cli, [], prog_name="invwh", env={"_INVWH_COMPLETE": f"{shell}_source"})
    assert "_INVWH_COMPLETE" in source.stdout


# --- every command with every preset ---------------------------------------------------------


@contextlib.contextmanager
def receiving(scheme: Scheme, secret: Secret, **settings: object) -> Iterator[Receiver]:
    config = ReceiverConfig(scheme=scheme, secrets=[secret], port=0, **settings)
    with Receiver(config) as receiver:
        yield receiver


def secret_for(scheme: Scheme) -> str:
    return SW_SECRET if scheme.secret_encoding == "base64" else TEST_SECRET


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
def test_check_passes_against_listen_for_every_preset(invwh, scheme):
    secret = secret_for(scheme)
    with receiving(scheme, Secret(secret)) as receiver:
        report = invwh("check", "--url", receiver.url, "--scheme", scheme.name, "--strict", "--timeout", "5",
                       "--format", "json", env={"INVWH_SECRET": secret}).json  # fmt: skip
    assert (report["ok"], report["summary"]["failed"], report["summary"]["warning"]) == (True, 0, 0)
    cases = [case["case"] for case in report["items"]]
    assert ("rejects a signature for another method" in cases) is scheme.signs_method
    assert ("rejects a changed message id" in cases) is scheme.signs_id
    assert ("rejects a signature for another URL" in cases) is scheme.signs_url
    assert ("rejects a stale timestamp" in cases) is scheme.uses_timestamp
    rejections = [c for c in report["items"] if c["case"].startswith("rejects")]
    assert all(c["statuses"] == [401] for c in rejections), rejections


def test_check_skips_the_timestamp_cases_when_the_receiver_does_not_check_ages(invwh):
    with receiving(STRIPE, SECRET, tolerance=0) as receiver:
        report = invwh("check", "--url", receiver.url, "--scheme", "stripe", "--tolerance", "0", "--strict",
                       "--format", "json", env={"INVWH_SECRET": TEST_SECRET}).json  # fmt: skip
    assert report["ok"] is True
    assert not [c for c in report["items"] if "timestamp" in c["case"]]


@pytest.mark.parametrize("scheme", PRESETS, ids=ids)
def test_send_then_audit_then_replay_with_every_preset(invwh, tmp_path, scheme):
    secret = secret_for(scheme)
    env = {"INVWH_SECRET": secret, "INVWH_SCHEME": scheme.name}
    sent_record, replayed_record = tmp_path / "sent.jsonl", tmp_path / "replayed.jsonl"
    with receiving(scheme, Secret(secret), record=str(sent_record)) as receiver:
        sent_url = receiver.url
        sent = invwh("send", *VALID_SAMPLES, "--url", sent_url, "--format", "json", env=env).json
    assert sent["ok"] is True
    # A scheme that signs the URL (square) checks each delivery against the URL it was sent to.
    url_args = ["--notification-url", sent_url] if scheme.signs_url else []
    audit = invwh("audit", sent_record, *url_args, "--format", "json", env=env).json
    assert audit["ok"] is True
    with receiving(scheme, Secret(secret), record=str(replayed_record)) as receiver:
        replayed = invwh("replay", sent_record, "--url", receiver.url, "--format", "json", env=env).json
    # Kept signatures were made for the URL sent to: the receiver must take that one as its own.
    sent_as = {"notification_url": sent_url} if scheme.signs_url else {}
    with receiving(scheme, Secret(secret), record=str(replayed_record), **sent_as) as receiver:
        kept = invwh("replay", sent_record, "--url", receiver.url, "--keep-signature", "--format", "json",
                     env=env).json  # fmt: skip
    assert (replayed["ok"], kept["ok"]) == (True, True)
    records = list(read_recording(replayed_record))
    assert [r.status for r in records] == [200] * 2 * len(VALID_SAMPLES)
    # Kept signatures are the sent ones, header for header.
    sent_headers = [r.headers for r in read_recording(sent_record)]
    for sent_one, kept_one in zip(sent_headers, records[len(VALID_SAMPLES) :], strict=True):
        for name in scheme.signed_header_names():
            assert kept_one.headers[name] == sent_one[name]


def test_send_keeps_the_message_id_across_retries(invwh):
    answers = iter([503, 200])
    with serve(lambda request: Reply(next(answers))) as server:
        invwh("send", SAMPLES / "minimal-increase.json", "--url", server.endpoint(), "--scheme",
              "standard-webhooks", "--retries", "1", env={"INVWH_SECRET": SW_SECRET})  # fmt: skip
    first, second = server.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in server.received:
        check = check_signature(STANDARD_WEBHOOKS, [Secret(SW_SECRET)], request.body, request.headers)
        assert check.ok


@pytest.mark.parametrize("scheme", list(BUILTIN_SCHEMES.values()), ids=lambda s: s.name)
def test_a_built_in_scheme_passes_the_checks_every_scheme_gets(scheme):
    # Built-in schemes skip the check at import (start-up time); made the checking way, each is the same.
    assert Scheme(*scheme) == scheme
    assert CompiledScheme(scheme).signature_header == scheme.signature_header.lower()


# --- secrets the reference library refuses, and {header:Name} templates ---------------------------


@pytest.mark.parametrize("text", ["whsec_", "whsec_Zq9Xk", "whsec_not base64!", "whsec_%%%%"])
@pytest.mark.parametrize("command", ["sign", "verify", "audit"])
def test_a_standard_webhooks_secret_that_is_not_base64_is_the_same_usage_error_everywhere(
    invwh, tmp_path, command, text
):
    """The reference library (``standardwebhooks.Webhook``) raises for them; invwh once used the
    text's UTF-8 bytes as the key, signing what no peer checks, and ``verify`` called a bare
    ``whsec_`` a failed check (exit 1) where ``sign`` called it an input error (exit 2)."""
    if text != "whsec_":  # the prefix alone is in every scheme listing
        register_secret(text)
    sample = SAMPLES / "minimal-increase.json"
    recording = tmp_path / "rec.jsonl"
    recording.write_text("")
    args = {"sign": [sample], "verify": ["--body", sample], "audit": [recording]}
    result = invwh(command, *args[command], "--scheme", "standard-webhooks",
                   env={"INVWH_SECRET": text}, code=2)  # fmt: skip
    (line,) = result.stderr.splitlines()
    assert line == (
        "invwh: error: the secret is not in the form the standard-webhooks scheme needs: "
        "the bytes of whsec_<base64>"
    )
    with pytest.raises(Exception):  # noqa: B017 (the reference refuses it too, each its own way)
        standardwebhooks.Webhook(text)


ACME_TOML = """
[schemes.acme]
summary = "a partner's scheme that signs a header it sends"
signature_header = "X-Acme-Signature"
message_template = "{header:X-Timestamp}.{header:X-Acme-Delivery}.{body}"
"""


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "invwh.toml").write_text(ACME_TOML, encoding="utf-8")
    return tmp_path


def test_sign_takes_a_signed_headers_value_from_dash_h_and_prints_that_header(invwh, acme):
    sample = SAMPLES / "minimal-increase.json"
    given = ["-H", "X-Timestamp: 1700000000", "-H", "X-Acme-Delivery: d-42"]
    env = {"INVWH_SECRET": TEST_SECRET}
    printed = invwh("sign", sample, "--scheme", "acme", *given, env=env).stdout
    (acme / "headers.txt").write_text(printed)
    lines = printed.splitlines()
    assert lines[:3] == ["Content-Type: application/json", "X-Timestamp: 1700000000", "X-Acme-Delivery: d-42"]
    digest = hmac.new(TEST_SECRET.encode(), b"1700000000.d-42." + sample.read_bytes(), hashlib.sha256)
    assert lines[3] == f"X-Acme-Signature: {digest.hexdigest()}"
    verified = invwh("verify", "--body", sample, "--scheme", "acme", "-H", "@headers.txt", env=env)
    assert verified.stdout.startswith("✓ valid")
    document = invwh("sign", sample, "--scheme", "acme", *given, "--format", "json", env=env).json
    assert document["headers"]["X-Acme-Delivery"] == "d-42"
    curl = invwh("sign", sample, "--scheme", "acme", *given, "--format", "curl", env=env).stdout
    assert "--header 'X-Acme-Delivery: d-42'" in curl


@pytest.mark.parametrize(
    "given, missing",
    [([], "X-Timestamp"), (["-H", "X-Timestamp: 1700000000"], "X-Acme-Delivery")],
    ids=["none", "one-of-two"],
)
def test_sign_refuses_a_signed_header_it_is_not_given_with_one_line(invwh, acme, given, missing):
    result = invwh("sign", SAMPLES / "minimal-increase.json", "--scheme", "acme", *given,
                   env={"INVWH_SECRET": TEST_SECRET}, code=2)  # fmt: skip
    assert result.stdout == ""
    assert result.stderr == (
        f"invwh: error: the acme scheme signs the {missing} header: give it with -H '{missing}: VALUE'\n"
    )


def test_send_signs_the_value_it_sends_of_a_header_the_scheme_signs(invwh, acme):
    sample = SAMPLES / "minimal-increase.json"
    given = ["-H", "X-Timestamp: 1700000000", "-H", "X-Acme-Delivery: d-42"]
    with serve() as server:
        invwh("send", sample, "--scheme", "acme", "--url", server.endpoint(), *given,
              env={"INVWH_SECRET": TEST_SECRET})  # fmt: skip
        [received] = server.received
    assert received.headers["X-Acme-Delivery"] == "d-42"
    digest = hmac.new(TEST_SECRET.encode(), b"1700000000.d-42." + sample.read_bytes(), hashlib.sha256)
    assert received.headers["X-Acme-Signature"] == digest.hexdigest()


def test_send_refuses_a_signed_header_it_is_not_given_and_sends_nothing(invwh, acme):
    with serve() as server:
        result = invwh("send", SAMPLES / "minimal-increase.json", "--scheme", "acme",
                       "--url", server.endpoint(), "-H", "X-Timestamp: 1700000000",
                       env={"INVWH_SECRET": TEST_SECRET}, code=2)  # fmt: skip
        assert server.received == []
    assert "the acme scheme signs the X-Acme-Delivery header" in result.stderr
    assert len(result.stderr.splitlines()) == 1
