"""Find the likely cause of a signature that does not hold.

``explain`` takes what ``signing.check_signature`` found and names the likely
causes of the failure; the verdict layer (``verdict.judge``) asks for them.
This module imports ``signing``, never the reverse.

Only runs on failure, so it can afford to try many near-misses: the body
with or without a trailing newline, with its line endings converted (LF and
CRLF), the JSON re-serialized, another method, another notification URL
(the request's Host, a trailing slash, http for https), another hash or
encoding, another scheme, a secret with stray whitespace or read in another
form (its text where the scheme decodes it, or the reverse).

Each cause is a ``hints.Hint``: a code, its facts and a sentence that names
no command-line flag (the CLI adds its advice at the edge).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .hints import Cause, Hint, hint
from .schemes import BUILTIN_SCHEMES, ENCODINGS, HASHES, CompiledScheme, Scheme
from .signatures import (
    Secret,
    build_message,
    decode_digest,
    digest,
    key_for,
    received_headers,
    received_timestamp,
)
from .verifier import SignatureCheck, check_signature

Candidate = tuple[Hint, bytes]  # (the likely cause, the variant)

#: A timestamp above this is not unix seconds of this era: likely milliseconds.
_MILLISECONDS_FROM = 10**11


def explain(
    check: SignatureCheck,
    scheme: Scheme,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    url: str | None = None,
) -> list[Hint]:
    """The likely causes of the failure ``check`` reports, most likely first; empty when none is found.

    The arguments are those ``check_signature`` was given.
    """
    received = received_headers(CompiledScheme(scheme), headers)
    method = method.upper()
    if check.reason == "missing_signature":
        return explain_missing_signature(scheme, received)
    if check.reason == "malformed_signature" and check.provided is not None:
        return explain_malformed_signature(
            scheme, check.provided, check.signatures, secrets, body, received, method, url
        )
    if check.reason == "signature_mismatch" and check.digest is not None:
        needs = f"the {scheme.name} scheme needs: {scheme.describe_secret()}"
        unusable = [
            hint(
                Cause.UNUSABLE_SECRET,
                f"secret #{index + 1} is not in the form {needs}",
                secret_number=index + 1,
                scheme=scheme.name,
            )
            for index in check.unusable_secrets
        ]
        return unusable + explain_mismatch(scheme, secrets, body, received, method, check.digest, url=url)
    if check.reason == "future_timestamp" and (check.timestamp or 0) > _MILLISECONDS_FROM:
        header = scheme.timestamp_header
        text = f"{header} looks like milliseconds; it must be unix seconds"
        return [hint(Cause.MILLISECONDS_TIMESTAMP, text, header=header)]
    return []


def explain_missing_signature(scheme: Scheme, headers: Mapping[str, str]) -> list[Hint]:
    hints: list[Hint] = []
    for other in BUILTIN_SCHEMES.values():
        if other.signature_header.lower() == scheme.signature_header.lower():
            continue
        names = [other.signature_header, *(a for a, h in other.header_aliases if h == other.signature_header)]
        present = next((name for name in names if name.lower() in headers), None)
        if present is not None:
            text = f"there is a {present} header, which the {other.name} scheme reads"
            hints.append(hint(Cause.OTHER_SCHEME_HEADER, text, header=present, scheme=other.name))
    signature_like = sorted(name for name in headers if "signature" in name)
    if signature_like and not hints:
        text = f"headers that look like signatures: {', '.join(signature_like)}"
        hints.append(hint(Cause.SIGNATURE_LIKE_HEADERS, text, headers=tuple(signature_like)))
    return hints


def explain_malformed_signature(
    scheme: Scheme,
    provided: str,
    entries: Sequence[str],
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    url: str | None = None,
) -> list[Hint]:
    other = _other_scheme_matching(scheme, provided, secrets, body, headers, method, url)
    if other:
        return [hint(Cause.OTHER_SCHEME, f"the signature follows the {other} scheme", scheme=other)]
    value = entries[0] if entries else provided
    before, after = scheme.value_template.split("{digest}")
    text = value
    if before and text.startswith(before):
        text = text[len(before) :]
    if after and text.endswith(after):
        text = text[: -len(after)]
    # An empty digest decodes in every encoding, and one that is already in the
    # scheme's own encoding (hex and unpadded base64url text often is) is not
    # evidence of another one.
    if text and decode_digest(scheme.encoding, text) is None:
        for encoding in ENCODINGS:
            if encoding != scheme.encoding and decode_digest(encoding, text) is not None:
                text = f"the digest looks {encoding}-encoded; {scheme.name} expects {scheme.encoding}"
                return [hint(Cause.DIGEST_ENCODING, text, encoding=encoding, expected=scheme.encoding)]
    if before and not value.startswith(before):
        return [hint(Cause.VALUE_PREFIX, f"the value should start with {before!r}", prefix=before)]
    return []


def _other_scheme_matching(
    scheme: Scheme,
    provided: str,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    url: str | None,
) -> str | None:
    """The name of another built-in scheme under which ``provided`` is exactly right."""
    for other in BUILTIN_SCHEMES.values():
        if other.name == scheme.name or (other.signs_url and url is None):
            continue
        as_other = {**headers, other.signature_header.lower(): provided}
        check = check_signature(other, secrets, body, as_other, method=method, tolerance=0, url=url)
        if check.signature_ok:
            return other.name
    return None


def explain_mismatch(
    scheme: Scheme,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    provided_digest: str,
    *,
    url: str | None = None,
) -> list[Hint]:
    """Why ``provided_digest`` is not the signature of this request: the first suspect that
    reproduces it (``_SUSPECTS``, most telling first), else another secret or a changed body."""
    mismatch = _Mismatch(scheme, secrets, body, headers, method, provided_digest, url)
    for suspect in _SUSPECTS:
        found = suspect(mismatch)
        if found is not None:
            return [found]
    at = f" (the notification URL checked: {url})" if scheme.signs_url else ""
    text = (
        "the body was changed after signing, or it was signed with another secret; "
        f"{scheme.name} signs {scheme.describe_message()} with HMAC-{scheme.hash.upper()}{at}"
    )
    return [hint(Cause.WRONG_SECRET, text, scheme=scheme.name)]


class _Mismatch:
    """A signature that does not hold, and how to test a guess at what was signed instead."""

    def __init__(
        self,
        scheme: Scheme,
        secrets: Sequence[Secret],
        body: bytes,
        headers: Mapping[str, str],
        method: str,
        provided_digest: str,
        url: str | None,
    ) -> None:
        self.scheme = scheme
        self.body = body
        self.headers = headers
        self.method = method
        self.url = url
        #: The provided digest's bytes, in every encoding it decodes in.
        self.provided = {
            encoding: raw
            for encoding in ENCODINGS
            if (raw := decode_digest(encoding, provided_digest)) is not None
        }
        self.form = CompiledScheme(scheme)
        self.stamp = received_timestamp(self.form, headers)
        self.keys = list(_key_variants(scheme, secrets))

    def matches(self, message: bytes) -> str | None:
        """Which hash and encoding of ``message`` gives the provided digest, described
        (``""``: the scheme's own); None when none does."""
        scheme = self.scheme
        for hash_name in (scheme.hash, *(h for h in HASHES if h != scheme.hash)):
            for key_note, key in self.keys:
                expected = digest(hash_name, key, message)
                for encoding, raw in self.provided.items():
                    if raw == expected:
                        notes = [key_note] if key_note else []
                        if hash_name != scheme.hash:
                            used, wanted = hash_name.upper(), scheme.hash.upper()
                            notes.append(f"it is HMAC-{used}; {scheme.name} uses HMAC-{wanted}")
                        if encoding != scheme.encoding:
                            notes.append(f"it is {encoding}-encoded; {scheme.name} expects {scheme.encoding}")
                        return "; ".join(notes)
        return None

    def message(
        self,
        *,
        body: bytes | None = None,
        method: str | None = None,
        stamp: str | None = None,
        url: str | None = None,
    ) -> bytes:
        """The message the scheme signs for this request, with the parts given replaced
        (``""``: left out); the others as the request has them."""
        return build_message(
            self.form,
            self.body if body is None else body,
            self.method if method is None else method,
            self.stamp if stamp is None else stamp,
            self.headers,
            self.url if url is None else url,
        )


def _right_bytes(mismatch: _Mismatch) -> Hint | None:
    """The right message, signed or spelled another way (a hash, an encoding, a key's form)."""
    exact = mismatch.matches(mismatch.message())
    if exact == "":
        text = (
            "the digest is right but spelled differently (upper-case hex?); "
            "receivers compare the header text exactly"
        )
        return hint(Cause.DIGEST_SPELLING, text)
    if exact:
        return hint(
            Cause.SIGNED_DIFFERENTLY, f"the signature is over the right bytes, but {exact}", detail=exact
        )
    return None


def _changed_body(mismatch: _Mismatch) -> Hint | None:
    """The body as signed before it was sent: another line ending, re-serialized JSON."""
    for cause, variant in _body_variants(mismatch.body):
        found = mismatch.matches(mismatch.message(body=variant))
        if found is not None:
            if not found:
                return cause
            return Hint(
                cause.code, f"{cause.text}; {found}", MappingProxyType({**cause.facts, "detail": found})
            )
    return None


def _other_method(mismatch: _Mismatch) -> Hint | None:
    method = mismatch.method
    if not any(part == (True, "method") for part in mismatch.scheme.message_parts):
        return None
    for other in ("GET", "PUT", "PATCH", "DELETE", method.lower()):
        if other != method and mismatch.matches(mismatch.message(method=other)) is not None:
            text = f"the signature was made for method {other}, not {method}"
            return hint(Cause.OTHER_METHOD, text, method=other, received=method)
    return None


def _other_url(mismatch: _Mismatch) -> Hint | None:
    url = mismatch.url
    if not mismatch.scheme.signs_url or url is None:
        return None
    for other_url in _url_variants(url, mismatch.headers):
        if mismatch.matches(mismatch.message(url=other_url)) is not None:
            text = (
                f"the signature was made for the notification URL {other_url}, not {url}: "
                "the sender must sign for the URL the receiver checks"
            )
            return hint(Cause.OTHER_URL, text, url=other_url, checked=url)
    if mismatch.matches(mismatch.message(url="")) is not None:
        text = f"the signature was made without the notification URL in the signed message ({url})"
        return hint(Cause.URL_UNSIGNED, text, checked=url)
    return None


def _timestamp_unsigned(mismatch: _Mismatch) -> Hint | None:
    header = mismatch.scheme.timestamp_header
    if header and mismatch.matches(mismatch.message(stamp="")) is not None:
        text = f"the signature was made without {header} in the signed message"
        return hint(Cause.TIMESTAMP_UNSIGNED, text, header=header)
    return None


def _other_scheme_message(mismatch: _Mismatch) -> Hint | None:
    for other_scheme in BUILTIN_SCHEMES.values():
        name = other_scheme.name
        if name == mismatch.scheme.name or (other_scheme.signs_url and mismatch.url is None):
            continue
        other_form = CompiledScheme(other_scheme)
        other_stamp = received_timestamp(other_form, mismatch.headers)
        candidate = build_message(
            other_form, mismatch.body, mismatch.method, other_stamp, mismatch.headers, mismatch.url
        )
        if mismatch.matches(candidate) is not None:
            text = f"the signature is over the bytes the {name} scheme signs"
            return hint(Cause.OTHER_SCHEME_MESSAGE, text, scheme=name)
    return None


#: The guesses ``explain_mismatch`` tries, in order: the first that reproduces the digest is said.
_SUSPECTS = (
    _right_bytes,
    _changed_body,
    _other_method,
    _other_url,
    _timestamp_unsigned,
    _other_scheme_message,
)


def _url_variants(url: str, headers: Mapping[str, str]) -> Iterator[str]:
    """The URLs a sender may have signed for instead of ``url``: the one the request names
    (its Host header, under http and https), ``url`` with or without a trailing slash,
    under the other of http and https, without its query. Lower-case ``headers``."""
    parts = urlsplit(url)
    other_scheme = {"http": "https", "https": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path + "/"
    candidates = []
    host = headers.get("host", "").strip()
    if host:
        for scheme in (parts.scheme, other_scheme):
            candidates.append(urlunsplit((scheme, host, parts.path, parts.query, "")))
    candidates += [
        urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment)),
        urlunsplit((other_scheme, parts.netloc, parts.path, parts.query, parts.fragment)),
        urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
    ]
    seen = {url}
    for candidate in candidates:
        if candidate not in seen:
            seen.add(candidate)
            yield candidate


def _key_variants(scheme: Scheme, secrets: Sequence[Secret]) -> Iterator[tuple[str, bytes]]:
    """The keys to try: the scheme's own, then the near misses, each with what differs."""
    keys = [key for secret in secrets if (key := key_for(scheme, secret)) is not None]
    for key in keys:
        yield "", key
    if scheme.secret_encoding == "utf8":
        for key in keys:
            if key != key.strip():
                yield "it was made with the secret without its surrounding whitespace", key.strip()
            yield "it was made with the secret plus a trailing newline", key + b"\n"
    # The secret read as another built-in scheme reads secrets (whsec_ base64, or plain text).
    forms = {(o.secret_encoding, o.secret_prefix): o for o in reversed(BUILTIN_SCHEMES.values())}
    for (encoding, prefix), other in forms.items():
        if (encoding, prefix) == (scheme.secret_encoding, scheme.secret_prefix):
            continue
        for secret in secrets:
            key = key_for(other, secret)
            if key is not None and key not in keys:
                yield (
                    (
                        f"it was made with {other.describe_secret()} as the key, as {other.name} takes "
                        f"its secret; {scheme.name} uses {scheme.describe_secret()}"
                    ),
                    key,
                )


def _body_variants(body: bytes) -> Iterator[Candidate]:
    """The bodies the signature may have been made over instead, each with the likely cause."""
    made_over = "the signature was made over "
    stripped = body.rstrip(b"\r\n")
    newline = Cause.TRAILING_NEWLINE
    if stripped != body:
        yield (
            hint(newline, made_over + "the body without its trailing newline", signed_newline=None),
            stripped,
        )
    else:
        yield hint(newline, made_over + "the body plus a trailing newline", signed_newline="LF"), body + b"\n"
        yield (
            hint(newline, made_over + "the body plus a trailing CRLF", signed_newline="CRLF"),
            body + b"\r\n",
        )
    # Before the JSON styles: an indented body with converted line endings
    # would otherwise pass for one re-serialized by an indenting writer.
    # git's autocrlf, Windows editors and some proxies convert one way or the other.
    converted = (
        "the body's line endings were converted: it was signed with {} line endings and arrived with {}"
    )
    if b"\r\n" in body:
        cause = hint(
            Cause.LINE_ENDINGS, converted.format("LF", "CRLF"), signed_with="LF", arrived_with="CRLF"
        )
        yield cause, body.replace(b"\r\n", b"\n")
    if b"\n" in body.replace(b"\r\n", b""):
        cause = hint(
            Cause.LINE_ENDINGS, converted.format("CRLF", "LF"), signed_with="CRLF", arrived_with="LF"
        )
        yield cause, body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to parse
        return
    styles: tuple[tuple[str, dict[str, Any]], ...] = (
        ("compact JSON", {"separators": (",", ":")}),
        ("JSON as json.dumps writes it", {}),
        ("JSON with sorted keys", {"sort_keys": True}),
        ("compact JSON with sorted keys", {"separators": (",", ":"), "sort_keys": True}),
        ("JSON indented by 2", {"indent": 2}),
        ("JSON indented by 4", {"indent": 4}),
    )
    for name, options in styles:
        for ascii_only in (True, False):
            try:
                text = json.dumps(document, ensure_ascii=ascii_only, **options).encode("utf-8")
            except RecursionError:  # parsed, but too deep to write back out
                return
            except UnicodeEncodeError:  # a lone surrogate from a "\ud800"-style escape
                continue
            if text != body:
                said = made_over + f"re-serialized JSON ({name}), not the raw body that was sent"
                yield hint(Cause.RESERIALIZED_BODY, said, style=name, ensure_ascii=ascii_only), text
