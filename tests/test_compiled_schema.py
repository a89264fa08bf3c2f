"""The compiled event tests agree with jsonschema, and keep sign from importing it."""

from __future__ import annotations

import pytest
from conftest import sign_in_a_fresh_process
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from inventory_cli.events.validation import compile_schema, event_types

KEYS = [t.discriminator for t in event_types()] + ["sku", "type", "inventoryStockIncreaseEventTyp"]
CONSTANTS = [t.name for t in event_types()]
scalars = st.one_of(
    st.sampled_from(CONSTANTS),
    st.sampled_from(["stock.increse", "STOCK.INCREASE", "", "stock.increase "]),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
documents = st.one_of(st.dictionaries(st.sampled_from(KEYS), values, max_size=4), values)


@pytest.mark.parametrize("event_type", event_types(), ids=lambda t: t.name)
@settings(max_examples=400, deadline=None)
@given(document=documents)
def test_compiled_test_agrees_with_jsonschema(event_type, document):
    compiled = compile_schema(event_type.schema)
    assert compiled is not None
    assert compiled(document) == Draft202012Validator(event_type.schema).is_valid(document)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "minProperties": 1},
        {"type": "array"},
        {"type": "object", "additionalProperties": False},
        {"type": "object", "properties": {"n": {"const": 1}}},
        {"type": "object", "properties": {"n": {"type": "string"}}},
    ],
)
def test_other_shapes_are_left_to_jsonschema(schema):
    assert compile_schema(schema) is None


def test_signing_a_valid_event_imports_neither_jsonschema_nor_rich_nor_requests():
    loaded = sign_in_a_fresh_process(
        "", "sorted(m for m in ('jsonschema', 'rich', 'requests') if m in sys.modules)"
    )
    assert loaded == "[]"
