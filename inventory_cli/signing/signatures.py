"""Compute and check HMAC signatures for a scheme (see ``schemes.py``).

One function makes a signature, ``make_signature``: a ``Signer`` sends what
it makes, a ``Verifier`` compares a received signature with what it makes
for the received bytes, so signing and checking cannot drift (as in
standard-webhooks, whose ``verify`` calls its ``sign``). Both are built once
per run (by ``listen``, the audit, ``replay``, ``check``, the API's call)
and hold what every delivery reuses: the compiled scheme, the keys derived
from the secrets and an HMAC already keyed with each. There is no cache at
module level. ``sign`` and ``check_signature`` are the one-call forms.

``check_signature`` answers whether a received delivery's signature holds
under any of the given secrets, and returns what it found on the way (the
header, the timestamp, the secret that matched, the signatures it could
read): the verdict layer hands a failure to ``diagnosis.py`` for its likely
cause; this module never imports it. A scheme that signs the notification
URL (``{url}``) needs it from the caller: the sender's target, the
receiver's own address.
"""

from __future__ import annotations

import binascii
import hmac
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from ..errors import InputError
from ..record import Record
from ..text import shorten
from .schemes import DIGEST_CHARACTERS, CompiledScheme, Scheme


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


# --- the received headers, the entries, the key: each found one way ---------------


def received_headers(form: CompiledScheme, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers under lower-case names, with each alias's value (``svix-id``) under the
    header it stands for (``webhook-id``) unless that header came too: what signing,
    checking and diagnosis look headers up in."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for alias, name in form.aliases_lowered:
        if alias in lowered and name not in lowered:
            lowered[name] = lowered[alias]
    return lowered


def signature_entries(form: CompiledScheme, value: str) -> tuple[str, ...]:
    """The entries of a signature header, split on the scheme's separator, each stripped."""
    separator = form.scheme.signature_separator
    if separator is None:
        return (value.strip(),)
    return tuple(entry for part in value.split(separator) if (entry := part.strip()))


def key_for(scheme: Scheme, secret: Secret) -> bytes | None:
    """The HMAC key ``scheme`` makes of ``secret`` (see ``Scheme.secret_encoding``), or None
    when the secret is not in the scheme's form.

    With an encoded secret (``base64``, ``hex``) the text after the scheme's
    prefix (``whsec_``, which may be left out) must decode, base64 as the
    Standard Webhooks reference library decodes it: one that does not is
    refused, as that library refuses it. Using its UTF-8 bytes instead (as
    invwh once did) signs what no peer of the scheme can check.
    """
    raw = secret.key
    prefix = scheme.secret_prefix.encode("utf-8")
    if prefix and raw.startswith(prefix):
        raw = raw[len(prefix) :]
    if scheme.secret_encoding == "utf8" or not raw:
        return raw or None
    text = raw.decode("utf-8", "replace")
    if scheme.secret_encoding == "hex":
        decoded = decode_digest("hex", text) if len(text) % 2 == 0 else None
    else:
        decoded = _reference_base64(text)
    return decoded or None


def refuse_unusable(scheme: Scheme, secrets: Sequence[Secret]) -> None:
    """Raise InputError for a secret not in the scheme's form: the caller's mistake, told at
    the start (the message says what form, never what the secret is)."""
    for secret in secrets:
        if key_for(scheme, secret) is None:
            raise InputError(
                f"the secret is not in the form the {scheme.name} scheme needs: {scheme.describe_secret()}"
            )


def _reference_base64(text: str) -> bytes | None:
    """The key the Standard Webhooks reference library (``standardwebhooks.Webhook``) makes of
    the text after ``whsec_``: ``base64.b64decode(text + "==")``, which skips characters outside
    the alphabet and extra padding; None where it raises. The same key for every secret it
    takes, a refusal for every one it refuses: a property test holds the two side by side."""
    import base64

    try:
        return base64.b64decode(text + "==")
    except (binascii.Error, ValueError):  # ValueError: text beyond ASCII
        return None


def wrong_secret(scheme: Scheme) -> Secret:
    """A fixed secret in the scheme's form that no one uses: for deliveries that must be refused."""
    raw = b"invwh-a-wrong-secret-for-tests"
    if scheme.secret_encoding == "utf8":
        return Secret(scheme.secret_prefix + raw.decode("ascii"))
    text = raw.hex() if scheme.secret_encoding == "hex" else encoded("base64", raw).decode("ascii")
    return Secret(scheme.secret_prefix + text)


def new_message_id(scheme: Scheme) -> str:
    """A fresh message id for a scheme with an ``id_header``: ``msg_`` and 32 hex digits."""
    return scheme.id_prefix + os.urandom(16).hex()


# --- the signed bytes and the signature: made one way ---------------------------


def build_message(
    form: CompiledScheme,
    body: bytes,
    method: str,
    timestamp: str | None,
    headers: Mapping[str, str],
    url: str | None,
) -> bytes:
    """The exact bytes the scheme signs. ``headers`` have lower-case keys (``received_headers``);
    ``method`` is upper-case. ``url`` is the notification URL, for a scheme that signs it."""
    out = []
    for step, value in form.message_steps:
        if step == "literal":
            out.append(value)
        elif step == "body":
            out.append(body)
        elif step == "method":
            out.append(method.encode("utf-8"))
        elif step == "timestamp":
            out.append((timestamp or "").encode("utf-8"))
        elif step == "id":
            # surrogatepass: a header value a framework decoded oddly gives a mismatch, never a crash.
            out.append(headers.get(form.id_header or "", "").strip().encode("utf-8", "surrogatepass"))
        elif step == "url":
            out.append(require_url(form.scheme, url).encode("utf-8"))
        else:  # header
            out.append(headers.get(value, "").encode("utf-8", "surrogatepass"))
    return b"".join(out)


def keyed_hmac(form: CompiledScheme, key: bytes) -> Any:
    """The standard library's HMAC with ``key`` set up once: ``make_signature`` copies it per
    message rather than padding and hashing the key again (``hmac.digest``)."""
    return hmac.new(key, digestmod=form.hash)


# binascii rather than base64 on the signing path: importing base64 is a tenth of
# `invwh sign`'s own start-up.
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encoded(encoding: str, raw: bytes) -> bytes:
    """``raw`` in the digest encoding (``hex``, ``base64``, unpadded ``base64url``), as ASCII bytes."""
    if encoding == "base64":
        return binascii.b2a_base64(raw, newline=False)
    if encoding == "hex":
        return binascii.hexlify(raw)
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=")


def make_signature(form: CompiledScheme, mac: Any, message: bytes) -> bytes:
    """One signature of ``message`` as the scheme spells it (``v1=<digest>``), in ASCII bytes,
    under the HMAC ``keyed_hmac`` made: what a ``Signer`` sends, and what a ``Verifier``
    compares each received signature with. The one place a signature is made."""
    keyed = mac.copy()  # the key's padding is hashed once, in ``mac``, not per message
    keyed.update(message)
    raw = keyed.digest()
    # ``encoded``, inline: the audit checks one signature per delivery.
    encoding = form.encoding
    if encoding == "base64":
        text = binascii.b2a_base64(raw, newline=False)
    elif encoding == "hex":
        text = binascii.hexlify(raw)
    else:
        text = binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=")
    before, after = form.value_around_bytes
    return before + text + after


def digest(scheme_hash: str, key: bytes, message: bytes) -> bytes:
    """The raw HMAC under any hash: diagnosis's near misses (another hash, another encoding)
    compare it with the decoded digest received, never a signature's text."""
    return hmac.digest(key, message, scheme_hash)


def decode_digest(encoding: str, text: str) -> bytes | None:
    """The raw digest from its text form, or None when it is not in that encoding."""
    import base64  # checking, not signing: see encoded

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


def header_placeholders(scheme: Scheme) -> list[str]:
    """The other headers the scheme's message names (``{header:Name}``), spelled as there."""
    return [
        text[len("header:") :]
        for is_placeholder, text in scheme.message_parts
        if is_placeholder and text.startswith("header:")
    ]


def missing_signed_headers(scheme: Scheme, headers: Mapping[str, str]) -> list[str]:
    """The headers the scheme's message names (``{header:Name}``) that ``headers`` lacks.

    ``sign`` signs an absent one as empty text, which its own check then refuses
    as a mismatch: a signer asks this first and refuses to sign without them.
    """
    given = {name.lower() for name in headers}
    return [name for name in header_placeholders(scheme) if name.lower() not in given]


def require_url(scheme: Scheme, url: str | None) -> str:
    """``url`` when the scheme signs it; an InputError when it is missing (the caller's omission,
    not the delivery's fault: there is no URL to guess)."""
    if url is None:
        raise InputError(f"the {scheme.name} scheme signs the notification URL, and none was given")
    return url


def signature_header_value(scheme: Scheme, values: Sequence[str], timestamp: str | None) -> str:
    """The signature header: the signatures, after the timestamp when the scheme keeps it there."""
    if len(values) != 1 and scheme.signature_separator is None:
        raise InputError(f"the {scheme.name} scheme takes exactly one signature per header")
    entries = [_frame(scheme.timestamp_template, timestamp or "")] if scheme.timestamp_in_signature else []
    return (scheme.signature_separator or "").join([*entries, *values])


def received_timestamp(form: CompiledScheme, received: Mapping[str, str]) -> str | None:
    """The timestamp text a delivery carries (unchecked), or None: from its own header, or
    from the signature header's ``t=`` entry (Stripe). ``received``: ``received_headers``."""
    if form.timestamp_header is None:
        return None
    value = received.get(form.timestamp_header)
    if value is None:
        return None
    if form.timestamp_in_signature:
        for entry in signature_entries(form, value):
            if (inner := _unframe(form.timestamp_around, entry)) is not None:
                return inner
        return None
    return _unframe(form.timestamp_around, value.strip())


def _frame(template: str, timestamp: str) -> str:
    return template.replace("{timestamp}", timestamp)


def _unframe(around: tuple[str, str], text: str) -> str | None:
    """What stands between the text ``around`` it in ``text``, or None when the text is not framed so."""
    before, after = around
    if not (before or after):  # a bare "{timestamp}": the whole text, as most schemes send it
        return text
    if len(text) < len(before) + len(after) or not (text.startswith(before) and text.endswith(after)):
        return None
    return text[len(before) : len(text) - len(after)]


# --- signing -------------------------------------------------------------------


class Signer:
    """Signs bodies for one scheme with one secret: the compiled scheme and the keyed HMAC
    made once (a sender signing many bodies builds one). Raises InputError for a secret
    not in the scheme's form."""

    __slots__ = ("_mac", "form", "scheme")

    def __init__(self, scheme: Scheme, secret: Secret) -> None:
        refuse_unusable(scheme, [secret])
        self.scheme = scheme
        self.form = CompiledScheme(scheme)
        self._mac = keyed_hmac(self.form, key_for(scheme, secret) or b"")

    def sign(
        self,
        body: bytes,
        *,
        method: str = "POST",
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
        url: str | None = None,
    ) -> dict[str, str]:
        """See ``sign``."""
        scheme, form = self.scheme, self.form
        if form.signs_url:
            require_url(scheme, url)
        # No headers given (every replay): nothing to lower-case and no alias to find.
        lowered = received_headers(form, headers) if headers else {}
        out: dict[str, str] = {}
        if scheme.id_header:
            given = message_id or lowered.get(form.id_header or "") or new_message_id(scheme)
            out[scheme.id_header] = lowered[form.id_header or ""] = given
        stamp = None
        if scheme.timestamp_header:
            stamp = str(int(time.time()) if timestamp is None else timestamp)
            if not form.timestamp_in_signature:
                out[scheme.timestamp_header] = _frame(scheme.timestamp_template, stamp)
        if headers:  # what the signature covers is sent with it
            wanted = {value for step, value in form.message_steps if step == "header"}
            out.update((name, value) for name, value in headers.items() if name.lower() in wanted)
        message = build_message(form, body, method.upper(), stamp, lowered, url)
        signature = make_signature(form, self._mac, message).decode("ascii")
        if form.timestamp_in_signature:
            out[scheme.signature_header] = signature_header_value(scheme, [signature], stamp)
        else:  # what signature_header_value makes of one signature, without its lists
            out[scheme.signature_header] = signature
        return out


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
    scheme has them), the other headers its message names (``{header:Name}``,
    from ``headers``), then the signature.

    ``message_id`` (or the id header among ``headers``) is signed when given,
    else a new one is made; ``timestamp`` defaults to now. ``url``, the
    notification URL, is needed by a scheme that signs it and ignored by others.
    A ``{header:Name}`` missing from ``headers`` is signed as empty text (see
    ``missing_signed_headers``). Raises InputError for a secret not in the
    scheme's form. A sender of many bodies builds one ``Signer`` instead.
    """
    signer = Signer(scheme, secret)
    return signer.sign(
        body, method=method, timestamp=timestamp, headers=headers, message_id=message_id, url=url
    )


def replace_signatures(scheme: Scheme, headers: Mapping[str, str], values: Sequence[str]) -> dict[str, str]:
    """Signed ``headers`` with their signatures replaced by ``values`` (the timestamp entry kept)."""
    form = CompiledScheme(scheme)
    stamp = received_timestamp(form, received_headers(form, headers))
    out = {k: v for k, v in headers.items() if k.lower() != form.signature_header}
    out[scheme.signature_header] = signature_header_value(scheme, values, stamp)
    return out


# --- checking a received delivery ----------------------------------------------


#: Unix seconds are at most this many ASCII digits.
_UNIX_SECONDS_DIGITS = 12
#: The largest timestamp ``verify`` reads: what ``sign`` may sign with (one rule for both).
MAX_UNIX_SECONDS = 10**_UNIX_SECONDS_DIGITS - 1


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
    if not (len(stamp_text) <= _UNIX_SECONDS_DIGITS and stamp_text.isascii() and stamp_text.isdigit()):
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
