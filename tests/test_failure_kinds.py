"""Failures are values with a kind: decided by ``FailureKind``, never by their wording.

The kinds each client produces against real misbehaving servers are asserted in
test_send_faults.py (requests), test_replay_faults.py and test_client_pool.py
(the socket pool); here, that what is decided from a failure follows its kind,
and that no module outside transport/ reads a failure's text to decide anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inventory_cli
from inventory_cli.transport import failures
from inventory_cli.transport.exchange import Exchange
from inventory_cli.transport.failures import Failure, FailureKind
from inventory_cli.workflows import check
from inventory_cli.workflows.delivery import DeliveryResult

PACKAGE = Path(inventory_cli.__file__).parent
TRANSPORT = PACKAGE / "transport"
#: What a failure's words are held in, on the objects that carry one.
FAILURE_TEXT = {"error", "message"}
#: Names from transport.failures that other layers may use: the value and its kind, not its words.
VALUES = {"Failure", "FailureKind", "FailureCause"}


def failure(kind: FailureKind, message: str) -> DeliveryResult:
    return DeliveryResult(
        "p", None, (200,), Exchange("http://127.0.0.1:9/", b"{}", failure=Failure(kind, message))
    )


@pytest.mark.parametrize(
    ("kind", "message", "unreachable"),
    [
        # The wording says "not HTTP", the kind says refused: the kind decides.
        (FailureKind.REFUSED, "the answer is not HTTP: it starts 'x'", True),
        (FailureKind.NOT_HTTP, "reworded: no status line came back", False),
        (FailureKind.MALFORMED_ANSWER, "reworded: two Content-Lengths", False),
        (FailureKind.TOO_LARGE, "reworded: an endless head", False),
        (FailureKind.TLS, "malformed HTTP answer (a message that lies)", True),
        (FailureKind.TIMEOUT, "no response", True),
    ],
)
def test_check_tells_unreachable_from_not_http_by_kind_not_wording(kind, message, unreachable):
    assert check.unreachable(failure(kind, message)) is unreachable


def test_a_failure_shows_as_its_message_and_reports_its_kind():
    result = failure(FailureKind.RESET, failures.RESET)
    assert (result.error, result.failure_kind, result.delivered) == (failures.RESET, FailureKind.RESET, False)
    data = result.to_dict()
    assert (data["error"], data["failure"]) == ("connection reset by the server", "reset")
    assert str(failures.RESET_FAILURE) == failures.RESET


def test_every_kind_has_a_distinct_json_word():
    words = [kind.value for kind in FailureKind]
    assert len(set(words)) == len(words)
    assert all(word.isidentifier() and word.islower() for word in words)


def modules_outside_transport() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if TRANSPORT not in path.parents]


def text_tests(tree: ast.AST) -> list[str]:
    """``x.error.startswith(...)``, ``"..." in x.error`` and the like: a decision by a failure's words."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"startswith", "endswith", "find", "index", "count"}
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in FAILURE_TEXT | {"failure"}
        ):
            found.append(f"line {node.lineno}: .{node.func.value.attr}.{node.func.attr}()")
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for side in node.comparators:
                if isinstance(side, ast.Attribute) and side.attr == "error":
                    found.append(f"line {node.lineno}: ... in .{side.attr}")
    return found


def test_no_module_outside_transport_decides_by_a_failures_wording():
    offenders = {}
    for path in modules_outside_transport():
        source = path.read_text(encoding="utf-8")
        tests = text_tests(ast.parse(source))
        if "NOT_HTTP_PREFIXES" in source:
            tests.append("names NOT_HTTP_PREFIXES")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("transport.failures"):
                words = {alias.name for alias in node.names} - VALUES
                if words:
                    tests.append(f"line {node.lineno}: imports the wording {sorted(words)}")
        if tests:
            offenders[str(path.relative_to(PACKAGE))] = tests
    assert offenders == {}
    assert not hasattr(failures, "NOT_HTTP_PREFIXES")


def test_the_wording_test_finds_what_main_had():
    """The check above can fail: it names check.py's old prefix test."""
    old = "def _not_http(result):\n    return result.error.startswith(NOT_HTTP_PREFIXES)\n"
    assert text_tests(ast.parse(old)) == ["line 2: .error.startswith()"]
    assert text_tests(ast.parse("wrong = 'not HTTP' in result.error\n")) == ["line 1: ... in .error"]
