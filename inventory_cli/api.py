"""The Python API: sign a body, verify a delivery, make a fresh event.

Thin functions over the core (``signing``, ``verdict``, ``templates``) that
take plain values, a scheme's name and the secret's text, where the core
takes ``Scheme`` and ``Secret`` objects. ``inventory_cli`` exports them; the
README's "Python API" section documents them with examples that the tests run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InputError
from .events.factory import make_event
from .events.validation import event_type_names, get_event_type
from .signing.schemes import DEFAULT_SCHEME, Scheme, get_scheme
from .signing.signatures import Secret, sign
from .workflows.verdict import Verdict, judge

#: A secret as the API takes it: its text, or a ``Secret``.
SecretLike = str | Secret
#: A scheme as the API takes it: a built-in scheme's name, or a ``Scheme``.
SchemeLike = str | Scheme


def sign_headers(
    body: bytes,
    *,
    secret: SecretLike,
    scheme: SchemeLike = DEFAULT_SCHEME,
    timestamp: int | None = None,
    method: str = "POST",
    message_id: str | None = None,
    url: str | None = None,
) -> dict[str, str]:
    """The headers to send with ``body``: ``Content-Type: application/json`` and
    the scheme's signature headers (message id and timestamp when it has them).

    The signature covers exactly ``body``: send those bytes, untouched.
    ``timestamp`` (unix seconds) defaults to now; ``message_id`` to a new one
    for a scheme that signs an id; ``url`` is the notification URL the
    receiver is reached at, for a scheme that signs it (``square``). Raises
    ``InputError`` for a blank secret or one not in the scheme's form, or a
    missing ``url``; ``UnknownSchemeError`` for an unknown scheme.
    """
    scheme = _scheme(scheme)
    signed = sign(
        scheme,
        _secret(secret),
        _bytes(body),
        method=method,
        timestamp=timestamp,
        message_id=message_id,
        url=url,
    )
    return {"Content-Type": "application/json", **signed}


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: SecretLike | Sequence[SecretLike],
    scheme: SchemeLike = DEFAULT_SCHEME,
    tolerance: int = 300,
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

    ``body`` is the raw body as received; header names are matched in any
    case. Several secrets (a list) accept a delivery signed with any of them,
    for key rotation. ``tolerance`` is the largest age of the timestamp in
    seconds (0 turns the check off), measured against ``now`` (unix seconds,
    default the clock). ``validate=False`` leaves the payload unchecked.
    ``url`` is the notification URL, for a scheme that signs it (``square``).
    Never raises on what a sender sent; raises ``InputError`` for a blank
    secret and ``UnknownSchemeError`` for an unknown scheme.
    """
    secrets = [secret] if isinstance(secret, (str, Secret)) else list(secret)
    if not secrets:
        raise InputError("verify needs at least one secret")
    if tolerance < 0:
        raise InputError("the tolerance must be 0 (off) or more seconds")
    return judge(
        _scheme(scheme),
        [_secret(s) for s in secrets],
        _bytes(body),
        headers,
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
        *parents, leaf = key.split(".")
        if not leaf or not all(parents):
            raise InputError(f"cannot set {key!r}: a field name, or names joined by dots")
        target = event
        for depth, part in enumerate(parents):
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise InputError(f"cannot set {key!r}: {'.'.join(parents[: depth + 1])} is not an object")
            target = child
        target[leaf] = value
    return event


def _scheme(scheme: SchemeLike) -> Scheme:
    return scheme if isinstance(scheme, Scheme) else get_scheme(scheme)


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
    return bytes(body)
