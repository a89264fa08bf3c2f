"""Svix's header names (`svix-id`, `svix-timestamp`, `svix-signature`) verify under `standard-webhooks`.

The headers are made by the `standardwebhooks` reference library and renamed
to `svix-*`, which is exactly what Svix sends (the `svix` package itself
depends on pydantic and httpx, too heavy for a test extra). They verify with
`verify`, with `invwh listen` (a real receiver over HTTP) and in its
recording's audit; `replay --keep-signature` keeps them. The aliases are a
field of the scheme: a config scheme may define its own, and `schemes show`
round-trips them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import requests
import standardwebhooks
from conftest import VALID_SAMPLES
from servers import serve
from test_listen import listen_subprocess
from test_schemes import SW_SECRET

from inventory_cli.cli.output.hints import hints_words
from inventory_cli.config.load import load_config
from inventory_cli.errors import ConfigError, SchemeDefinitionError
from inventory_cli.signing.schemes import STANDARD_WEBHOOKS, Scheme
from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature
from inventory_cli.workflows.verdict import judge

TIMEOUT = 5  # seconds, for every network call
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def svix_headers(body: bytes, stamp: int | None = None, msg_id: str = MSG_ID) -> dict[str, str]:
    """What Svix sends: the reference library's signature under Svix's header names."""
    stamp = int(time.time()) if stamp is None else stamp
    when = datetime.fromtimestamp(stamp, tz=timezone.utc)
    signature = standardwebhooks.Webhook(SW_SECRET).sign(msg_id, when, body.decode("utf-8"))
    return {"svix-id": msg_id, "svix-timestamp": str(stamp), "svix-signature": signature}


def header_args(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]


def check(body: bytes, headers: dict[str, str], scheme: Scheme = STANDARD_WEBHOOKS):
    return check_signature(scheme, [Secret(SW_SECRET)], body, headers)


# --- the core ----------------------------------------------------------------------


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_svix_headers_verify_and_tampering_still_fails(sample):
    body = sample.read_bytes()
    headers = svix_headers(body)
    assert (check(body, headers).ok, check(body, headers).reason) == (True, "ok")
    assert check(body + b" ", headers).reason == "signature_mismatch"
    assert check(body, {**headers, "svix-id": "msg_other"}).reason == "signature_mismatch"
    assert check(body, svix_headers(body, stamp=int(time.time()) - 3600)).reason == "stale_timestamp"


def test_any_spelling_of_the_alias_names_is_accepted():
    body = VALID_SAMPLES[0].read_bytes()
    headers = {name.title(): value for name, value in svix_headers(body).items()}  # Svix-Id, ...
    assert check(body, headers).ok


def test_each_alias_stands_for_its_own_header():
    body = VALID_SAMPLES[0].read_bytes()
    headers = svix_headers(body)
    mixed = {"webhook-id": headers["svix-id"], "svix-timestamp": headers["svix-timestamp"],
             "webhook-signature": headers["svix-signature"]}  # fmt: skip
    assert check(body, mixed).ok
    assert check(body, {k: v for k, v in headers.items() if k != "svix-id"}).reason == "missing_id"


def test_the_schemes_own_name_wins_when_both_come():
    body = VALID_SAMPLES[0].read_bytes()
    headers = svix_headers(body)
    wrong = {"webhook-id": "msg_other", "webhook-timestamp": headers["svix-timestamp"],
             "webhook-signature": headers["svix-signature"]}  # fmt: skip
    assert check(body, {**headers, **wrong}).reason == "signature_mismatch"


def test_other_schemes_have_no_aliases_and_the_diagnosis_points_at_standard_webhooks():
    body = VALID_SAMPLES[0].read_bytes()
    result = check(body, svix_headers(body), scheme=Scheme("plain", "", "webhook-signature"))
    assert result.reason == "missing_signature"
    inventory = judge(
        Scheme("inv", "", "X-Webhook-Signature"),
        [Secret(SW_SECRET)],
        body,
        svix_headers(body),
        validate=False,
    )
    assert hints_words(inventory.hints) == [
        "there is a svix-signature header: try --scheme standard-webhooks"
    ]


# --- the commands --------------------------------------------------------------------


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_verify_accepts_svix_headers(invwh, sample):
    headers = svix_headers(sample.read_bytes())
    result = invwh("verify", "--body", sample, "--scheme", "standard-webhooks", *header_args(headers),
                   "--format", "json", env={"INVWH_SECRET": SW_SECRET})  # fmt: skip
    assert (result.json["valid"], result.json["reason"]) == (True, "ok")


def test_sign_keeps_the_standard_names(invwh):
    signed = invwh("sign", VALID_SAMPLES[0], "--scheme", "standard-webhooks", "--format", "json",
                   env={"INVWH_SECRET": SW_SECRET}).json  # fmt: skip
    assert set(signed["headers"]) == {"Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature"}


def test_listen_accepts_svix_headers_and_its_recording_audits_valid(invwh, tmp_path):
    record = tmp_path / "svix.jsonl"
    args = ["--scheme", "standard-webhooks", "--record", str(record)]
    with listen_subprocess(*args, env={"INVWH_SECRET": SW_SECRET}) as listen:
        url = listen.lines.get(timeout=15).split()[-1]  # flushed at once: the URL
        body = VALID_SAMPLES[0].read_bytes()
        accepted = requests.post(url, data=body, headers=svix_headers(body), timeout=TIMEOUT)
        forged = requests.post(url, data=body + b" ", headers=svix_headers(body), timeout=TIMEOUT)
        listen.stop()
    assert (accepted.status_code, forged.status_code) == (200, 401), accepted.text
    audit = invwh("audit", record, "--scheme", "standard-webhooks", "--format", "json",
                  env={"INVWH_SECRET": SW_SECRET}, code=1).json  # fmt: skip
    assert audit["summary"]["valid"] == 1
    assert [(f["line"], f["reason"]) for f in audit["failures"]] == [(2, "signature_mismatch")]

    # Replayed as recorded, the signature keeps riding in Svix's headers.
    with serve() as server:
        invwh("replay", record, "--url", server.endpoint(), "--scheme", "standard-webhooks",
              "--keep-signature", "--expect", "200", env={"INVWH_SECRET": SW_SECRET})  # fmt: skip
    first = {name.lower(): value for name, value in server.received[0].headers.items()}
    assert first["svix-signature"] == svix_headers(body, stamp=int(first["svix-timestamp"]))["svix-signature"]


# --- the field, in a config file ------------------------------------------------------------


def test_a_config_scheme_may_define_aliases_and_schemes_show_round_trips_them(invwh, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "invwh.toml").write_text(
        "[schemes.acme]\n"
        'signature_header = "X-Acme-Signature"\n'
        'header_aliases = { "X-Legacy-Signature" = "X-Acme-Signature" }\n'
    )
    acme = load_config().schemes["acme"]
    assert acme.header_aliases == (("X-Legacy-Signature", "X-Acme-Signature"),)
    body = b'{"a": 1}'
    signed = invwh("sign", "-", "--scheme", "acme", "--no-validate", "--secret", SW_SECRET, "--format",
                   "json", input=body).json["headers"]  # fmt: skip
    legacy = {"X-Legacy-Signature": signed["X-Acme-Signature"]}
    invwh("verify", "--body", "-", "--scheme", "acme", "--no-validate", "--secret", SW_SECRET,
          *header_args(legacy), input=body)  # fmt: skip

    block = invwh("schemes", "show", "acme").stdout
    assert 'header_aliases = { "X-Legacy-Signature" = "X-Acme-Signature" }' in block
    (tmp_path / "invwh.toml").write_text(block.replace("[schemes.acme]", "[schemes.acme2]"))
    assert load_config().schemes["acme2"].header_aliases == acme.header_aliases


@pytest.mark.parametrize(
    ("aliases", "complaint"),
    [
        ('{ "X-Old" = "X-Nothing" }', "X-Old stands for X-Nothing, which is not a header the scheme reads"),
        ('{ "X-Acme-Signature" = "X-Acme-Signature" }', "X-Acme-Signature is already the name of a header"),
        ('{ "bad name" = "X-Acme-Signature" }', "is not an HTTP header name: 'bad name'"),
        ('"X-Old"', "must be a table of names"),
    ],
)
def test_a_bad_alias_in_a_config_file_is_one_line_naming_the_key(invwh, tmp_path, aliases, complaint):
    path = tmp_path / "bad.toml"
    path.write_text(f'[schemes.acme]\nsignature_header = "X-Acme-Signature"\nheader_aliases = {aliases}\n')
    config = load_config(str(path))
    assert config is not None
    with pytest.raises(ConfigError) as raised:  # said when a command reads the schemes
        _ = config.schemes
    assert "schemes.acme.header_aliases" in str(raised.value)
    assert complaint in str(raised.value)
    result = invwh("--config", path, "schemes", code=2)
    assert result.stderr == f"invwh: error: {raised.value}\n"


def test_aliases_are_part_of_the_schemes_identity():
    plain = Scheme("s", "", "X-Sig")
    aliased = Scheme("s", "", "X-Sig", header_aliases={"X-Old-Sig": "X-Sig"})
    assert plain != aliased and hash(plain) != hash(aliased)
    assert aliased == Scheme("s", "", "X-Sig", header_aliases=[("X-Old-Sig", "X-Sig")])
    assert json.loads(json.dumps(aliased.definition()))["header_aliases"] == {"X-Old-Sig": "X-Sig"}
    assert "header_aliases" not in plain.definition()
    with pytest.raises(SchemeDefinitionError):
        Scheme("s", "", "X-Sig", header_aliases={"x-sig": "X-Sig"})
