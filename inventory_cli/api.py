"""The Python API: sign a body, verify a delivery, make a fresh event.

Thin functions over the core (``signing``, ``verdict``, ``templates``) that
take plain values, a scheme's name and the secret's text, where the core
takes ``Scheme`` and ``Secret`` objects. ``inventory_cli`` exports them; the
README's "Python API" section documents them with examples that the tests run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

from .errors import InputError
from .events.factory import make_event, set_field
from .events.validation import event_type_names, get_event_type
from .signing.schemes import DEFAULT_SCHEME, Scheme, get_scheme
from .signing.signatures import Secret, missing_signed_headers, refuse_unusable, sign
from .signing.verifier import Verifier
from .text import is_token
from .workflows.verdict import Verdict, judge_with

#: A secret as the API takes it: its text, or a ``Secret``.
SecretLike = str | Secret
#: A scheme as the API takes it: a built-in scheme's name, or a ``Scheme``.
SchemeLike = str | Scheme
#: Received headers as frameworks give them: a mapping (Flask, Django, Starlette) or
#: (name, value) pairs (ASGI's ``scope["headers"]``), names and values as text or bytes.
HeadersLike = Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str | bytes, str | bytes | None]]

#: The largest timestamp ``verify`` reads: unix seconds of at most 12 digits.
_LARGEST_TIMESTAMP = 10**12 - 1


class ArgumentError(InputError, ValueError):
    """An argument of the right type whose value cannot be used (a NaN tolerance, a
    negative timestamp): a ``ValueError``, and an ``InputError`` as before."""


def sign_headers(
    body: bytes,
    *,
    secret: SecretLike,
    scheme: SchemeLike = DEFAULT_SCHEME,
    timestamp: int | None = None,
    method: str = "POST",
    message_id: str | None = None,
    url: str | None = None,
    headers: HeadersLike | None = None,
) -> dict[str, str]:
    """The headers to send with ``body``: ``Content-Type: application/json`` and
    the scheme's signature headers (message id and timestamp when it has them,
    and the ``headers`` its message names, ``{header:Name}``).

    The signature covers exactly ``body``: send those bytes, untouched.
    ``timestamp`` (unix seconds) defaults to now; ``message_id`` to a new one
    for a scheme that signs an id; ``url`` is the notification URL the
    receiver is reached at, for a scheme that signs it (``square``). Raises
    ``InputError`` for a blank secret or one not in the scheme's form, or a
    missing ``url``; ``UnknownSchemeError`` for an unknown scheme. A wrong type
    raises ``TypeError``, a value that cannot be used (a timestamp that is
    negative or beyond 12 digits, a method that is no HTTP token) ``ValueError``
    (``ArgumentError``, an ``InputError`` too): every argument is checked here,
    at the call, so nothing wrong is signed. A scheme whose message names
    another header (``{header:Name}``) needs it in ``headers``: ``InputError``
    without it.
    """
    scheme = _scheme(scheme)
    given = received_headers(headers) if headers is not None else {}
    missing = missing_signed_headers(scheme, given)
    if missing:
        raise InputError(f"the {scheme.name} scheme signs the {missing[0]} header: give it in headers=")
    signed = sign(
        scheme,
        _secret(secret),
        _bytes(body),
        method=_method(method),
        timestamp=_timestamp(timestamp),
        headers=given,
        message_id=_optional_text("message_id", message_id),
        url=_optional_text("url", url),
    )
    return {"Content-Type": "application/json", **signed}


def verify(
    body: bytes,
    headers: HeadersLike,
    *,
    secret: SecretLike | Sequence[SecretLike],
    scheme: SchemeLike = DEFAULT_SCHEME,
    tolerance: float = 300,
    method: str = "POST",
    now: float | None = None,
    validate: bool = True,
    url: str | None = None,
) -> Verdict:
    """The verdict on a received delivery, as ``invwh verify`` and ``invwh listen`` reach it.

    ``verdict.valid`` says whether to accept it; ``verdict.reason`` is a
    stable code (``ok``, ``signature_mismatch``, ``stale_timestamp``,
    ``invalid_payload``, ...), ``verdict.message`` says it in words and
    ``verdict.hints`` names the likely cause of a bad signature.

    ``body`` is the raw body as received. ``headers`` is a mapping or a list
    of (name, value) pairs (ASGI's), names and values as ``str`` or ``bytes``
    (read as Latin-1, as HTTP sends them); names match in any case, a name
    given twice has its values joined with ``", "`` as a receiver does, and a
    ``None`` value counts as absent. Several secrets (a list) accept a delivery signed with any of them,
    for key rotation. ``tolerance`` is the largest age of the timestamp in
    seconds (0 turns the check off), measured against ``now`` (unix seconds,
    default the clock). ``validate=False`` leaves the payload unchecked.
    ``url`` is the notification URL, for a scheme that signs it (``square``).
    Never raises on what a sender sent: any header value gives a verdict.
    Raises for what the caller passed, at the call: ``InputError`` for a blank
    secret or one not in the scheme's form, ``UnknownSchemeError`` for an
    unknown scheme, ``TypeError`` for a wrong type and ``ValueError``
    (``ArgumentError``) for a tolerance that is negative, NaN or infinite, a
    ``now`` that is not finite: a value that would switch the age check off.
    """
    scheme = _scheme(scheme)
    secrets = [_secret(s) for s in _secret_list(secret)]
    refuse_unusable(scheme, secrets)  # a secret not in the scheme's form is the caller's, not the sender's
    body = _bytes(body)
    tolerance = _tolerance(tolerance)
    now = _now(now)
    method = _method(method)
    url = _optional_text("url", url)
    if not isinstance(validate, bool):
        raise TypeError(f"validate is True or False, not {type(validate).__name__}")
    # A verifier per call (its keys derived, its HMACs keyed): no cache outlives the call.
    return judge_with(
        Verifier(scheme, secrets),
        body,
        received_headers(headers),
        method=method,
        tolerance=tolerance,
        now=now,
        validate=validate,
        url=url,
    )


def new_event(event_type: str, **overrides: Any) -> dict[str, Any]:
    """A fresh, valid event of ``event_type``: a new id, the current time, plausible fields.

    Each keyword sets a field to the given value (``sku="GASKET-RUB-12"``);
    a dotted key reaches into an object (``**{"location.warehouseId": "WH-X"}``).
    ``event_body(event)`` gives the bytes to sign and send.
    """
    try:
        get_event_type(event_type)
    except KeyError:
        known = ", ".join(event_type_names())
        raise InputError(f"unknown event type {event_type!r}; the event types: {known}") from None
    event = make_event(event_type)
    for key, value in overrides.items():
        set_field(event, key, value)  # BadFieldPath, an InputError, says which key and why
    return event


def received_headers(headers: HeadersLike) -> dict[str, str]:
    """``headers`` as the core reads them: text names and values, repeated names joined
    with ``", "`` (RFC 9110 5.3, as ``invwh listen`` joins them), ``None`` values left out.

    Bytes are read as Latin-1, as ``invwh listen`` reads what arrives, so every byte
    a sender can send gives a value and none raises.
    """
    if isinstance(headers, Mapping) or callable(getattr(headers, "items", None)):
        pairs: Iterable[Any] = headers.items()  # type: ignore[union-attr]
    elif isinstance(headers, (str, bytes, bytearray)) or not isinstance(headers, Iterable):
        raise TypeError(
            f"headers are a mapping or a list of (name, value) pairs, not {type(headers).__name__}"
        )
    else:
        pairs = headers
    out: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for pair in pairs:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"each header is a (name, value) pair, not {_shown_type(pair)}")
        name, value = pair
        if value is None:  # a framework's missing value: the header is absent
            continue
        name, value = _header_text("name", name), _header_text("value", value)
        lowered = name.lower()
        if lowered in spelled:
            first = spelled[lowered]
            out[first] = f"{out[first]}, {value}"
        else:
            spelled[lowered] = name
            out[name] = value
    return out


def _header_text(what: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    raise TypeError(f"a header {what} is str or bytes, not {type(value).__name__}")


def _shown_type(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def _scheme(scheme: SchemeLike) -> Scheme:
    if isinstance(scheme, Scheme):
        return scheme
    if not isinstance(scheme, str):
        raise TypeError(f"a scheme is a scheme's name (str) or a Scheme, not {type(scheme).__name__}")
    return get_scheme(scheme)


def _secret_list(secret: SecretLike | Sequence[SecretLike]) -> list[SecretLike]:
    if isinstance(secret, (str, Secret)):
        return [secret]
    if isinstance(secret, (bytes, bytearray)) or not isinstance(secret, Iterable):
        raise TypeError(f"a secret is text (str) or a Secret, or a list of them, not {type(secret).__name__}")
    secrets = list(secret)
    if not secrets:
        raise ArgumentError("verify needs at least one secret")
    return secrets


def _number(name: str, value: object) -> float:
    # bool is an int to Python, but True is no number of seconds.
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} is a number of seconds, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ArgumentError(f"{name} must be a finite number of seconds, got {value!r}")
    return number


def _tolerance(tolerance: object) -> float:
    """A NaN would compare false with every age and so switch the check off: refused."""
    seconds = _number("tolerance", tolerance)
    if seconds < 0:
        raise ArgumentError(f"the tolerance must be 0 (off) or more seconds, got {tolerance!r}")
    return tolerance if isinstance(tolerance, int) else seconds


def _now(now: object) -> float | None:
    return None if now is None else _number("now", now)


def _timestamp(timestamp: object) -> int | None:
    if timestamp is None:
        return None
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError(f"timestamp is unix seconds (int), not {type(timestamp).__name__}")
    if not 0 <= timestamp <= _LARGEST_TIMESTAMP:
        raise ArgumentError(
            f"timestamp must be unix seconds from 0 to {_LARGEST_TIMESTAMP} (what verify reads), "
            f"got {timestamp}"
        )
    return timestamp


def _method(method: object) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method is text (str), not {type(method).__name__}")
    if not is_token(method):
        raise ArgumentError(f"method must be an HTTP method (a token such as POST), got {method!r}")
    return method


def _optional_text(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} is text (str) or None, not {type(value).__name__}")
    return value


def _secret(secret: SecretLike) -> Secret:
    if isinstance(secret, Secret):
        return secret
    if not isinstance(secret, str):
        raise TypeError(f"a secret is text (str) or a Secret, not {type(secret).__name__}")
    return Secret(secret)


def _bytes(body: bytes) -> bytes:
    if isinstance(body, str):
        # Which bytes a text stands for is the caller's choice; the signature covers bytes.
        raise TypeError("the body must be the bytes you send, not str: encode it first (body.encode())")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        # bytes(5) would be five zero bytes: only bytes-like objects are bodies.
        raise TypeError(f"the body must be the bytes you send, not {type(body).__name__}")
    return bytes(body)
