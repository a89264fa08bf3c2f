"""The README documents every command, and its exit codes match the code's."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from inventory_cli.cli.app import COMMANDS
from inventory_cli.cli.status import ExitStatus

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command):
    assert re.search(rf"\binvwh {command}\b", README), f"the README never shows invwh {command}"


def test_the_exit_code_table_is_the_code():
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    table = dict(re.findall(r"^\| (\d+) \| ([^|]+) \|$", section, re.MULTILINE))
    assert sorted(map(int, table)) == sorted(status.value for status in ExitStatus)
