"""Our signatures against the inventory SDK's own verifier, apimatic-core's ``HmacSignatureVerifier``.

The verifier is configured as the inventory API's generated SDK configures it,
so a signature it accepts is one a real receiver built on the SDK accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from apimatic_core.security.signature_verifiers.hmac_signature_verifier import (
    Base64Encoder,
    HmacSignatureVerifier,
)
from apimatic_core_interfaces.http.request import Request
from conftest import SAMPLES, VALID_SAMPLES

from inventory_cli.signing.schemes import HMAC_SHA256_HEX, INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature

SECRET_TEXT = "s3cret"
SECRETS = ["s3cret", "cl\u00e9-\u043a\u043b\u044e\u0447 with spaces", "x" * 200]
NOW = 1_700_000_000
NON_ASCII_BODY = (
    '{"inventoryStockIncreaseEventType": "stock.increase", '
    '"note": "caf\u00e9 \u2014 \u65e5\u672c \U0001f4e6"}'
).encode("utf-8")


def sdk_verifier(secret: str = SECRET_TEXT) -> HmacSignatureVerifier:
    """The verifier exactly as the inventory SDK builds it."""
    return HmacSignatureVerifier(
        secret_key=secret,
        signature_header="X-Webhook-Signature",
        # The SDK looks the timestamp up case-sensitively, so its spelling matters.
        canonical_message_builder=lambda req: (
            f"{req.method}|{req.headers['X-Timestamp']}|".encode() + req.raw_body
        ),
        hash_alg=hashlib.sha512,
        encoder=Base64Encoder(),
        signature_value_template="v1={digest}",
    )


def request(body: bytes, headers: dict[str, str], method: str = "POST") -> Request:
    return Request(
        method=method, path="/webhooks", url="http://localhost/webhooks", headers=headers, raw_body=body
    )


def sdk_expected_value(secret: str, body: bytes, stamp: str, method: str = "POST") -> str:
    """The value the SDK's verifier compares against, built from its own parts."""
    verifier = sdk_verifier(secret)
    message = verifier._message_resolver(request(body, {"X-Timestamp": stamp}, method))
    raw = hmac.new(secret.encode("utf-8"), message, hashlib.sha512).digest()
    value = "v1={digest}".replace("{digest}", Base64Encoder().encode(raw))
    # Prove it is the verifier's expectation, not merely ours.
    assert verifier.verify(request(body, {"X-Webhook-Signature": value, "X-Timestamp": stamp}, method)).ok
    return value


def signed_by_cli(invwh, path, secret: str = SECRET_TEXT, *extra: str) -> dict[str, str]:
    result = invwh("sign", path, "--secret", secret, "--format", "json", *extra)
    return result.json["headers"]


# --- the SDK accepts what `invwh sign` produces ---------------------------


@pytest.mark.parametrize("secret", SECRETS, ids=["ascii", "non-ascii", "long"])
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_sdk_accepts_invwh_sign(invwh, sample, secret):
    headers = signed_by_cli(invwh, sample, secret)
    body = sample.read_bytes()
    assert set(headers) == {"Content-Type", "X-Timestamp", "X-Webhook-Signature"}
    result = sdk_verifier(secret).verify(request(body, headers))
    assert result.ok, result.errors


def test_sdk_accepts_the_known_answer(invwh):
    headers = signed_by_cli(
        invwh, SAMPLES / "minimal-increase.json", SECRET_TEXT, "--timestamp", "1700000000"
    )
    body = (SAMPLES / "minimal-increase.json").read_bytes()
    assert sdk_verifier().verify(request(body, headers)).ok
    assert headers["X-Webhook-Signature"] == sdk_expected_value(SECRET_TEXT, body, "1700000000")


@pytest.mark.parametrize(
    "body",
    [
        NON_ASCII_BODY,
        b'{"inventoryStockDepletedEventType": "stock.depleted"}\n',
        b'{"inventoryStockDepletedEventType": "stock.depleted"}\r\n',
        b'  {"inventoryStockDecreaseEventType": "stock.decrease"}  \n\n',
    ],
    ids=["non-ascii", "trailing-newline", "trailing-crlf", "surrounding-whitespace"],
)
def test_sdk_accepts_invwh_sign_of_awkward_bodies(invwh, tmp_path, body):
    path = tmp_path / "body.json"
    path.write_bytes(body)
    headers = signed_by_cli(invwh, path)
    assert sdk_verifier().verify(request(body, headers)).ok
    # And the same bytes piped through stdin sign the same way.
    stamp = headers["X-Timestamp"]
    piped = invwh("sign", "-", "--secret", SECRET_TEXT, "--timestamp", stamp, "--format", "value", input=body)
    assert piped.stdout.strip() == headers["X-Webhook-Signature"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_sdk_accepts_other_methods(invwh, method):
    path = SAMPLES / "stock-increase.json"
    headers = signed_by_cli(invwh, path, SECRET_TEXT, "--method", method.lower())
    assert sdk_verifier().verify(request(path.read_bytes(), headers, method)).ok
    assert not sdk_verifier().verify(request(path.read_bytes(), headers, "DELETE")).ok


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body + b"\n",
        lambda body: body[:-1],
        lambda body: body.replace(b"stock.", b"stock_", 1),
        # Spaces out a compact body, compacts a spaced one.
        lambda body: body.replace(b": ", b":") if b": " in body else body.replace(b'":', b'": ', 1),
        lambda body: b" " + body,
        lambda body: b"",
    ],
    ids=["newline-added", "last-byte-dropped", "value-changed", "re-spaced", "leading-space", "emptied"],
)
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_both_reject_tampered_bodies(invwh, sample, tamper):
    body = sample.read_bytes()
    tampered = tamper(body)
    assert tampered != body
    headers = signed_by_cli(invwh, sample)
    assert not sdk_verifier().verify(request(tampered, headers)).ok
    ours = check_signature(INVENTORY_V1, [Secret(SECRET_TEXT)], tampered, headers, tolerance=0)
    assert ours.reason == "signature_mismatch"


def test_both_reject_a_changed_timestamp_or_secret(invwh):
    path = SAMPLES / "stock-decrease.json"
    body = path.read_bytes()
    headers = signed_by_cli(invwh, path, SECRET_TEXT, "--timestamp", "1700000000")
    moved = {**headers, "X-Timestamp": "1700000001"}
    assert not sdk_verifier().verify(request(body, moved)).ok
    assert not check_signature(INVENTORY_V1, [Secret(SECRET_TEXT)], body, moved, tolerance=0).ok
    assert not sdk_verifier("s3cret2").verify(request(body, headers)).ok
    assert not check_signature(INVENTORY_V1, [Secret("s3cret2")], body, headers, tolerance=0).ok


# --- we accept what the SDK expects, for random bodies --------------------


def random_bodies(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies = [rng.randbytes(rng.randrange(0, 300)) for _ in range(count // 2)]
    alphabet = 'abc{}[]":, \n\t\\\u00e9\u2014\U0001f4e6'
    bodies += ["".join(rng.choices(alphabet, k=rng.randrange(0, 200))).encode() for _ in range(count // 2)]
    return bodies


@pytest.mark.parametrize("body", random_bodies(40, seed=20261127), ids=lambda b: f"{len(b)}B")
def test_check_signature_accepts_the_sdk_expected_value(body):
    rng = random.Random(body)
    secret = rng.choice(SECRETS)
    stamp = str(NOW + rng.randrange(-(10**6), 10**6))
    method = rng.choice(["POST", "PUT"])
    expected = sdk_expected_value(secret, body, stamp, method)
    headers = {"X-Webhook-Signature": expected, "X-Timestamp": stamp}
    ours = check_signature(INVENTORY_V1, [Secret(secret)], body, headers, method=method, tolerance=0)
    assert ours.ok, (ours.reason, ours.message)
    # Agreement both ways: our own signature is byte-for-byte the SDK's expectation.
    assert sign(INVENTORY_V1, Secret(secret), body, method=method, timestamp=int(stamp)) == headers


# --- hmac-sha256-hex against the verifier's defaults ----------------------


def default_verifier(secret: str = SECRET_TEXT) -> HmacSignatureVerifier:
    """sha256, HexEncoder, "{digest}", the raw body: HmacSignatureVerifier's defaults."""
    return HmacSignatureVerifier(secret_key=secret, signature_header="X-Webhook-Signature")


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_hmac_sha256_hex_matches_the_verifier_defaults(invwh, sample):
    headers = signed_by_cli(invwh, sample, SECRET_TEXT, "--scheme", "hmac-sha256-hex")
    assert "X-Timestamp" not in headers
    body = sample.read_bytes()
    assert default_verifier().verify(request(body, headers)).ok
    assert not default_verifier().verify(request(body + b" ", headers)).ok


@pytest.mark.parametrize("body", random_bodies(10, seed=7), ids=lambda b: f"{len(b)}B")
def test_hmac_sha256_hex_both_directions(body):
    headers = sign(HMAC_SHA256_HEX, Secret(SECRET_TEXT), body)
    assert default_verifier().verify(request(body, headers)).ok
    assert check_signature(HMAC_SHA256_HEX, [Secret(SECRET_TEXT)], body, headers).ok


def test_sdk_needs_the_exact_timestamp_spelling(invwh):
    """Why `X-Timestamp` is sent spelled exactly so: the SDK's lookup is case-sensitive."""
    path = SAMPLES / "minimal-increase.json"
    headers = signed_by_cli(invwh, path)
    assert "X-Timestamp" in headers
    lowered = {name.lower(): value for name, value in headers.items()}
    assert not sdk_verifier().verify(request(path.read_bytes(), lowered)).ok
    assert check_signature(INVENTORY_V1, [Secret(SECRET_TEXT)], path.read_bytes(), lowered, tolerance=0).ok
