"""The README's picture of the inspector: ``python tests/inspector_screenshot.py docs/inspector.png``.

A recording of a few deliveries (valid ones, a forgery, a body with a
trailing newline the signature did not cover, one that is not an event), the
page opened in the tests' headless Chromium, one failed delivery selected.
``test_inspector_browser.py`` runs it too, so the picture's recipe keeps working.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from inspecting import DECREASE, EVENT, SCHEME, SECRET, TIMEOUT, chromium, inspecting, line

from inventory_cli.signing.signatures import Secret, sign


def take_screenshot(target: Path) -> None:
    start = time.time() - 40
    depleted = b'{"inventoryStockDepletedEventType": "stock.depleted", "sku": "MUG-RED", "warehouse": "Lyon"}'
    unsigned_newline = sign(SCHEME, SECRET, EVENT, timestamp=int(start + 20))
    lines = [
        line(EVENT, received_at=start),
        line(DECREASE, received_at=start + 4),
        line(depleted, received_at=start + 9),
        line(DECREASE, secret=Secret("old-secret"), received_at=start + 15),
        line(
            EVENT + b"\n",
            headers={"Content-Type": "application/json", **unsigned_newline},
            received_at=start + 20,
        ),
        line(b'{"hello": "world"}', received_at=start + 31),
        line(EVENT, received_at=start + 38),
    ]
    target = target.resolve()
    with tempfile.TemporaryDirectory() as folder, _inside(folder):
        recording = Path(
            "rec.jsonl"
        )  # the page shows the name as given: the README's `invwh inspect rec.jsonl`
        recording.write_bytes(b"".join(lines))
        with inspecting(recording) as served, chromium(width=1360, height=820) as browser:
            from selenium.webdriver.support.ui import WebDriverWait

            browser.get(served.url)
            wait = WebDriverWait(browser, TIMEOUT, poll_frequency=0.05)
            wait.until(lambda d: len(d.find_elements("css selector", "#rows tr")) == len(lines))
            browser.find_element("id", "replay-url").send_keys("http://localhost:3000/webhooks")
            browser.find_elements("css selector", "#rows tr")[4].click()
            wait.until(lambda d: d.find_elements("css selector", "#detail pre.raw"))
            time.sleep(1.3)  # the new rows' highlight fades
            browser.save_screenshot(str(target))


@contextlib.contextmanager
def _inside(folder: str) -> Iterator[None]:
    """``contextlib.chdir``, which Python 3.10 lacks."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


if __name__ == "__main__":
    take_screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/inspector.png"))
