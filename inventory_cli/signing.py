"""Compute and check HMAC signatures for a scheme (see ``schemes.py``).

``sign`` gives the headers a sender adds. ``check_signature`` answers whether a
received delivery's signature holds under any of the given secrets and, when
it does not, looks for the likely cause (``diagnosis.py``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import InputError
from .schemes import Scheme


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


def build_message(
    scheme: Scheme,
    body: bytes,
    *,
    method: str,
    timestamp: str | None,
    headers: Mapping[str, str],
) -> bytes:
    """The exact bytes the scheme signs. ``headers`` must have lower-case keys."""
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
        else:  # header:Name
            out.append(headers.get(text[len("header:") :].lower(), "").encode("utf-8"))
    return b"".join(out)


def digest(scheme_hash: str, key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, scheme_hash).digest()


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
    raw = digest(scheme.hash, key, message)
    return scheme.value_template.replace("{digest}", encode_digest(scheme.encoding, raw))


def sign(
    scheme: Scheme,
    secret: Secret,
    body: bytes,
    *,
    method: str = "POST",
    timestamp: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers to send with ``body``: the timestamp (if the scheme has one), then the signature."""
    out: dict[str, str] = {}
    stamp = None
    if scheme.timestamp_header:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        out[scheme.timestamp_header] = stamp
    message = build_message(
        scheme, body, method=method.upper(), timestamp=stamp, headers=lower_keys(headers or {})
    )
    out[scheme.signature_header] = signature_value(scheme, secret.key, message)
    return out


@dataclass
class SignatureCheck:
    """The answer of ``check_signature``.

    ``reason`` is a stable code for scripts: ``ok``, ``missing_signature``,
    ``malformed_signature``, ``missing_timestamp``, ``malformed_timestamp``,
    ``signature_mismatch``, ``stale_timestamp`` or ``future_timestamp``.
    """

    ok: bool
    reason: str
    message: str
    hints: list[str] = field(default_factory=list)
    timestamp: int | None = None
    #: Which of the given secrets matched (0 is the first), for key rotation.
    secret_index: int | None = None
    #: Whether the signature itself held, apart from the timestamp's age.
    signature_ok: bool = False


def value_pattern(scheme: Scheme) -> re.Pattern[str]:
    """A regex that takes the digest text out of a header value."""
    before, after = scheme.value_template.split("{digest}")
    return re.compile(re.escape(before) + r"(?P<digest>[A-Za-z0-9+/=_-]+)" + re.escape(after))


def check_signature(
    scheme: Scheme,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    tolerance: int = 300,
    now: float | None = None,
) -> SignatureCheck:
    """Check a received delivery's signature, then its timestamp's age.

    Header names are matched case-insensitively. ``tolerance`` is in seconds;
    0 turns the age check off. Never raises on malformed input: every such
    case is a failed check with a reason.
    """
    lowered = lower_keys(headers)
    provided = lowered.get(scheme.signature_header.lower(), "").strip()
    if not provided:
        from .diagnosis import explain_missing_signature

        return SignatureCheck(
            False,
            "missing_signature",
            f"no {scheme.signature_header} header",
            explain_missing_signature(scheme, lowered),
        )

    stamp_text: str | None = None
    stamp: int | None = None
    if scheme.timestamp_header:
        stamp_text = lowered.get(scheme.timestamp_header.lower())
        if stamp_text is None or not stamp_text.strip():
            return SignatureCheck(
                False,
                "missing_timestamp",
                f"no {scheme.timestamp_header} header: the {scheme.name} scheme signs it",
            )
        stamp_text = stamp_text.strip()
        if not re.fullmatch(r"[0-9]{1,12}", stamp_text):
            return SignatureCheck(
                False,
                "malformed_timestamp",
                f"{scheme.timestamp_header} must be unix seconds, got {_shorten(stamp_text)!r}",
            )
        stamp = int(stamp_text)

    match = value_pattern(scheme).fullmatch(provided)
    if match is None or decode_digest(scheme.encoding, match.group("digest")) is None:
        from .diagnosis import explain_malformed_signature

        return SignatureCheck(
            False,
            "malformed_signature",
            f"{scheme.signature_header} should look like {scheme.describe_value()}, "
            f"got {_shorten(provided)!r}",
            explain_malformed_signature(scheme, provided, secrets, body, lowered, method.upper()),
            timestamp=stamp,
        )

    message = build_message(scheme, body, method=method.upper(), timestamp=stamp_text, headers=lowered)
    matched = None
    for index, secret in enumerate(secrets):
        expected = signature_value(scheme, secret.key, message)
        # Compare the header text as the SDK does, in constant time.
        if hmac.compare_digest(provided.encode("ascii", "replace"), expected.encode("ascii")):
            matched = index
            break

    if matched is None:
        from .diagnosis import explain_mismatch

        return SignatureCheck(
            False,
            "signature_mismatch",
            f"{scheme.signature_header} does not match the body under "
            + ("the given secret" if len(secrets) == 1 else f"any of the {len(secrets)} given secrets"),
            explain_mismatch(scheme, secrets, body, lowered, method.upper(), match.group("digest")),
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
