"""``json_text.loads`` gives what ``json.loads`` gives: the same value, or the same error,
with the standard library alone and with msgspec's decoder tried first (``use_fast_decoder``)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator

import figures
import pytest
from conftest import SAMPLES, TEST_SECRET
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_cli import json_text
from inventory_cli.json_text import loads, use_fast_decoder

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
        # repr, not ==: 1 == 1.0 and 0.0 == -0.0, but a decoder that changed a type is wrong
        return "value", repr(parse(text))
    except json.JSONDecodeError as error:
        return "error", (error.msg, error.pos)
    except RecursionError:
        return "error", "nested too deeply"


@contextlib.contextmanager
def decoder(fast: bool) -> Iterator[None]:
    """``loads`` with msgspec tried first, or with the standard library alone; as it was after."""
    was = json_text._fast is not None
    assert use_fast_decoder(fast) is fast
    try:
        yield
    finally:
        use_fast_decoder(was)


DECODERS = pytest.mark.parametrize("fast", [False, True], ids=["standard", "msgspec"])


@DECODERS
@SETTINGS
@given(value=values, before=around, after=around, indent=st.sampled_from([None, 2]))
def test_a_document_with_anything_around_it_parses_as_json_loads_parses_it(
    fast, value, before, after, indent
):
    figures.example("json_text-agrees-on-documents")
    text = before + json.dumps(value, indent=indent) + after
    with decoder(fast):
        assert outcome(loads, text) == outcome(json.loads, text)


@DECODERS
@SETTINGS
@given(text=st.text(st.sampled_from(' \t\n{}[]":,0123456789.eE+-truefalsn\\u'), max_size=20))
def test_any_text_parses_or_fails_as_json_loads_does(fast, text):
    figures.example("json_text-agrees-on-text")
    with decoder(fast):
        assert outcome(loads, text) == outcome(json.loads, text)


@DECODERS
@pytest.mark.parametrize("text", ["", "   ", "\ufeff{}", '{"a": 1} {"b": 2}', '{"a": ', "NaN x", '"a\x01"'])
def test_what_json_loads_refuses_is_refused_with_its_error(fast, text):
    with decoder(fast), pytest.raises(json.JSONDecodeError) as ours:
        loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)


@pytest.mark.parametrize(
    "text",
    [
        "1" * 30,  # orjson makes a float of an integer past 64 bits: msgspec keeps it exact
        "-18446744073709551617",
        "[18446744073709551616, -9223372036854775809]",
        '"\\ud800"',  # a lone surrogate, escaped: msgspec refuses it, the standard library keeps it
        '"\\ud83d\\ude00"',
        "NaN",
        "[Infinity, -Infinity]",
        "1e400",
        "-0",
        "-0.0",
        "1E5",
        "0.1e-400",
        "123456789012345678901234567890.5",
        '{"a": 1, "a": 2}',
        '"\\u0000"',
        "[" * 500 + "]" * 500,
    ],
)
def test_msgspec_gives_the_standard_librarys_value_where_they_could_differ(text):
    with decoder(True):
        assert outcome(loads, text) == outcome(json.loads, text)


def test_a_str_holding_a_lone_surrogate_parses_as_json_loads_parses_it():
    text = '["\ud800"]'  # a str only: no UTF-8 bytes spell it, and msgspec refuses to encode it
    with decoder(True):
        assert outcome(loads, text) == outcome(json.loads, text)


def modules_after(*args: str) -> str:
    """Runs ``invwh ARGS`` in a new interpreter and says whether msgspec was loaded by the end."""
    code = (
        "import sys\n"
        "from inventory_cli.cli import cli\n"
        "try:\n"
        "    cli(sys.argv[1:], prog_name='invwh')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('msgspec' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    return done.stderr.strip().splitlines()[-1]


def test_sign_and_validate_never_load_msgspec():
    sample = str(SAMPLES / "stock-increase.json")
    assert modules_after("sign", sample, "--secret", TEST_SECRET) == "False"
    assert modules_after("validate", sample) == "False"
    assert modules_after("--version") == "False"


def test_the_audit_decodes_with_msgspec(tmp_path):
    recording = tmp_path / "day.jsonl"
    recording.write_text('{"method": "POST", "path": "/webhooks", "headers": {}, "body": "{}"}\n')
    assert modules_after("audit", str(recording), "--secret", TEST_SECRET) == "True"
