"""Check a received delivery's signature: ``Verifier`` and ``check_signature``.

A ``Verifier`` is built once per run (``listen``, the audit, ``replay``,
``check``, an API call) and holds the compiled scheme, the key each secret
makes and an HMAC keyed with each. It compares each received signature with
what ``signatures.make_signature`` (the signer's one function) makes for the
received bytes, so signing and checking cannot drift. ``check_signature``
answers whether the signature holds under any of the secrets, and returns
what it found on the way (the header, the timestamp, the secret that
matched, the signatures it could read): the verdict layer hands a failure to
``diagnosis.py`` for its likely cause; this module never imports it.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Mapping, Sequence
from typing import NoReturn

from ..record import Record
from ..text import shorten
from .schemes import DIGEST_CHARACTERS, CompiledScheme, Scheme
from .signatures import (
    UNIX_SECONDS_DIGITS,
    Secret,
    _unframe,
    build_message,
    decode_digest,
    key_for,
    keyed_hmac,
    make_signature,
    received_headers,
    require_url,
    signature_entries,
)


class SignatureCheck(Record):
    """What ``check_signature`` found: the answer, and the facts it rests on.

    ``reason`` is a stable code for scripts: ``ok``, ``missing_signature``,
    ``malformed_signature``, ``missing_id``, ``missing_timestamp``,
    ``malformed_timestamp``, ``signature_mismatch``, ``stale_timestamp`` or
    ``future_timestamp``. The facts are what ``diagnosis.explain`` starts
    from to name the likely cause of a failure.
    """

    _fields = (
        "ok",
        "reason",
        "message",
        "timestamp",
        "secret_index",
        "signature_ok",
        "provided",
        "signatures",
        "digest",
        "unusable_secrets",
    )

    def __init__(
        self,
        ok: bool,
        reason: str,
        message: str,
        timestamp: int | None = None,
        secret_index: int | None = None,
        signature_ok: bool = False,
        provided: str | None = None,
        signatures: tuple[str, ...] = (),
        digest: str | None = None,
        unusable_secrets: tuple[int, ...] = (),
    ) -> None:
        self.ok = ok
        self.reason = reason
        self.message = message
        #: The timestamp the delivery carries, once it was read (unix seconds).
        self.timestamp = timestamp
        #: Which of the given secrets matched (0 is the first), for key rotation.
        self.secret_index = secret_index
        #: Whether the signature itself held, apart from the timestamp's age.
        self.signature_ok = signature_ok
        #: The signature header's value as received (stripped); None when there was none.
        self.provided = provided
        #: The signatures in that header, the timestamp entry left out (Stripe's ``t=``).
        self.signatures = signatures
        #: When no secret matched: the digest text of the first well-formed signature, or None.
        self.digest = digest
        #: When no secret matched: which of the given secrets are not in the scheme's form.
        self.unusable_secrets = unusable_secrets


class _Refused(Exception):
    """A step found the delivery wanting: ``check_signature`` answers with ``check``."""

    def __init__(self, check: SignatureCheck) -> None:
        self.check = check


class Verifier:
    """Checks received deliveries for one scheme under the given secrets (key rotation).

    Built once per run (a receiver, an audit, a replay, a check, an API call): it holds
    the compiled scheme, the key each secret makes (None for one not in the scheme's
    form: it never matches, and a mismatch says which) and an HMAC keyed with each, so a
    delivery pays only for itself. ``check`` compares each received signature with what
    ``make_signature`` (the signer's one function) makes for the received bytes.
    """

    __slots__ = ("_macs", "form", "keys", "pattern", "scheme", "secrets")

    def __init__(self, scheme: Scheme, secrets: Sequence[Secret]) -> None:
        self.scheme = scheme
        self.form = form = CompiledScheme(scheme)
        self.secrets = tuple(secrets)
        self.keys = tuple(key_for(scheme, secret) for secret in self.secrets)
        self._macs = tuple(None if key is None else keyed_hmac(form, key) for key in self.keys)
        before, after = form.value_around
        #: Takes the digest text out of one signature (only a failure asks).
        self.pattern = re.compile(
            re.escape(before) + rf"(?P<digest>[{DIGEST_CHARACTERS}]+)" + re.escape(after)
        )

    def check(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        tolerance: float = 300,
        now: float | None = None,
        url: str | None = None,
    ) -> SignatureCheck:
        """See ``check_signature``."""
        form = self.form
        if form.signs_url:
            require_url(self.scheme, url)
        received = received_headers(form, headers)
        try:
            provided = _find_signature_header(form, received)
            signatures, stamp_text = self._split_signatures(received, provided)
            stamp = _read_timestamp(form, stamp_text, provided)
            if form.signs_id:
                _require_message_id(form, received, stamp)
            message = build_message(form, body, method.upper(), stamp_text, received, url)
            matched = None
            for index, mac in enumerate(self._macs):  # key rotation: the first secret that signs it
                if mac is None:
                    continue
                expected = make_signature(form, mac, message)
                for sent in signatures:  # the text as sent, as the SDK compares it, in constant time
                    if hmac.compare_digest(sent.encode("ascii", "replace"), expected):
                        matched = index
                        break
                if matched is not None:
                    break
            if matched is None:
                self.refuse_unmatched(provided, signatures, stamp)
            _check_age(form, stamp, tolerance, now, matched, provided, signatures)
        except _Refused as refused:
            return refused.check
        message_ok = (
            f"signature valid (secret #{matched + 1})" if len(self.secrets) > 1 else "signature valid"
        )
        return SignatureCheck(True, "ok", message_ok, stamp, matched, True, provided, signatures)

    def _split_signatures(
        self, received: Mapping[str, str], provided: str
    ) -> tuple[tuple[str, ...], str | None]:
        """The signatures in the header, and the timestamp's text (unchecked): from its own
        header, or from the signature header's ``t=`` entry (Stripe). None without one."""
        form = self.form
        entries = signature_entries(form, provided)
        if form.timestamp_header is None:
            return entries, None
        if form.timestamp_in_signature:
            stamps = [
                (entry, inner)
                for entry in entries
                if (inner := _unframe(form.timestamp_around, entry)) is not None
            ]
            signatures = tuple(entry for entry in entries if entry not in {e for e, _ in stamps})
            return signatures, stamps[0][1] if stamps else None
        value = received.get(form.timestamp_header, "").strip()
        if not value:
            return entries, None
        stamp_text = _unframe(form.timestamp_around, value)
        if stamp_text is None:
            scheme = form.scheme
            raise _Refused(
                SignatureCheck(
                    False,
                    "malformed_timestamp",
                    f"{scheme.timestamp_header} should look like {scheme.describe_timestamp()}",
                    provided=provided,
                    signatures=entries,
                )
            )
        return entries, stamp_text

    def refuse_unmatched(self, provided: str, signatures: tuple[str, ...], stamp: int | None) -> NoReturn:
        """Refuse a delivery no secret signs: a malformed signature when none of them reads
        as one of the scheme's, else a mismatch. Only a failure pays for telling them apart."""
        scheme, keys = self.scheme, self.keys
        digests = [
            text
            for signature in signatures
            if (match := self.pattern.fullmatch(signature)) is not None
            and decode_digest(scheme.encoding, text := match.group("digest")) is not None
        ]
        if not digests:
            raise _Refused(
                SignatureCheck(
                    False,
                    "malformed_signature",
                    f"{scheme.signature_header} should look like {scheme.describe_header()}, "
                    f"got {shorten(provided, 40)!r}",
                    timestamp=stamp,
                    provided=provided,
                    signatures=signatures,
                )
            )
        given = "the given secret" if len(keys) == 1 else f"any of the {len(keys)} given secrets"
        raise _Refused(
            SignatureCheck(
                False,
                "signature_mismatch",
                f"{scheme.signature_header} does not match the body under {given}",
                timestamp=stamp,
                provided=provided,
                signatures=signatures,
                digest=digests[0],
                unusable_secrets=tuple(index for index, key in enumerate(keys) if key is None),
            )
        )


def check_signature(
    scheme: Scheme,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    tolerance: float = 300,
    now: float | None = None,
    url: str | None = None,
) -> SignatureCheck:
    """Check a received delivery's signature, then its timestamp's age.

    Header names are matched case-insensitively, and the scheme's aliases
    (``svix-signature``) stand for its headers. The delivery is valid when
    any of ``secrets`` matches any of the signatures in the header (key
    rotation). ``tolerance`` is in seconds; 0 turns the age check off. Never
    raises on malformed input: every such case is a failed check with a
    reason. ``url`` is the notification URL the receiver is reached at, for a
    scheme that signs it: without it such a scheme raises InputError, whatever
    the delivery. The likely cause of a failure is ``diagnosis.explain``'s job.
    One call builds a ``Verifier`` for it; a run checking many builds one itself.
    """
    verifier = Verifier(scheme, secrets)
    return verifier.check(body, headers, method=method, tolerance=tolerance, now=now, url=url)


def _find_signature_header(form: CompiledScheme, received: Mapping[str, str]) -> str:
    """The signature header's value, stripped; refused when it is missing or blank."""
    provided = received.get(form.signature_header, "").strip()
    if not provided:
        raise _Refused(
            SignatureCheck(False, "missing_signature", f"no {form.scheme.signature_header} header")
        )
    return provided


def _read_timestamp(form: CompiledScheme, stamp_text: str | None, provided: str) -> int | None:
    """The timestamp in unix seconds; None for a scheme without one. Refused when the
    scheme signs one and it is missing or not unix seconds."""
    if form.timestamp_header is None:
        return None
    scheme = form.scheme
    if stamp_text is None or not stamp_text.strip():
        where = (
            f"{scheme.signature_header} has no {scheme.describe_timestamp()}"
            if form.timestamp_in_signature
            else f"no {scheme.timestamp_header} header"
        )
        message = f"{where}: the {scheme.name} scheme signs it"
        raise _Refused(SignatureCheck(False, "missing_timestamp", message, provided=provided))
    stamp_text = stamp_text.strip()
    if not (len(stamp_text) <= UNIX_SECONDS_DIGITS and stamp_text.isascii() and stamp_text.isdigit()):
        message = f"{scheme.timestamp_header} must be unix seconds, got {shorten(stamp_text, 40)!r}"
        raise _Refused(SignatureCheck(False, "malformed_timestamp", message, provided=provided))
    return int(stamp_text)


def _require_message_id(form: CompiledScheme, received: Mapping[str, str], stamp: int | None) -> None:
    """Refuse a delivery without the message id the scheme signs (``form.signs_id``)."""
    if not received.get(form.id_header or "", "").strip():
        scheme = form.scheme
        message = f"no {scheme.id_header} header: the {scheme.name} scheme signs it"
        raise _Refused(SignatureCheck(False, "missing_id", message, timestamp=stamp))


def _check_age(
    form: CompiledScheme,
    stamp: int | None,
    tolerance: float,
    now: float | None,
    matched: int,
    provided: str,
    signatures: tuple[str, ...],
) -> None:
    """Refuse a validly signed delivery whose timestamp is further than ``tolerance``
    seconds from ``now`` (the clock by default), either way. 0 turns the check off."""
    if stamp is None or tolerance <= 0:
        return
    age = (time.time() if now is None else now) - stamp
    if age > tolerance:
        reason = "stale_timestamp"
        message = (
            f"the signature holds but the timestamp is {_duration(age)} old "
            f"(tolerance {tolerance:g} s): a replayed or delayed delivery"
        )
    elif -age > tolerance:
        reason = "future_timestamp"
        message = (
            f"the signature holds but the timestamp is {_duration(-age)} in the future "
            f"(tolerance {tolerance:g} s): check the sender's clock"
        )
    else:
        return
    raise _Refused(SignatureCheck(False, reason, message, stamp, matched, True, provided, signatures))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
