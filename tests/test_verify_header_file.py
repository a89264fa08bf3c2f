"""`invwh verify -H @FILE`: the header file `invwh sign` writes is one `verify` reads back."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, TEST_SECRET
from servers import serve

SAMPLE = SAMPLES / "stock-increase.json"


@pytest.fixture
def headers_file(invwh, tmp_path):
    """What `invwh sign SAMPLE > headers.txt` leaves on disk."""
    path = tmp_path / "headers.txt"
    path.write_text(invwh("sign", SAMPLE, "--secret", TEST_SECRET).stdout)
    return path


def test_sign_then_verify_with_the_header_file_is_valid(invwh, headers_file):
    result = invwh("verify", "-H", f"@{headers_file}", "--body", SAMPLE, "--secret", TEST_SECRET,
                   "--format", "json")  # fmt: skip
    assert result.json["valid"] is True
    assert result.json["event_type"] == "stock.increase"


def test_a_wrong_secret_with_the_header_file_is_invalid(invwh, headers_file):
    result = invwh("verify", "-H", f"@{headers_file}", "--body", SAMPLE, "--secret", "another-secret",
                   "--format", "json", code=1)  # fmt: skip
    assert result.json["reason"] == "signature_mismatch"


def test_blank_lines_and_crlf_are_ignored_and_later_headers_win(invwh, headers_file, tmp_path):
    edited = tmp_path / "edited.txt"
    edited.write_bytes(b"\r\n\n" + headers_file.read_bytes().replace(b"\n", b"\r\n\r\n") + b"\n  \n")
    result = invwh("verify", "-H", f"@{edited}", "--body", SAMPLE, "--secret", TEST_SECRET)
    assert result.stdout.startswith("✓ valid")
    # A -H after the file overrides its header: the signature no longer holds.
    result = invwh("verify", "-H", f"@{edited}", "-H", "X-Timestamp: 1", "--body", SAMPLE,
                   "--secret", TEST_SECRET, "--tolerance", "0", code=1)  # fmt: skip
    assert "signature_mismatch" in result.stdout


def test_headers_from_stdin_when_the_body_is_a_file(invwh, headers_file):
    result = invwh("verify", "-H", "@-", "--body", SAMPLE, "--secret", TEST_SECRET,
                   input=headers_file.read_bytes())  # fmt: skip
    assert result.stdout.startswith("✓ valid")


def test_headers_from_stdin_when_the_body_is_too_is_refused(invwh):
    result = invwh("verify", "-H", "@-", "--body", "-", "--secret", TEST_SECRET, input=b"{}", code=2)
    assert result.stderr == (
        "invwh: error: -H @-: standard input is taken (--body -); put the headers in a file\n"
    )


def test_a_missing_header_file_is_one_line_and_exit_2(invwh, tmp_path):
    missing = tmp_path / "nope.txt"
    result = invwh("verify", "-H", f"@{missing}", "--body", SAMPLE, "--secret", TEST_SECRET, code=2)
    assert result.stderr == f"invwh: error: header file {missing}: no such file\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"X-Timestamp: 1\nnot a header\n", "line 2: expected 'Name: value', got 'not a header'"),
        (b"\xff\xfe: x\n", "not UTF-8 text"),
    ],
)
def test_a_bad_header_file_names_the_file_and_what_is_wrong(invwh, tmp_path, content, expected):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    result = invwh("verify", "-H", f"@{path}", "--body", SAMPLE, "--secret", TEST_SECRET, code=2)
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"invwh: error: header file {path}")
    assert expected in line


def test_a_bare_at_sign_is_refused(invwh):
    result = invwh("verify", "-H", "@", "--body", SAMPLE, "--secret", TEST_SECRET, code=2)
    assert result.stderr.startswith("invwh: error: -H @FILE needs a file name")


def test_send_takes_a_header_file_too_but_not_stdin(invwh, tmp_path):
    """`send` and `trigger` share the -H parsing: @FILE adds extra headers; @- is refused plainly."""
    extra = tmp_path / "extra.txt"
    extra.write_text("X-Tenant: acme\n\nX-Trace: 42\n")
    with serve() as server:
        invwh("send", SAMPLE, "--url", server.endpoint(), "--secret", TEST_SECRET, "-H", f"@{extra}")
    (received,) = server.received
    assert (received.headers["X-Tenant"], received.headers["X-Trace"]) == ("acme", "42")
    result = invwh("send", SAMPLE, "--url", "http://127.0.0.1:9/x", "--secret", TEST_SECRET,
                   "-H", "@-", input=b"X-A: b\n", code=2)  # fmt: skip
    assert (
        result.stderr
        == "invwh: error: -H @-: this command reads no headers from standard input; use -H @FILE\n"
    )
