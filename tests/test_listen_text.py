"""listen's log line: the plain line made without rich is the line rich makes, byte for byte."""

from __future__ import annotations

import io
import itertools

import pytest
from conftest import SAMPLES, TEST_SECRET

from inventory_cli.cli.output import listen_text
from inventory_cli.cli.output.text import TextWriter
from inventory_cli.signing.schemes import INVENTORY_V1
from inventory_cli.signing.signatures import Secret, sign
from inventory_cli.text import forget_secrets, remember_secret
from inventory_cli.workflows.receive import ReceivedDelivery
from inventory_cli.workflows.verdict import judge

BODY = (SAMPLES / "stock-increase.json").read_bytes()
VALID = judge(INVENTORY_V1, [Secret(TEST_SECRET)], BODY, sign(INVENTORY_V1, Secret(TEST_SECRET), BODY))

METHODS = ["POST", "P\x1bST", "PÖST"]
PATHS = [
    "/webhooks",
    "/webhooks?x=1&y=2",
    "/web\nhooks",
    "/wébhooks",
    "/" + "a" * 30,
    "/" + "long-path-" * 9,  # wider than 80 columns: rich wraps it
    "/webhooks   ",  # trailing spaces, stripped as rich strips them
    f"/leak/{TEST_SECRET}",  # redacted either way
]


def delivery(method: str, path: str, status: int = 200) -> ReceivedDelivery:
    return ReceivedDelivery(1_700_000_000.123, method, path, {}, BODY, VALID, status, "ok", "signature valid")


def rich_only(writer: TextWriter) -> TextWriter:
    """The same writer, its plain shortcut turned off: every line laid out by rich."""
    writer.plain_line = lambda *pieces: None  # type: ignore[method-assign]
    return writer


@pytest.fixture(autouse=True)
def a_secret_to_redact():
    remember_secret(TEST_SECRET)
    yield
    forget_secrets()


@pytest.mark.parametrize("width", [40, 80, 120])
@pytest.mark.parametrize("forced", [False, True])
def test_the_plain_line_is_the_line_rich_makes(width, forced):
    fast, slow = (
        TextWriter(color=False, out=io.StringIO()),
        rich_only(TextWriter(color=False, out=io.StringIO())),
    )
    fast.width = slow.width = width
    for method, path, status in itertools.product(METHODS, PATHS, [200, 202]):
        shown = delivery(method, path, status)
        expected = listen_text.delivery_text(slow, shown, forced=forced)
        assert listen_text.delivery_text(fast, shown, forced=forced) == expected
        assert TEST_SECRET not in expected


def test_the_common_line_takes_the_plain_path():
    """Not only equal: the shortcut is taken for a plain line, and not for colour."""
    writer = TextWriter(color=False, out=io.StringIO())
    writer.width = 80
    line = listen_text.delivery_text(writer, delivery("POST", "/webhooks"), forced=False)
    assert writer.plain_line("14", ":", "00") == "14:00"
    assert line.endswith("  200  POST /webhooks  stock.increase  ok")
    assert TextWriter(color=True, out=io.StringIO()).plain_line("x") is None
