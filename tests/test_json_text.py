"""``json_text.loads`` gives what ``json.loads`` gives: the same value, or the same error."""

from __future__ import annotations

import json

import figures
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_cli.json_text import loads

SETTINGS = settings(max_examples=500, deadline=None, database=None)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=10,
)
#: What may stand around a document: JSON's whitespace, and characters that are not JSON's.
around = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\ufeffx,]}"), max_size=3)


def outcome(parse, text: str) -> tuple[str, object]:
    try:
        return "value", parse(text)
    except json.JSONDecodeError as error:
        return "error", (error.msg, error.pos)


@SETTINGS
@given(value=values, before=around, after=around, indent=st.sampled_from([None, 2]))
def test_a_document_with_anything_around_it_parses_as_json_loads_parses_it(value, before, after, indent):
    figures.example("json_text-agrees-on-documents")
    text = before + json.dumps(value, indent=indent) + after
    assert outcome(loads, text) == outcome(json.loads, text)


@SETTINGS
@given(text=st.text(st.sampled_from(' \t\n{}[]":,0123456789.eE+-truefalsn\\u'), max_size=20))
def test_any_text_parses_or_fails_as_json_loads_does(text):
    figures.example("json_text-agrees-on-text")
    assert outcome(loads, text) == outcome(json.loads, text)


@pytest.mark.parametrize("text", ["", "   ", "\ufeff{}", '{"a": 1} {"b": 2}', '{"a": ', "NaN x"])
def test_what_json_loads_refuses_is_refused_with_its_error(text):
    with pytest.raises(json.JSONDecodeError) as ours:
        loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)
