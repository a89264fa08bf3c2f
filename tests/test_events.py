"""The three event types: classification, useful problems, and the `schema` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import INVALID_SAMPLES, SAMPLES, VALID_SAMPLES
from jsonschema import Draft202012Validator

from inventory_cli.events.validation import (
    SCHEMA_DIR,
    check_event,
    event_type_names,
    get_event_type,
    union_schema,
)

TYPES = {
    "stock.increase": ("InventoryStockIncreaseEvent", "inventoryStockIncreaseEventType"),
    "stock.decrease": ("InventoryStockDecreaseEvent", "inventoryStockDecreaseEventType"),
    "stock.depleted": ("InventoryStockDepletedEvent", "inventoryStockDepletedEventType"),
}

SAMPLE_TYPES = {
    "minimal-increase.json": "stock.increase",
    "stock-increase.json": "stock.increase",
    "stock-decrease.json": "stock.decrease",
    "stock-depleted.json": "stock.depleted",
    "cafe-creme-pretty.json": "stock.increase",
    "escaped-unicode.json": "stock.decrease",
    "numbers-as-written.json": "stock.increase",
}


def test_the_three_types_come_from_the_schemas():
    assert event_type_names() == tuple(TYPES)
    for name, (model, discriminator) in TYPES.items():
        event_type = get_event_type(name)
        assert (event_type.model, event_type.discriminator) == (model, discriminator)


def test_every_sample_is_listed_here():
    assert {p.name for p in VALID_SAMPLES} == set(SAMPLE_TYPES)
    assert {p.name for p in INVALID_SAMPLES} == set(INVALID_CASES)


@pytest.mark.parametrize("sample", VALID_SAMPLES, ids=lambda p: p.name)
def test_valid_samples_classify(invwh, sample):
    check = check_event(sample.read_bytes())
    assert (check.ok, check.event_type, check.problems) == (True, SAMPLE_TYPES[sample.name], [])
    assert invwh("validate", sample).stdout.strip().endswith(f": {SAMPLE_TYPES[sample.name]}")


@pytest.mark.parametrize("name", list(TYPES))
def test_discriminator_alone_is_enough(name):
    _, discriminator = TYPES[name]
    assert check_event(json.dumps({discriminator: name}).encode()).event_type == name


# path, fragments the message must contain
INVALID_CASES = {
    "array.json": ("$", ["expected a JSON object, got an array"]),
    "no-type.json": (
        "$",
        [
            "expected one of the properties",
            "inventoryStockIncreaseEventType",
            "inventoryStockDecreaseEventType",
            "inventoryStockDepletedEventType",
            "did you mean inventoryStockIncreaseEventType instead of type?",
        ],
    ),
    "truncated.json": ("$", ["not JSON", "line 2 column 1"]),
    "two-types.json": (
        "$",
        ["stock.decrease and stock.depleted", "exactly one type", "inventoryStockDecreaseEventType"],
    ),
    "typo-in-type.json": (
        "$.inventoryStockIncreaseEventType",
        ['expected "stock.increase", got "stock.increse"', 'did you mean "stock.increase"?'],
    ),
}


@pytest.mark.parametrize("sample", INVALID_SAMPLES, ids=lambda p: p.name)
def test_invalid_samples_name_path_and_cause(invwh, sample):
    path, fragments = INVALID_CASES[sample.name]
    check = check_event(sample.read_bytes())
    assert not check.ok
    assert check.event_type is None
    assert len(check.problems) == 1
    (problem,) = check.problems
    assert problem.path == path
    for fragment in fragments:
        assert fragment in problem.message
    # The same problem reaches the user, text and JSON.
    text = invwh("validate", sample, code=1).stdout
    assert f"{sample}: not a valid inventory event\n    {path}: {problem.message}\n" in text
    reported = invwh("validate", sample, "--format", "json", code=1).json["files"][0]
    assert reported["problems"] == [{"path": path, "message": problem.message}]


@pytest.mark.parametrize(
    "document, path, fragments",
    [
        ({}, "$", ["expected one of the properties", "inventoryStockDepletedEventType"]),
        ({"inventoryStockIncreaseEventType": "stock.decrease"}, "$.inventoryStockIncreaseEventType",
         ["a stock.decrease event carries inventoryStockDecreaseEventType"]),
        ({"inventoryStockIncreaseEventType": "STOCK.INCREASE"}, "$.inventoryStockIncreaseEventType",
         ['did you mean "stock.increase"?']),
        ({"inventoryStockDepletedEventType": "stock.deplete"}, "$.inventoryStockDepletedEventType",
         ['did you mean "stock.depleted"?']),
        ({"inventoryStockIncreaseEventType": "restock"}, "$.inventoryStockIncreaseEventType",
         ['expected "stock.increase", got "restock"']),
        ({"inventoryStockIncreaseEventType": 5}, "$.inventoryStockIncreaseEventType",
         ['expected "stock.increase", got 5']),
        ({"inventoryStockIncreaseEventType": None}, "$.inventoryStockIncreaseEventType",
         ['expected "stock.increase", got null']),
        ({"inventoryStockDecreaseEventTyp": "stock.decrease"}, "$",
         ["did you mean inventoryStockDecreaseEventType instead of inventoryStockDecreaseEventTyp?"]),
        ({"kind": "stock.depleted"}, "$", ["did you mean inventoryStockDepletedEventType instead of kind?"]),
        ({"kind\udcff": "stock.depleted"}, "$", ["instead of kind\\udcff?"]),
        ("stock.increase", "$", ["expected a JSON object, got a string"]),
        (17, "$", ["expected a JSON object, got a number"]),
        (1.5, "$", ["expected a JSON object, got a number"]),
        (True, "$", ["expected a JSON object, got a boolean"]),
        (None, "$", ["expected a JSON object, got null"]),
        ([], "$", ["expected a JSON object, got an array"]),
    ],
)  # fmt: skip
def test_invalid_documents(document, path, fragments):
    check = check_event(json.dumps(document).encode())
    assert not check.ok
    assert [p.path for p in check.problems] == [path]
    for fragment in fragments:
        assert fragment in check.problems[0].message


def test_all_three_discriminators_at_once():
    document = {discriminator: name for name, (_, discriminator) in TYPES.items()}
    check = check_event(json.dumps(document).encode())
    assert not check.ok
    assert "stock.increase and stock.decrease and stock.depleted at once" in check.problems[0].message


@pytest.mark.parametrize(
    "value",
    [0, -3, 1.5, 1e300, "text", "", None, True, False, [], [1, "a", None], {}, {"nested": {"deeper": [{}]}}],
    ids=repr,
)
@pytest.mark.parametrize("name", list(TYPES))
def test_additional_properties_of_any_type_are_allowed(name, value):
    _, discriminator = TYPES[name]
    document = {"sku": "X", discriminator: name, "extra": value, "type": value, "": value}
    check = check_event(json.dumps(document).encode())
    assert (check.ok, check.event_type) == (True, name)


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"", "empty"),
        (b" \n\t", "empty"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b"\xff\xfe{}", "not UTF-8: byte 0xff at offset 0"),
        (b'{"a": 1,}', "not JSON"),
        (b"[" * 100_000, "nested too deeply"),
        (b"{}{}", "not JSON: Extra data"),
    ],
)
def test_unreadable_bodies(body, fragment):
    check = check_event(body)
    assert not check.ok
    assert fragment in check.problems[0].message


@pytest.mark.parametrize("template", ['{"inventoryStockIncreaseEventType": %s}', '{"x": %s}', "%s"])
def test_nesting_near_the_recursion_limit_never_raises(template):
    """Parsed just fine, then too deep for the validator or for quoting in a message."""
    limit = sys.getrecursionlimit()
    for depth in range(limit - 150, limit + 10):
        check = check_event((template % ("[" * depth + "]" * depth)).encode())
        assert not check.ok
        assert check.problems


# --- the schema command -----------------------------------------------------


def test_schema_prints_the_union(invwh):
    printed = invwh("schema").json
    assert printed == union_schema()
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed["title"] == "InventoryChangeEvent"
    assert set(printed["$defs"]) == {model for model, _ in TYPES.values()}


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_union_is_self_contained(invwh):
    printed = invwh("schema").json
    refs = list(_refs(printed))
    assert len(refs) == 3
    for ref in refs:
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in printed["$defs"]


def test_union_validates_samples_on_its_own(invwh):
    """Only the printed text: no access to the package's schema files."""
    printed = invwh("schema").json
    Draft202012Validator.check_schema(printed)
    validator = Draft202012Validator(printed)
    for sample in VALID_SAMPLES:
        assert validator.is_valid(json.loads(sample.read_bytes())), sample.name
    for name in ("array.json", "no-type.json", "two-types.json", "typo-in-type.json"):
        assert not validator.is_valid(json.loads((SAMPLES / "invalid" / name).read_bytes())), name
    assert not validator.is_valid({"inventoryStockIncreaseEventType": "stock.decrease"})


@pytest.mark.parametrize("name", list(TYPES))
def test_schema_of_one_type(invwh, name):
    model, discriminator = TYPES[name]
    printed = invwh("schema", name).json
    assert printed == json.loads((Path(SCHEMA_DIR) / f"{model}.json").read_text(encoding="utf-8"))
    assert printed["title"] == model
    assert printed["required"] == [discriminator]
    assert printed["properties"][discriminator]["const"] == name
    assert printed["additionalProperties"] is True
    Draft202012Validator.check_schema(printed)
    validator = Draft202012Validator(printed)
    for sample in VALID_SAMPLES:
        assert validator.is_valid(json.loads(sample.read_bytes())) is (SAMPLE_TYPES[sample.name] == name)


@pytest.mark.parametrize("name", ["stock.foo", "InventoryStockIncreaseEvent", "STOCK.INCREASE", ""])
def test_schema_of_an_unknown_type_is_a_usage_error(invwh, name):
    result = invwh("schema", name, code=2)
    assert result.stdout == ""
    assert "stock.increase" in result.stderr
    assert "stock.depleted" in result.stderr


def test_schema_output_is_plain_json(invwh):
    stdout = invwh("schema", "stock.increase").stdout
    assert stdout.startswith("{") and stdout.endswith("}\n")
    assert "\x1b[" not in stdout
