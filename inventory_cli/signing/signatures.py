"""Compute and check HMAC signatures for a scheme (see ``schemes.py``).

One function makes a signature, ``make_signature``: a ``Signer`` sends what
it makes, a ``Verifier`` compares a received signature with what it makes
for the received bytes, so signing and checking cannot drift (as in
standard-webhooks, whose ``verify`` calls its ``sign``). Both are built once
per run (by ``listen``, the audit, ``replay``, ``check``, the API's call)
and hold what every delivery reuses: the compiled scheme, the keys derived
from the secrets and an HMAC already keyed with each. There is no cache at
module level. ``sign`` and ``check_signature`` are the one-call forms.

The checking side, ``Verifier`` and ``check_signature``, is ``verifier.py``;
it imports this module, never the reverse. A scheme that signs the
notification URL (``{url}``) needs it from the caller: the sender's target,
the receiver's own address.
"""

from __future__ import annotations

import binascii
import hmac
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InputError
from .schemes import CompiledScheme, Scheme


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
    message rather than padding and hashing the key again (``hmac.digest``).

    Where OpenSSL computes it (CPython 3.10-3.13 keep it as ``_hmac``), its own object is
    returned: the same ``copy``, ``update`` and ``digest``, without a Python call around each
    (0.24 µs of the 1.43 a signature costs). Elsewhere, the ``hmac.HMAC`` itself.
    """
    mac = hmac.new(key, digestmod=form.hash)
    return getattr(mac, "_hmac", None) or mac


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


#: Unix seconds are at most this many ASCII digits.
UNIX_SECONDS_DIGITS = 12
#: The largest timestamp ``verify`` reads: what ``sign`` may sign with (one rule for both).
MAX_UNIX_SECONDS = 10**UNIX_SECONDS_DIGITS - 1
