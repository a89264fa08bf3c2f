"""Parse JSON text exactly as ``json.loads`` does, at less cost per document.

``json.loads`` wraps the C scanner in several Python calls (type checks, a
regex for leading and trailing whitespace, ``raw_decode``), a third of its
time on a recording's line or an event's body. ``loads`` calls the scanner
directly when the text starts with its value and ends with JSON whitespace at
most, the shape of every recording line and nearly every body; anything else
(leading whitespace, trailing data, no value at all) goes to ``json.loads``,
which returns the same value or raises the same error as it always did.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: The C scanner with json.loads's defaults (``JSONDecoder`` sets it up; typeshed leaves it out).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
#: What ``json.loads`` skips after the value (its ``WHITESPACE`` pattern), and no more.
_JSON_WHITESPACE = " \t\n\r"


def loads(text: str) -> Any:
    """The value of the JSON ``text``; ``json.JSONDecodeError`` (a ValueError) or
    RecursionError when ``json.loads`` would raise them."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # no value at the start: json.loads says why, or skips the whitespace
        return json.loads(text)
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return json.loads(text)  # raises "Extra data"
    return value
