"""The ``invwh`` entry point (``inventory_cli.cli.main``) and the garbage collector.

``main`` loads click and the group with the collector off and freezes what it
loaded, for a faster start (bench/run.py startup). These tests hold it to its
word: the collector is on while a command runs, a caller's choice to keep it
off is kept, and importing the package (as tests and embedders do) changes
nothing about the collector. Each runs in a fresh interpreter, the only place
a start can be seen.
"""

from __future__ import annotations

import subprocess
import sys

from conftest import SAMPLES, TEST_SECRET

SAMPLE = str(SAMPLES / "stock-increase.json")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def run_main(before: str = "") -> list[str]:
    """``invwh sign`` through ``main``, with a spy on the signing function that notes whether
    the collector was on when the command signed; the last lines say what ``main`` left."""
    code = (
        "import gc, sys\n"
        "frozen_at_start = gc.get_freeze_count()  # not always 0: 3.12 starts with some\n"
        f"{before}\n"
        "import inventory_cli.signing.signatures as signatures\n"
        "real_sign = signatures.sign\n"
        "def spy(*args, **kwargs):\n"
        "    print('collector on while signing:', gc.isenabled(), file=sys.stderr)\n"
        "    return real_sign(*args, **kwargs)\n"
        "signatures.sign = spy\n"
        "from inventory_cli.cli import main\n"
        f"sys.argv = ['invwh', 'sign', {SAMPLE!r}, '--secret', {TEST_SECRET!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code, file=sys.stderr)\n"
        "print('collector on after:', gc.isenabled(), 'frozen:', gc.get_freeze_count() > frozen_at_start,\n"
        "      file=sys.stderr)\n"
    )
    done = run_python(code)
    assert "X-Webhook-Signature: v1=" in done.stdout
    return done.stderr.splitlines()


def test_a_command_runs_with_the_collector_on_and_the_start_frozen():
    assert run_main() == [
        "collector on while signing: True",
        "exit 0",
        "collector on after: True frozen: True",
    ]


def test_a_collector_the_caller_turned_off_stays_off():
    assert run_main("gc.disable()") == [
        "collector on while signing: False",
        "exit 0",
        "collector on after: False frozen: True",
    ]


def test_importing_the_cli_changes_nothing_about_the_collector():
    done = run_python(
        "import gc, sys\n"
        "frozen_at_start = gc.get_freeze_count()\n"
        "import inventory_cli.cli\n"
        "loaded_click = 'click' in sys.modules\n"
        "from inventory_cli.cli import cli\n"
        "print(loaded_click, type(cli).__name__, gc.isenabled(), gc.get_freeze_count() - frozen_at_start)\n"
    )
    assert done.stdout.split() == ["False", "InvwhGroup", "True", "0"]


def test_python_dash_m_runs_the_same_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "inventory_cli", "sign", SAMPLE, "--secret", TEST_SECRET, "--format", "value"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("v1=")
