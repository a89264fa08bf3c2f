"""The version, written once (``inventory_cli/version.py``), in every place invwh shows it:
``invwh --version``, the package's metadata, the ``User-Agent`` of both clients (``send``
through requests, ``replay`` through the llhttp pool) and the ``Server`` of ``invwh listen``."""

from __future__ import annotations

import importlib.metadata

import requests
from conftest import SAMPLES, TEST_SECRET
from servers import serve

from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.version import __version__
from inventory_cli.workflows.receive import Receiver, ReceiverConfig

TIMEOUT = 5  # seconds, for every network call the tests make themselves
SECRET_ENV = {"INVWH_SECRET": TEST_SECRET}
NAMED = f"invwh/{__version__}"


def test_the_command_and_the_metadata_say_the_version_written_in_version_py(invwh):
    assert invwh("--version").stdout == f"invwh, version {__version__}\n"
    assert importlib.metadata.version("invwh") == __version__  # pyproject.toml reads it there


def test_send_names_itself_with_the_version(invwh):
    with serve() as server:
        invwh("send", SAMPLES / "stock-increase.json", "--url", server.endpoint(), env=SECRET_ENV)
    assert [request.headers["User-Agent"] for request in server.received] == [NAMED]


def test_replay_names_itself_with_the_version(invwh, tmp_path):
    recording = tmp_path / "recording.jsonl"
    config = ReceiverConfig(scheme=INVENTORY_V1, secrets=[Secret(TEST_SECRET)], port=0, record=str(recording))
    body = (SAMPLES / "stock-increase.json").read_bytes()
    with Receiver(config) as receiver:
        headers = {"Content-Type": "application/json", **sign(INVENTORY_V1, Secret(TEST_SECRET), body)}
        answer = requests.post(receiver.url, data=body, headers=headers, timeout=TIMEOUT)
    assert answer.headers["Server"] == NAMED  # invwh listen's answers
    with serve() as server:
        invwh("replay", recording, "--url", server.endpoint(), env=SECRET_ENV)
    assert [request.headers["User-Agent"] for request in server.received] == [NAMED]
