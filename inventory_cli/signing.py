"""Compute and check HMAC signatures for a scheme (see ``schemes.py``).

``sign`` gives the headers a sender adds. ``check_signature`` answers whether a
received delivery's signature holds under any of the given secrets and, when
it does not, looks for the likely cause (``diagnosis.py``). Both read the
scheme's fields: which headers carry what, how values are spelled, which
bytes are signed and how the secret becomes the key. A scheme that signs the
notification URL (``{url}``) needs it from the caller: the sender's target,
the receiver's own address.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import time
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache

from .errors import InputError
from .record import Record
from .schemes import DIGEST_CHARACTERS, Scheme


class Secret:
    """A shared secret that never shows itself in a repr, a log or a traceback."""

    __slots__ = ("_key",)

    def __init__(self, text: str) -> None:
        if not text or not text.strip():
            raise InputError("the secret is empty")
        try:
            self._key = text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes from argv or the environment
            raise InputError("the secret is not valid UTF-8 text") from None

    @property
    def key(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return "Secret(****)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key)


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def add_aliased(scheme: Scheme, lowered: dict[str, str]) -> None:
    """Put each received alias's value (``svix-id``) under the header it stands for
    (``webhook-id``), unless that header came too. ``lowered`` has lower-case keys."""
    for alias, name in scheme.aliases_lowered:
        if alias in lowered and name not in lowered:
            lowered[name] = lowered[alias]


# --- the key -----------------------------------------------------------------


def key_for(scheme: Scheme, secret: Secret) -> bytes:
    """The HMAC key ``scheme`` makes of ``secret`` (see ``Scheme.secret_encoding``).

    With an encoded secret (``base64``, ``hex``) the scheme's prefix says the
    rest is encoded: ``whsec_`` followed by anything but base64 is refused.
    Without the prefix, a secret that decodes is decoded (as the reference
    libraries do) and any other is used as its UTF-8 bytes. Raises InputError
    for a refused secret; the message says what form, never what the secret is.
    """
    key = key_or_none(scheme, secret)
    if key is None:
        raise InputError(
            f"the secret is not in the form the {scheme.name} scheme needs: {scheme.describe_secret()}"
        )
    return key


@lru_cache(maxsize=64)  # a receiver or an audit derives the same few keys for every delivery
def key_or_none(scheme: Scheme, secret: Secret) -> bytes | None:
    """The key ``scheme`` makes of ``secret``, or None when the secret is not in its form."""
    raw = secret.key
    prefix = scheme.secret_prefix.encode("utf-8")
    prefixed = bool(prefix) and raw.startswith(prefix)
    if prefixed:
        raw = raw[len(prefix) :]
    if scheme.secret_encoding == "utf8" or not raw:
        return raw or None
    text = raw.decode("utf-8", "replace")
    if scheme.secret_encoding == "hex":
        decoded = decode_digest("hex", text) if len(text) % 2 == 0 else None
    else:
        unpadded = text.rstrip("=")
        decoded = decode_digest("base64", unpadded + "=" * (-len(unpadded) % 4))
    if decoded:
        return decoded
    return None if prefixed else raw


def generate_secret(scheme: Scheme) -> Secret:
    """A new random secret in the form ``scheme`` takes."""
    raw = os.urandom(24)
    if scheme.secret_encoding == "utf8":
        return Secret(scheme.secret_prefix + "invwh-" + raw.hex())
    text = raw.hex() if scheme.secret_encoding == "hex" else base64.b64encode(raw).decode("ascii")
    return Secret(scheme.secret_prefix + text)


def new_message_id(scheme: Scheme) -> str:
    """A fresh message id for a scheme with an ``id_header``: ``msg_`` and 32 hex digits."""
    return scheme.id_prefix + os.urandom(16).hex()


# --- the signed bytes and the header values ----------------------------------


def build_message(
    scheme: Scheme,
    body: bytes,
    *,
    method: str,
    timestamp: str | None,
    headers: Mapping[str, str],
    url: str | None = None,
) -> bytes:
    """The exact bytes the scheme signs. ``headers`` must have lower-case keys.

    ``url`` is the notification URL, for a scheme that signs it (``require_url``).
    """
    out = []
    for is_placeholder, text in scheme.message_parts:
        if not is_placeholder:
            out.append(text.encode("utf-8"))
        elif text == "body":
            out.append(body)
        elif text == "method":
            out.append(method.encode("utf-8"))
        elif text == "timestamp":
            out.append((timestamp or "").encode("utf-8"))
        elif text == "id":
            out.append(headers.get((scheme.id_header or "").lower(), "").strip().encode("utf-8"))
        elif text == "url":
            out.append(require_url(scheme, url).encode("utf-8"))
        else:  # header:Name
            out.append(headers.get(text[len("header:") :].lower(), "").encode("utf-8"))
    return b"".join(out)


def require_url(scheme: Scheme, url: str | None) -> str:
    """``url`` when the scheme signs it; an InputError when it is missing (the caller's omission,
    not the delivery's fault: there is no URL to guess)."""
    if url is None:
        raise InputError(f"the {scheme.name} scheme signs the notification URL, and none was given")
    return url


def digest(scheme_hash: str, key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, scheme_hash)  # OpenSSL's one-shot HMAC, no Python object per call


def encode_digest(encoding: str, raw: bytes) -> str:
    if encoding == "hex":
        return raw.hex()
    if encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_digest(encoding: str, text: str) -> bytes | None:
    """The raw digest from its text form, or None when it is not in that encoding."""
    try:
        if encoding == "hex":
            return bytes.fromhex(text) if re.fullmatch(r"[0-9a-fA-F]*", text) else None
        if encoding == "base64":
            return base64.b64decode(text, validate=True)
        padded = text + "=" * (-len(text) % 4)
        if not re.fullmatch(r"[A-Za-z0-9_-]*=*", padded):
            return None
        return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        return None


def signature_value(scheme: Scheme, key: bytes, message: bytes) -> str:
    """One signature as the scheme spells it: ``v1=<digest>``."""
    raw = digest(scheme.hash, key, message)
    return scheme.value_template.replace("{digest}", encode_digest(scheme.encoding, raw))


def signature_header_value(scheme: Scheme, values: Sequence[str], timestamp: str | None) -> str:
    """The signature header: the signatures, after the timestamp when the scheme keeps it there."""
    if len(values) != 1 and scheme.signature_separator is None:
        raise InputError(f"the {scheme.name} scheme takes exactly one signature per header")
    entries = [_frame(scheme.timestamp_template, timestamp or "")] if scheme.timestamp_in_signature else []
    return (scheme.signature_separator or "").join([*entries, *values])


def signature_entries(scheme: Scheme, value: str) -> list[str]:
    """The entries of a received signature header, split on the scheme's separator."""
    if scheme.signature_separator is None:
        return [value.strip()]
    return [entry.strip() for entry in value.split(scheme.signature_separator) if entry.strip()]


def received_timestamp(scheme: Scheme, headers: Mapping[str, str]) -> str | None:
    """The timestamp text a delivery carries for ``scheme`` (unchecked), or None. Lower-case keys."""
    if not scheme.timestamp_header:
        return None
    value = headers.get(scheme.timestamp_header.lower())
    if value is None:
        return None
    if scheme.timestamp_in_signature:
        for entry in signature_entries(scheme, value):
            if (inner := _unframe(scheme.timestamp_template, "{timestamp}", entry)) is not None:
                return inner
        return None
    return _unframe(scheme.timestamp_template, "{timestamp}", value.strip())


def _frame(template: str, timestamp: str) -> str:
    return template.replace("{timestamp}", timestamp)


@cache
def _around(template: str, placeholder: str) -> tuple[str, str]:
    before, after = template.split(placeholder)
    return before, after


def _unframe(template: str, placeholder: str, text: str) -> str | None:
    """What stands in for ``placeholder`` in ``text``, or None when the text is not framed so."""
    before, after = _around(template, placeholder)
    if len(text) < len(before) + len(after) or not (text.startswith(before) and text.endswith(after)):
        return None
    return text[len(before) : len(text) - len(after)]


def sign(
    scheme: Scheme,
    secret: Secret,
    body: bytes,
    *,
    method: str = "POST",
    timestamp: int | None = None,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
    url: str | None = None,
) -> dict[str, str]:
    """The headers to send with ``body``: the message id and the timestamp (if the
    scheme has them), then the signature.

    ``message_id`` (or the id header among ``headers``) is signed when given,
    else a new one is made; ``timestamp`` defaults to now. ``url``, the
    notification URL, is needed by a scheme that signs it and ignored by others.
    """
    key = key_for(scheme, secret)
    if scheme.signs_url:
        require_url(scheme, url)
    lowered = lower_keys(headers or {})
    out: dict[str, str] = {}
    if scheme.id_header:
        given = message_id or lowered.get(scheme.id_header.lower()) or new_message_id(scheme)
        out[scheme.id_header] = lowered[scheme.id_header.lower()] = given
    stamp = None
    if scheme.timestamp_header:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        if not scheme.timestamp_in_signature:
            out[scheme.timestamp_header] = _frame(scheme.timestamp_template, stamp)
    message = build_message(scheme, body, method=method.upper(), timestamp=stamp, headers=lowered, url=url)
    out[scheme.signature_header] = signature_header_value(
        scheme, [signature_value(scheme, key, message)], stamp
    )
    return out


def replace_signatures(scheme: Scheme, headers: Mapping[str, str], values: Sequence[str]) -> dict[str, str]:
    """Signed ``headers`` with their signatures replaced by ``values`` (the timestamp entry kept)."""
    stamp = received_timestamp(scheme, lower_keys(headers))
    name = scheme.signature_header.lower()
    out = {k: v for k, v in headers.items() if k.lower() != name}
    out[scheme.signature_header] = signature_header_value(scheme, values, stamp)
    return out


# --- checking a received delivery ----------------------------------------------


_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureCheck(Record):
    """The answer of ``check_signature``.

    ``reason`` is a stable code for scripts: ``ok``, ``missing_signature``,
    ``malformed_signature``, ``missing_id``, ``missing_timestamp``,
    ``malformed_timestamp``, ``signature_mismatch``, ``stale_timestamp`` or
    ``future_timestamp``.
    """

    _fields = ("ok", "reason", "message", "hints", "timestamp", "secret_index", "signature_ok")

    def __init__(
        self,
        ok: bool,
        reason: str,
        message: str,
        hints: list[str] | None = None,
        timestamp: int | None = None,
        secret_index: int | None = None,
        signature_ok: bool = False,
    ) -> None:
        self.ok = ok
        self.reason = reason
        self.message = message
        self.hints = [] if hints is None else hints
        self.timestamp = timestamp
        #: Which of the given secrets matched (0 is the first), for key rotation.
        self.secret_index = secret_index
        #: Whether the signature itself held, apart from the timestamp's age.
        self.signature_ok = signature_ok


@cache
def value_pattern(scheme: Scheme) -> re.Pattern[str]:
    """A regex that takes the digest text out of one signature."""
    before, after = scheme.value_template.split("{digest}")
    return re.compile(re.escape(before) + rf"(?P<digest>[{DIGEST_CHARACTERS}]+)" + re.escape(after))


def check_signature(
    scheme: Scheme,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    tolerance: int = 300,
    now: float | None = None,
    diagnose: bool = True,
    url: str | None = None,
) -> SignatureCheck:
    """Check a received delivery's signature, then its timestamp's age.

    Header names are matched case-insensitively, and the scheme's aliases
    (``svix-signature``) stand for its headers. The delivery is valid when
    any of ``secrets`` matches any of the signatures in the header (key
    rotation). ``tolerance`` is in seconds; 0 turns the age check off. Never
    raises on malformed input: every such case is a failed check with a
    reason. ``diagnose=False`` skips looking for the likely cause of a failure.
    ``url`` is the notification URL the receiver is reached at, for a scheme
    that signs it: without it such a scheme raises InputError, whatever the
    delivery.
    """
    if scheme.signs_url:
        require_url(scheme, url)
    lowered = lower_keys(headers)
    if scheme.header_aliases:  # a plain attribute test: the audit's hot loop pays nothing more
        add_aliased(scheme, lowered)
    provided = lowered.get(scheme.signature_header.lower(), "").strip()
    if not provided:
        from .diagnosis import explain_missing_signature

        return SignatureCheck(
            False,
            "missing_signature",
            f"no {scheme.signature_header} header",
            explain_missing_signature(scheme, lowered) if diagnose else [],
        )
    entries = signature_entries(scheme, provided)

    stamp_text: str | None = None
    stamp: int | None = None
    if scheme.timestamp_header:
        if scheme.timestamp_in_signature:
            framed = [e for e in entries if _unframe(scheme.timestamp_template, "{timestamp}", e) is not None]
            entries = [e for e in entries if e not in framed]
            where = f"{scheme.signature_header} has no {scheme.describe_timestamp()}"
            stamp_text = _unframe(scheme.timestamp_template, "{timestamp}", framed[0]) if framed else None
        else:
            where = f"no {scheme.timestamp_header} header"
            stamp_text = lowered.get(scheme.timestamp_header.lower())
            if stamp_text is not None and stamp_text.strip():
                stamp_text = _unframe(scheme.timestamp_template, "{timestamp}", stamp_text.strip())
                if stamp_text is None:
                    return SignatureCheck(
                        False,
                        "malformed_timestamp",
                        f"{scheme.timestamp_header} should look like {scheme.describe_timestamp()}",
                    )
        if stamp_text is None or not stamp_text.strip():
            return SignatureCheck(False, "missing_timestamp", f"{where}: the {scheme.name} scheme signs it")
        stamp_text = stamp_text.strip()
        if not _UNIX_SECONDS.fullmatch(stamp_text):
            return SignatureCheck(
                False,
                "malformed_timestamp",
                f"{scheme.timestamp_header} must be unix seconds, got {_shorten(stamp_text)!r}",
            )
        stamp = int(stamp_text)

    if scheme.signs_id and not lowered.get((scheme.id_header or "").lower(), "").strip():
        return SignatureCheck(
            False,
            "missing_id",
            f"no {scheme.id_header} header: the {scheme.name} scheme signs it",
            timestamp=stamp,
        )

    message = build_message(
        scheme, body, method=method.upper(), timestamp=stamp_text, headers=lowered, url=url
    )
    keys = [key_or_none(scheme, secret) for secret in secrets]
    matched = None
    for index, key in enumerate(keys):
        if key is None:
            continue
        expected = signature_value(scheme, key, message).encode("ascii")
        # Compare the signature text as sent, as the SDK does, in constant time.
        if any(hmac.compare_digest(entry.encode("ascii", "replace"), expected) for entry in entries):
            matched = index
            break

    if matched is None:
        # Only a failure pays for telling a malformed signature from a wrong one.
        pattern = value_pattern(scheme)
        candidates = [
            (entry, match.group("digest"))
            for entry in entries
            if (match := pattern.fullmatch(entry)) is not None
            and decode_digest(scheme.encoding, match.group("digest")) is not None
        ]
        if not candidates:
            from .diagnosis import explain_malformed_signature

            shape = scheme.describe_header()
            return SignatureCheck(
                False,
                "malformed_signature",
                f"{scheme.signature_header} should look like {shape}, got {_shorten(provided)!r}",
                explain_malformed_signature(
                    scheme, provided, entries, secrets, body, lowered, method.upper(), url
                )
                if diagnose
                else [],
                timestamp=stamp,
            )
        from .diagnosis import explain_mismatch

        hints = [
            f"secret #{index + 1} is not in the form the {scheme.name} scheme needs: "
            f"{scheme.describe_secret()}"
            for index, key in enumerate(keys)
            if key is None
        ]
        if diagnose:
            hints += explain_mismatch(
                scheme, secrets, body, lowered, method.upper(), candidates[0][1], url=url
            )
        return SignatureCheck(
            False,
            "signature_mismatch",
            f"{scheme.signature_header} does not match the body under "
            + ("the given secret" if len(secrets) == 1 else f"any of the {len(secrets)} given secrets"),
            hints,
            timestamp=stamp,
        )

    if stamp is not None and tolerance > 0:
        current = time.time() if now is None else now
        age = current - stamp
        if age > tolerance:
            return SignatureCheck(
                False,
                "stale_timestamp",
                f"the signature holds but the timestamp is {_duration(age)} old "
                f"(tolerance {tolerance} s): a replayed or delayed delivery",
                timestamp=stamp,
                secret_index=matched,
                signature_ok=True,
            )
        if -age > tolerance:
            hints = []
            if stamp > 10**11:
                hints.append(f"{scheme.timestamp_header} looks like milliseconds; it must be unix seconds")
            return SignatureCheck(
                False,
                "future_timestamp",
                f"the signature holds but the timestamp is {_duration(-age)} in the future "
                f"(tolerance {tolerance} s): check the sender's clock",
                hints,
                timestamp=stamp,
                secret_index=matched,
                signature_ok=True,
            )

    rotation = f" (secret #{matched + 1})" if len(secrets) > 1 else ""
    return SignatureCheck(
        True,
        "ok",
        f"signature valid{rotation}",
        timestamp=stamp,
        secret_index=matched,
        signature_ok=True,
    )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
