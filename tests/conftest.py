"""Shared fixtures: a CLI runner that checks exit codes, and sample paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inventory_cli.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
VALID_SAMPLES = sorted(SAMPLES.glob("*.json"))
INVALID_SAMPLES = sorted((SAMPLES / "invalid").glob("*.json"))

#: The secret the tests sign with. Deliberately distinctive so that a leak
#: into any output is easy to spot.
TEST_SECRET = "t3st-secret-never-printed"


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
        self, *args: str, code: int = 0, input: bytes | str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        outcome = runner.invoke(
            cli,
            [str(a) for a in args],
            input=input,
            env={"INVWH_SECRET": None, "NO_COLOR": "1", **self.env, **(env or {})},
            catch_exceptions=False,
        )
        result = Result(outcome.exit_code, outcome.stdout, outcome.stderr)
        assert result.code == code, (
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
