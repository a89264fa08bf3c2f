"""invwh: sign, verify, validate and deliver HMAC-signed inventory webhook events.

The core (this package without ``cli``) knows nothing of click or rich.
"""

from .errors import DeliveryError, InputError, InvwhError, MissingSecretError, UnknownSchemeError
from .events import EventCheck, check_event, union_schema
from .schemes import BUILTIN_SCHEMES, DEFAULT_SCHEME, Scheme, get_scheme
from .signing import Secret, SignatureCheck, check_signature, sign
from .verdict import Verdict, judge

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_SCHEMES",
    "DEFAULT_SCHEME",
    "DeliveryError",
    "EventCheck",
    "InputError",
    "InvwhError",
    "MissingSecretError",
    "Scheme",
    "Secret",
    "SignatureCheck",
    "UnknownSchemeError",
    "Verdict",
    "__version__",
    "check_event",
    "check_signature",
    "get_scheme",
    "judge",
    "sign",
    "union_schema",
]
