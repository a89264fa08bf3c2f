"""The signing core: the known answer, round trips, every failure reason; the diagnosis hints
that the verdict layer adds to a failure."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, VALID_SAMPLES, generate_secret

from inventory_cli.cli.output.hints import hint_words, hints_words
from inventory_cli.errors import InputError, UnknownSchemeError
from inventory_cli.signing.schemes import (
    BUILTIN_SCHEMES,
    DEFAULT_SCHEME,
    ENCODINGS,
    HASHES,
    HMAC_SHA256_HEX,
    INVENTORY_V1,
    Scheme,
    get_scheme,
)
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.verdict import judge

KNOWN_SECRET = "s3cret"
KNOWN_TIMESTAMP = 1700000000
KNOWN_BODY = b'{"inventoryStockIncreaseEventType": "stock.increase"}'
KNOWN_SIGNATURE = (
    "v1=B4XUvFJvAFbOv52stVfig7fj7TUdr4AYb1FLKefIOdrwGn6XtiqDTKtFygFM+DY1Kf8oFNN29Iu59Wci2znpYg=="
)

SECRET = Secret(KNOWN_SECRET)
NOW = 1_700_000_000
#: The notification URL signed for and checked against: only a scheme that signs it (square) reads it.
URL = "https://receiver.example/webhooks"
SIG = "X-Webhook-Signature"
TS = "X-Timestamp"


def v1_headers(
    body: bytes,
    *,
    secret: bytes = b"s3cret",
    method: str = "POST",
    stamp: str = "1700000000",
    hash_name: str = "sha512",
    encode=lambda raw: base64.b64encode(raw).decode(),
) -> dict[str, str]:
    """inventory-v1 headers computed independently of the code under test."""
    message = method.encode() + b"|" + stamp.encode() + b"|" + body
    raw = hmac.new(secret, message, hash_name).digest()
    return {SIG: "v1=" + encode(raw), TS: stamp}


def check(body: bytes, headers: dict[str, str], *, scheme: Scheme = INVENTORY_V1, **options):
    options.setdefault("now", NOW)
    return check_signature(scheme, [SECRET], body, headers, **options)


def explained(body: bytes, headers: dict[str, str], *, scheme: Scheme = INVENTORY_V1, **options):
    """The verdict with the likely causes of a failure (``diagnosis.explain``), the payload unchecked."""
    options.setdefault("now", NOW)
    return judge(scheme, [SECRET], body, headers, validate=False, **options)


# --- the known answer ----------------------------------------------------


def test_known_answer_core():
    headers = sign(INVENTORY_V1, SECRET, KNOWN_BODY, method="POST", timestamp=KNOWN_TIMESTAMP)
    assert headers == {TS: "1700000000", SIG: KNOWN_SIGNATURE}


def test_known_answer_is_the_minimal_sample_and_independent_computation_agrees():
    assert (SAMPLES / "minimal-increase.json").read_bytes() == KNOWN_BODY
    assert v1_headers(KNOWN_BODY)[SIG] == KNOWN_SIGNATURE


def test_known_answer_cli(invwh):
    result = invwh(
        "sign", SAMPLES / "minimal-increase.json", "--secret", KNOWN_SECRET,
        "--timestamp", KNOWN_TIMESTAMP, "--format", "value",
    )  # fmt: skip
    assert result.stdout == KNOWN_SIGNATURE + "\n"


def test_known_answer_verifies(invwh):
    result = invwh(
        "verify", "--body", SAMPLES / "minimal-increase.json", "--secret", KNOWN_SECRET,
        "-H", f"{SIG}: {KNOWN_SIGNATURE}", "-H", f"{TS}: {KNOWN_TIMESTAMP}", "--now", KNOWN_TIMESTAMP,
        "--format", "json",
    )  # fmt: skip
    assert result.json["valid"] is True
    assert result.json["reason"] == "ok"


def test_default_scheme_is_inventory_v1():
    assert DEFAULT_SCHEME == "inventory-v1"
    assert get_scheme(DEFAULT_SCHEME) is INVENTORY_V1


def test_method_is_upper_cased_like_the_request_line():
    assert (
        sign(INVENTORY_V1, SECRET, KNOWN_BODY, method="post", timestamp=KNOWN_TIMESTAMP)[SIG]
        == KNOWN_SIGNATURE
    )


@pytest.mark.parametrize(
    "body",
    [
        KNOWN_BODY,
        KNOWN_BODY + b"\n",
        b"",
        '{"note": "caf\u00e9 \u2014 \u00fcber"}'.encode(),
        bytes(range(256)),
    ],
    ids=["known", "trailing-newline", "empty", "non-ascii", "all-bytes"],
)
def test_hmac_sha256_hex_independent_vector(body):
    expected = hmac.new(KNOWN_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(HMAC_SHA256_HEX, SECRET, body) == {SIG: expected}
    # No timestamp header, and neither method nor time changes it.
    assert sign(HMAC_SHA256_HEX, SECRET, body, method="PUT", timestamp=5) == {SIG: expected}


def test_hmac_sha256_hex_cli(invwh):
    path = SAMPLES / "stock-increase.json"
    expected = hmac.new(b"s3cret", path.read_bytes(), hashlib.sha256).hexdigest()
    result = invwh("sign", path, "--secret", "s3cret", "--scheme", "hmac-sha256-hex", "--format", "value")
    assert result.stdout == expected + "\n"


def test_timestamp_defaults_to_now():
    import time

    before = int(time.time())
    stamp = int(sign(INVENTORY_V1, SECRET, KNOWN_BODY)[TS])
    assert before <= stamp <= int(time.time())


# --- round trips ------------------------------------------------------------


@pytest.mark.parametrize("scheme_name", list(BUILTIN_SCHEMES))
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_round_trip_every_sample_every_scheme(sample, scheme_name):
    scheme = BUILTIN_SCHEMES[scheme_name]
    body = sample.read_bytes()
    headers = sign(scheme, SECRET, body, timestamp=NOW, url=URL)
    result = check_signature(scheme, [SECRET], body, headers, now=NOW, url=URL)
    assert (result.ok, result.reason, result.secret_index, result.signature_ok) == (True, "ok", 0, True)
    # And one changed byte breaks it.
    tampered = body.replace(b"stock.", b"stock_", 1)
    assert not check_signature(scheme, [SECRET], tampered, headers, now=NOW, url=URL).ok


@pytest.mark.parametrize("scheme_name", list(BUILTIN_SCHEMES))
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_round_trip_through_the_cli(invwh, sample, scheme_name):
    url = ["--notification-url", URL] if BUILTIN_SCHEMES[scheme_name].signs_url else []
    key = "whsec_aw==" if scheme_name == "standard-webhooks" else "k"  # whsec_ and base64 there
    signed = invwh("sign", sample, "--secret", key, "--scheme", scheme_name, *url, "--format", "json").json
    header_args = [arg for name, value in signed["headers"].items() for arg in ("-H", f"{name}: {value}")]
    verified = invwh("verify", "--body", sample, "--secret", key, "--scheme", scheme_name, *header_args,
                     *url, "--format", "json")  # fmt: skip
    assert verified.json["valid"] is True
    assert verified.json["event_type"] == signed["event_type"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("hash_name", HASHES)
def test_scheme_as_data_every_hash_and_encoding(hash_name, encoding):
    scheme = Scheme(
        name="custom",
        summary="test",
        signature_header="X-Sig",
        hash=hash_name,
        encoding=encoding,
        value_template="t=1,d={digest}",
        message_template="{timestamp}.{method}.{header:X-Delivery}.{body}",
        timestamp_header="X-Time",
    )
    body = b'{"inventoryStockDepletedEventType": "stock.depleted"}'
    headers = sign(scheme, SECRET, body, method="PATCH", timestamp=NOW, headers={"x-delivery": "d-1"})
    raw = hmac.new(b"s3cret", f"{NOW}.PATCH.d-1.".encode() + body, hash_name).digest()
    text = {
        "hex": raw.hex(),
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }[encoding]
    # The signed header is among the headers to send: what is signed is sent.
    assert headers == {"X-Time": str(NOW), "x-delivery": "d-1", "X-Sig": f"t=1,d={text}"}
    received = {**headers, "X-Delivery": "d-1"}
    assert check_signature(scheme, [SECRET], body, received, method="PATCH", now=NOW).ok
    # The named header is part of the signed message.
    other = {**headers, "X-Delivery": "d-2"}
    assert (
        check_signature(scheme, [SECRET], body, other, method="PATCH", now=NOW).reason == "signature_mismatch"
    )


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ({"hash": "md5"}, "hash must be one of"),
        ({"encoding": "base32"}, "encoding must be one of"),
        ({"value_template": "v1="}, "{digest}"),
        ({"value_template": "{digest}{digest}"}, "{digest}"),
        ({"message_template": "{timestamp}|{body}"}, "timestamp_header"),
    ],
)
def test_scheme_rejects_bad_definitions(fields, complaint):
    with pytest.raises(UnknownSchemeError, match=complaint.replace("{", r"\{").replace("}", r"\}")):
        Scheme(name="bad", summary="", signature_header="X-Sig", **fields)


def test_unknown_scheme_names_the_known_ones():
    with pytest.raises(UnknownSchemeError, match="inventory-v1, hmac-sha256-hex"):
        get_scheme("no-such-scheme")


# --- key rotation -----------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2])
def test_rotation_valid_if_any_secret_matches(index):
    secrets = [Secret("old-key"), Secret("current-key"), Secret("next-key")]
    headers = sign(INVENTORY_V1, secrets[index], KNOWN_BODY, timestamp=NOW)
    result = check_signature(INVENTORY_V1, secrets, KNOWN_BODY, headers, now=NOW)
    assert result.ok
    assert result.secret_index == index
    assert f"secret #{index + 1}" in result.message


def test_rotation_none_matches():
    secrets = [Secret("old-key"), Secret("current-key"), Secret("next-key")]
    headers = sign(INVENTORY_V1, Secret("stranger"), KNOWN_BODY, timestamp=NOW)
    result = check_signature(INVENTORY_V1, secrets, KNOWN_BODY, headers, now=NOW)
    assert (result.ok, result.reason, result.secret_index) == (False, "signature_mismatch", None)
    assert "any of the 3 given secrets" in result.message


def test_rotation_stale_still_says_which_secret():
    secrets = [Secret("old-key"), Secret("current-key")]
    headers = sign(INVENTORY_V1, secrets[1], KNOWN_BODY, timestamp=NOW - 3600)
    result = check_signature(INVENTORY_V1, secrets, KNOWN_BODY, headers, now=NOW)
    assert (result.reason, result.secret_index, result.signature_ok) == ("stale_timestamp", 1, True)


# --- every failure reason ------------------------------------------------

GOOD = v1_headers(KNOWN_BODY)


@pytest.mark.parametrize(
    "headers, reason, in_message",
    [
        ({TS: "1700000000"}, "missing_signature", "no X-Webhook-Signature header"),
        ({SIG: "   ", TS: "1700000000"}, "missing_signature", "no X-Webhook-Signature header"),
        ({SIG: "v1=!!!", TS: "1700000000"}, "malformed_signature", "v1=<base64 HMAC-SHA512>"),
        ({SIG: "v1=", TS: "1700000000"}, "malformed_signature", "should look like"),
        ({SIG: "v1=abc", TS: "1700000000"}, "malformed_signature", "should look like"),
        ({SIG: "sha512=abcd", TS: "1700000000"}, "malformed_signature", "got 'sha512=abcd'"),
        ({SIG: "v1=\u00e9\u00e9\u00e9\u00e9", TS: "1700000000"}, "malformed_signature", "should look like"),
        ({SIG: GOOD[SIG]}, "missing_timestamp", "no X-Timestamp header"),
        ({SIG: GOOD[SIG], TS: " "}, "missing_timestamp", "no X-Timestamp header"),
        ({SIG: GOOD[SIG], TS: "17e8"}, "malformed_timestamp", "unix seconds, got '17e8'"),
        ({SIG: GOOD[SIG], TS: "-1700000000"}, "malformed_timestamp", "unix seconds"),
        ({SIG: GOOD[SIG], TS: "1700000000.0"}, "malformed_timestamp", "unix seconds"),
        ({SIG: GOOD[SIG], TS: "2023-11-14T22:13:20Z"}, "malformed_timestamp", "unix seconds"),
        ({SIG: GOOD[SIG], TS: "1700000000000"}, "malformed_timestamp", "unix seconds"),
        ({SIG: GOOD[SIG], TS: "1700000001"}, "signature_mismatch", "does not match the body"),
        (v1_headers(KNOWN_BODY, secret=b"other"), "signature_mismatch", "under the given secret"),
    ],
)
def test_failure_reasons(headers, reason, in_message):
    result = check(KNOWN_BODY, headers)
    assert (result.ok, result.reason, result.signature_ok) == (False, reason, False)
    assert in_message in result.message


def test_missing_timestamp_is_checked_before_a_malformed_signature():
    assert check(KNOWN_BODY, {SIG: "nonsense"}).reason == "missing_timestamp"


@pytest.mark.parametrize(
    "offset, reason, in_message",
    [
        (-301, "stale_timestamp", "5 min old"),
        (-300, "ok", "signature valid"),
        (-86400 * 3, "stale_timestamp", "3 days old"),
        (0, "ok", "signature valid"),
        (300, "ok", "signature valid"),
        (301, "future_timestamp", "in the future"),
        (7200, "future_timestamp", "2 h in the future"),
    ],
)
def test_timestamp_age(offset, reason, in_message):
    headers = v1_headers(KNOWN_BODY, stamp=str(NOW + offset))
    result = check(KNOWN_BODY, headers, now=NOW)
    assert result.reason == reason
    assert result.ok is (reason == "ok")
    assert result.signature_ok is True
    assert result.timestamp == NOW + offset
    assert in_message in result.message


@pytest.mark.parametrize("tolerance, reason", [(10, "stale_timestamp"), (0, "ok")])
def test_tolerance_zero_disables_the_age_check(tolerance, reason):
    stale = v1_headers(KNOWN_BODY, stamp="1")
    future = v1_headers(KNOWN_BODY, stamp="99999999999")
    assert check(KNOWN_BODY, stale, tolerance=tolerance).reason == reason
    assert check(KNOWN_BODY, future, tolerance=tolerance).reason == (
        "future_timestamp" if tolerance else "ok"
    )


def test_custom_tolerance():
    headers = v1_headers(KNOWN_BODY, stamp=str(NOW - 60))
    assert check(KNOWN_BODY, headers, tolerance=59).reason == "stale_timestamp"
    assert check(KNOWN_BODY, headers, tolerance=60).reason == "ok"


def test_milliseconds_timestamp_hint():
    headers = v1_headers(KNOWN_BODY, stamp="170000000000")
    result = explained(KNOWN_BODY, headers)
    assert result.reason == "future_timestamp"
    assert any("milliseconds" in hint.text for hint in result.hints)


def test_hmac_sha256_hex_has_no_timestamp_check():
    headers = sign(HMAC_SHA256_HEX, SECRET, KNOWN_BODY)
    result = check(KNOWN_BODY, headers, scheme=HMAC_SHA256_HEX, now=10**12)
    assert (result.ok, result.timestamp) == (True, None)


def test_wrong_method_is_a_mismatch():
    headers = sign(INVENTORY_V1, SECRET, KNOWN_BODY, timestamp=NOW, method="POST")
    assert check(KNOWN_BODY, headers, method="PUT").reason == "signature_mismatch"
    assert check(KNOWN_BODY, headers, method="post").ok


# --- header names -----------------------------------------------------------


@pytest.mark.parametrize(
    "sig_name, ts_name",
    [
        ("X-Webhook-Signature", "X-Timestamp"),
        ("x-webhook-signature", "x-timestamp"),
        ("X-WEBHOOK-SIGNATURE", "X-TIMESTAMP"),
        ("x-WebHook-sIgnature", "X-timeSTAMP"),
    ],
)
def test_header_names_are_case_insensitive(sig_name, ts_name):
    result = check(KNOWN_BODY, {sig_name: KNOWN_SIGNATURE, ts_name: "1700000000"})
    assert result.ok, result.message


def test_header_values_are_stripped():
    assert check(KNOWN_BODY, {SIG: f"  {KNOWN_SIGNATURE} ", TS: " 1700000000 "}).ok


# --- secrets ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n", "\t \r\n"])
def test_empty_secret_is_an_input_error(text):
    with pytest.raises(InputError, match="empty"):
        Secret(text)


def test_undecodable_secret_is_an_input_error():
    with pytest.raises(InputError, match="UTF-8") as caught:
        Secret("s3cr\udcffet")
    assert "s3cr" not in str(caught.value)


@pytest.mark.parametrize("text", ["s3cret", "hunter2-very-long-" * 5, "\u00e9t\u00e9"])
def test_secret_hides_itself(text):
    secret = Secret(text)
    for shown in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"k": secret})):
        assert text not in shown
    assert secret.key == text.encode("utf-8")


def test_secret_equality():
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert len({Secret("a"), Secret("a")}) == 1


def test_non_ascii_secret_is_utf8_keyed():
    secret = Secret("cl\u00e9-\u043a\u043b\u044e\u0447")
    headers = sign(INVENTORY_V1, secret, KNOWN_BODY, timestamp=NOW)
    assert headers == v1_headers(KNOWN_BODY, secret="cl\u00e9-\u043a\u043b\u044e\u0447".encode())


# --- diagnosis ------------------------------------------------------------

PRETTY = (SAMPLES / "stock-increase.json").read_bytes()  # indented, keys not sorted, trailing newline
DOCUMENT = json.loads(PRETTY)
NON_ASCII = (SAMPLES / "stock-decrease.json").read_bytes()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "body, headers, reason, hint",
    [
        pytest.param(PRETTY, v1_headers(PRETTY.rstrip(b"\n")), "signature_mismatch",
                     "without its trailing newline", id="newline-removed-before-signing"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY + b"\n"), "signature_mismatch",
                     "plus a trailing newline", id="newline-added-before-signing"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY + b"\r\n"), "signature_mismatch",
                     "trailing CRLF", id="crlf-added-before-signing"),
        pytest.param(PRETTY, v1_headers(json.dumps(DOCUMENT, separators=(",", ":")).encode()),
                     "signature_mismatch", "re-serialized JSON (compact JSON)", id="compact-json"),
        pytest.param(PRETTY, v1_headers(json.dumps(DOCUMENT, sort_keys=True).encode()),
                     "signature_mismatch", "re-serialized JSON (JSON with sorted keys)", id="sorted-keys"),
        pytest.param(PRETTY, v1_headers(json.dumps(DOCUMENT).encode()),
                     "signature_mismatch", "re-serialized JSON", id="json-dumps"),
        pytest.param(NON_ASCII, v1_headers(json.dumps(json.loads(NON_ASCII), ensure_ascii=False,
                                                      separators=(",", ":")).encode()),
                     "signature_mismatch", "re-serialized JSON (compact JSON)", id="compact-non-ascii"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, encode=bytes.hex), "signature_mismatch",
                     "hex-encoded; inventory-v1 expects base64", id="hex-instead-of-base64"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, hash_name="sha256"), "signature_mismatch",
                     "HMAC-SHA256; inventory-v1 uses HMAC-SHA512", id="sha256-instead-of-sha512"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, hash_name="sha1"), "signature_mismatch",
                     "HMAC-SHA1", id="sha1-instead-of-sha512"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, hash_name="sha256", encode=bytes.hex),
                     "signature_mismatch", "HMAC-SHA256", id="sha256-hex"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, method="PUT"), "signature_mismatch",
                     "method PUT, not POST", id="put-instead-of-post"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, method="GET"), "signature_mismatch",
                     "method GET", id="get-instead-of-post"),
        pytest.param(KNOWN_BODY, {SIG: v1_headers(KNOWN_BODY, stamp="")[SIG], TS: "1700000000"},
                     "signature_mismatch", "without X-Timestamp in the signed", id="timestamp-not-signed"),
        pytest.param(KNOWN_BODY, {SIG: "v1=" + _b64(hmac.new(b"s3cret", KNOWN_BODY, "sha512").digest()),
                                  TS: "1700000000"},
                     "signature_mismatch", "the bytes the hmac-sha256-hex scheme signs", id="body-alone"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, secret=b"s3cret\n"), "signature_mismatch",
                     "secret plus a trailing newline", id="secret-with-newline"),
        pytest.param(KNOWN_BODY, {**sign(HMAC_SHA256_HEX, SECRET, KNOWN_BODY), TS: "1700000000"},
                     "malformed_signature", "try --scheme hmac-sha256-hex", id="made-under-hmac-sha256-hex"),
        pytest.param(KNOWN_BODY, {SIG: KNOWN_SIGNATURE.removeprefix("v1="), TS: "1700000000"},
                     "malformed_signature", "should start with 'v1='", id="prefix-missing"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, encode=lambda r: base64.urlsafe_b64encode(r).decode()
                                            .rstrip("=")),
                     "malformed_signature", "base64url-encoded; inventory-v1 expects base64", id="base64url"),
        pytest.param(KNOWN_BODY, v1_headers(KNOWN_BODY, secret=b"another secret"), "signature_mismatch",
                     "signed with another secret", id="other-secret"),
    ],
)  # fmt: skip
def test_diagnosis_names_the_cause(body, headers, reason, hint):
    result = explained(body, headers)
    assert result.reason == reason
    assert len(result.hints) == 1, result.hints
    assert hint in hint_words(result.hints[0])  # as the CLI says it, flag advice included


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_diagnosis_of_a_signature_made_under_the_other_scheme(sample):
    body = sample.read_bytes()
    v1 = sign(INVENTORY_V1, SECRET, body, timestamp=NOW)
    result = explained(body, v1, scheme=HMAC_SHA256_HEX)
    assert result.reason == "malformed_signature"
    assert [hint.text for hint in result.hints] == ["the signature follows the inventory-v1 scheme"]
    assert result.hints[0].facts["scheme"] == "inventory-v1"
    assert hints_words(result.hints) == [
        "the signature follows the inventory-v1 scheme: try --scheme inventory-v1"
    ]


def test_diagnosis_upper_case_hex():
    headers = sign(HMAC_SHA256_HEX, SECRET, KNOWN_BODY)
    result = explained(KNOWN_BODY, {SIG: headers[SIG].upper()}, scheme=HMAC_SHA256_HEX)
    assert result.reason == "signature_mismatch"
    assert "spelled differently" in result.hints[0].text


def test_diagnosis_of_a_missing_signature_points_at_lookalike_headers():
    result = explained(KNOWN_BODY, {"X-Signature": KNOWN_SIGNATURE, TS: "1700000000"})
    assert result.reason == "missing_signature"
    assert [hint.text for hint in result.hints] == ["headers that look like signatures: x-signature"]


def test_no_hint_for_an_empty_digest():
    # An empty digest decodes in every encoding; that is no reason to blame one.
    assert explained(KNOWN_BODY, {SIG: "v1=", TS: "1700000000"}).hints == []


def test_diagnosis_survives_json_it_cannot_round_trip():
    # A lone surrogate escape parses but cannot be written back as UTF-8.
    body = b'{"inventoryStockIncreaseEventType": "stock.increase", "x": "\\udcff"}'
    result = explained(body, v1_headers(b"{}"))
    assert result.reason == "signature_mismatch"
    assert result.hints


def test_missing_prefix_is_blamed_even_when_the_digest_also_reads_as_base64url():
    # About one base64 digest in fifteen has neither '+' nor '/', so it also reads as base64url.
    for n in range(1000):
        body = b'{"inventoryStockIncreaseEventType": "stock.increase", "n": %d}' % n
        value = v1_headers(body)[SIG]
        if "+" not in value and "/" not in value:
            break
    result = explained(body, {SIG: value.removeprefix("v1="), TS: "1700000000"})
    assert result.reason == "malformed_signature"
    assert [hint.text for hint in result.hints] == ["the value should start with 'v1='"]


# --- what a check finds, and who explains it ---------------------------------------


def test_a_failed_check_returns_the_facts_a_diagnosis_starts_from():
    unusable = Secret("whsec_not base64!")  # not in standard-webhooks' form: its index is a fact
    rotated = [unusable, SECRET]
    headers = {SIG: "v1=AAAA, ignored", TS: "1700000000"}
    mismatch = check_signature(
        INVENTORY_V1, [SECRET], KNOWN_BODY, {SIG: "v1=AAAA", TS: "1700000000"}, now=NOW
    )
    assert (mismatch.reason, mismatch.provided, mismatch.signatures, mismatch.digest, mismatch.timestamp) == (
        "signature_mismatch",
        "v1=AAAA",
        ("v1=AAAA",),
        "AAAA",
        NOW,
    )
    malformed = check(KNOWN_BODY, headers)
    assert (malformed.reason, malformed.digest, malformed.provided) == (
        "malformed_signature",
        None,
        headers[SIG],
    )
    assert check(KNOWN_BODY, {TS: "1700000000"}).provided is None
    from inventory_cli.signing.schemes import STANDARD_WEBHOOKS

    signed = sign(STANDARD_WEBHOOKS, Secret("whsec_" + base64.b64encode(b"k" * 24).decode()), KNOWN_BODY)
    unmatched = check_signature(STANDARD_WEBHOOKS, rotated, KNOWN_BODY, signed)
    assert (unmatched.reason, unmatched.unusable_secrets) == ("signature_mismatch", (0,))
    held = check_signature(
        INVENTORY_V1, [Secret("other"), SECRET], KNOWN_BODY, v1_headers(KNOWN_BODY), now=NOW
    )
    assert (held.ok, held.secret_index, held.signatures, held.message) == (
        True, 1, (KNOWN_SIGNATURE,), "signature valid (secret #2)",
    )  # fmt: skip


def test_checking_a_signature_never_loads_the_diagnosis():
    """The likely cause is the verdict layer's to ask for: a failed check alone imports no diagnosis."""
    code = (
        "import sys\n"
        "from inventory_cli.signing.schemes import INVENTORY_V1\n"
        "from inventory_cli.signing.signatures import Secret\n"
        "from inventory_cli.signing.verifier import check_signature\n"
        "headers = {'X-Webhook-Signature': 'v1=AAAA', 'X-Timestamp': '1700000000'}\n"
        "check = check_signature(INVENTORY_V1, [Secret('s3cret')], b'{}', headers, tolerance=0)\n"
        "print(check.reason, 'inventory_cli.signing.diagnosis' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.split() == ["signature_mismatch", "False"]


def test_signing_imports_neither_the_diagnosis_nor_the_verdict():
    """diagnosis imports signing, never the reverse: no cycle, at run time or for typing."""
    tree = ast.parse(Path(inspect.getfile(check_signature)).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert not {"diagnosis", "verdict"} & {name.rpartition(".")[2] for name in imported if name}
    diagnosis_file = Path(inspect.getfile(check_signature)).with_name("diagnosis.py")
    diagnosis = ast.parse(diagnosis_file.read_text(encoding="utf-8"))
    assert "signatures" in {node.module for node in ast.walk(diagnosis) if isinstance(node, ast.ImportFrom)}


# --- one signature path: signing and checking share make_signature, and no cache is global --------


@pytest.mark.parametrize("scheme_name", sorted(BUILTIN_SCHEMES))
def test_checking_compares_with_exactly_what_signing_made(scheme_name, monkeypatch):
    """``sign`` and ``check_signature`` make the signature by the one function: check(sign(x))
    holds, and what the check computed for the received bytes is the very value sign sent."""
    from inventory_cli.signing import signatures, verifier

    scheme = BUILTIN_SCHEMES[scheme_name]
    secret = generate_secret(scheme)
    made: list[bytes] = []
    real = signatures.make_signature

    def spy(form, mac, message):
        made.append(real(form, mac, message))
        return made[-1]

    monkeypatch.setattr(signatures, "make_signature", spy)  # the signer's one function
    monkeypatch.setattr(verifier, "make_signature", spy)  # ... as the verifier imports it
    headers = signatures.sign(scheme, secret, KNOWN_BODY, timestamp=NOW, url=URL)
    check = verifier.check_signature(scheme, [secret], KNOWN_BODY, headers, now=NOW, url=URL)
    assert check.ok, check.message
    signed, checked = made
    assert signed == checked
    assert signed.decode("ascii") in check.signatures


def test_no_cache_is_kept_at_module_level():
    """Keys, HMACs and compiled schemes live in a Signer or a Verifier built per run: the
    signing modules hold no mutable container or functools cache in their globals."""
    from inventory_cli.signing import diagnosis, schemes, signatures

    constants = {"BUILTIN_SCHEMES"}  # the built-in schemes: data, never written after import
    for module in (schemes, signatures, diagnosis):
        for name, value in vars(module).items():
            if name.startswith("__") or name in constants or inspect.ismodule(value):
                continue
            assert not isinstance(value, (dict, list, set, bytearray)), f"{module.__name__}.{name}"
            own = getattr(value, "__module__", module.__name__) == module.__name__  # not urlsplit's
            assert not (own and hasattr(value, "cache_info")), f"{module.__name__}.{name} is a cache"
