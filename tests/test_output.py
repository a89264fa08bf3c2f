"""cli/output: text laid out by rich, colour only where asked, tables that fit, JSON by the json module.

The tables of ``invwh audit`` and ``schemes`` run under a real
pseudo-terminal (no line wider than it, no word cut, colour) and in a pipe
(no colour, 80 columns unless COLUMNS says); the streamed JSON is compared
with the document built whole; rich is loaded by what it renders, and never
by ``sign``, ``validate`` or ``--version``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import SAMPLES, TEST_SECRET
from servers import serve
from terminal import run_on_a_terminal
from test_audit import mixed_recording

from inventory_cli.cli.app import COMMANDS, cli
from inventory_cli.cli.output.json import JsonStream
from inventory_cli.cli.output.text import TextWriter, cell_width, printable
from inventory_cli.signing.schemes import BUILTIN_SCHEMES

SCRIPT = str(Path(sys.executable).parent / "invwh")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def terminal_run(args: list[str], columns: int, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The installed ``invwh`` with stdout on a pseudo-terminal ``columns`` wide; its output, colours kept."""
    return run_on_a_terminal(args, columns, env=env, stderr_too=False)


def words(text: str) -> list[str]:
    """The words of ``text``, less colour and a table's rule (as wide as the table)."""
    return [word for word in ANSI.sub("", text).split() if word.strip("─")]


# --- the tables, on a terminal and in a pipe ----------------------------------------------


@pytest.mark.parametrize("columns", [60, 90])
def test_schemes_fits_the_terminal_in_colour(columns):
    code, shown = terminal_run(["schemes"], columns=columns)
    assert code == 0
    assert max(cell_width(ANSI.sub("", line)) for line in shown.splitlines()) <= columns, shown
    assert "\x1b[" in shown  # a terminal: colour


def test_schemes_on_a_terminal_wraps_cells_and_cuts_no_word(invwh):
    code, shown = terminal_run(["schemes"], columns=90)
    assert code == 0
    piped = invwh("schemes", env={"COLUMNS": "300"}).stdout  # a wide pipe: no colour, nothing wrapped
    assert "\x1b[" not in piped
    assert "X-Hub-Signature-256: sha256=<hex HMAC-SHA256>" in piped
    # The terminal's table wraps cells, so its words come in another order; none is cut or lost.
    assert sorted(words(shown)) == sorted(words(piped))
    for scheme in BUILTIN_SCHEMES:
        assert any(line.split()[:1] == [scheme] for line in ANSI.sub("", shown).splitlines()), scheme


def test_the_audit_table_on_a_terminal_is_coloured_and_the_same_in_a_pipe(invwh, tmp_path):
    recording = tmp_path / "r.jsonl"
    mixed_recording(recording)
    code, shown = terminal_run(["audit", str(recording)], columns=80)
    assert code == 1
    assert "\x1b[" in shown
    piped = invwh("audit", recording, code=1, env={"INVWH_SECRET": TEST_SECRET}).stdout
    assert "\x1b[" not in piped
    # The failures wrap on the terminal, the table fits as it is: the same words, the same table.
    assert words(shown) == words(piped)
    table = piped[piped.index("event type") : piped.index("deliveries valid")]
    assert table in ANSI.sub("", shown)
    heading, rule = [line for line in piped.splitlines() if line.startswith(("event type", "─"))]
    assert len(rule) == len(heading)
    (total,) = [line for line in piped.splitlines() if line.startswith("all ")]
    assert len(total) == len(heading)  # counts right-aligned under their headings
    assert total.split() == ["all", "2", "2", "2", "1"]


def test_no_colour_on_a_terminal_with_no_color_set():
    code, shown = terminal_run(["schemes"], columns=100, env={"NO_COLOR": "1"})
    assert code == 0 and "\x1b[" not in shown


def test_no_escape_sequence_at_all_on_a_dumb_terminal():
    code, shown = terminal_run(["schemes"], columns=100, env={"TERM": "dumb"})
    assert code == 0 and "\x1b" not in shown
    assert max(cell_width(line) for line in shown.splitlines()) <= 100


def test_force_color_colours_a_pipe_and_no_color_wins_over_it(invwh):
    coloured = invwh("schemes", env={"NO_COLOR": "", "FORCE_COLOR": "1"}).stdout
    assert "\x1b[" in coloured
    assert "\x1b[" not in invwh("schemes", env={"NO_COLOR": "1", "FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in invwh("--no-color", "schemes", env={"NO_COLOR": "", "FORCE_COLOR": "1"}).stdout


@pytest.mark.parametrize("columns", [None, "60", "120"])
def test_a_pipe_is_laid_out_for_80_columns_unless_columns_says(invwh, columns):
    shown = invwh("schemes", env={"COLUMNS": columns}).stdout  # None: unset, whatever the caller's is
    widest = max(cell_width(line) for line in shown.splitlines())
    assert widest == int(columns or 80), shown  # the rule under the heading spans the width


@pytest.mark.parametrize(
    "args, code",
    [
        (["schemes"], 0),
        (["samples"], 0),
        (["validate", str(SAMPLES / "stock-increase.json")], 0),
        (["verify", "--body", str(SAMPLES / "stock-increase.json"), "-H", "X-Timestamp: 1"], 1),
    ],
)
def test_colour_on_request_and_never_in_a_pipe_without_it(invwh, args, code):
    env = {"INVWH_SECRET": TEST_SECRET}
    assert "\x1b[" in invwh("--color", *args, code=code, env=env).stdout
    plain = invwh(*args, code=code, env=env).stdout
    assert "\x1b[" not in plain
    assert ANSI.sub("", invwh("--color", *args, code=code, env=env).stdout) == plain


def loaded_after(runs: list[list[str]], modules: tuple[str, ...] = ("rich",)) -> list[str]:
    """Which of ``modules`` are imported once invwh has run each of ``runs`` in a fresh process."""
    program = (
        "import sys\n"
        "from inventory_cli.cli.app import cli\n"
        f"for args in {runs!r}:\n"
        "    try:\n"
        "        cli(['--color', *args], prog_name='invwh')\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "INVWH_SECRET": TEST_SECRET},
    )
    return eval(done.stderr.strip().splitlines()[-1])  # a list of names, printed by the child


def test_sign_validate_and_version_never_load_rich_not_even_in_colour(tmp_path):
    invalid = tmp_path / "bad.json"
    invalid.write_text('{"inventoryStockIncreaseEventType": "stock.increase"}')
    runs = [
        ["sign", str(SAMPLES / "stock-increase.json")],
        ["validate", str(SAMPLES / "stock-increase.json"), str(invalid)],
        ["--version"],
    ]
    assert loaded_after(runs) == []


def test_sign_and_validate_load_no_transport_and_no_dataclasses(tmp_path):
    """Start-up is these commands' whole cost: a hint's words (which name transport failures) or a
    network module on their path was 15% of `invwh validate`'s instructions."""
    invalid = tmp_path / "bad.json"
    invalid.write_text('{"inventoryStockIncreaseEventType": "stock.increase"}')
    runs = [
        ["sign", str(SAMPLES / "stock-increase.json")],
        ["sign", str(SAMPLES / "stock-increase.json"), "--format", "json"],
        ["validate", str(SAMPLES / "stock-increase.json"), str(invalid)],
    ]
    heavy = ("socket", "dataclasses", "inventory_cli.transport", "inventory_cli.signing.hints")
    assert loaded_after(runs, heavy) == []


def test_a_replay_over_http_to_a_pipe_loads_neither_rich_nor_the_requests_client(tmp_path):
    """Its start-up is a replay's fixed cost: JSON to a script needs no status line and no TLS."""
    recording = tmp_path / "r.jsonl"
    mixed_recording(recording)
    heavy = ("rich", "requests", "ssl", "http.client", "inventory_cli.transport.requests_client")
    with serve() as server:
        args = ["replay", str(recording), "--url", server.endpoint(), "--format", "json"]
        assert loaded_after([args], heavy) == []
        assert server.received  # it did deliver


@pytest.mark.parametrize("args", [["schemes"], ["samples"], ["audit", "{recording}"]])
def test_what_lays_out_a_table_is_rendered_by_rich(tmp_path, args):
    recording = tmp_path / "r.jsonl"
    mixed_recording(recording)
    assert loaded_after([[arg.format(recording=recording) for arg in args]]) == ["rich"]


# --- the writer ---------------------------------------------------------------------------


def test_a_table_aligns_multi_line_cells_and_right_aligned_counts():
    out = io.StringIO()
    writer = TextWriter(color=False, out=out)
    writer.table(("name", "count"), [("a\nsecond line", "7"), ("bb", "1234")], right=(1,))
    assert out.getvalue().splitlines() == [
        "name          count",
        "───────────────────",
        "a                 7",
        "second line",
        "bb             1234",
    ]


def test_a_table_too_wide_for_the_terminal_wraps_only_its_flexible_columns():
    out = io.StringIO()
    writer = TextWriter(color=False, out=out)
    writer.width = 40  # as on a terminal 40 columns wide
    long = "every word of this cell stays whole when the table wraps it"
    writer.table(("key", "text"), [("a-fixed-key", long)], flexible=(1,))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 40
    assert lines[2].startswith("a-fixed-key   every")
    assert " ".join(line[len("a-fixed-key   ") :].strip() for line in lines[2:]) == long


def test_text_from_outside_cannot_reach_the_terminal_as_control_characters(invwh, tmp_path):
    name = tmp_path / "evil\x1b[2Jname\r.json"
    name.write_bytes((SAMPLES / "stock-increase.json").read_bytes())
    shown = invwh("validate", name).stdout
    assert "\x1b" not in shown and "\r" not in shown
    assert f"✓ {tmp_path}/evil\\x1b[2Jname\\x0d.json: stock.increase" in shown
    assert printable("plain text, café ✓") == "plain text, café ✓"


# --- JSON ------------------------------------------------------------------------------------


def test_a_streamed_document_is_the_document_built_whole_and_streams():
    out = io.StringIO()
    stream = JsonStream(out)
    head = {"recording": 'a "quoted" path ✓', "n": 1}
    elements = [{"line": n, "reason": "x\ny"} for n in range(3)]
    stream.open(head, "failures")
    for element in elements:
        stream.element(element)
        assert out.getvalue().endswith(json.dumps(element, ensure_ascii=False))  # written as it comes
    stream.close({"summary": {"total": 3}, "ok": False})
    assert json.loads(out.getvalue()) == {**head, "failures": elements, "summary": {"total": 3}, "ok": False}


def test_an_empty_stream_is_a_document_too():
    out = io.StringIO()
    stream = JsonStream(out)
    stream.open({}, "items")
    stream.close({})
    assert json.loads(out.getvalue()) == {"items": []}


# --- one --format ------------------------------------------------------------------------


def _commands() -> list[tuple[str, click.Command]]:
    found = []
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
    return found


@pytest.mark.parametrize(
    "name, command", _commands(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_every_format_option_is_the_one_declaration(name, command):
    (fmt,) = [p for p in command.params if "--format" in getattr(p, "opts", ())] or [None]
    if fmt is None:
        return  # schema prints JSON only; `schemes show` prints TOML only
    assert isinstance(fmt.type, click.Choice)
    assert fmt.name == "output_format"
    assert fmt.default == fmt.type.choices[0]
    assert fmt.show_default
    assert "json" in fmt.type.choices
