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


def console_commands(section: str) -> list[tuple[str, str]]:
    """The ``$ command`` lines of a section's console blocks, each with the output shown under it."""
    text = README.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    shown: list[tuple[str, str]] = []
    for block in re.findall(r"^```console\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
        for command, output in re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", block, re.MULTILINE):
            shown.append((command, output))
    return shown


def test_the_readme_shows_what_invwh_samples_prints(invwh, tmp_path, monkeypatch):
    """It showed `invwh samples samples/` silent while it prints a table."""
    monkeypatch.chdir(tmp_path)
    shown = console_commands("Sample events")
    assert [command for command, _ in shown] == ["invwh samples", "invwh samples samples/"]
    for command, output in shown:
        assert invwh(*command.split()[1:]).stdout == output, command


def test_the_readme_offers_only_install_lines_that_work_before_a_release():
    """`pip install invwh` and `'invwh[load]'` need a release on PyPI; a clone, a git URL or a
    built wheel do not."""
    lines = re.findall(r"pip install ([^\n`#]*)", README)
    assert lines
    by_name = [line for line in lines if re.match(r"""["']?invwh(\[|\s|["']|$)(?!\s*@)""", line)]
    assert by_name == [], by_name
    assert "pip wheel . --no-deps -w dist" in README and "python -m build" in README
