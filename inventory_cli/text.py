"""Text for messages: what a sender or a file gave us, shortened to fit one line."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its start and an ellipsis, ``limit`` long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
