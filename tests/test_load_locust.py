"""``inventory_cli.load.WebhookUser`` under the real ``locust`` command, headless and distributed.

Each run sends to a real ``invwh listen --record``: the recording, not
Locust's word, proves every delivery arrived validly signed, and Locust's
``--json`` figures must count the same deliveries. Locust runs in its own
processes only: importing it patches this process's standard library
(gevent), which the rest of the suite must not get.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import figures
import pytest
from conftest import ROOT, TEST_SECRET
from test_listen_load import listen_process

from inventory_cli.workflows.recording import BadLine, Recorded, read_recording

LOCUST = Path(sys.executable).parent / "locust"
INVWH = Path(sys.executable).parent / "invwh"
TIMEOUT = 60  # seconds, for a whole locust process (a run is 3 s)
TYPES = {"stock.increase", "stock.decrease", "stock.depleted"}

PLAIN_LOCUSTFILE = "from inventory_cli.load import WebhookUser\n"


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "INVWH_SECRET": TEST_SECRET, "NO_COLOR": "1", **extra}


def locust(tmp_path: Path, *args: str, locustfile: str = PLAIN_LOCUSTFILE) -> list[str]:
    path = tmp_path / "locustfile.py"
    path.write_text(locustfile)
    assert LOCUST.is_file(), f"no locust next to {sys.executable}: pip install '.[test]' (or '.[load]')"
    return [str(LOCUST), "-f", str(path), *args]


def run(
    command: list[str], cwd: Path, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=environment or env(), capture_output=True, text=True, timeout=TIMEOUT
    )


def headless(url: str, users: int = 4, seconds: int = 3) -> list[str]:
    # --stop-timeout lets a request in flight at the end finish, so Locust counts what the receiver got.
    return ["--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
            "--stop-timeout", "5", "--json", "--skip-log"]  # fmt: skip


def stats(stdout: str) -> dict[str, tuple[int, int]]:
    """Locust's ``--json`` figures: requests and failures for each name (the event type)."""
    return {entry["name"]: (entry["num_requests"], entry["num_failures"]) for entry in json.loads(stdout)}


def recorded(path: Path) -> list[Recorded]:
    records = list(read_recording(path))
    assert not [r for r in records if isinstance(r, BadLine)], "the recording has broken lines"
    return [r for r in records if isinstance(r, Recorded)]


def assert_all_delivered_and_valid(
    figures_by_type: dict[str, tuple[int, int]], records: list[Recorded]
) -> int:
    sent = sum(requests for requests, _ in figures_by_type.values())
    assert sent > 50, f"too little load to prove anything: {figures_by_type}"
    assert all(failures == 0 for _, failures in figures_by_type.values()), figures_by_type
    assert set(figures_by_type) == TYPES, "the mix sends each of the three types"
    invalid = [
        (r.line, r.status, r.verdict)
        for r in records
        if r.status != 200 or not (r.verdict or {}).get("valid")
    ]
    assert not invalid, f"{len(invalid)} deliveries not valid, first: {invalid[:3]}"
    # The receiver got exactly what Locust counted, type by type.
    received = Counter((r.verdict or {}).get("event_type") for r in records)
    assert received == Counter({name: requests for name, (requests, _) in figures_by_type.items()})
    return sent


@pytest.mark.load
def test_a_headless_run_sends_only_valid_deliveries(tmp_path):
    record = tmp_path / "deliveries.jsonl"
    with listen_process(tmp_path, record) as (_, url):
        done = run(locust(tmp_path, *headless(url)), tmp_path)
    assert done.returncode == 0, done.stderr
    sent = assert_all_delivered_and_valid(stats(done.stdout), recorded(record))
    figures.note(
        "locust headless", f"locust headless: {sent} deliveries from 4 users in 3 s, 0 failures, all valid"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def started(command: list[str], cwd: Path, output: Path) -> Iterator[subprocess.Popen]:
    with open(output, "wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)


@pytest.mark.load
def test_a_distributed_run_with_a_master_and_two_workers(tmp_path):
    record = tmp_path / "deliveries.jsonl"
    port = str(free_port())
    with listen_process(tmp_path, record) as (_, url):
        master = locust(tmp_path, "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
                        "--master-bind-port", port, *headless(url))  # fmt: skip
        worker = locust(tmp_path, "--worker", "--master-host", "127.0.0.1", "--master-port", port)
        with started(worker, tmp_path, tmp_path / "worker1.out") as first, \
             started(worker, tmp_path, tmp_path / "worker2.out") as second:  # fmt: skip
            # The master sends nothing: it runs without the secret.
            done = run(master, tmp_path, {k: v for k, v in env().items() if k != "INVWH_SECRET"})
            # The master tells its workers to quit when the run ends.
            assert (first.wait(timeout=TIMEOUT), second.wait(timeout=TIMEOUT)) == (0, 0)
    assert done.returncode == 0, done.stderr
    for name in ("worker1.out", "worker2.out"):
        assert "Traceback" not in (tmp_path / name).read_text()
    sent = assert_all_delivered_and_valid(stats(done.stdout), recorded(record))
    figures.note(
        "locust distributed", f"locust distributed: {sent} deliveries from 2 workers in 3 s, all valid"
    )


@pytest.mark.load
def test_a_recording_is_sent_again_byte_for_byte_and_re_signed(tmp_path, samples):
    first = tmp_path / "first.jsonl"
    with listen_process(tmp_path, first) as (_, url):
        # Signed with a secret the receiver does not know: recorded, and answered 401.
        run([str(INVWH), "send", str(samples), "--url", url], tmp_path, env(INVWH_SECRET="another-secret"))
    assert {r.status for r in recorded(first)} == {401}
    bodies = {r.body for r in recorded(first)}
    assert len(bodies) == len(list(samples.glob("*.json")))

    locustfile = (
        "from inventory_cli import load\n\n"
        "class Replayer(load.WebhookUser):\n"
        f"    recording = {str(first)!r}\n"
    )
    # The secret from the config file in the current directory: the variable its secret_env names.
    (tmp_path / "invwh.toml").write_text('secret_env = "PARTNER_SECRET"\n')
    environment = {k: v for k, v in env(PARTNER_SECRET=TEST_SECRET).items() if k != "INVWH_SECRET"}
    again = tmp_path / "again.jsonl"
    (tmp_path / "again").mkdir()
    with listen_process(tmp_path / "again", again) as (_, url):
        command = locust(tmp_path, *headless(url, users=2, seconds=2), locustfile=locustfile)
        done = run(command, tmp_path, environment)
    assert done.returncode == 0, done.stderr
    records = recorded(again)
    assert len(records) > len(bodies), "the recording's bodies are sent in turn, again and again"
    assert {r.body for r in records} == bodies, "every recorded body, and nothing else, byte for byte"
    # Signed afresh with the sender's secret: every one is valid now.
    assert all(r.status == 200 and r.verdict and r.verdict["valid"] for r in records)


@pytest.mark.load
def test_an_unexpected_answer_is_a_failure(tmp_path):
    record = tmp_path / "deliveries.jsonl"
    with listen_process(tmp_path, record) as (_, url):
        # Signed with another secret: the receiver answers 401 to every delivery.
        command = locust(tmp_path, *headless(url, users=2, seconds=2))
        done = run(command, tmp_path, env(INVWH_SECRET="another-secret"))
    assert done.returncode == 1, "Locust exits 1 when a request failed"
    figures_by_type = stats(done.stdout)
    assert figures_by_type and all(
        requests == failures > 0 for requests, failures in figures_by_type.values()
    )
    assert {r.status for r in recorded(record)} == {401}


def test_a_missing_secret_stops_the_run_with_one_line(tmp_path):
    environment = {k: v for k, v in env().items() if k != "INVWH_SECRET"}
    command = locust(tmp_path, "--headless", "-u", "1", "-t", "1s", "--host", "http://127.0.0.1:9/x")
    done = run(command, tmp_path, environment)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "invwh: error:" in line]
    assert len(errors) == 1 and "no secret given" in errors[0] and "INVWH_SECRET" in errors[0]
    assert "Traceback" not in done.stderr


def test_importing_invwh_does_not_import_locust():
    code = (
        "import sys, inventory_cli, inventory_cli.cli.app\n"
        "from inventory_cli import sign_headers, check_event\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))\n"
    )
    done = run([sys.executable, "-c", code], ROOT)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
