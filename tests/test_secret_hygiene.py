"""Secrets never leak: the session-wide search (``hygiene.py``) works, and --secret gets its hint.

The search itself runs at the end of every session over everything the suite
produced; the tests here prove that it finds what it should, in memory and in
a private temporary directory (a leak planted under pytest's tmp dir would
fail the session, as it should).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import hygiene
import pytest
from click.testing import CliRunner
from conftest import HYGIENE, SAMPLES, TEST_SECRET

from inventory_cli.cli.options import (
    SECRET_HINT,
    hint_secret_on_command_line,
    resolve_secrets,
    secret_options,
)

NON_ASCII = "cl\u00e9-\u043a\u043b\u044e\u0447"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- the search ---------------------------------------------------------------


def test_the_suite_registers_its_secrets():
    assert {TEST_SECRET, "s3cret", "It's a Secret to Everybody", NON_ASCII} <= hygiene.SECRETS


def test_a_short_secret_cannot_be_registered():
    with pytest.raises(ValueError, match="too short"):
        hygiene.register_secret("k")


@pytest.mark.parametrize(
    "output",
    [
        f"X-Debug: {TEST_SECRET}\n",
        f'{{"secret": "{TEST_SECRET}"}}'.encode(),
        '{"secret": "cl\\u00e9-\\u043a\\u043b\\u044e\\u0447"}',  # escaped in JSON
        f"key={NON_ASCII}".encode(),
    ],
    ids=["text", "bytes", "json-escaped", "utf-8"],
)
def test_a_secret_in_an_output_is_found(output):
    search = hygiene.Hygiene()
    search.capture("somewhere", output)
    assert [str(leak).split(":")[0] for leak in search.leaks({TEST_SECRET, NON_ASCII}, [])] == ["somewhere"]


def test_clean_outputs_pass():
    search = hygiene.Hygiene()
    search.capture("here", "X-Webhook-Signature: v1=abc\n", b"\xff\xfe", None, "")
    assert search.leaks({TEST_SECRET}, []) == []


def test_files_are_searched_but_secret_and_config_files_are_inputs():
    with tempfile.TemporaryDirectory() as directory:  # not under pytest's tmp dir: see the module docstring
        root = Path(directory)
        (root / "nested").mkdir()
        (root / "nested" / "report.xml").write_text(f"<error message='{TEST_SECRET}'/>")
        (root / "secret").write_text(f"  {TEST_SECRET}\n")
        (root / "invwh.toml").write_text(f'secret = "{TEST_SECRET}"\n')
        (root / "clean.jsonl").write_text("{}\n")
        search = hygiene.Hygiene()
        leaks = search.leaks({TEST_SECRET}, [root])
    assert [Path(leak.where).name for leak in leaks] == ["report.xml"]
    assert search.files_searched == 2


def test_subprocess_outputs_are_captured_for_the_search():
    before = len(HYGIENE.outputs)
    done = subprocess.run(
        [sys.executable, "-c", "print('from run')"], capture_output=True, text=True, timeout=60
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "print('from popen')"], stdout=subprocess.PIPE, text=True
    )
    try:
        lines = list(process.stdout)
    finally:
        process.wait(timeout=60)
        process.stdout.close()
    assert (done.stdout, lines) == ("from run\n", ["from popen\n"])
    captured = HYGIENE.outputs[before:]
    assert any(data == b"from run\n" for _, data in captured)
    assert any(data == b"from popen\n" for _, data in captured)
    assert all("test_subprocess_outputs_are_captured" in where for where, _ in captured)


def test_invwh_outputs_are_captured_for_the_search(invwh):
    before = len(HYGIENE.outputs)
    invwh("validate", SAMPLES / "stock-increase.json")
    ((where, data),) = HYGIENE.outputs[before:]
    assert where.endswith(": invwh validate") and b"stock.increase" in data


# --- the --secret hint ----------------------------------------------------------


def test_the_hint_is_one_line_on_a_terminal():
    terminal = Terminal()
    hint_secret_on_command_line(terminal)
    assert terminal.getvalue() == SECRET_HINT + "\n"
    assert "INVWH_SECRET" in SECRET_HINT and "--secret-file" in SECRET_HINT and "process list" in SECRET_HINT


def test_no_hint_when_stderr_is_not_a_terminal():
    pipe = io.StringIO()
    hint_secret_on_command_line(pipe)
    assert pipe.getvalue() == ""


def test_resolving_a_secret_from_the_command_line_hints_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("INVWH_SECRET", TEST_SECRET)
    resolve_secrets((), ())  # from the environment: nothing to say
    assert terminal.getvalue() == ""
    resolve_secrets(("a-secret-on-argv",), ())
    assert terminal.getvalue() == SECRET_HINT + "\n"


@click.command()
@secret_options(multiple=True)
def probe(secret_values, secret_file):
    terminal = Terminal()
    hint_secret_on_command_line(terminal)
    click.echo(terminal.getvalue(), nl=False)


def test_only_a_secret_given_on_the_command_line_hints():
    runner = CliRunner()
    assert runner.invoke(probe, ["--secret", "on-argv"]).output == SECRET_HINT + "\n"
    from_config = runner.invoke(probe, [], default_map={"secret_values": ("from-a-config",)})
    assert from_config.output == ""


@pytest.mark.parametrize(
    "command",
    [["sign", SAMPLES / "stock-increase.json"], ["verify", "--body", SAMPLES / "stock-increase.json"]],
)
def test_commands_give_no_hint_when_stderr_is_not_a_terminal(invwh, command):
    result = invwh(*command, "--secret", TEST_SECRET, code=(0, 1))
    assert "hint" not in result.stderr


def test_the_real_command_gives_no_hint_to_a_pipe():
    script = Path(sys.executable).parent / "invwh"
    done = subprocess.run(
        [str(script), "sign", str(SAMPLES / "stock-increase.json"), "--secret", TEST_SECRET],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "INVWH_SECRET"},
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert TEST_SECRET not in done.stdout
