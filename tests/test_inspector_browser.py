"""The inspector's page in a real browser: the system's headless Chromium, driven by selenium.

Marked ``browser``; skipped, with one line naming the packages, on a machine
without Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them and fails if these tests did not run).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from inspecting import (
    DECREASE,
    EVENT,
    NO_BROWSER,
    SCHEME,
    SECRET,
    TIMEOUT,
    chromium,
    have_browser,
    inspecting,
    line,
)
from servers import serve

from inventory_cli.signing.signatures import Secret
from inventory_cli.signing.verifier import check_signature

if not have_browser():  # one line for the whole file, naming the two packages
    pytest.skip(NO_BROWSER, allow_module_level=True)

pytestmark = pytest.mark.browser

HOSTILE = [
    b'{"note": "<img src=x onerror=\\"window.__pwned=1\\">"}',
    b'{"note": "</script><script>window.__pwned=2</script>"}',
    b"<svg onload=window.__pwned=3><b>bold</b>",
]


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    with chromium(downloads) as driver:
        yield driver


def write(path: Path, *lines: bytes) -> None:
    with open(path, "ab") as file:
        for data in lines:
            file.write(data)


def wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(lambda d: condition(d), message=what)


def rows(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#rows tr")


def open_page(driver, served, count: int) -> None:
    driver.get(served.url)
    wait(driver, lambda d: len(rows(d)) == count, f"{count} rows")
    wait(driver, lambda d: d.find_element("id", "connection").text == "live", "the stream to be live")


def open_delivery(driver, index: int) -> None:
    rows(driver)[index].click()
    wait(driver, lambda d: d.find_elements("css selector", "#detail pre.raw"), "the delivery's detail")


def valid_signature(received) -> bool:
    return check_signature(SCHEME, [SECRET], received.body, received.headers).ok


def test_a_delivery_appears_live_without_a_reload(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, line(EVENT))
    with inspecting(path) as served:
        open_page(browser, served, 1)
        browser.execute_script("window.__same_page = true")
        write(path, line(DECREASE, secret=Secret("another-secret")))
        wait(browser, lambda d: len(rows(d)) == 2, "the appended delivery's row")
        cells = [cell.text for cell in rows(browser)[1].find_elements("tag name", "td")]
        assert browser.execute_script("return window.__same_page") is True  # no reload
    assert cells[1:] == [
        "2",
        cells[2],
        "401",
        "POST",
        "/webhooks",
        "stock.decrease",
        "invalid",
        "signature_mismatch",
        "",  # no app behind this recording's listen
    ]
    assert len(cells[2]) == len("06:02:57.233")


def test_the_apps_answer_and_a_disagreement_are_shown_as_text(browser, tmp_path):
    """Behind listen --forward-to: the app's answer beside the verdict, a disagreement flagged."""
    path = tmp_path / "rec.jsonl"
    forged = json.loads(line(EVENT, secret=Secret("another-secret")))
    forged["forward"] = {
        "status": 200,
        "headers": {"X-App": '<b onmouseover="window.__pwned=5">'},
        "body": HOSTILE[0].decode(),
        "body_encoding": "utf-8",
        "seconds": 0.004,
        "agrees": False,
        "disagreement": "app_accepted_rejected",
        "why": "the app accepted (200) a delivery invwh rejects (signature_mismatch)",
    }
    write(path, json.dumps(forged).encode() + b"\n")
    with inspecting(path) as served:
        open_page(browser, served, 1)
        app_cell = rows(browser)[0].find_elements("tag name", "td")[-1]
        cell_text, cell_class = app_cell.text, app_cell.get_attribute("class")
        open_delivery(browser, 0)
        forward = browser.find_element("css selector", "#detail .forward").text
        pwned = browser.execute_script("return window.__pwned")
        bold = browser.execute_script("return document.querySelectorAll('#detail b, #detail img').length")
    assert cell_text == "200 (disagrees)" and "invalid" in cell_class
    assert "Disagreement: the app accepted (200) a delivery invwh rejects (signature_mismatch)" in forward
    assert HOSTILE[0].decode() in forward and '<b onmouseover="window.__pwned=5">' in forward
    assert pwned is None and bold == 0


def test_filters_show_only_the_matching_deliveries(browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    path = tmp_path / "rec.jsonl"
    write(path, line(EVENT), line(DECREASE, secret=Secret("another-secret")), line(DECREASE))
    with inspecting(path) as served:
        open_page(browser, served, 3)

        def shown() -> list[str]:
            return [
                row.find_elements("tag name", "td")[1].text for row in rows(browser) if row.is_displayed()
            ]

        Select(browser.find_element("id", "filter-verdict")).select_by_value("invalid")
        assert shown() == ["2"]
        Select(browser.find_element("id", "filter-verdict")).select_by_value("")
        Select(browser.find_element("id", "filter-type")).select_by_value("stock.decrease")
        assert shown() == ["2", "3"]
        Select(browser.find_element("id", "filter-status")).select_by_value("200")
        assert shown() == ["3"]
        assert browser.find_element("id", "count").text == "1 of 3 deliveries shown"


def test_hostile_bodies_headers_and_paths_stay_text(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    markup = '<img src=x onerror="window.__pwned=4">'
    for body in HOSTILE:
        write(
            path,
            line(body, path=f"/webhooks?{markup}", headers={"X-Note": markup, "Content-Type": "text/html"}),
        )
    with inspecting(path) as served:
        open_page(browser, served, len(HOSTILE))
        for index, body in enumerate(HOSTILE):
            open_delivery(browser, index)
            raw = browser.find_element("css selector", "#detail pre.raw").text
            assert raw == body.decode(), raw
            detail = browser.find_element("id", "detail").text
            assert markup in detail  # the header's value, as text
        path_cell = rows(browser)[0].find_elements("tag name", "td")[5].text
        pwned = browser.execute_script("return window.__pwned")
        images = browser.execute_script(
            "return document.querySelectorAll('img, svg, b, script:not([src])').length"
        )
    assert path_cell == f"/webhooks?{markup}"
    assert pwned is None and images == 0


def test_the_body_shows_its_invisible_characters(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, line(b'{"a":\t"b"}\r\n\xff'))
    with inspecting(path) as served:
        open_page(browser, served, 1)
        open_delivery(browser, 0)
        raw = browser.find_element("css selector", "#detail pre.raw")
        marks = [mark.text for mark in raw.find_elements("css selector", ".mark, .byte")]
        facts = browser.find_element("css selector", "#detail .facts-line").text
    assert marks == ["\\t", "\\r", "\\n", "\\xff"]
    assert "not UTF-8" in facts and "CRLF ×1" in facts


def test_fields_the_page_does_not_know_are_shown_as_text(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    data = json.loads(line(EVENT))
    data["a_later_field"] = {"status": 200, "body": "<i>accepted</i>", "agrees": False}  # a newer listen's
    write(path, json.dumps(data).encode() + b"\n")
    with inspecting(path) as served:
        open_page(browser, served, 1)
        open_delivery(browser, 0)
        shown = browser.find_element("css selector", "#detail .other-fields").text
        italics = browser.execute_script("return document.querySelectorAll('i').length")
    assert shown.splitlines()[0] == "a_later_field"
    assert json.loads(shown.split("\n", 1)[1]) == data["a_later_field"]
    assert italics == 0


def test_replay_and_edit_then_replay_reach_a_local_server_signed_anew(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    body = b'{"inventoryStockIncreaseEventType": "stock.increase", "sku": "A"}\r\n'
    write(path, line(body, received_at=1_700_000_000))  # stale: only a fresh signature is valid
    edited = '{"inventoryStockDecreaseEventType": "stock.decrease",\n "sku": "<b>é</b>"}\n'
    with serve() as target, inspecting(path) as served:
        open_page(browser, served, 1)
        field = browser.find_element("id", "replay-url")
        field.clear()
        field.send_keys(target.endpoint())
        open_delivery(browser, 0)
        browser.find_element("id", "replay-resign").click()
        wait(
            browser,
            lambda d: "200" in d.find_element("css selector", "#detail .result .answer").text,
            "an answer",
        )
        browser.find_element("id", "edit").click()
        box = browser.find_element("id", "edit-body")
        box.clear()
        box.send_keys(edited)
        headers = browser.find_element("id", "edit-headers")
        headers.send_keys("\nX-Edited: yes")
        browser.find_element("id", "replay-edited").click()
        wait(browser, lambda d: len(target.received) == 2, "the edited replay")
    first, second = target.received
    assert first.body == body and valid_signature(first)
    # The delivery had CRLF line endings: the box keeps LF, and the page puts the CR back.
    assert second.body == edited.replace("\n", "\r\n").encode() and valid_signature(second)
    assert second.headers["X-Edited"] == "yes"


def test_copy_as_curl_shows_a_command_signed_now(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, line(EVENT))
    with serve() as target, inspecting(path) as served:
        open_page(browser, served, 1)
        field = browser.find_element("id", "replay-url")
        field.clear()
        field.send_keys(target.endpoint())
        open_delivery(browser, 0)
        browser.find_element("id", "copy-curl").click()
        command = wait(browser, lambda d: d.find_elements("css selector", "#detail pre.curl"), "the command")[
            0
        ].text
        done = subprocess.run(["sh"], input=command + "\n", capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    (received,) = target.received
    assert received.body == EVENT and valid_signature(received)
    assert TEST_SECRET not in command


def test_two_checked_deliveries_are_diffed(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, line(b'{"a": 1, "b": 2}'), line(EVENT), line(b'{"a": 1, "b": 3}'))
    with inspecting(path) as served:
        open_page(browser, served, 3)
        for index in (0, 2):
            rows(browser)[index].find_element("tag name", "input").click()
        browser.find_element("id", "diff-button").click()
        panel = wait(browser, lambda d: d.find_elements("css selector", "#diff pre.diffed .add"), "the diff")
        removed = [span.text for span in browser.find_elements("css selector", "#diff .del")]
        added = [span.text for span in panel]
    assert '-   "b": 2' in removed and '+   "b": 3' in added
    assert '- {"a": 1, "b": 2}' in removed


def test_the_download_replays_with_invwh_replay(browser, tmp_path, downloads):
    from selenium.webdriver.support.ui import Select

    path = tmp_path / "rec.jsonl"
    bodies = [EVENT, b'{"inventoryStockDepletedEventType": "stock.depleted", "sku": "\xc3\xa9"}\n', DECREASE]
    write(path, line(bodies[0]), line(b"forged", secret=Secret("another-secret")), line(bodies[1]))
    write(path, line(bodies[2]))
    target_file = downloads / "deliveries.jsonl"
    target_file.unlink(missing_ok=True)
    with inspecting(path) as served:
        open_page(browser, served, 4)
        Select(browser.find_element("id", "filter-verdict")).select_by_value("valid")
        browser.find_element("id", "download").click()
        wait(
            browser,
            lambda d: target_file.exists() and target_file.read_bytes().endswith(b"\n"),
            "the download",
        )
    downloaded = target_file.read_bytes().splitlines()
    assert [json.loads(text) for text in downloaded] == [
        json.loads(text) for i, text in enumerate(path.read_bytes().splitlines()) if i != 1
    ]
    with serve() as target:
        done = subprocess.run(
            [sys.executable, "-m", "inventory_cli", "replay", str(target_file), "--url", target.endpoint()],
            capture_output=True,
            text=True,
            timeout=60,
            env={"INVWH_SECRET": TEST_SECRET, "PATH": "/usr/bin:/bin"},
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [received.body for received in target.received] == bodies
    assert all(valid_signature(received) for received in target.received)


def test_the_page_loads_nothing_from_elsewhere_and_breaks_no_policy(browser, tmp_path):
    path = tmp_path / "rec.jsonl"
    write(path, *(line(body) for body in HOSTILE))
    with inspecting(path) as served:
        open_page(browser, served, len(HOSTILE))
        open_delivery(browser, 0)
        time.sleep(0.2)
        resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        logs = browser.get_log("browser")
    assert resources and all(name.startswith(served.url) for name in resources), resources
    assert not [entry for entry in logs if "Content Security Policy" in entry.get("message", "")], logs


def test_the_readmes_screenshot_is_taken_by_this_browser(tmp_path):
    from inspector_screenshot import take_screenshot

    picture = tmp_path / "inspector.png"
    take_screenshot(picture)
    data = picture.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
