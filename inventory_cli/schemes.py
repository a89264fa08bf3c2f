"""Signature schemes as data.

A scheme says which header carries the signature, which HMAC hash and digest
encoding it uses, how the header value is spelled around the digest, and which
bytes are signed. Signing and verifying (``signing.py``) read these fields;
there is no code path per scheme, so a new scheme is a new ``Scheme(...)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import UnknownSchemeError

HASHES = ("sha1", "sha256", "sha384", "sha512")
ENCODINGS = ("hex", "base64", "base64url")

# The placeholders a message template may use. `{header:Name}` takes the
# value of any other request header.
_PLACEHOLDER = re.compile(r"\{(method|timestamp|body|header:[^{}]+)\}")


@dataclass(frozen=True)
class Scheme:
    name: str
    summary: str
    signature_header: str
    hash: str = "sha256"
    encoding: str = "hex"
    #: The header value around the digest, e.g. ``v1={digest}``.
    value_template: str = "{digest}"
    #: The signed bytes: literal text with ``{method}``, ``{timestamp}``,
    #: ``{body}`` (the raw body, never re-serialized) and ``{header:Name}``.
    message_template: str = "{body}"
    #: The header that carries the unix timestamp, sent with exactly this
    #: spelling; None when the scheme has no timestamp.
    timestamp_header: str | None = None
    _parts: tuple[tuple[bool, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.hash not in HASHES:
            raise UnknownSchemeError(f"scheme {self.name!r}: hash must be one of {', '.join(HASHES)}")
        if self.encoding not in ENCODINGS:
            raise UnknownSchemeError(f"scheme {self.name!r}: encoding must be one of {', '.join(ENCODINGS)}")
        if self.value_template.count("{digest}") != 1:
            raise UnknownSchemeError(f"scheme {self.name!r}: value_template needs one {{digest}}")
        if "{timestamp}" in self.message_template and not self.timestamp_header:
            raise UnknownSchemeError(
                f"scheme {self.name!r}: the message uses {{timestamp}} but no timestamp_header is set"
            )
        object.__setattr__(self, "_parts", _split_template(self.message_template))

    @property
    def uses_timestamp(self) -> bool:
        return self.timestamp_header is not None

    @property
    def message_parts(self) -> tuple[tuple[bool, str], ...]:
        """The message template as (is_placeholder, text) pairs, parsed once."""
        return self._parts

    def describe_value(self) -> str:
        """How the header value looks, for messages: ``v1=<base64 HMAC-SHA512>``."""
        return self.value_template.replace("{digest}", f"<{self.encoding} HMAC-{self.hash.upper()}>")

    def describe_message(self) -> str:
        return self.message_template.replace("{body}", "<raw body>")


def _split_template(template: str) -> tuple[tuple[bool, str], ...]:
    parts: list[tuple[bool, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            parts.append((False, template[position : match.start()]))
        parts.append((True, match.group(1)))
        position = match.end()
    if position < len(template):
        parts.append((False, template[position:]))
    return tuple(parts)


INVENTORY_V1 = Scheme(
    name="inventory-v1",
    summary="The inventory API's own scheme (its SDK's HmacSignatureVerifier).",
    signature_header="X-Webhook-Signature",
    hash="sha512",
    encoding="base64",
    value_template="v1={digest}",
    message_template="{method}|{timestamp}|{body}",
    timestamp_header="X-Timestamp",
)

HMAC_SHA256_HEX = Scheme(
    name="hmac-sha256-hex",
    summary="Hex HMAC-SHA256 of the raw body alone; no timestamp.",
    signature_header="X-Webhook-Signature",
    hash="sha256",
    encoding="hex",
)

BUILTIN_SCHEMES: dict[str, Scheme] = {s.name: s for s in (INVENTORY_V1, HMAC_SHA256_HEX)}
DEFAULT_SCHEME = INVENTORY_V1.name


def get_scheme(name: str) -> Scheme:
    try:
        return BUILTIN_SCHEMES[name]
    except KeyError:
        known = ", ".join(BUILTIN_SCHEMES)
        raise UnknownSchemeError(f"unknown scheme {name!r}; known schemes: {known}") from None
