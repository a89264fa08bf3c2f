"""invwh: sign, verify, validate and deliver HMAC-signed inventory webhook events.

The Python API is ``__all__``, documented in the README's "Python API"
section: ``sign_headers`` and ``verify`` (``api.py``, with ``ArgumentError``), ``check_event``,
``new_event`` and ``event_body``, the schemes, the types they return (a verdict's
``Hint`` and its ``Cause`` too), the errors
they raise, and ``__version__`` (written in ``version.py``). The pytest plugin is
``inventory_cli.pytest_plugin``. Nothing else is importable from here: the core's
other names are imported from the modules that define them.

The core (this package without ``cli``) knows nothing of click or rich. Every
name loads on first use, so ``import inventory_cli`` (which every ``invwh``
run does) stays cheap. This module is the package's face, the top of its
layers: no module inside the package imports from it (tests/test_architecture.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The public names and the module each comes from.
_PUBLIC = {
    "__version__": "version",
    "sign_headers": "api",
    "verify": "api",
    "new_event": "api",
    "ArgumentError": "api",
    "event_body": "events.factory",
    "check_event": "events.validation",
    "EventCheck": "events.validation",
    "Problem": "events.validation",
    "Verdict": "workflows.verdict",
    "Hint": "signing.hints",
    "Cause": "signing.hints",
    "SignatureCheck": "signing.verifier",
    "Secret": "signing.signatures",
    "Scheme": "signing.schemes",
    "get_scheme": "signing.schemes",
    "BUILTIN_SCHEMES": "signing.schemes",
    "DEFAULT_SCHEME": "signing.schemes",
    "InvwhError": "errors",
    "InputError": "errors",
    "UnknownSchemeError": "errors",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # the type checker sees the names; a run imports each on first use
    from .api import ArgumentError, new_event, sign_headers, verify  # noqa: F401
    from .errors import InputError, InvwhError, UnknownSchemeError  # noqa: F401
    from .events.factory import event_body  # noqa: F401
    from .events.validation import EventCheck, Problem, check_event  # noqa: F401
    from .signing.hints import Cause, Hint  # noqa: F401
    from .signing.schemes import BUILTIN_SCHEMES, DEFAULT_SCHEME, Scheme, get_scheme  # noqa: F401
    from .signing.signatures import Secret  # noqa: F401
    from .signing.verifier import SignatureCheck  # noqa: F401
    from .version import __version__  # noqa: F401
    from .workflows.verdict import Verdict  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'inventory_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
