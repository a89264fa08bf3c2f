"""Text: what a sender or a file gave us, shortened to fit one line, and HTTP's tokens."""

from __future__ import annotations

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
