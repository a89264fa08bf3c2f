"""`invwh sign --format curl --url URL | sh` against real local receivers: its exit code is the verdict.

curl itself runs here, not a stand-in: the point is what real curl does with
the options the command gives it. A machine without curl fails these tests
(exit 127 is not the code they expect) rather than skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import HYGIENE, SAMPLES, TEST_SECRET
from servers import Reply, serve

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature

SAMPLE = SAMPLES / "stock-increase.json"
CURL_HTTP_ERROR = 22  # curl's exit code for an HTTP answer of 400 or more under --fail(-with-body)


def run_in_sh(command: str | bytes) -> subprocess.CompletedProcess[bytes]:
    assert shutil.which("curl"), "these tests run the real curl: install it"
    script = command.encode() if isinstance(command, str) else command
    return subprocess.run(["sh"], input=script, capture_output=True, timeout=60)


def curl_command(invwh, url: str) -> str:
    return invwh("sign", SAMPLE, "--secret", TEST_SECRET, "--format", "curl", "--url", url).stdout


@pytest.mark.parametrize("status", [401, 422, 500])
def test_an_error_answer_makes_the_piped_command_fail_and_shows_the_answer(invwh, status):
    answer = b'{"error":"signature rejected"}'
    with serve(lambda request: Reply(status, answer)) as server:
        done = run_in_sh(curl_command(invwh, server.endpoint()))
    assert done.returncode == CURL_HTTP_ERROR, done
    assert answer in done.stdout
    assert f"returned error: {status}".encode() in done.stderr
    assert b"% Total" not in done.stderr  # no progress meter


def test_a_200_answer_exits_0_and_the_receiver_got_the_signed_bytes(invwh):
    with serve(lambda request: Reply(200, b"processed")) as server:
        done = run_in_sh(curl_command(invwh, server.endpoint()))
    assert done.returncode == 0, done
    assert done.stdout == b"processed"
    assert done.stderr == b""
    (received,) = server.received
    assert received.body == SAMPLE.read_bytes()
    check = check_signature(INVENTORY_V1, [Secret(TEST_SECRET)], received.body, received.headers)
    assert check.ok, check


def test_an_unreachable_receiver_fails_with_curls_own_error(invwh):
    with serve() as server:
        url = server.endpoint()
    done = run_in_sh(curl_command(invwh, url))  # the server is gone: connection refused
    assert done.returncode == 7, done  # curl: failed to connect
    assert b"curl: (7)" in done.stderr


def stdin_curl_command(invwh, url: str, body: bytes, code: int):
    return invwh("sign", "-", "--secret", TEST_SECRET, "--format", "curl", "--url", url, "--no-validate",
                 input=body, code=code)  # fmt: skip


#: Every byte a shell command line can carry in one argument, as UTF-8: control characters, quotes,
#: shell syntax, a leading dash, CR and LF, and text beyond ASCII. Only NUL ends an argv string.
AWKWARD = (
    b"-d x" + bytes(range(1, 32)) + b"\x7f'\"`$(id)${HOME}\\!*?;|&<>\r\n\t"
    + "Café crème ☃ 𝄞".encode() + b"'\n"
)  # fmt: skip


@pytest.mark.parametrize(
    "body", [AWKWARD, b"x" * (128 * 1024 - 1)], ids=["awkward-bytes", "longest-argument"]
)
def test_a_body_from_standard_input_reaches_the_receiver_byte_for_byte(body):
    with serve(lambda request: Reply(200, b"ok")) as server:
        # A real pipe, not the in-process runner: its text output would turn CR LF into LF.
        signed = subprocess.run(
            [sys.executable, "-m", "inventory_cli", "sign", "-", "--format", "curl", "--no-validate",
             "--url", server.endpoint()],
            input=body, capture_output=True, timeout=60, env={**os.environ, "INVWH_SECRET": TEST_SECRET},
        )  # fmt: skip
        HYGIENE.capture("invwh sign - --format curl", signed.stdout.decode(), signed.stderr.decode())
        assert signed.returncode == 0, signed
        done = run_in_sh(signed.stdout)
    assert done.returncode == 0, done
    (received,) = server.received
    assert received.body == body
    assert check_signature(INVENTORY_V1, [Secret(TEST_SECRET)], received.body, received.headers).ok


@pytest.mark.parametrize(
    "body, complaint",
    [
        (b'{"sku": "A\x00B"}', "a body holding a NUL byte"),
        (b"\x00", "a body holding a NUL byte"),
        (b"x" * (128 * 1024), "a body over 128 KiB in one argument"),
        (b"@/etc/passwd", "a body that starts with '@'"),
        (b"\xff\xfe", "a body that is not UTF-8 text"),
    ],
    ids=["nul-inside", "nul-alone", "too-long-for-argv", "at-sign", "not-utf8"],
)
def test_a_body_a_command_line_cannot_carry_is_refused_with_one_line(invwh, body, complaint):
    result = stdin_curl_command(invwh, "http://127.0.0.1:9/webhooks", body, code=2)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("invwh: error: --format curl cannot carry ") and complaint in line
    assert "--data-binary @FILE" in line
