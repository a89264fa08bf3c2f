"""Parse JSON text exactly as ``json.loads`` does, at less cost per document.

``json.loads`` wraps the C scanner in several Python calls (type checks, a
regex for leading and trailing whitespace, ``raw_decode``), a third of its
time on a recording's line or an event's body. ``loads`` calls the scanner
directly when the text starts with its value and ends with JSON whitespace at
most, the shape of every recording line and nearly every body; anything else
(leading whitespace, trailing data, no value at all) goes to ``json.loads``,
which returns the same value or raises the same error as it always did.

A command that parses a stream of documents (the audit, replay: two per
delivery; listen: a body a request) calls ``use_fast_decoder`` first:
``loads`` then tries msgspec's C decoder, 3-6x faster than the scanner on a
recording's line, and keeps its value only when msgspec accepts the text.
For every text msgspec accepts it returns what ``json.loads`` returns
(integers of any size stay integers; checked by a hypothesis property);
everything it refuses (NaN, a lone surrogate, ``1e400``, a byte order mark,
any malformed text) goes to the standard library, which decides the value or
the error exactly as before.
One-shot commands (``sign``, ``validate``) never load msgspec: it is ~2 ms
of start-up they would not win back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: The C scanner with json.loads's defaults (``JSONDecoder`` sets it up; typeshed leaves it out).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
#: What ``json.loads`` skips after the value (its ``WHITESPACE`` pattern), and no more.
_JSON_WHITESPACE = " \t\n\r"
#: msgspec's decoder once ``use_fast_decoder`` loaded it, and the errors that send a text to the scanner.
_fast: Callable[[str], Any] | None = None
_FAST_REFUSALS: tuple[type[BaseException], ...] = (ValueError, RecursionError)


def use_fast_decoder(enabled: bool = True) -> bool:
    """Let ``loads`` try msgspec first, in this process (or stop, with ``enabled=False``).

    Returns whether it will: False when msgspec cannot be imported, and ``loads``
    goes on with the standard library alone. Values and errors are the same either way.
    """
    global _fast
    if not enabled:
        _fast = None
        return False
    if _fast is None:
        try:
            import msgspec
        except ImportError:
            return False
        # A ValueError subclass, as is the UnicodeEncodeError of a str holding a lone surrogate.
        _fast = msgspec.json.Decoder().decode
    return True


def loads(text: str) -> Any:
    """The value of the JSON ``text``; ``json.JSONDecodeError`` (a ValueError) or
    RecursionError when ``json.loads`` would raise them."""
    if _fast is not None:
        try:
            return _fast(text)
        except _FAST_REFUSALS:
            pass  # the standard library decides: its value, or its error
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # no value at the start: json.loads says why, or skips the whitespace
        return json.loads(text)
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return json.loads(text)  # raises "Extra data"
    return value
