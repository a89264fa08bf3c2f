"""``Record``: the equality and repr of a dataclass, for classes on the start path.

``invwh sign`` runs in a few tens of milliseconds, and creating a dataclass
costs 0.2 to 1 ms (it compiles its ``__init__``, ``__eq__`` and ``__repr__``
from source), plus 0.5 ms to import ``dataclasses``. The classes every run
creates are therefore plain classes that list their ``_fields`` and get
``__eq__`` and ``__repr__`` from here, or NamedTuples.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    #: The fields that make up equality and the repr, in order.
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    # Like a dataclass with eq and not frozen, unhashable unless a subclass says how:
    # Python sets __hash__ to None in a class that defines __eq__ alone.

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"
