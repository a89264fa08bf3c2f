"""Signature schemes as data.

A scheme says which headers a delivery carries (a signature, maybe a
timestamp, maybe a message id), which HMAC hash and digest encoding it uses,
how the header values are spelled around the digest and the timestamp, which
bytes are signed (the raw body, with the method, the timestamp, the message
id, the URL the receiver is reached at or another header around it), how the
secret's text becomes the HMAC key, and which other header names a verifier
accepts for its headers (Svix's ``svix-id`` for Standard Webhooks'
``webhook-id``). Signing and verifying (``signatures.py``) read these fields;
there is no code path per scheme, so a new scheme is a new ``Scheme(...)``,
built in below or defined in a config file (``config/load.py``).
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..errors import SchemeDefinitionError, UnknownSchemeError
from ..text import is_token

# No ``from __future__ import annotations`` here: NamedTuple compiles each
# annotation given as a string, which would cost ``invwh sign`` a millisecond.

HASHES = ("sha1", "sha256", "sha384", "sha512")
ENCODINGS = ("hex", "base64", "base64url")
#: How the secret's text becomes the HMAC key: its UTF-8 bytes, or the bytes it encodes.
SECRET_ENCODINGS = ("utf8", "base64", "hex")

# The placeholders a message template may use. `{header:Name}` takes the
# value of any other request header.
_PLACEHOLDER = re.compile(r"\{(method|timestamp|id|url|body|header:[^{}]+)\}")
_ANY_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
#: The characters a digest may be made of, in any of the encodings.
DIGEST_CHARACTERS = "A-Za-z0-9+/=_-"


class SchemeFields(NamedTuple):
    """The fields that define a scheme, declared once (``Scheme`` adds the checks)."""

    name: str
    summary: str
    signature_header: str
    hash: str = "sha256"
    encoding: str = "hex"
    #: One signature as spelled in the header, e.g. ``v1={digest}``.
    value_template: str = "{digest}"
    #: The signed bytes: literal text with ``{method}``, ``{timestamp}``, ``{id}``,
    #: ``{url}`` (the notification URL: where the sender was told the receiver
    #: is, Square's), ``{body}`` (the raw body, never re-serialized) and
    #: ``{header:Name}``.
    message_template: str = "{body}"
    #: The header that carries the unix timestamp, sent with exactly this
    #: spelling; None when the scheme has no timestamp. It may be the
    #: signature header itself (Stripe's ``t=...,v1=...``): the timestamp is
    #: then one of that header's entries.
    timestamp_header: str | None = None
    #: The timestamp as spelled in its header or entry, e.g. ``t={timestamp}``.
    timestamp_template: str = "{timestamp}"
    #: Several entries in the signature header (signatures for key rotation,
    #: and the timestamp when it rides along) are separated by this; None
    #: when the header holds exactly one signature.
    signature_separator: str | None = None
    #: The header that carries a message id, which the signed message may
    #: include (``{id}``); ``sign`` makes a new one: ``id_prefix`` + random.
    id_header: str | None = None
    id_prefix: str = ""
    #: How the secret's text becomes the HMAC key: ``utf8`` (its bytes), or
    #: ``base64`` / ``hex`` (the bytes it encodes). A ``secret_prefix`` such as
    #: ``whsec_`` is removed first; with an encoding, text that does not decode
    #: is refused, as the reference libraries refuse it (``signing.key_for``).
    secret_encoding: str = "utf8"
    secret_prefix: str = ""
    #: Other names a verifier accepts for the scheme's headers, as (alias,
    #: header) pairs sorted by alias: Svix sends ``svix-id`` where Standard
    #: Webhooks says ``webhook-id``. Signing always uses the scheme's own
    #: names; a delivery that carries both uses the scheme's own. ``Scheme``
    #: also takes a mapping (alias -> header).
    header_aliases: tuple[tuple[str, str], ...] = ()


class Scheme(SchemeFields):
    """A signature scheme: an immutable value, compared and hashed by its fields.

    Making one checks it: a definition that makes no usable scheme raises
    ``SchemeDefinitionError``. What follows from the fields (the parsed
    message template, the lower-case header names, ...) is worked out by
    ``CompiledScheme``, which a ``Signer`` or a ``Verifier`` builds once
    (``signatures.py``): no cache hides behind the scheme.
    """

    __slots__ = ()

    def __new__(cls, *fields: Any, **named: Any) -> "Scheme":
        scheme = super().__new__(cls, *fields, **named)
        aliases = _sorted_aliases(scheme.header_aliases)
        if aliases != scheme.header_aliases:
            scheme = scheme._replace(header_aliases=aliases)
        CompiledScheme(scheme)  # refuses a definition that makes no usable scheme
        return scheme

    @property
    def uses_timestamp(self) -> bool:
        return self.timestamp_header is not None

    @property
    def timestamp_in_signature(self) -> bool:
        """Whether the timestamp is an entry of the signature header (Stripe) rather than its own header."""
        return _timestamp_in_signature(self)

    # A placeholder's text in the template is always that placeholder (``_PLACEHOLDER`` takes
    # no braces inside a ``{header:Name}``), so these read the template, not a parsed copy.
    @property
    def signs_method(self) -> bool:
        return "{method}" in self.message_template

    @property
    def signs_id(self) -> bool:
        return "{id}" in self.message_template

    @property
    def signs_url(self) -> bool:
        """Whether the signed message includes the notification URL (``{url}``)."""
        return "{url}" in self.message_template

    @property
    def message_parts(self) -> tuple[tuple[bool, str], ...]:
        """The message template as (is_placeholder, text) pairs."""
        return _split_template(self.message_template)

    def describe_value(self) -> str:
        """How one signature looks, for messages: ``v1=<base64 HMAC-SHA512>``."""
        return self.value_template.replace("{digest}", f"<{self.encoding} HMAC-{self.hash.upper()}>")

    def describe_timestamp(self) -> str:
        return self.timestamp_template.replace("{timestamp}", "<unix seconds>")

    def describe_header(self) -> str:
        """How the whole signature header looks: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``."""
        entries = [self.describe_timestamp()] if self.timestamp_in_signature else []
        text = (self.signature_separator or "").join([*entries, self.describe_value()])
        if self.signature_separator is not None:
            text += f" (more signatures allowed, separated by {self.signature_separator!r})"
        return text

    def describe_message(self) -> str:
        return self.message_template.replace("{body}", "<raw body>").replace("{url}", "<notification URL>")

    def describe_secret(self) -> str:
        """How the secret's text becomes the key: ``the bytes of whsec_<base64>``."""
        if self.secret_encoding == "utf8":
            without = f", without a leading {self.secret_prefix}" if self.secret_prefix else ""
            return f"the secret's UTF-8 bytes{without}"
        return f"the bytes of {self.secret_prefix}<{self.secret_encoding}>"

    def sends(self) -> list[tuple[str, str]]:
        """The headers a signed delivery carries, each with how its value looks."""
        headers = []
        if self.id_header:
            headers.append((self.id_header, f"{self.id_prefix}<random>"))
        if self.timestamp_header and not self.timestamp_in_signature:
            headers.append((self.timestamp_header, self.describe_timestamp()))
        headers.append((self.signature_header, self.describe_header()))
        return headers

    def signed_header_names(self) -> list[str]:
        """The headers a signature depends on: kept together when a delivery is replayed as is.

        Their aliases are not among them (see ``replayed_header_names``).
        """
        return _signed_header_names(self, _split_template(self.message_template))

    def replayed_header_names(self) -> list[str]:
        """The headers a recorded signature may ride in, under the scheme's names or their aliases."""
        return [*self.signed_header_names(), *(alias for alias, _ in self.header_aliases)]

    def definition(self) -> dict[str, object]:
        """The scheme's definition, as written in a config file: every field that is set, but its name.

        ``header_aliases`` is a table (alias -> header), left out when there are none.
        """
        out: dict[str, object] = {}
        for name, value in zip(SCHEME_FIELDS, self[1:], strict=True):
            if name != "header_aliases" and value is not None:
                out[name] = value
        if self.header_aliases:
            out["header_aliases"] = dict(self.header_aliases)
        return out


#: The fields a scheme is defined by, in a config file as in ``Scheme(...)``.
SCHEME_FIELDS = SchemeFields._fields[1:]
#: The fields a definition must give.
REQUIRED_FIELDS = ("signature_header",)


class CompiledScheme:
    """What follows from a scheme's fields, worked out once: what signing and checking read per delivery.

    A ``Signer`` or a ``Verifier`` (``signatures.py``) builds one and keeps it for its run.
    """

    __slots__ = (
        "aliases_lowered",
        "encoding",
        "hash",
        "id_header",
        "message_steps",
        "scheme",
        "signature_header",
        "signs_id",
        "signs_url",
        "timestamp_around",
        "timestamp_header",
        "timestamp_in_signature",
        "value_around",
        "value_around_bytes",
    )

    def __init__(self, scheme: "Scheme") -> None:
        _check(scheme)
        self.scheme = scheme
        self.hash = scheme.hash
        self.encoding = scheme.encoding
        parts = _split_template(scheme.message_template)
        #: The signed message as steps: ("literal", its bytes), ("header", the lower-case
        #: name) or a placeholder's name with None (``body``, ``method``, ...).
        self.message_steps: tuple[tuple[str, Any], ...] = tuple(
            ("literal", text.encode("utf-8"))
            if not is_placeholder
            else ("header", text[len("header:") :].lower())
            if text.startswith("header:")
            else (text, None)
            for is_placeholder, text in parts
        )
        self.signs_id = (True, "id") in parts
        self.signs_url = (True, "url") in parts
        self.timestamp_in_signature = _timestamp_in_signature(scheme)
        #: (alias, header) in lower case, for looking up lower-cased received headers.
        self.aliases_lowered = _check_aliases(scheme, _signed_header_names(scheme, parts))
        #: The header names in lower case, as received headers are looked up.
        self.signature_header = scheme.signature_header.lower()
        self.timestamp_header = (scheme.timestamp_header or "").lower() or None
        self.id_header = (scheme.id_header or "").lower() or None
        #: The text before and after ``{digest}`` in one signature, and ``{timestamp}`` in its header.
        self.value_around = _around(scheme.value_template, "{digest}")
        self.value_around_bytes = tuple(text.encode("utf-8") for text in self.value_around)
        self.timestamp_around = _around(scheme.timestamp_template, "{timestamp}")


def _sorted_aliases(
    aliases: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    pairs = aliases.items() if isinstance(aliases, Mapping) else aliases or ()
    return tuple(sorted(((a, h) for a, h in pairs), key=_lowered_pair))


def _timestamp_in_signature(scheme: SchemeFields) -> bool:
    return (
        scheme.timestamp_header is not None
        and scheme.timestamp_header.lower() == scheme.signature_header.lower()
    )


def _around(template: str, placeholder: str) -> tuple[str, str]:
    before, after = template.split(placeholder)
    return before, after


def _bad(scheme: SchemeFields, field_name: str, problem: str) -> SchemeDefinitionError:
    return SchemeDefinitionError(scheme.name, field_name, problem)


def _check(scheme: SchemeFields) -> None:
    """Refuse a definition that makes no usable scheme."""
    for name in ("signature_header", "timestamp_header", "id_header"):
        value = getattr(scheme, name)
        if value is not None and not is_token(value):
            raise _bad(scheme, name, f"is not an HTTP header name: {value!r}")
    if scheme.hash not in HASHES:
        raise _bad(scheme, "hash", f"must be one of {', '.join(HASHES)}")
    if scheme.encoding not in ENCODINGS:
        raise _bad(scheme, "encoding", f"must be one of {', '.join(ENCODINGS)}")
    if scheme.secret_encoding not in SECRET_ENCODINGS:
        raise _bad(scheme, "secret_encoding", f"must be one of {', '.join(SECRET_ENCODINGS)}")
    if scheme.value_template.count("{digest}") != 1:
        raise _bad(scheme, "value_template", "needs one {digest}")
    if scheme.timestamp_template.count("{timestamp}") != 1:
        raise _bad(scheme, "timestamp_template", "needs one {timestamp}")
    placeholders = _ANY_PLACEHOLDER.findall(scheme.message_template)
    unknown = [p for p in placeholders if not _PLACEHOLDER.fullmatch(p)]
    if unknown:
        raise _bad(
            scheme,
            "message_template",
            f"has an unknown placeholder {unknown[0]}; "
            "known: {method}, {timestamp}, {id}, {url}, {body}, {header:Name}",
        )
    if "{body}" not in scheme.message_template:
        raise _bad(scheme, "message_template", "must include {body}")
    if "{timestamp}" in scheme.message_template and not scheme.timestamp_header:
        raise _bad(scheme, "message_template", "uses {timestamp} but no timestamp_header is set")
    if "{id}" in scheme.message_template and not scheme.id_header:
        raise _bad(scheme, "message_template", "uses {id} but no id_header is set")
    separator = scheme.signature_separator
    if separator is not None:
        if not separator or re.search(f"[{DIGEST_CHARACTERS}]", separator):
            raise _bad(
                scheme, "signature_separator", "must be punctuation or a space, not a digest character"
            )
        if separator in scheme.value_template or separator in scheme.timestamp_template:
            raise _bad(
                scheme, "signature_separator", "must not appear in value_template or timestamp_template"
            )
    if _timestamp_in_signature(scheme):
        if separator is None:
            raise _bad(
                scheme, "signature_separator", "is needed when the timestamp rides in the signature header"
            )
        if scheme.timestamp_template == "{timestamp}":
            raise _bad(scheme, "timestamp_template", "needs text around {timestamp} in the signature header")


def _check_aliases(scheme: SchemeFields, signed_names: list[str]) -> tuple[tuple[str, str], ...]:
    """Each alias names another spelling of a header the scheme reads; the pairs in lower case."""
    own = {name.lower() for name in signed_names}
    aliases: dict[str, str] = {}
    for alias, header in scheme.header_aliases:
        for name in (alias, header):
            if not is_token(name):
                raise _bad(scheme, "header_aliases", f"is not an HTTP header name: {name!r}")
        if header.lower() not in own:
            raise _bad(
                scheme,
                "header_aliases",
                f"{alias} stands for {header}, which is not a header the scheme reads "
                f"({', '.join(signed_names)})",
            )
        if alias.lower() in own or alias.lower() in aliases:
            raise _bad(scheme, "header_aliases", f"{alias} is already the name of a header")
        aliases[alias.lower()] = header.lower()
    return tuple(aliases.items())


def _signed_header_names(scheme: SchemeFields, parts: tuple[tuple[bool, str], ...]) -> list[str]:
    names = []
    if scheme.id_header:
        names.append(scheme.id_header)
    if scheme.timestamp_header and not _timestamp_in_signature(scheme):
        names.append(scheme.timestamp_header)
    names.append(scheme.signature_header)
    names += [
        text[len("header:") :]
        for is_placeholder, text in parts
        if is_placeholder and text.startswith("header:")
    ]
    return names


def _lowered_pair(pair: tuple[str, str]) -> tuple[str, str]:
    return (str(pair[0]).lower(), str(pair[1]).lower())


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


def _built_in(**fields: Any) -> Scheme:
    """A built-in scheme, checked when first used rather than on every start of ``invwh``
    (``invwh sign`` uses one of eight). tests/test_schemes.py checks each one."""
    fields["header_aliases"] = _sorted_aliases(fields.get("header_aliases"))
    return Scheme._make(SchemeFields(**fields))


INVENTORY_V1 = _built_in(
    name="inventory-v1",
    summary="The inventory API's own scheme (its SDK's HmacSignatureVerifier).",
    signature_header="X-Webhook-Signature",
    hash="sha512",
    encoding="base64",
    value_template="v1={digest}",
    message_template="{method}|{timestamp}|{body}",
    timestamp_header="X-Timestamp",
)

HMAC_SHA256_HEX = _built_in(
    name="hmac-sha256-hex",
    summary="Hex HMAC-SHA256 of the raw body alone; no timestamp.",
    signature_header="X-Webhook-Signature",
    hash="sha256",
    encoding="hex",
)

STANDARD_WEBHOOKS = _built_in(
    name="standard-webhooks",
    summary="Standard Webhooks (standardwebhooks.com, Svix): id, timestamp and body; whsec_ secrets.",
    signature_header="webhook-signature",
    hash="sha256",
    encoding="base64",
    value_template="v1,{digest}",
    message_template="{id}.{timestamp}.{body}",
    timestamp_header="webhook-timestamp",
    signature_separator=" ",
    id_header="webhook-id",
    id_prefix="msg_",
    secret_encoding="base64",
    secret_prefix="whsec_",
    # Svix, the origin of the standard, still sends its own names.
    header_aliases=(
        ("svix-id", "webhook-id"),
        ("svix-signature", "webhook-signature"),
        ("svix-timestamp", "webhook-timestamp"),
    ),
)

STRIPE = _built_in(
    name="stripe",
    summary="Stripe webhooks: the timestamp and the signatures in one Stripe-Signature header.",
    signature_header="Stripe-Signature",
    hash="sha256",
    encoding="hex",
    value_template="v1={digest}",
    message_template="{timestamp}.{body}",
    timestamp_header="Stripe-Signature",
    timestamp_template="t={timestamp}",
    signature_separator=",",
)

GITHUB = _built_in(
    name="github",
    summary="GitHub webhooks: hex HMAC-SHA256 of the raw body in X-Hub-Signature-256; no timestamp.",
    signature_header="X-Hub-Signature-256",
    hash="sha256",
    encoding="hex",
    value_template="sha256={digest}",
)

SLACK = _built_in(
    name="slack",
    summary="Slack request signing: v0= and hex HMAC-SHA256 of v0:<timestamp>:<body>.",
    signature_header="X-Slack-Signature",
    hash="sha256",
    encoding="hex",
    value_template="v0={digest}",
    message_template="v0:{timestamp}:{body}",
    timestamp_header="X-Slack-Request-Timestamp",
)

SHOPIFY = _built_in(
    name="shopify",
    summary="Shopify webhooks: base64 HMAC-SHA256 of the raw body in X-Shopify-Hmac-Sha256; no timestamp.",
    signature_header="X-Shopify-Hmac-Sha256",
    hash="sha256",
    encoding="base64",
)

SQUARE = _built_in(
    name="square",
    summary="Square webhooks: base64 HMAC-SHA256 of the notification URL followed by the body; no timestamp.",
    signature_header="x-square-hmacsha256-signature",
    hash="sha256",
    encoding="base64",
    # Square signs the URL the subscription names, so a delivery replayed to
    # another endpoint of the same key does not verify there.
    message_template="{url}{body}",
)

BUILTIN_SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (INVENTORY_V1, HMAC_SHA256_HEX, STANDARD_WEBHOOKS, STRIPE, GITHUB, SLACK, SHOPIFY, SQUARE)
}
DEFAULT_SCHEME = INVENTORY_V1.name


def get_scheme(name: str, configured: Mapping[str, Scheme] | None = None) -> Scheme:
    """The built-in scheme called ``name``, or the one a config file defines (``configured``)."""
    known = {**(configured or {}), **BUILTIN_SCHEMES}
    try:
        return known[name]
    except KeyError:
        names = ", ".join([*BUILTIN_SCHEMES, *(n for n in configured or {} if n not in BUILTIN_SCHEMES)])
        raise UnknownSchemeError(f"unknown scheme {name!r}; known schemes: {names}") from None
