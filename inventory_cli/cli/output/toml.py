"""A scheme as TOML: the ``[schemes.NAME]`` block ``invwh schemes show`` prints for invwh.toml.

The block reads back (``config/load.py``) as the same scheme. Values are written
as JSON strings, which are valid TOML basic strings, and header aliases as
an inline table.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...signing.schemes import Scheme


def scheme_block(scheme: Scheme, source: str) -> str:
    lines = [
        f"# {scheme.name} ({source}); under [tool.invwh.schemes.{scheme.name}] in pyproject.toml",
        f"[schemes.{_key(scheme.name)}]",
    ]
    lines += [f"{name} = {_value(value)}" for name, value in scheme.definition().items() if value != ""]
    return "".join(f"{line}\n" for line in lines)


def _value(value: object) -> str:
    if isinstance(value, dict):  # header_aliases: an inline table
        return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _key(name: str) -> str:
    return name if all(c.isalnum() or c in "_-" for c in name) else json.dumps(name)
