"""The commands' contract: formats, options, exit codes and help."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import subprocess

import click
import pytest
from conftest import INVALID_SAMPLES, SAMPLES, VALID_SAMPLES

from inventory_cli.cli.app import COMMANDS
from inventory_cli.signing.schemes import HMAC_SHA256_HEX, INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign

KNOWN = SAMPLES / "minimal-increase.json"
KNOWN_SIGNATURE = (
    "v1=B4XUvFJvAFbOv52stVfig7fj7TUdr4AYb1FLKefIOdrwGn6XtiqDTKtFygFM+DY1Kf8oFNN29Iu59Wci2znpYg=="
)
INCREASE = SAMPLES / "stock-increase.json"
NOW = "1700000000"
SAMPLE_TYPES = {
    "minimal-increase.json": "stock.increase",
    "stock-increase.json": "stock.increase",
    "stock-decrease.json": "stock.decrease",
    "stock-depleted.json": "stock.depleted",
    "cafe-creme-pretty.json": "stock.increase",
    "escaped-unicode.json": "stock.decrease",
    "numbers-as-written.json": "stock.increase",
}


def headers_args(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]


def signed(path, secret: str = "s3cret", timestamp: int = 1700000000, **options) -> dict[str, str]:
    return sign(INVENTORY_V1, Secret(secret), path.read_bytes(), timestamp=timestamp, **options)


# --- sign -----------------------------------------------------------------


def test_sign_headers_format_is_the_default(invwh):
    result = invwh("sign", KNOWN, "--secret", "s3cret", "--timestamp", NOW)
    assert result.stdout == (
        f"Content-Type: application/json\nX-Timestamp: 1700000000\nX-Webhook-Signature: {KNOWN_SIGNATURE}\n"
    )
    assert result.stderr == ""
    assert invwh("sign", KNOWN, "--secret", "s3cret", "--timestamp", NOW, "--format", "headers").stdout == (
        result.stdout
    )


def test_sign_headers_lines_feed_curl_h(invwh):
    """Every line is 'Name: value', as `curl -H @file` reads them."""
    lines = invwh("sign", INCREASE, "--secret", "k").stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        "Content-Type",
        "X-Timestamp",
        "X-Webhook-Signature",
    ]


@pytest.mark.parametrize(
    "scheme, header_names, timestamp",
    [
        ("inventory-v1", ["Content-Type", "X-Timestamp", "X-Webhook-Signature"], 1700000000),
        ("hmac-sha256-hex", ["Content-Type", "X-Webhook-Signature"], None),
    ],
)
@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_sign_json_format(invwh, sample, scheme, header_names, timestamp):
    data = invwh("sign", sample, "--secret", "s3cret", "--timestamp", NOW, "--scheme", scheme,
                 "--format", "json").json  # fmt: skip
    assert data["scheme"] == scheme
    assert data["event_type"] == SAMPLE_TYPES[sample.name]
    assert data["timestamp"] == timestamp
    assert data["method"] == "POST"
    assert data["body_bytes"] == len(sample.read_bytes())
    assert list(data["headers"]) == header_names
    scheme_object = INVENTORY_V1 if scheme == "inventory-v1" else HMAC_SHA256_HEX
    expected = sign(scheme_object, Secret("s3cret"), sample.read_bytes(), timestamp=1700000000)
    assert data["headers"] == {"Content-Type": "application/json", **expected}


def test_sign_json_without_validation_has_no_event_type(invwh, tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b"not json at all")
    data = invwh("sign", path, "--secret", "k", "--no-validate", "--format", "json").json
    assert data["event_type"] is None


def test_sign_value_format(invwh):
    value = invwh("sign", KNOWN, "--secret", "s3cret", "--timestamp", NOW, "--format", "value").stdout
    assert value == KNOWN_SIGNATURE + "\n"


def curl_words(command: str) -> list[str]:
    # `sh` drops backslash-newline line continuations; so do we before splitting.
    return shlex.split(command.replace("\\\n", ""))


def curl_headers(words: list[str]) -> dict[str, str]:
    return dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "--header")


def option_value(words: list[str], option: str) -> str:
    assert words.count(option) == 1, words
    return words[words.index(option) + 1]


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_sign_curl_format(invwh, sample):
    url = "http://localhost:3000/webhooks?tenant=a&x=1"
    command = invwh("sign", sample, "--secret", "s3cret", "--timestamp", NOW, "--format", "curl",
                    "--url", url).stdout  # fmt: skip
    words = curl_words(command)
    assert words[0] == "curl"
    assert option_value(words, "--url") == url
    assert option_value(words, "--request") == "POST"
    assert option_value(words, "--data-binary") == f"@{sample}"
    assert curl_headers(words) == {"Content-Type": "application/json", **signed(sample)}


def test_sign_curl_format_default_url_and_method(invwh):
    words = curl_words(invwh("sign", KNOWN, "--secret", "k", "--format", "curl", "--method", "put").stdout)
    assert option_value(words, "--url").startswith("http://")
    assert option_value(words, "--request") == "PUT"


def test_sign_curl_quotes_awkward_paths(invwh, tmp_path):
    path = tmp_path / "it's a body $HOME;.json"
    path.write_bytes(KNOWN.read_bytes())
    words = curl_words(invwh("sign", path, "--secret", "k", "--format", "curl").stdout)
    assert option_value(words, "--data-binary") == f"@{path}"


def test_sign_curl_from_stdin_carries_the_exact_body(invwh):
    body = b'{"inventoryStockIncreaseEventType": "stock.increase", "note": "it\'s $HOME `x`"}\n'
    command = invwh(
        "sign", "-", "--secret", "s3cret", "--timestamp", NOW, "--format", "curl", input=body
    ).stdout
    words = curl_words(command)
    assert option_value(words, "--data-binary").encode() == body
    expected = sign(INVENTORY_V1, Secret("s3cret"), body, timestamp=1700000000)
    assert curl_headers(words)["X-Webhook-Signature"] == expected["X-Webhook-Signature"]


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_sign_curl_runs_in_a_shell(invwh, tmp_path):
    """Run the command in sh with a stand-in `curl` that prints the arguments it was given."""
    body = b'{"inventoryStockDecreaseEventType": "stock.decrease", "q": "a\'b \\"c\\" $(x)"}'
    command = invwh("sign", "-", "--secret", "s3cret", "--format", "curl", "--url", "http://h/x?a=1&b=2",
                    input=body).stdout  # fmt: skip
    shim = 'curl() { for a in "$@"; do printf "%s\\0" "$a"; done; }\n'
    done = subprocess.run(["sh", "-c", shim + command], capture_output=True, timeout=60, check=True)
    argv = done.stdout.split(b"\0")[:-1]
    assert argv[argv.index(b"--data-binary") + 1] == body
    assert argv[argv.index(b"--url") + 1] == b"http://h/x?a=1&b=2"
    assert argv.count(b"--header") == 3


@pytest.mark.parametrize("sample", INVALID_SAMPLES, ids=lambda p: p.name)
def test_sign_refuses_an_invalid_event(invwh, sample):
    result = invwh("sign", sample, "--secret", "k", code=1)
    assert result.stdout == ""
    assert result.stderr.startswith(f"invwh: error: {sample} is not a valid inventory event")
    assert "--no-validate" in result.stderr
    assert "$" in result.stderr.splitlines()[1]


@pytest.mark.parametrize("sample", INVALID_SAMPLES, ids=lambda p: p.name)
def test_sign_no_validate_signs_anyway(invwh, sample):
    value = invwh(
        "sign", sample, "--secret", "k", "--timestamp", NOW, "--no-validate", "--format", "value"
    ).stdout
    expected = sign(INVENTORY_V1, Secret("k"), sample.read_bytes(), timestamp=1700000000)
    assert value == expected["X-Webhook-Signature"] + "\n"


@pytest.mark.parametrize("timestamp", ["0", "1", "1700000000", "4102444800"])
def test_sign_timestamp(invwh, timestamp):
    data = invwh("sign", KNOWN, "--secret", "k", "--timestamp", timestamp, "--format", "json").json
    assert data["headers"]["X-Timestamp"] == timestamp
    assert data["timestamp"] == int(timestamp)
    assert data["headers"]["X-Webhook-Signature"] == signed(KNOWN, "k", int(timestamp))["X-Webhook-Signature"]


@pytest.mark.parametrize("timestamp", ["-1", "soon", "1.5", "1000000000000", "99999999999999999999"])
def test_sign_bad_timestamp_is_a_usage_error(invwh, timestamp):
    assert "--timestamp" in invwh("sign", KNOWN, "--secret", "k", "--timestamp", timestamp, code=2).stderr


def test_sign_takes_every_timestamp_verify_reads_and_no_other(invwh):
    """One rule for both: the largest 12-digit timestamp signs and verifies; one more is refused
    by sign as verify would call it malformed."""
    largest = "999999999999"
    headers = invwh("sign", KNOWN, "--secret", "k", "--timestamp", largest, "--format", "json").json[
        "headers"
    ]
    invwh("verify", "--body", KNOWN, "--secret", "k", *headers_args(headers), "--now", largest)
    headers["X-Timestamp"] = str(int(largest) + 1)
    result = invwh(
        "verify", "--body", KNOWN, "--secret", "k", *headers_args(headers), "--now", largest, code=1
    )
    assert "must be unix seconds" in result.stdout + result.stderr
    result = invwh("sign", KNOWN, "--secret", "k", "--timestamp", str(int(largest) + 1), code=2)
    assert "0<=x<=999999999999" in result.stderr


@pytest.mark.parametrize("method", ["PUT", "patch", "DELETE"])
def test_sign_method(invwh, method):
    value = invwh("sign", KNOWN, "--secret", "k", "--timestamp", NOW, "--method", method, "--format", "value")
    assert value.stdout.strip() == signed(KNOWN, "k", method=method.upper())["X-Webhook-Signature"]
    assert value.stdout.strip() != signed(KNOWN, "k")["X-Webhook-Signature"]


@pytest.mark.parametrize("command", ["sign", "verify"])
@pytest.mark.parametrize("method", ["", "PO ST", "GET\r\nX-Evil: 1", "P\u00d6ST"])
def test_a_method_that_is_not_a_token_is_a_usage_error(invwh, command, method):
    args = [KNOWN] if command == "sign" else ["--body", KNOWN]
    result = invwh(command, *args, "--secret", "k", "--method", method, code=2)
    assert "not an HTTP method" in result.stderr


def test_sign_stdin(invwh):
    body = KNOWN.read_bytes()
    result = invwh("sign", "-", "--secret", "s3cret", "--timestamp", NOW, "--format", "value", input=body)
    assert result.stdout == KNOWN_SIGNATURE + "\n"
    changed = invwh(
        "sign", "-", "--secret", "s3cret", "--timestamp", NOW, "--format", "value", input=body + b"\n"
    )
    assert changed.stdout != result.stdout


# --- secrets ------------------------------------------------------------


@pytest.mark.parametrize("content", ["s3cret\n", "s3cret\r\n", "s3cret"], ids=["lf", "crlf", "none"])
def test_secret_file_drops_one_trailing_newline(invwh, tmp_path, content):
    path = tmp_path / "secret"
    path.write_bytes(content.encode())
    value = invwh("sign", KNOWN, "--secret-file", path, "--timestamp", NOW, "--format", "value").stdout
    assert value == KNOWN_SIGNATURE + "\n"


def test_secret_from_environment(invwh):
    value = invwh("sign", KNOWN, "--timestamp", NOW, "--format", "value", env={"INVWH_SECRET": "s3cret"})
    assert value.stdout == KNOWN_SIGNATURE + "\n"


def test_secret_flag_beats_environment(invwh):
    value = invwh("sign", KNOWN, "--secret", "s3cret", "--timestamp", NOW, "--format", "value",
                  env={"INVWH_SECRET": "wrong"})  # fmt: skip
    assert value.stdout == KNOWN_SIGNATURE + "\n"


def test_sign_takes_one_secret(invwh, tmp_path):
    path = tmp_path / "secret"
    path.write_text("a")
    assert "give one secret" in invwh("sign", KNOWN, "--secret", "b", "--secret-file", path, code=2).stderr


@pytest.mark.parametrize("command", ["sign", "verify"])
def test_missing_secret_names_the_three_ways(invwh, command):
    args = [KNOWN] if command == "sign" else ["--body", KNOWN]
    result = invwh(command, *args, code=2)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    for way in ("--secret", "--secret-file", "INVWH_SECRET"):
        assert way in line


@pytest.mark.parametrize("command", ["sign", "verify"])
@pytest.mark.parametrize(
    "how, complaint",
    [
        (["--secret", ""], "the secret is empty"),
        (["--secret", "  "], "the secret is empty"),
        (["--secret-file", "EMPTY"], "the secret is empty"),
        (["--secret-file", "MISSING"], "no such file"),
        (["--secret-file", "BINARY"], "not UTF-8"),
        (["--secret", "s3cr\udcffet"], "not valid UTF-8"),
    ],
)
def test_unusable_secret_is_an_input_error(invwh, tmp_path, command, how, complaint):
    files = {"EMPTY": b"\n", "BINARY": b"\xff\xfe"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    how = [
        str(tmp_path / value) if value in ("EMPTY", "MISSING", "DIR", "BINARY") else value for value in how
    ]
    args = [KNOWN] if command == "sign" else ["--body", KNOWN]
    result = invwh(command, *args, *how, code=2)
    assert result.stderr.startswith("invwh: error: ")
    assert complaint in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("command", ["sign", "verify"])
def test_secret_file_that_is_a_directory(invwh, tmp_path, command):
    args = [KNOWN] if command == "sign" else ["--body", KNOWN]
    result = invwh(command, *args, "--secret-file", tmp_path, code=2)
    assert "invalid value for '--secret-file'" in result.stderr
    assert "is a directory" in result.stderr


def test_empty_secret_in_environment(invwh):
    assert "the secret is empty" in invwh("sign", KNOWN, env={"INVWH_SECRET": ""}, code=2).stderr


# --- verify -----------------------------------------------------------------


def test_verify_valid_text(invwh):
    result = invwh(
        "verify", "--body", KNOWN, "--secret", "s3cret", *headers_args(signed(KNOWN)), "--now", NOW,
        env={"COLUMNS": "300"},  # a wide log: the head line whole, however long the checkout's path
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ valid: {KNOWN} is a stock.increase signed with inventory-v1"
    assert "signature valid" in lines[1]
    assert "stock.increase" in lines[2]
    assert result.stderr == ""


def test_verify_valid_json(invwh):
    data = invwh("verify", "--body", KNOWN, "--secret", "s3cret", *headers_args(signed(KNOWN)), "--now", NOW,
                 "--format", "json").json  # fmt: skip
    assert data["valid"] is True
    assert data["reason"] == "ok"
    assert data["event_type"] == "stock.increase"
    assert data["scheme"] == "inventory-v1"
    assert data["timestamp"] == 1700000000
    assert data["body"] == str(KNOWN)
    assert data["checks"]["signature"]["ok"] is True
    assert data["checks"]["payload"] == {"valid": True, "event_type": "stock.increase", "problems": []}


@pytest.mark.parametrize(
    "headers, now, reason, in_text",
    [
        ({"X-Timestamp": NOW}, NOW, "missing_signature", "no X-Webhook-Signature header"),
        ({"X-Webhook-Signature": KNOWN_SIGNATURE}, NOW, "missing_timestamp", "no X-Timestamp header"),
        ({"X-Webhook-Signature": "v1=%%", "X-Timestamp": NOW}, NOW, "malformed_signature", "should look"),
        ({"X-Webhook-Signature": KNOWN_SIGNATURE, "X-Timestamp": "now"}, NOW, "malformed_timestamp", "unix"),
        ({"X-Webhook-Signature": KNOWN_SIGNATURE, "X-Timestamp": "1700000001"}, NOW, "signature_mismatch",
         "likely cause:"),
        ({"X-Webhook-Signature": KNOWN_SIGNATURE, "X-Timestamp": NOW}, "1700000301", "stale_timestamp",
         "old"),
        ({"X-Webhook-Signature": KNOWN_SIGNATURE, "X-Timestamp": NOW}, "1699999699", "future_timestamp",
         "future"),
    ],
)  # fmt: skip
def test_verify_failures(invwh, headers, now, reason, in_text):
    args = ["verify", "--body", KNOWN, "--secret", "s3cret", *headers_args(headers), "--now", now]
    text = invwh(*args, code=1, env={"COLUMNS": "300"}).stdout  # a wide log: a long checkout path stays whole
    assert text.startswith(f"✗ invalid: {KNOWN} fails {reason}\n")
    assert in_text in text
    data = invwh(*args, "--format", "json", code=1).json
    assert (data["valid"], data["reason"]) == (False, reason)
    assert data["event_type"] == "stock.increase"


def test_verify_names_the_likely_cause(invwh, tmp_path):
    body = tmp_path / "body.json"
    body.write_bytes(KNOWN.read_bytes() + b"\n")
    args = ["verify", "--body", body, "--secret", "s3cret", *headers_args(signed(KNOWN)), "--tolerance", "0"]
    text = invwh(*args, code=1, env={"COLUMNS": "300"}).stdout  # a wide log: each line whole
    assert "likely cause: the signature was made over the body without its trailing newline" in text
    data = invwh(*args, "--format", "json", code=1).json
    assert data["hints"] == ["the signature was made over the body without its trailing newline"]


def test_verify_header_names_are_case_insensitive(invwh):
    headers = {"x-webhook-signature": KNOWN_SIGNATURE, "X-TIMESTAMP": NOW}
    invwh("verify", "--body", KNOWN, "--secret", "s3cret", *headers_args(headers), "--now", NOW)


@pytest.mark.parametrize("tolerance, code", [("0", 0), ("300", 1), ("100000000", 0)])
def test_verify_tolerance(invwh, tolerance, code):
    # The known answer's timestamp is years old unless the clock is pinned.
    invwh("verify", "--body", KNOWN, "--secret", "s3cret", *headers_args(signed(KNOWN)),
          "--tolerance", tolerance, code=code)  # fmt: skip


def test_verify_negative_tolerance_is_a_usage_error(invwh):
    invwh("verify", "--body", KNOWN, "--secret", "s3cret", "--tolerance", "-1", code=2)


@pytest.mark.parametrize("sample", INVALID_SAMPLES, ids=lambda p: p.name)
def test_verify_validates_the_payload_unless_told_not_to(invwh, sample):
    args = ["verify", "--body", sample, "--secret", "k", *headers_args(signed(sample, "k")), "--now", NOW]
    data = invwh(*args, "--format", "json", code=1).json
    assert (data["valid"], data["reason"], data["event_type"]) == (False, "invalid_payload", None)
    assert data["checks"]["signature"]["ok"] is True
    assert data["checks"]["payload"]["problems"]
    text = invwh(*args, code=1, env={"COLUMNS": "300"}).stdout  # the sample's path whole on its line
    assert "fails invalid_payload" in text
    data = invwh(*args, "--no-validate", "--format", "json").json
    assert (data["valid"], data["reason"], data["event_type"]) == (True, "ok", None)
    assert data["checks"]["payload"] is None
    assert "not validated (--no-validate)" in invwh(*args, "--no-validate").stdout


@pytest.mark.parametrize("position", [0, 1, 2])
def test_verify_secret_repeated_for_rotation(invwh, position):
    secrets = ["old-key", "current-key", "next-key"]
    headers = signed(INCREASE, secrets[position])
    args = [a for s in secrets for a in ("--secret", s)]
    data = invwh(
        "verify", "--body", INCREASE, *args, *headers_args(headers), "--now", NOW, "--format", "json"
    ).json
    assert data["valid"] is True
    assert data["checks"]["signature"]["secret_index"] == position


def test_verify_secret_files_and_flags_combine(invwh, tmp_path):
    (tmp_path / "old.key").write_text("old-key\n")
    (tmp_path / "new.key").write_text("new-key\n")
    headers = signed(INCREASE, "new-key")
    invwh("verify", "--body", INCREASE, "--secret-file", tmp_path / "old.key", "--secret-file",
          tmp_path / "new.key", *headers_args(headers), "--now", NOW)  # fmt: skip
    invwh("verify", "--body", INCREASE, "--secret", "x", "--secret-file", tmp_path / "new.key",
          *headers_args(headers), "--now", NOW)  # fmt: skip
    invwh("verify", "--body", INCREASE, "--secret", "x", "--secret-file", tmp_path / "old.key",
          *headers_args(headers), "--now", NOW, code=1)  # fmt: skip


def test_verify_secret_from_environment(invwh):
    invwh(
        "verify", "--body", KNOWN, *headers_args(signed(KNOWN)), "--now", NOW, env={"INVWH_SECRET": "s3cret"}
    )
    invwh("verify", "--body", KNOWN, *headers_args(signed(KNOWN)), "--now", NOW, env={"INVWH_SECRET": "nope"},
          code=1)  # fmt: skip


def test_verify_stdin_body(invwh):
    invwh("verify", "--body", "-", "--secret", "s3cret", *headers_args(signed(KNOWN)), "--now", NOW,
          input=KNOWN.read_bytes())  # fmt: skip


@pytest.mark.parametrize("method, code", [("POST", 0), ("post", 0), ("PUT", 1)])
def test_verify_method(invwh, method, code):
    invwh("verify", "--body", KNOWN, "--secret", "s3cret", *headers_args(signed(KNOWN)), "--now", NOW,
          "--method", method, code=code)  # fmt: skip


def test_verify_other_scheme(invwh):
    headers = sign(HMAC_SHA256_HEX, Secret("k"), INCREASE.read_bytes())
    invwh(
        "verify", "--body", INCREASE, "--secret", "k", *headers_args(headers), "--scheme", "hmac-sha256-hex"
    )
    with_stamp = headers_args({**headers, "X-Timestamp": NOW})
    text = invwh(
        "verify", "--body", INCREASE, "--secret", "k", *with_stamp, "--now", NOW, code=1,
        env={"COLUMNS": "300"},  # a wide log: each line whole
    ).stdout  # fmt: skip
    assert "try --scheme hmac-sha256-hex" in text


@pytest.mark.parametrize("header", ["X-Webhook-Signature v1=abc", ": value", "Bad Name: value", "", "   "])
def test_malformed_header_is_a_usage_error(invwh, header):
    result = invwh("verify", "--body", KNOWN, "--secret", "k", "-H", header, code=2)
    assert "expected 'Name: value'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["sign", "verify"])
@pytest.mark.parametrize("scheme", ["nope", "INVENTORY-V1", ""])
def test_unknown_scheme_is_a_usage_error(invwh, command, scheme):
    args = [KNOWN] if command == "sign" else ["--body", KNOWN]
    result = invwh(command, *args, "--secret", "k", "--scheme", scheme, code=2)
    assert f"unknown scheme {scheme!r}" in result.stderr
    assert "inventory-v1, hmac-sha256-hex" in result.stderr


def test_verify_needs_a_body(invwh):
    assert "--body" in invwh("verify", "--secret", "k", code=2).stderr


def test_verify_json_output_is_only_json(invwh):
    headers = headers_args(signed(KNOWN))
    result = invwh("verify", "--body", KNOWN, "--secret", "wrong", *headers, "--format", "json", code=1)
    assert json.loads(result.stdout)["reason"] == "signature_mismatch"
    assert result.stderr == ""


# --- validate -------------------------------------------------------------


def test_validate_several_files_text(invwh):
    result = invwh("validate", *VALID_SAMPLES, *INVALID_SAMPLES, code=1)
    for sample in VALID_SAMPLES:
        assert f"✓ {sample}: stock." in result.stdout
    for sample in INVALID_SAMPLES:
        assert f"✗ {sample}: not a valid inventory event" in result.stdout
    assert result.stdout.rstrip().endswith(f"{len(VALID_SAMPLES)} valid, {len(INVALID_SAMPLES)} invalid")


def test_validate_json_names_every_file(invwh):
    paths = [*VALID_SAMPLES, *INVALID_SAMPLES]
    data = invwh("validate", *paths, "--format", "json", code=1).json
    assert data["ok"] is False
    assert [entry["file"] for entry in data["files"]] == [str(p) for p in paths]
    for entry in data["files"]:
        assert entry["valid"] is (entry["event_type"] is not None)
        assert bool(entry["problems"]) is not entry["valid"]


def test_validate_all_valid_exits_zero(invwh):
    data = invwh("validate", *VALID_SAMPLES, "--format", "json").json
    assert data["ok"] is True
    assert all(entry["valid"] for entry in data["files"])


@pytest.mark.parametrize("invalid", INVALID_SAMPLES, ids=lambda p: p.name)
def test_validate_one_invalid_among_valid_exits_one(invwh, invalid):
    invwh("validate", *VALID_SAMPLES, invalid, code=1)


def test_validate_stdin(invwh):
    result = invwh("validate", "-", input=(SAMPLES / "stock-depleted.json").read_bytes())
    assert result.stdout == "✓ <stdin>: stock.depleted\n"


def test_validate_needs_a_file(invwh):
    assert "PAYLOAD" in invwh("validate", code=2).stderr


# --- help and version -----------------------------------------------------


def test_version(invwh):
    from inventory_cli import __version__

    for flag in ("--version", "-V"):
        assert invwh(flag).stdout == f"invwh, version {__version__}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_group_help(invwh, flag):
    text = invwh(flag).stdout
    assert "Examples:" in text
    for name in COMMANDS:
        assert f"  {name} " in text
    for way in ("--secret", "--secret-file", "INVWH_SECRET"):
        assert way in text


def test_no_command_shows_usage(invwh):
    assert "Usage:" in invwh(code=2).stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["sign"], "missing argument 'PAYLOAD' (see 'invwh sign --help')"),
        (
            ["sign", "body.json", "--format", "yaml"],
            "invalid value for '--format': 'yaml' is not one of 'headers', 'json', 'curl', 'value' "
            "(see 'invwh sign --help')",
        ),
        (
            ["sign", "body.json", "--secret"],
            "option '--secret' requires an argument (see 'invwh sign --help')",
        ),
        (["sign", "a.json", "b.json"], "got unexpected extra argument (b.json) (see 'invwh sign --help')"),
        (["--bogus"], "no such option '--bogus' (see 'invwh --help')"),
        (["--config"], "option '--config' requires an argument (see 'invwh --help')"),
        (
            ["sign", "body.json", "--secret", "s", "--id", "m"],  # raised by the command itself
            "--id: the inventory-v1 scheme has no message id (see 'invwh sign --help')",
        ),
        (
            ["verify", "--body", "body.json", "--method", "G ET"],  # raised by an option's callback
            "invalid value for '--method': not an HTTP method: 'G ET' (see 'invwh verify --help')",
        ),
    ],
    ids=[
        "missing-argument",
        "bad-choice",
        "no-value",
        "extra-argument",
        "group-option",
        "group-no-value",
        "command",
        "callback",
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(invwh, args, line):
    result = invwh(*args, code=2)
    assert result.stderr == f"invwh: error: {line}\n"
    assert result.stdout == ""


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_help_shows_an_example(invwh, name):
    text = invwh(name, "--help").stdout
    assert re.match(rf"Usage: \S+ {name} ", text)
    assert "Examples:" in text
    assert f"  invwh {name} " in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_examples_in_its_docstring(name):
    module, attribute = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert "Examples:" in (command.callback.__doc__ or "")
    assert command.help and "Examples:" in command.help
    assert f"invwh {name}" in command.help.split("Examples:", 1)[1]


def test_unknown_command_is_a_usage_error(invwh):
    assert "no such command" in invwh("frobnicate", code=2).stderr


# --- colour -------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, env, coloured",
    [
        (["--color"], {"NO_COLOR": None}, True),
        (["--no-color"], {"NO_COLOR": None}, False),
        ([], {"NO_COLOR": None}, False),  # not a terminal
        ([], {"NO_COLOR": "1"}, False),
    ],
)
def test_colour_only_when_asked_or_on_a_terminal(invwh, flags, env, coloured):
    result = invwh(*flags, "validate", *VALID_SAMPLES, env=env)
    assert ("\x1b[" in result.stdout) is coloured
    assert f"{len(VALID_SAMPLES)} valid, 0 invalid" in result.stdout


@pytest.mark.parametrize("where", ["before", "after", "last"])
@pytest.mark.parametrize("flag, coloured", [("--color", True), ("--no-color", False)])
def test_the_group_options_are_accepted_after_the_command_name_too(invwh, where, flag, coloured):
    """`invwh validate --no-color ...` was 'no such option'."""
    args = {
        "before": [flag, "validate", *VALID_SAMPLES],
        "after": ["validate", flag, *VALID_SAMPLES],
        "last": ["validate", *VALID_SAMPLES, flag],
    }[where]
    assert ("\x1b[" in invwh(*args, env={"NO_COLOR": None}).stdout) is coloured


@pytest.mark.parametrize("spelling", [["--config", "other.toml"], ["--config=other.toml"]])
def test_config_is_accepted_after_the_command_name(invwh, tmp_path, monkeypatch, spelling):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.toml").write_text('scheme = "github"\n', encoding="utf-8")
    assert invwh("schemes", "--format", "json", *spelling).json["default"] == "github"
    assert invwh("schemes", *spelling, "show", "stripe").stdout.startswith("# stripe")


def test_after_a_double_dash_a_group_option_is_an_argument(invwh):
    result = invwh("validate", "--", "--no-color", code=2)
    assert "--no-color" in result.stderr


def every_command() -> list[tuple[str, click.Command]]:
    from inventory_cli.cli.app import cli

    found = []

    def walk(command: click.Command, path: str) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            context = click.Context(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), f"{path} {name}")

    walk(cli, "invwh")
    return found


@pytest.mark.parametrize("path, command", every_command(), ids=[path for path, _ in every_command()])
def test_every_option_of_every_command_has_help(path, command):
    """`replay --concurrency` had none; a new option without words fails here."""
    undocumented = [
        p.opts for p in command.params if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert undocumented == [], path


def test_schemes_show_completes_the_scheme_names(tmp_path, monkeypatch):
    from click.shell_completion import ShellComplete

    from inventory_cli.cli.app import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "invwh.toml").write_text('[schemes.acme]\nsignature_header = "X-Acme"\n', encoding="utf-8")
    complete = ShellComplete(cli, {}, "invwh", "_INVWH_COMPLETE")
    names = [item.value for item in complete.get_completions(["schemes", "show"], "s")]
    assert names == ["standard-webhooks", "stripe", "slack", "shopify", "square"]
    assert [item.value for item in complete.get_completions(["schemes", "show"], "ac")] == ["acme"]


@pytest.mark.parametrize(
    "args, code",
    [
        (["verify", "--body", KNOWN, "--secret", "k", "--format", "json"], 1),
        (["validate", *VALID_SAMPLES, "--format", "json"], 0),
        (["sign", KNOWN, "--secret", "k", "--format", "json"], 0),
        (["schema"], 0),
    ],
)
def test_json_stays_plain_even_with_colour_forced(invwh, args, code):
    result = invwh("--color", *args, code=code)
    assert "\x1b[" not in result.stdout
    json.loads(result.stdout)
    assert result.stderr == ""
