"""Real processes of the installed ``invwh`` script: entry points, exit codes, no colour in pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from inventory_cli import __version__

KNOWN_SIGNATURE = (
    "v1=B4XUvFJvAFbOv52stVfig7fj7TUdr4AYb1FLKefIOdrwGn6XtiqDTKtFygFM+DY1Kf8oFNN29Iu59Wci2znpYg=="
)
#: Variables that would change the outcome: a secret, or colour forced on or off.
UNWANTED_ENV = (
    "INVWH_SECRET",
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "CLICOLOR_FORCE",
)
SCRIPT = Path(sys.executable).parent / ("invwh.exe" if os.name == "nt" else "invwh")


def run(*args: str, secret: str | None = None, color_env: dict[str, str] | None = None):
    env = {k: v for k, v in os.environ.items() if k not in UNWANTED_ENV}
    if secret is not None:
        env["INVWH_SECRET"] = secret
    env.update(color_env or {})
    return subprocess.run(
        [*args], cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60
    )


@pytest.fixture(scope="module")
def invwh_script() -> str:
    assert SCRIPT.is_file(), f"no console script next to {sys.executable}: run `pip install '.[test]'` first"
    return str(SCRIPT)


def test_version(invwh_script):
    done = run(invwh_script, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"invwh, version {__version__}\n", "")


def test_known_answer_with_the_secret_from_the_environment(invwh_script):
    done = run(invwh_script, "sign", "samples/minimal-increase.json", "--timestamp", "1700000000",
               "--format", "value", secret="s3cret")  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, KNOWN_SIGNATURE + "\n", "")


def test_python_dash_m(invwh_script):
    done = run(sys.executable, "-m", "inventory_cli", "--version")
    assert (done.returncode, done.stdout) == (0, f"invwh, version {__version__}\n")


KNOWN_ARGS = ["--body", "samples/minimal-increase.json", "-H", f"X-Webhook-Signature: {KNOWN_SIGNATURE}"]


@pytest.mark.parametrize(
    "args, code, stream, text",
    [
        (["verify", *KNOWN_ARGS, "-H", "X-Timestamp: 1700000001", "--tolerance", "0"], 1, "stdout",
         "fails signature_mismatch"),
        (["verify", *KNOWN_ARGS, "-H", "X-Timestamp: 1700000000", "--tolerance", "0"], 0, "stdout", "valid"),
        (["sign", "samples/minimal-increase.json", "--format", "yaml"], 2, "stderr",
         "invwh: error: invalid value for '--format'"),
        (["sign", "samples/no-such-file.json"], 2, "stderr", "invwh: error: samples/no-such-file"),
        (["validate", "samples/invalid/array.json"], 1, "stdout", "expected a JSON object, got an array"),
    ],
    ids=["failing-verify", "passing-verify", "usage-error", "input-error", "failing-validate"],
)  # fmt: skip
def test_exit_codes_reach_the_shell(invwh_script, args, code, stream, text):
    done = run(invwh_script, *args, secret="s3cret")
    assert done.returncode == code, done.stderr
    assert text in getattr(done, stream)
    assert "Traceback" not in done.stderr


def test_output_is_not_coloured_when_piped(invwh_script):
    args = [
        "verify",
        "--body",
        "samples/minimal-increase.json",
        "-H",
        "X-Timestamp: 1700000000",
        "--tolerance",
        "0",
    ]
    # A terminal-ish environment, but stdout is a pipe: no colour.
    done = run(invwh_script, *args, secret="s3cret", color_env={"TERM": "xterm-256color"})
    assert done.returncode == 1
    assert "✗ invalid" in done.stdout
    assert "\x1b[" not in done.stdout
    # The check can see colour when there is some.
    forced = run(invwh_script, "--color", *args, secret="s3cret", color_env={"TERM": "xterm-256color"})
    assert "\x1b[" in forced.stdout
