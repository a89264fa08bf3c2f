"""invwh: sign, verify, validate and deliver HMAC-signed inventory webhook events.

The core (this package without ``cli``) knows nothing of click or rich. The
public names below load on first use, so ``import inventory_cli`` (which every
``invwh`` run does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "BUILTIN_SCHEMES": "schemes",
    "DEFAULT_SCHEME": "schemes",
    "Scheme": "schemes",
    "get_scheme": "schemes",
    "DeliveryError": "errors",
    "InputError": "errors",
    "InvwhError": "errors",
    "MissingSecretError": "errors",
    "UnknownSchemeError": "errors",
    "EventCheck": "events",
    "check_event": "events",
    "union_schema": "events",
    "Secret": "signing",
    "SignatureCheck": "signing",
    "check_signature": "signing",
    "sign": "signing",
    "Verdict": "verdict",
    "judge": "verdict",
    "Deliverer": "delivery",
    "DeliveryOptions": "delivery",
    "DeliveryResult": "delivery",
    "Receiver": "receiver",
    "ReceiverConfig": "receiver",
    "read_recording": "recording",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'inventory_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
