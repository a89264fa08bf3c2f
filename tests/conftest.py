"""Shared fixtures: a CLI runner that checks exit codes, and sample paths."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import figures
import hygiene
import pytest
from click.testing import CliRunner
from hygiene import register_secret

from inventory_cli.cli import cli
from inventory_cli.signing.schemes import Scheme
from inventory_cli.signing.signatures import Secret

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
VALID_SAMPLES = sorted(SAMPLES.glob("*.json"))
INVALID_SAMPLES = sorted((SAMPLES / "invalid").glob("*.json"))

#: The secret the tests sign with. Deliberately distinctive so that a leak
#: into any output is easy to spot.
TEST_SECRET = "t3st-secret-never-printed"

#: Every secret the suite uses where an output could show it: the session fails
#: if any appears in any output (see hygiene.py). Register yours here or with
#: register_secret in your test module.
register_secret(
    TEST_SECRET,
    "s3cret",  # the known-answer vector's
    "It's a Secret to Everybody",  # GitHub's documented test vector
    "the-receivers-own-secret",
    "another-secret",
    "old-secret",
    "cl\u00e9-\u043a\u043b\u044e\u0447",  # non-ASCII
)
HYGIENE = hygiene.Hygiene()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


class Invwh:
    """Runs ``invwh`` in-process and fails the test on an unexpected exit code."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env or {}

    def __call__(
        self,
        *args: str,
        code: int | tuple[int, ...] = 0,
        input: bytes | str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        runner = CliRunner()
        outcome = runner.invoke(
            cli,
            [str(a) for a in args],
            input=input,
            env={"NO_COLOR": "1", **self.env, **(env or {})},
            catch_exceptions=False,
        )
        result = Result(outcome.exit_code, outcome.stdout, outcome.stderr)
        HYGIENE.capture(f"{os.environ.get('PYTEST_CURRENT_TEST')}: invwh {args[0] if args else ''}",
                        result.stdout, result.stderr)  # fmt: skip
        assert result.code in (code if isinstance(code, tuple) else (code,)), (
            f"invwh {' '.join(map(str, args))}: exit {result.code}, expected {code}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        assert "Traceback" not in result.stderr
        return result


@pytest.fixture
def invwh() -> Invwh:
    return Invwh()


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session", autouse=True)
def no_invwh_environment() -> Iterator[None]:
    """A developer's own INVWH_* settings must not change what the tests see, in-process or not."""
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("INVWH_")}
    try:
        yield
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="session", autouse=True)
def secret_hygiene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hygiene.Hygiene]:
    """Fails the session if a registered secret shows in any output, subprocess output or tmp file."""
    popen = subprocess.Popen
    subprocess.Popen = hygiene.recording_popen(HYGIENE)  # type: ignore[misc]
    try:
        yield HYGIENE
    finally:
        subprocess.Popen = popen  # type: ignore[misc]
    leaks = HYGIENE.leaks(hygiene.SECRETS, [tmp_path_factory.getbasetemp()])
    figures.note(
        "~secret hygiene",
        f"secret hygiene: {len(hygiene.SECRETS)} secrets searched for in {len(HYGIENE.outputs)} outputs "
        f"and {HYGIENE.files_searched} files: {len(leaks) or 'none'} found",
    )
    assert not leaks, "a secret leaked into an output:\n" + "\n".join(map(str, leaks))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in figures.summary_lines():
        terminalreporter.write_line(line)


def sign_in_a_fresh_process(before: str, report: str) -> str:
    """Runs ``invwh sign`` on a sample in a new interpreter, after the code ``before``, and gives
    back what the expression ``report`` printed then: what a start-up loads is only seen fresh."""
    code = (
        "import sys\n"
        f"{before}\n"
        "from inventory_cli.cli import cli\n"
        f"args = ['sign', {str(SAMPLES / 'stock-increase.json')!r}, '--secret', {TEST_SECRET!r}]\n"
        "try:\n"
        "    cli(args, prog_name='invwh')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        f"print({report})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def generate_secret(scheme: Scheme) -> Secret:
    """A new random secret in the form ``scheme`` takes (prefix, then UTF-8, hex or base64)."""
    raw = os.urandom(24)
    if scheme.secret_encoding == "utf8":
        return Secret(scheme.secret_prefix + "invwh-" + raw.hex())
    text = raw.hex() if scheme.secret_encoding == "hex" else base64.b64encode(raw).decode("ascii")
    return Secret(scheme.secret_prefix + text)
