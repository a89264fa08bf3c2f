"""Fresh, realistic events of each type, for the demo, triggering and checking.

Each call makes a new event id and stamps the current time, so receivers
that deduplicate or check freshness see what a real delivery would look like.
``SeededEvents`` makes the same events from the same seed on any day, but
dated at the time they are made, so a check that failed can be run again on
the same events and a receiver that refuses old events still takes them.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from .validation import get_event_type

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as in ULIDs

_ITEMS = (
    ("WIDGET-BLU-M", "Blue widget, medium", "WH-AMS-01", "A-14-03"),
    ("GASKET-RUB-12", "Rubber gasket, 12 mm", "WH-RTM-02", "C-02-11"),
    ("BOLT-M8-40", "Hex bolt M8 × 40", "WH-AMS-01", "B-07-22"),
    ("CABLE-USB-C-2M", "USB-C cable, 2 m", "WH-BER-03", "D-11-05"),
)


def event_id(now: float, rng: random.Random) -> str:
    """A ULID-shaped id: 10 characters of milliseconds, 16 of randomness."""
    millis = int(now * 1000)
    stamp = "".join(_ALPHABET[(millis >> shift) & 31] for shift in range(45, -1, -5))
    return "evt_" + stamp + "".join(rng.choice(_ALPHABET) for _ in range(16))


def make_event(
    event_type: str, *, now: float | None = None, rng: random.Random | None = None
) -> dict[str, Any]:
    """A new event of ``event_type`` (``stock.increase`` and so on) with plausible fields."""
    kind = get_event_type(event_type)
    now = time.time() if now is None else now
    rng = rng or random.Random()
    sku, name, warehouse, bin_ = rng.choice(_ITEMS)
    previous = rng.randint(1, 400)
    event: dict[str, Any] = {
        kind.discriminator: kind.name,
        "eventId": event_id(now, rng),
        "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "sku": sku,
        "productName": name,
        "location": {"warehouseId": warehouse, "bin": bin_},
    }
    if event_type == "stock.increase":
        change = rng.randint(1, 200)
        event |= {"quantityChange": change, "previousQuantity": previous, "newQuantity": previous + change}
        event["reason"] = "purchase_order_received"
    elif event_type == "stock.decrease":
        change = rng.randint(1, previous)
        event |= {"quantityChange": -change, "previousQuantity": previous, "newQuantity": previous - change}
        event["reason"] = "order_shipped"
    else:
        event |= {"previousQuantity": rng.randint(1, 5), "newQuantity": 0, "reorderPoint": 50}
    return event


class SeededEvents:
    """Events and event ids drawn from one seed: the same seed, the same sequence of fields.

    Only the dates (``occurredAt`` and the time part of an id) come from
    ``clock``, the time each is made: a seed must give events a receiver takes
    on any day, and one that refuses old events refused those of a fixed year.
    """

    def __init__(self, seed: int | str, clock: Callable[[], float] = time.time) -> None:
        self.seed = seed
        self.clock = clock
        self._rng = random.Random(seed)

    def for_case(self, case_id: str) -> SeededEvents:
        """The events of one case: its own sequence, the same whichever other cases run."""
        return SeededEvents(f"{self.seed}/{case_id}", self.clock)

    def event(self, event_type: str) -> dict[str, Any]:
        return make_event(event_type, now=self.clock(), rng=self._rng)

    def event_id(self) -> str:
        return event_id(self.clock(), self._rng)


def event_body(event: dict[str, Any]) -> bytes:
    """The bytes to send for ``event``: indented JSON, UTF-8, no trailing newline."""
    return json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")


class BadFieldPath(InputError):
    """A key that names no field that can be set: not names joined by dots, or a name
    (``parent``) on the way that holds no object. ``assignment``: the ``key=value`` it came in."""

    def __init__(self, key: str, parent: str | None = None, assignment: str | None = None) -> None:
        self.key, self.parent = key, parent
        self.assignment = assignment if assignment is not None else key
        why = f"{parent} is not an object" if parent is not None else "a field name, or names joined by dots"
        super().__init__(f"cannot set {key!r}: {why}")


def set_field(event: dict[str, Any], key: str, value: Any) -> None:
    """Set ``value`` at ``key`` in ``event``; a dotted key reaches into nested objects,
    making the missing ones. The one dotted-key rule of ``trigger --set`` and ``new_event``."""
    *parents, leaf = key.split(".")
    if not leaf or not all(parents):
        raise BadFieldPath(key)
    target = event
    for depth, part in enumerate(parents):
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise BadFieldPath(key, ".".join(parents[: depth + 1]))
        target = child
    target[leaf] = value


def apply_overrides(event: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Set ``key=value`` pairs on ``event`` (``set_field``); ``BadFieldPath`` for a bad one.

    A value is parsed as JSON when it parses (``5``, ``true``, ``{"a": 1}``),
    else taken as a string, so ``sku=ABC`` needs no quoting.
    """
    for assignment in assignments:
        key, equals, raw = assignment.partition("=")
        if not equals:
            raise BadFieldPath(key, assignment=assignment)
        try:
            value: Any = json.loads(raw, parse_constant=_not_json, parse_float=_finite_float)
        except ValueError:  # NaN, Infinity and 1e999 too: json.dumps would write them as no JSON
            value = raw
        try:
            set_field(event, key, value)
        except BadFieldPath as error:
            raise BadFieldPath(key, error.parent, assignment) from None
    return event


def field_paths(event: dict[str, Any]) -> list[str]:
    """Every field of ``event`` as ``set_field`` names it: ``sku``, ``location``, ``location.bin``."""
    paths = []
    for key, value in event.items():
        paths.append(key)
        if isinstance(value, dict):
            paths += [f"{key}.{inner}" for inner in field_paths(value)]
    return paths


def unknown_fields(paths: list[str], assignments: list[str]) -> list[tuple[str, str | None]]:
    """The keys of ``assignments`` that name none of ``paths`` (the template's fields), each with
    the nearest of them, or None: ``skuu=X`` is more often a typo than a new field."""
    import difflib  # only trigger --set pays for it

    unknown = []
    for assignment in assignments:
        key = assignment.partition("=")[0]
        if key not in paths:
            close = difflib.get_close_matches(key, paths, n=1)
            unknown.append((key, close[0] if close else None))
    return unknown


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value
