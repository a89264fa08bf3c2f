"""`invwh sign --format curl --url URL | sh` against real local receivers: its exit code is the verdict.

curl itself runs here, not a stand-in: the point is what real curl does with
the options the command gives it. A machine without curl fails these tests
(exit 127 is not the code they expect) rather than skipping them.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import SAMPLES, TEST_SECRET
from servers import Reply, serve

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, check_signature

SAMPLE = SAMPLES / "stock-increase.json"
CURL_HTTP_ERROR = 22  # curl's exit code for an HTTP answer of 400 or more under --fail(-with-body)


def run_in_sh(command: str) -> subprocess.CompletedProcess[bytes]:
    assert shutil.which("curl"), "these tests run the real curl: install it"
    return subprocess.run(["sh"], input=command.encode(), capture_output=True, timeout=60)


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
