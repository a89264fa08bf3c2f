"""Ctrl-C while a command waits on the network: exit 130 and one line, never a traceback (real SIGINT)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from servers import tcp_server

TIMEOUT = 15


@pytest.mark.parametrize(
    "args",
    [
        ["send", "{samples}/stock-increase.json", "--url", "{url}"],
        ["trigger", "stock.increase", "--url", "{url}"],
        ["check", "--url", "{url}"],
        ["replay", "{recording}", "--url", "{url}"],
    ],
    ids=["send", "trigger", "check", "replay"],
)
def test_sigint_while_waiting_for_an_answer_exits_130_without_a_traceback(tmp_path, samples, args):
    connected = threading.Event()

    def hold(connection: socket.socket) -> None:  # read the request, never answer
        connected.set()
        connection.settimeout(TIMEOUT)
        while True:
            try:
                if not connection.recv(65536):
                    return
            except OSError:
                return

    recording = tmp_path / "r.jsonl"
    recording.write_text(
        '{"method": "POST", "path": "/webhooks", "headers": {}, "body": "{}", "status": 200}\n',
        encoding="utf-8",
    )
    with tcp_server(hold) as port:
        url = f"http://127.0.0.1:{port}/webhooks"
        values = {"samples": str(samples), "url": url, "recording": str(recording)}
        command = [str(Path(sys.executable).parent / "invwh"), *(arg.format(**values) for arg in args)]
        env = {**os.environ, "NO_COLOR": "1", "INVWH_SECRET": TEST_SECRET}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        try:
            assert connected.wait(TIMEOUT), process.communicate(timeout=TIMEOUT)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.endswith("invwh: interrupted\n")
