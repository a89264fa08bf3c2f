"""The dotted-key rule is one function (``events.factory.set_field``): ``trigger --set`` and the
Python API's ``new_event`` reach into nested objects the same way and refuse the same keys, and
the core's error names the key, not the CLI flag."""

from __future__ import annotations

import pytest

from inventory_cli.api import new_event
from inventory_cli.errors import InputError
from inventory_cli.events.factory import BadFieldPath, apply_overrides, make_event, set_field

BAD_KEYS = [  # (the key, the name on the way that holds no object, or None: not names joined by dots)
    ("", None), ("location..bin", None), (".sku", None), ("location.", None),
    ("sku.part", "sku"), ("location.bin.row", "location.bin"), ("newQuantity.x", "newQuantity"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "parent"), BAD_KEYS)
def test_trigger_and_the_api_refuse_the_same_keys_for_the_same_reason(key, parent):
    with pytest.raises(BadFieldPath) as by_api:
        new_event("stock.increase", **{key: "A"})
    with pytest.raises(BadFieldPath) as by_set:
        apply_overrides(make_event("stock.increase"), [f"{key}=A"])
    assert (by_api.value.key, by_api.value.parent) == (by_set.value.key, by_set.value.parent) == (key, parent)
    assert by_set.value.assignment == f"{key}=A"
    assert isinstance(by_api.value, InputError)  # the CLI's usage error, exit 2
    assert "--" not in str(by_api.value) and "--" not in str(by_set.value)  # no flag in the core's words


def test_one_rule_reaches_into_nested_objects_making_the_missing_ones():
    event: dict = {"location": {"bin": "A1"}}
    set_field(event, "location.warehouseId", "WH-2")
    set_field(event, "extra.deep.field", 5)
    assert event == {"location": {"bin": "A1", "warehouseId": "WH-2"}, "extra": {"deep": {"field": 5}}}
    made = new_event("stock.increase", **{"location.warehouseId": "WH-X"})
    overridden = apply_overrides(make_event("stock.increase"), ["location.warehouseId=WH-X"])
    assert made["location"]["warehouseId"] == overridden["location"]["warehouseId"] == "WH-X"
