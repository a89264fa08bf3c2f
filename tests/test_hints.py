"""A hint is data in the core and words at the edge: the Python API's ``Verdict.hints`` are a
cause code, its facts and a plain sentence naming no CLI flag; ``cli/output/hints.py`` gives each
cause the CLI's words, flag advice included."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from conftest import SAMPLES

from inventory_cli.api import verify
from inventory_cli.cli.output.hints import WORDS, hint_words
from inventory_cli.signing.hints import Cause
from inventory_cli.signing.schemes import BUILTIN_SCHEMES
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.workflows.verdict import judge

SECRET = "s3cret"
NOW = 1_700_000_000
STAMP = str(NOW)
BODY = b'{"inventoryStockIncreaseEventType": "stock.increase"}'
PRETTY = (SAMPLES / "stock-increase.json").read_bytes()  # indented, with a trailing newline
COMPACT = json.dumps(json.loads(PRETTY), separators=(",", ":")).encode()
URL = "https://receiver.example/webhooks"
SIG, TS = "X-Webhook-Signature", "X-Timestamp"
GITHUB, SHOPIFY, SQUARE = (BUILTIN_SCHEMES[name] for name in ("github", "shopify", "square"))


def v1(
    body: bytes,
    *,
    secret: bytes = b"s3cret",
    method: str = "POST",
    stamp: str = STAMP,
    hash_name: str = "sha512",
    encode=lambda raw: base64.b64encode(raw).decode(),
) -> dict[str, str]:
    """inventory-v1 headers computed independently of the code under test."""
    raw = hmac.new(secret, f"{method}|{stamp}|".encode() + body, hash_name).digest()
    return {SIG: "v1=" + encode(raw), TS: STAMP}  # fmt: skip


def hex_sha256(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def urlsafe(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Each cause with a delivery that shows it: (received body, headers, the options of verify()).
DELIVERIES = {
    Cause.OTHER_SCHEME_HEADER: (BODY, sign(GITHUB, Secret(SECRET), BODY), {}),
    Cause.SIGNATURE_LIKE_HEADERS: (BODY, {"X-Signature": "abc", TS: STAMP}, {}),
    Cause.OTHER_SCHEME: (BODY, {SIG: "sha256=" + hex_sha256(BODY)}, {"scheme": "hmac-sha256-hex"}),
    Cause.DIGEST_ENCODING: (BODY, v1(BODY, encode=urlsafe), {}),
    Cause.VALUE_PREFIX: (BODY, {SIG: v1(BODY)[SIG].removeprefix("v1="), TS: STAMP}, {}),
    Cause.UNUSABLE_SECRET: (
        BODY, sign(BUILTIN_SCHEMES["standard-webhooks"], Secret("whsec_" + "A" * 32), BODY),
        {"scheme": "standard-webhooks", "secret": ["whsec_not base64!", "whsec_" + "B" * 32]},
    ),
    Cause.DIGEST_SPELLING: (BODY, {SIG: hex_sha256(BODY).upper()}, {"scheme": "hmac-sha256-hex"}),
    Cause.SIGNED_DIFFERENTLY: (BODY, v1(BODY, encode=bytes.hex), {}),
    Cause.TRAILING_NEWLINE: (BODY + b"\n", v1(BODY), {}),
    Cause.LINE_ENDINGS: (PRETTY.replace(b"\n", b"\r\n"), v1(PRETTY), {}),
    Cause.RESERIALIZED_BODY: (PRETTY, v1(COMPACT), {}),
    Cause.OTHER_METHOD: (BODY, v1(BODY, method="PUT"), {}),
    Cause.OTHER_URL: (
        BODY, sign(SQUARE, Secret(SECRET), BODY, url=URL + "/"), {"scheme": "square", "url": URL}
    ),
    Cause.URL_UNSIGNED: (
        BODY, {SQUARE.signature_header: sign(SHOPIFY, Secret(SECRET), BODY)[SHOPIFY.signature_header]},
        {"scheme": "square", "url": URL},
    ),
    Cause.TIMESTAMP_UNSIGNED: (BODY, {SIG: v1(BODY, stamp="")[SIG], TS: STAMP}, {}),
    Cause.OTHER_SCHEME_MESSAGE: (
        BODY, {SIG: "v1=" + base64.b64encode(hmac.new(b"s3cret", BODY, "sha512").digest()).decode(),
               TS: STAMP},
        {},
    ),
    Cause.WRONG_SECRET: (BODY, v1(BODY, secret=b"another secret"), {}),
    Cause.MILLISECONDS_TIMESTAMP: (BODY, {**v1(BODY, stamp="170000000000"), TS: "170000000000"}, {}),
}  # fmt: skip

#: The causes whose CLI words add advice that names a flag, and the flag.
FLAG_ADVICE = {
    Cause.OTHER_SCHEME_HEADER: "--scheme github",
    Cause.OTHER_SCHEME: "--scheme github",
    Cause.OTHER_SCHEME_MESSAGE: "--scheme hmac-sha256-hex",
    Cause.OTHER_URL: "--notification-url",
}


def hints_of(cause: Cause):
    body, headers, options = DELIVERIES[cause]
    options = {"secret": SECRET, "now": NOW, "validate": False, **options}
    if cause is Cause.UNUSABLE_SECRET:
        # verify() refuses a secret not in the scheme's form outright (an InputError); a
        # receiver given several goes on with the usable ones, through the same judge().
        scheme, secrets = BUILTIN_SCHEMES[options.pop("scheme")], options.pop("secret")
        verdict = judge(scheme, [Secret(text) for text in secrets], body, headers, **options)
    else:
        verdict = verify(body, headers, **options)
    assert not verdict.valid
    return verdict.hints


def test_every_cause_has_a_delivery_here():
    assert set(DELIVERIES) == set(Cause)


@pytest.mark.parametrize("cause", list(Cause), ids=str)
def test_the_python_api_names_the_cause_in_plain_facts_without_cli_flags(cause):
    hints = hints_of(cause)
    assert cause in [hint.code for hint in hints], hints
    for hint in hints:
        assert str(hint) == hint.text and hint.text
        assert "--" not in hint.text  # no advice about flags a Python caller does not have
        assert "--" not in json.dumps(hint.to_dict())
        assert hint.to_dict()["code"] == hint.code.value


@pytest.mark.parametrize("cause", list(Cause), ids=str)
def test_the_cli_words_of_each_cause_add_the_flag_advice_and_only_that(cause):
    (hint,) = [hint for hint in hints_of(cause) if hint.code == cause]
    said = hint_words(hint)
    if cause in FLAG_ADVICE:
        assert FLAG_ADVICE[cause] in said and said != hint.text
    else:
        assert said == hint.text


def test_each_cause_code_has_cli_words():
    assert set(WORDS) == set(Cause)


def test_the_facts_name_what_would_verify():
    (other_scheme,) = hints_of(Cause.OTHER_SCHEME)
    assert dict(other_scheme.facts) == {"scheme": "github"}
    (header,) = hints_of(Cause.OTHER_SCHEME_HEADER)
    assert dict(header.facts) == {"header": "X-Hub-Signature-256", "scheme": "github"}
    (url,) = hints_of(Cause.OTHER_URL)
    assert dict(url.facts) == {"url": URL + "/", "checked": URL}
    (stamp,) = hints_of(Cause.MILLISECONDS_TIMESTAMP)
    assert dict(stamp.facts) == {"header": TS}


def test_invwh_verify_says_the_flag_advice_and_its_json_carries_the_code(invwh, tmp_path):
    body, headers, _ = DELIVERIES[Cause.OTHER_SCHEME_HEADER]
    path = tmp_path / "body.json"
    path.write_bytes(body)
    args = [
        "verify",
        "--body",
        path,
        "--no-validate",
        *(f"-H{name}: {value}" for name, value in headers.items()),
    ]
    env = {"INVWH_SECRET": SECRET, "COLUMNS": "300"}  # a wide terminal: each line whole
    text = invwh(*args, code=1, env=env).stdout
    assert "likely cause: there is a X-Hub-Signature-256 header: try --scheme github\n" in text
    reported = invwh(*args, "--format", "json", code=1, env=env).json
    assert reported["hints"] == ["there is a X-Hub-Signature-256 header: try --scheme github"]
    assert reported["hint_codes"] == ["other_scheme_header"]
