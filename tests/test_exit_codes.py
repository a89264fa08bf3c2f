"""Exit statuses are decided in one place: ``cli/app.py`` maps what commands come to.

A command returns an ``Outcome`` or a run's ``Report``, or raises an
``InvwhError``; it neither imports ``ExitStatus`` nor prints an error line
itself. The sources are read to show that no command can pick a status, and
the commands are run to show that the mapping gives the documented codes.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import INVALID_SAMPLES, TEST_SECRET
from servers import Reply, free_port, serve

from inventory_cli.cli import app
from inventory_cli.cli.status import ExitStatus
from inventory_cli.outcome import Outcome

COMMANDS_DIR = Path(app.__file__).parent / "commands"
COMMAND_SOURCES = sorted(COMMANDS_DIR.glob("*.py"))


def test_every_outcome_has_one_exit_status_in_app():
    assert set(app.OUTCOME_STATUS) == set(Outcome)
    assert app.OUTCOME_STATUS[Outcome.OK] is ExitStatus.OK
    assert app.OUTCOME_STATUS[Outcome.FAILED] is ExitStatus.CHECK_FAILED
    assert app.OUTCOME_STATUS[Outcome.UNDELIVERED] is ExitStatus.DELIVERY_FAILED
    assert app.OUTCOME_STATUS[Outcome.INTERRUPTED] is ExitStatus.INTERRUPTED
    assert app.OUTCOME_STATUS[Outcome.NOTHING_TO_DELIVER] is ExitStatus.USAGE


def _status_pickers(tree: ast.AST) -> list[str]:
    """What in a module could pick an exit status or say an error line itself."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").rpartition(".")[2] in ("app", "status"):
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Name) and node.id == "ExitStatus":
            found.append(f"line {node.lineno}: ExitStatus")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "exit":
            found.append(f"line {node.lineno}: .exit()")
        elif (
            isinstance(node, ast.Return)
            and isinstance(node.value, ast.Constant)
            and node.value.value is not None
        ):
            found.append(f"line {node.lineno}: return {node.value.value!r}")
    return found


@pytest.mark.parametrize("path", COMMAND_SOURCES, ids=lambda p: p.name)
def test_no_command_picks_an_exit_status_or_says_an_error(path):
    """What a command can end in comes through app.py: no ExitStatus, no sys.exit or ctx.exit,
    no app.fail of its own, no number returned for a status."""
    assert _status_pickers(ast.parse(path.read_text(encoding="utf-8"))) == []


def test_the_command_sources_were_found():
    assert {"send.py", "sign.py", "trigger.py", "verify.py", "check.py"} <= {p.name for p in COMMAND_SOURCES}


INVALID = INVALID_SAMPLES[0]


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (("sign", INVALID), f"invwh: error: {INVALID} is not a valid inventory event (use --no-validate"),
        (("send", INVALID, "--url", "http://127.0.0.1:1/"), "invwh: error: 1 payload(s) are not valid"),
        (
            (
                "trigger",
                "stock.increase",
                "--set",
                "inventoryStockIncreaseEventType=stock.restocked",
                "--url",
                "http://127.0.0.1:1/",
            ),
            "invwh: error: the overrides make this an invalid event",
        ),
    ],
    ids=["sign", "send", "trigger"],
)
def test_an_invalid_payload_is_exit_1_with_its_problems_indented(invwh, args, first_line):
    result = invwh(*args, "--secret", TEST_SECRET, code=1)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(first_line)
    assert len(lines) >= 2 and all(line.startswith("  ") and line.strip() for line in lines[1:])
    assert result.stdout == ""


def test_verdicts_and_runs_end_in_the_mapped_statuses(invwh, samples, tmp_path):
    body = samples / "stock-increase.json"
    signed = invwh("sign", body, "--secret", TEST_SECRET).stdout.splitlines()
    headers = [arg for line in signed for arg in ("-H", line)]
    invwh("verify", "--body", body, *headers, "--secret", TEST_SECRET, code=0)
    invwh("verify", "--body", body, *headers, "--secret", "another-secret", code=1)
    invwh("validate", body, code=0)
    invwh("validate", INVALID, code=1)
    with serve(lambda request: Reply(500)) as server:
        invwh("send", body, "--url", server.endpoint(), "--secret", TEST_SECRET, "--timeout", "10", code=1)
    with serve() as server:
        invwh("send", body, "--url", server.endpoint(), "--secret", TEST_SECRET, "--timeout", "10", code=0)
    closed = f"http://127.0.0.1:{free_port()}/"
    refused = invwh("send", body, "--url", closed, "--secret", TEST_SECRET, "--timeout", "10", code=3)
    assert refused.stderr.startswith("invwh: error: ")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    nothing = invwh("replay", empty, "--url", "http://127.0.0.1:1/", "--secret", TEST_SECRET, code=2)
    assert nothing.stderr.startswith("invwh: error: ") and len(nothing.stderr.splitlines()) == 1
    assert json.loads(invwh("schemes", "--format", "json").stdout)
