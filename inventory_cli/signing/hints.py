"""A hint: the likely cause of a bad signature, as a cause code and its facts.

``diagnosis.explain`` finds the hints; each holds a stable ``code`` (what
went wrong), the ``facts`` it was found from (the scheme that would verify,
the header, the URL the sender signed for, ...) and ``text``, one sentence
in plain words for a caller of the Python API. The sentence names no
command-line flag: the CLI adds its own advice (``try --scheme github``) in
``cli/output/hints.py``, keyed by the code. Imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any


class Cause(str, Enum):
    """The causes ``diagnosis`` can name; the values are stable ids (JSON's ``code``).

    A ``str`` mixin rather than ``enum.StrEnum``, which Python 3.10 lacks; ``str()`` and
    formatting give the id, as StrEnum's do.
    """

    #: The request carries the signature header of another scheme. Facts: header, scheme.
    OTHER_SCHEME_HEADER = "other_scheme_header"
    #: No signature header, but headers whose names say signature. Facts: headers.
    SIGNATURE_LIKE_HEADERS = "signature_like_headers"
    #: The malformed value is exactly right under another scheme. Facts: scheme.
    OTHER_SCHEME = "other_scheme"
    #: The digest is in another encoding than the scheme's. Facts: encoding, expected.
    DIGEST_ENCODING = "digest_encoding"
    #: The value lacks the scheme's prefix. Facts: prefix.
    VALUE_PREFIX = "value_prefix"
    #: A secret is not in the form the scheme needs. Facts: secret_number, scheme.
    UNUSABLE_SECRET = "unusable_secret"
    #: The digest is right, its text differs (upper-case hex).
    DIGEST_SPELLING = "digest_spelling"
    #: The right bytes, another hash, encoding or key form. Facts: detail.
    SIGNED_DIFFERENTLY = "signed_differently"
    #: The body gained or lost a trailing newline. Facts: signed_newline (None, LF, CRLF).
    TRAILING_NEWLINE = "trailing_newline"
    #: The body's line endings were converted. Facts: signed_with, arrived_with.
    LINE_ENDINGS = "line_endings"
    #: The sender signed the JSON re-serialized, not the raw body. Facts: style, ensure_ascii.
    #: (A body cause found with another hash, encoding or key form adds ``detail``.)
    RESERIALIZED_BODY = "reserialized_body"
    #: Signed for another method. Facts: method, received.
    OTHER_METHOD = "other_method"
    #: Signed for another notification URL. Facts: url, checked.
    OTHER_URL = "other_url"
    #: Signed without the notification URL. Facts: checked.
    URL_UNSIGNED = "url_unsigned"
    #: Signed without the timestamp. Facts: header.
    TIMESTAMP_UNSIGNED = "timestamp_unsigned"
    #: Over the bytes another scheme signs. Facts: scheme.
    OTHER_SCHEME_MESSAGE = "other_scheme_message"
    #: None of the near misses: the body changed or the secret differs. Facts: scheme.
    WRONG_SECRET = "wrong_secret"
    #: The timestamp looks like milliseconds. Facts: header.
    MILLISECONDS_TIMESTAMP = "milliseconds_timestamp"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True, slots=True)
class Hint:
    """One likely cause of a bad signature: its code, a plain sentence, the facts."""

    code: Cause
    #: One sentence in plain words, naming no command-line flag.
    text: str
    #: What the cause was found from, as plain values (the scheme that would verify, ...).
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "text": self.text, "facts": dict(self.facts)}


def hint(code: Cause, text: str, **facts: Any) -> Hint:
    """A hint of ``code``, its facts given by keyword."""
    return Hint(code, text, MappingProxyType(facts))
