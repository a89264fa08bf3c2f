"""A mistyped command gets the closest command's name, without importing any command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inventory_cli.cli.app import COMMANDS


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("verfy", "verify"), ("sing", "sign"), ("lisen", "listen"), ("replya", "replay"), ("scheme", "schemes")],
)
def test_a_typo_gets_a_suggestion_and_exit_2(invwh, typed, meant):
    result = invwh(typed, "--body", "x", code=2)
    assert result.stderr == (
        f"invwh: error: no such command {typed!r}. Did you mean {meant!r}? (see 'invwh --help')\n"
    )
    assert result.stdout == ""


def test_nothing_close_gets_no_suggestion(invwh):
    result = invwh("xyzzy", code=2)
    assert result.stderr == "invwh: error: no such command 'xyzzy' (see 'invwh --help')\n"


def test_a_right_command_and_an_unknown_option_are_untouched(invwh):
    assert invwh("verify", "--help").stdout.startswith("Usage:")
    assert "no such option" in invwh("--verfy", code=2).stderr


def test_a_typo_imports_no_command():
    """The group loads commands lazily; looking for a near name must not load them all."""
    script = (
        "import sys, json\n"
        "from inventory_cli.cli import cli\n"
        "try:\n"
        "    cli.main(['verfy'], prog_name='invwh')\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith('inventory_cli.cli.'))]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    code, loaded = json.loads(done.stdout)
    assert code == 2
    assert "Did you mean 'verify'?" in done.stderr
    command_modules = {target.partition(":")[0] for target in COMMANDS.values()}
    assert command_modules.isdisjoint(loaded), loaded
