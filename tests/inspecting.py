"""Helpers for the inspector's tests: recording lines as listen writes them, an inspector served
in-process on port 0, and the system's headless Chromium driven by selenium."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import TEST_SECRET

from inventory_cli.cli.commands.inspect import _curl
from inventory_cli.inspector.actions import Actions, secret_of
from inventory_cli.inspector.feed import Feed
from inventory_cli.inspector.server import Inspector, InspectorServer
from inventory_cli.inspector.views import Judge
from inventory_cli.signing.schemes import get_scheme
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.workflows.recording import encode_line
from inventory_cli.workflows.verdict import judge

SCHEME = get_scheme("inventory-v1")
SECRET = Secret(TEST_SECRET)
TIMEOUT = 10  # seconds, for every network call and every wait
EVENT = b'{"inventoryStockIncreaseEventType": "stock.increase", "sku": "WIDGET-BLU-M", "quantity": 3}'
DECREASE = b'{"inventoryStockDecreaseEventType": "stock.decrease", "sku": "MUG-RED", "quantity": 1}'

#: Debian's paths; the variables let a test see what a machine without them does.
CHROMIUM = os.environ.get("INSPECTOR_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("INSPECTOR_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
NO_BROWSER = (
    f"no {CHROMIUM} or {CHROMEDRIVER}: apt-get install chromium chromium-driver to run the browser tests"
)


@dataclass
class Answered:
    """A request as listen hands it to the recording (``recording.AnsweredRequest``)."""

    body: bytes
    headers: dict[str, str]
    method: str = "POST"
    path: str = "/webhooks"
    received_at: float = field(default_factory=time.time)
    status: int = 0
    verdict: Any = None
    body_read: bool = True


def line(
    body: bytes = EVENT,
    *,
    headers: dict[str, str] | None = None,
    secret: Secret = SECRET,
    path: str = "/webhooks",
    method: str = "POST",
    received_at: float | None = None,
) -> bytes:
    """One recording line, judged as listen judges it (signed by ``secret`` unless ``headers``)."""
    now = time.time() if received_at is None else received_at
    if headers is None:
        headers = {"Content-Type": "application/json", **sign(SCHEME, secret, body, timestamp=int(now))}
    headers = {"Host": "127.0.0.1:8787", **headers, "Content-Length": str(len(body))}
    verdict = judge(SCHEME, [SECRET], body, headers, now=now) if method == "POST" else None
    status = 404 if verdict is None else 200 if verdict.valid else 401 if not verdict.signature.ok else 422
    return encode_line(Answered(body, headers, method, path, now, status, verdict))


@dataclass
class Served:
    server: InspectorServer
    inspector: Inspector

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.inspector.token


@contextlib.contextmanager
def inspecting(recording: Path, secrets: Sequence[Secret] = (SECRET,)) -> Iterator[Served]:
    """``invwh inspect RECORDING`` in this process, on a free port, following the file."""
    feed = Feed(recording)
    feed.poll()  # what is there already is served from the first request on, as the command does
    inspector = Inspector(
        feed, Judge(SCHEME, list(secrets)), Actions(SCHEME, secret_of(list(secrets)), curl=_curl)
    )
    server = InspectorServer(inspector, "127.0.0.1", 0)
    stop = threading.Event()
    threads = [
        threading.Thread(target=feed.follow, args=(stop, 0.05), daemon=True),
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield Served(server, inspector)
    finally:
        stop.set()
        server.shutdown()
        server.stop()
        for thread in threads:
            thread.join(timeout=TIMEOUT)


def have_browser() -> bool:
    return all(os.access(path, os.X_OK) for path in (CHROMIUM, CHROMEDRIVER))


@contextlib.contextmanager
def chromium(downloads: Path | None = None, *, width: int = 1400, height: int = 900) -> Iterator[Any]:
    """The system's Chromium, headless, through its own chromedriver: selenium-manager never runs,
    so nothing is downloaded (the network is closed), and a fresh profile each time."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="invwh-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: CSP violations
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(TIMEOUT)
        driver.set_script_timeout(TIMEOUT)
        if downloads is not None:
            driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
            )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
