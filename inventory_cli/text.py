"""Text: what a sender or a file gave us, shortened to fit one line, and HTTP's tokens.

And the two things every output does to text from outside: ``printable``
escapes its control characters, ``redact`` hides every secret the run knows
(``remember_secret``), in the forms a receiver may echo it; ``outside`` does both.
"""

from __future__ import annotations

import contextlib

#: The characters of a token (RFC 9110 section 5.6.2), which a header name and a method are.
TOKEN_CHARACTERS = "!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"


def shorten(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its start and an ellipsis, ``limit`` long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_token(text: object) -> bool:
    """Whether ``text`` is an HTTP token: a header name, a method."""
    # Stripping a token's characters leaves nothing of a token; a regex would
    # cost every start of invwh its compilation.
    return isinstance(text, str) and bool(text) and not text.strip(TOKEN_CHARACTERS)


# --- text from outside: escaped, and every known secret redacted --------------------

# C0 and C1 control characters (escape included) and DEL, shown as \xNN.
_CONTROL_CHARACTERS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN``: safe on any terminal, and one line.

    Everything from outside (a receiver's reason phrase and body, a
    recording's fields, a file name) goes through this before it is shown, so
    an ESC or a BEL cannot retitle or clear the terminal and a newline cannot
    start a line of its own (a CI log's ``::warning::``).
    """
    return text if text.isprintable() else text.translate(_CONTROL_CHARACTERS)


#: What a secret is replaced with wherever invwh prints or writes it.
REDACTED = "[redacted]"
#: Secrets and derived forms shorter than these are not redacted: they would blank ordinary words
#: (and no receiver's check of a 5-character secret is worth hiding).
_SHORTEST_TEXT, _SHORTEST_FORM = 6, 8
#: The run's secrets, in every form a receiver may echo, longest first.
_secret_forms: list[str] = []


_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")
_STANDARD_TO_URL_SAFE = str.maketrans("+/", "-_")


def remember_secret(text: str) -> None:
    """Marks ``text`` as a secret: from now on ``redact`` hides it wherever invwh prints or writes.

    Besides the text itself, the forms a receiver is likely to
    echo are hidden too: the part after a prefix such as ``whsec_``, that
    part's decoded bytes, and the text's bytes in hex and base64.
    """
    # binascii, not base64: `invwh sign` remembers its secret, and base64 (with struct) is ~1% of
    # its start-up. b64decode and urlsafe_b64decode are these a2b_base64 calls.
    import binascii

    if text == "whsec_":
        # A bare prefix holds no key (it is refused as a secret), and hiding it would blank the
        # error message that explains the form: "whsec_<base64>".
        return
    forms = {text}
    candidates = [text.encode("utf-8", "surrogateescape")]
    _, underscore, rest = text.rpartition("_")
    if underscore and len(rest) >= _SHORTEST_FORM:  # whsec_<base64>: the key is the base64's bytes
        forms.add(rest)
        padded = rest + "=" * (-len(rest) % 4)
        for decode, given in (
            (binascii.a2b_base64, padded),
            (binascii.a2b_base64, padded.translate(_URL_SAFE_TO_STANDARD)),
            (bytes.fromhex, rest),
        ):
            with contextlib.suppress(ValueError, binascii.Error):
                candidates.append(decode(given))
    for key in candidates:
        standard = binascii.b2a_base64(key, newline=False).decode()
        for encoded in (key.hex(), key.hex().upper(), standard, standard.translate(_STANDARD_TO_URL_SAFE)):
            forms.update({encoded, encoded.rstrip("=")})
        with contextlib.suppress(UnicodeDecodeError):
            forms.add(key.decode("utf-8"))
    forms = {form for form in forms if len(form) >= (_SHORTEST_TEXT if form == text else _SHORTEST_FORM)}
    _secret_forms[:] = sorted(set(_secret_forms) | forms, key=len, reverse=True)


def forget_secrets() -> None:
    """Starts a run knowing no secret: one process may run invwh more than once (a test's
    CliRunner, an embedder), and each run hides its own secrets, not every earlier run's."""
    _secret_forms.clear()


def redact(text: str) -> str:
    """``text`` with every form of every remembered secret replaced by ``[redacted]``."""
    for form in _secret_forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def redact_value(value: object) -> object:
    """``redact`` through a document's strings (in dicts and lists; keys are invwh's own)."""
    if not _secret_forms:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item) for item in value]
    return value


def secret_forms() -> tuple[str, ...]:
    """Every form ``redact`` hides, longest first (empty when no secret is known)."""
    return tuple(_secret_forms)


def outside(text: str) -> str:
    """Text from outside, ready for a terminal or a log: secrets redacted, control characters escaped.

    The one function every output applies to what it did not write itself.
    """
    return printable(redact(text))
