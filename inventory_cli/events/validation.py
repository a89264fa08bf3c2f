"""The three inventory events: their JSON Schemas and checking a payload against them.

The schemas in ``schemas/`` are the single source of truth: the event type
names, their discriminator properties and their constants are all read from
them, and payloads are validated with ``jsonschema`` (draft 2020-12).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from ..json_text import loads
from ..record import Record

SCHEMA_DIR = os.path.join(os.path.dirname(__file__), "schemas")
UNION_NAME = "InventoryChangeEvent"
MODEL_NAMES = ("InventoryStockIncreaseEvent", "InventoryStockDecreaseEvent", "InventoryStockDepletedEvent")


class EventType(Record):
    _fields = ("name", "model", "discriminator")  # not the schema

    def __init__(self, name: str, model: str, discriminator: str, schema: dict[str, Any]) -> None:
        self.name = name  # "stock.increase"
        self.model = model  # "InventoryStockIncreaseEvent"
        self.discriminator = discriminator  # "inventoryStockIncreaseEventType"
        self.schema = schema

    def __hash__(self) -> int:
        return hash(self._values())


def _read_schema(model: str) -> dict[str, Any]:
    with open(os.path.join(SCHEMA_DIR, f"{model}.json"), encoding="utf-8") as file:
        schema: dict[str, Any] = json.load(file)
    return schema


@cache
def event_types() -> tuple[EventType, ...]:
    types = []
    for model in MODEL_NAMES:
        schema = _read_schema(model)
        (discriminator,) = schema["required"]
        types.append(EventType(schema["properties"][discriminator]["const"], model, discriminator, schema))
    return tuple(types)


def event_type_names() -> tuple[str, ...]:
    return tuple(t.name for t in event_types())


def get_event_type(name: str) -> EventType:
    for event_type in event_types():
        if event_type.name == name:
            return event_type
    raise KeyError(name)


def union_schema() -> dict[str, Any]:
    """The union schema, self-contained: each ``$ref`` points into ``$defs``."""
    import copy

    union = _read_schema(UNION_NAME)
    union["$defs"] = {}
    for branch, event_type in zip(union["oneOf"], event_types(), strict=True):
        inner = copy.deepcopy(event_type.schema)
        inner.pop("$schema", None)
        union["$defs"][event_type.model] = inner
        branch["$ref"] = f"#/$defs/{event_type.model}"
    return union


class Problem(NamedTuple):
    path: str  # a JSON path, "$" for the whole document
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EventCheck(Record):
    """What a payload is: an event type, or the problems that make it none."""

    _fields = ("event_type", "problems", "document")

    def __init__(
        self, event_type: str | None, problems: list[Problem] | None = None, document: Any = None
    ) -> None:
        self.event_type = event_type
        self.problems = [] if problems is None else problems
        self.document = document

    @property
    def ok(self) -> bool:
        return self.event_type is not None and not self.problems


@cache
def _validators() -> tuple[Any, ...]:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]  # stubs optional

    return tuple(Draft202012Validator(t.schema) for t in event_types())


# Keywords that only annotate: they never change whether a document is valid.
_ANNOTATIONS = {"$schema", "$id", "title", "description", "examples", "$comment"}


def compile_schema(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """A fast validity test for the simple shape the event schemas have, or None.

    The three schemas are an object with a required property holding a string
    constant. Importing jsonschema and walking its validators costs more than
    the rest of ``invwh sign`` put together, and dominates a recording audit,
    so a schema of exactly that shape is compiled to a few dict lookups.
    Anything else in a schema (another keyword, a non-string constant) returns
    None and jsonschema decides. jsonschema also explains every failure, and
    a test checks the two agree on generated documents.
    """
    keywords = set(schema) - _ANNOTATIONS
    if not keywords <= {"type", "properties", "required", "additionalProperties"}:
        return None
    if schema.get("type", "object") != "object" or schema.get("additionalProperties", True) is not True:
        return None
    required = schema.get("required", [])
    constants: dict[str, str] = {}
    for name, subschema in schema.get("properties", {}).items():
        if not isinstance(subschema, dict) or set(subschema) - _ANNOTATIONS != {"const"}:
            return None
        if not isinstance(subschema["const"], str):
            return None
        constants[name] = subschema["const"]
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        return None
    checks = tuple(constants.items())
    needed = tuple(required)
    missing = object()

    def is_valid(document: Any) -> bool:
        if type(document) is not dict:
            return False
        for name in needed:
            if name not in document:
                return False
        for name, constant in checks:
            value = document.get(name, missing)
            if value is not missing and (type(value) is not str or value != constant):
                return False
        return True

    return is_valid


@cache
def _testers() -> tuple[tuple[EventType, Callable[[Any], bool]], ...]:
    """Each event type with its compiled test, or jsonschema's where it cannot be compiled."""
    types = event_types()
    compiled = [compile_schema(t.schema) for t in types]
    if all(compiled):
        return tuple(zip(types, compiled, strict=True))  # type: ignore[arg-type]
    tests = (c or v.is_valid for c, v in zip(compiled, _validators(), strict=True))
    return tuple(zip(types, tests, strict=True))


def check_event(body: bytes) -> EventCheck:
    """Parse ``body`` and say which event it is, or why it is none. Never raises."""
    try:
        document = loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError too: the checks in order say what is wrong
        return _check_unparsed(body)
    try:
        return check_document(document)
    except RecursionError:  # parsed, but too deep for the validator or for quoting in a message
        return EventCheck(None, [Problem("$", "not JSON this tool can read: nested too deeply")], document)


def _check_unparsed(body: bytes) -> EventCheck:
    """What is wrong with a body that does not parse as it stands, or the check of one that does."""
    if not body.strip():
        return EventCheck(None, [Problem("$", "the payload is empty")])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return EventCheck(
            None, [Problem("$", f"not UTF-8: byte 0x{body[error.start]:02x} at offset {error.start}")]
        )
    if text.startswith("\ufeff"):
        return EventCheck(None, [Problem("$", "starts with a byte-order mark; JSON must not")])
    try:
        document = json.loads(text)
    except ValueError as error:
        message = getattr(error, "msg", str(error))
        where = ""
        if isinstance(error, json.JSONDecodeError):
            where = f" at line {error.lineno} column {error.colno}"
        return EventCheck(None, [Problem("$", f"not JSON: {message}{where}")])
    except RecursionError:
        return EventCheck(None, [Problem("$", "not JSON this tool can read: nested too deeply")])
    try:
        return check_document(document)
    except RecursionError:  # parsed, but too deep for the validator or for quoting in a message
        return EventCheck(None, [Problem("$", "not JSON this tool can read: nested too deeply")], document)


def check_document(document: Any) -> EventCheck:
    if type(document) is dict:
        # Each event type's schema requires its discriminator, so only the types whose
        # key is present can match (outside an object, "required" holds vacuously).
        matched = [t for t, is_valid in _testers() if t.discriminator in document and is_valid(document)]
    else:
        matched = [t for t, is_valid in _testers() if is_valid(document)]
    if len(matched) == 1:
        return EventCheck(matched[0].name, document=document)
    if matched:
        names = " and ".join(t.name for t in matched)
        keys = ", ".join(t.discriminator for t in matched)
        return EventCheck(
            None,
            [Problem("$", f"matches {names} at once ({keys}); an event has exactly one type")],
            document,
        )
    if not isinstance(document, dict):
        return EventCheck(
            None, [Problem("$", f"expected a JSON object, got {_json_kind(document)}")], document
        )
    types = event_types()
    present = [(t, v) for t, v in zip(types, _validators(), strict=True) if t.discriminator in document]
    if present:
        problems = [
            _problem_from_error(error, event_type)
            for event_type, validator in present
            for error in validator.iter_errors(document)
        ]
        return EventCheck(None, problems, document)
    return EventCheck(None, [_missing_discriminator(document)], document)


def _problem_from_error(error: Any, event_type: EventType) -> Problem:
    if error.validator == "const":
        got = error.instance
        expected = error.validator_value
        message = f"expected {json.dumps(expected)}, got {json.dumps(got)}"
        if isinstance(got, str):
            others = [t for t in event_types() if t.name == got]
            if others:
                message += (
                    f"; a {got} event carries {others[0].discriminator} instead of {event_type.discriminator}"
                )
            elif _close_matches(got.lower(), [expected.lower()], n=1, cutoff=0.6):
                message += f"; did you mean {json.dumps(expected)}?"
        return Problem(error.json_path, message)
    return Problem(error.json_path, error.message)


def _missing_discriminator(document: dict[str, Any]) -> Problem:
    types = event_types()
    wanted = ", ".join(f"{t.discriminator} ({json.dumps(t.name)})" for t in types)
    message = f"not an inventory event: expected one of the properties {wanted}"
    keys = [k for k in document if isinstance(k, str)]
    discriminators = [t.discriminator for t in types]
    for key in keys:
        # The closest discriminator to this key, not the first one that is close enough.
        close = _close_matches(key, discriminators, n=1, cutoff=0.8)
        if close:
            return Problem("$", f"{message}; did you mean {close[0]} instead of {_printable(key)}?")
    for key, value in document.items():
        if value in event_type_names():
            wanted_key = get_event_type(value).discriminator
            return Problem("$", f"{message}; did you mean {wanted_key} instead of {_printable(key)}?")
    return Problem("$", message)


def _printable(key: str) -> str:
    """A property name safe to print: a lone surrogate (from a "\\ud800" escape) as its escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _close_matches(word: str, candidates: list[str], *, n: int, cutoff: float) -> list[str]:
    import difflib  # only an invalid payload gets here

    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
