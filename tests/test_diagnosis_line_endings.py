"""`verify` names converted line endings (LF signed, CRLF received, or the reverse) as the likely cause."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, TEST_SECRET, generate_secret

from inventory_cli.signing.schemes import BUILTIN_SCHEMES
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.workflows.verdict import judge

LF_BODY = (SAMPLES / "stock-increase.json").read_bytes()  # indented over several lines, LF endings
CRLF_BODY = LF_BODY.replace(b"\n", b"\r\n")
LF_TO_CRLF = (
    "the body's line endings were converted: it was signed with LF line endings and arrived with CRLF"
)
CRLF_TO_LF = (
    "the body's line endings were converted: it was signed with CRLF line endings and arrived with LF"
)
WAYS = [
    pytest.param(LF_BODY, CRLF_BODY, LF_TO_CRLF, id="signed-LF-received-CRLF"),
    pytest.param(CRLF_BODY, LF_BODY, CRLF_TO_LF, id="signed-CRLF-received-LF"),
]


def test_the_sample_has_several_lines_and_only_lf():
    assert LF_BODY.count(b"\n") > 3
    assert b"\r" not in LF_BODY


@pytest.mark.parametrize("scheme", BUILTIN_SCHEMES.values(), ids=lambda s: s.name)
@pytest.mark.parametrize(("signed_body", "received_body", "cause"), WAYS)
def test_converted_line_endings_are_the_likely_cause(scheme, signed_body, received_body, cause):
    secret = Secret(TEST_SECRET) if scheme.secret_encoding == "utf8" else generate_secret(scheme)
    url = "https://receiver.example/webhooks"  # read by the schemes that sign it (square) alone
    headers = sign(scheme, secret, signed_body, timestamp=1700000000, url=url)
    result = judge(scheme, [secret], received_body, headers, tolerance=0, url=url, validate=False)
    assert result.reason == "signature_mismatch"
    assert [hint.text for hint in result.hints] == [cause]


def test_a_body_signed_as_received_has_no_such_hint():
    """Only a real conversion is named: another secret over a CRLF body is not blamed on line endings."""
    headers = sign(BUILTIN_SCHEMES["inventory-v1"], Secret("another-secret"), CRLF_BODY, timestamp=1)
    result = judge(BUILTIN_SCHEMES["inventory-v1"], [Secret(TEST_SECRET)], CRLF_BODY, headers, tolerance=0,
                   validate=False)  # fmt: skip
    assert result.reason == "signature_mismatch"
    assert not any("line endings" in hint.text for hint in result.hints)


@pytest.mark.parametrize(("signed_body", "received_body", "cause"), WAYS)
def test_verify_prints_the_cause(invwh, tmp_path, signed_body, received_body, cause):
    signed_path, received_path = tmp_path / "signed.json", tmp_path / "received.json"
    signed_path.write_bytes(signed_body)
    received_path.write_bytes(received_body)
    headers = tmp_path / "headers.txt"
    headers.write_text(invwh("sign", signed_path, "--secret", TEST_SECRET).stdout)
    args = ["verify", "--body", received_path, "-H", f"@{headers}", "--secret", TEST_SECRET]
    assert f"likely cause: {cause}" in invwh(*args, code=1, env={"COLUMNS": "300"}).stdout  # a wide log
    assert invwh(*args, "--format", "json", code=1).json["hints"] == [cause]
