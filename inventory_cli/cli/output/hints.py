"""A hint in the CLI's words: its sentence, and the flag that acts on it.

The core's ``Hint`` names its cause and facts in plain words a Python caller
can read; only here, at the edge, is the advice added that names an ``invwh``
flag (``try --scheme github``). Every cause has an entry, so a new cause
cannot reach the terminal without its words being decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...signing.hints import Cause, Hint
from ...transport.failures import Failure, FailureCause


def _as_is(hint: Hint) -> str:
    return hint.text


def _try_scheme(hint: Hint) -> str:
    return f"{hint.text}: try --scheme {hint.facts['scheme']}"


#: The words of each cause on the command line.
WORDS: dict[Cause, Callable[[Hint], str]] = {
    Cause.OTHER_SCHEME_HEADER: lambda hint: (
        f"there is a {hint.facts['header']} header: try --scheme {hint.facts['scheme']}"
    ),
    Cause.SIGNATURE_LIKE_HEADERS: _as_is,
    Cause.OTHER_SCHEME: _try_scheme,
    Cause.DIGEST_ENCODING: _as_is,
    Cause.VALUE_PREFIX: _as_is,
    Cause.UNUSABLE_SECRET: _as_is,
    Cause.DIGEST_SPELLING: _as_is,
    Cause.SIGNED_DIFFERENTLY: _as_is,
    Cause.TRAILING_NEWLINE: _as_is,
    Cause.LINE_ENDINGS: _as_is,
    Cause.RESERIALIZED_BODY: _as_is,
    Cause.OTHER_METHOD: _as_is,
    # The receiver side of the advice: listen and verify take the URL they check.
    Cause.OTHER_URL: lambda hint: f"{hint.text} (--notification-url)",
    Cause.URL_UNSIGNED: _as_is,
    Cause.TIMESTAMP_UNSIGNED: _as_is,
    Cause.OTHER_SCHEME_MESSAGE: _try_scheme,
    Cause.WRONG_SECRET: _as_is,
    Cause.MILLISECONDS_TIMESTAMP: _as_is,
}


def hint_words(hint: Hint) -> str:
    """``hint`` as the CLI says it, flag advice included."""
    return WORDS[hint.code](hint)


def hints_words(hints: Iterable[Hint]) -> list[str]:
    return [hint_words(hint) for hint in hints]


def hint_codes(hints: Iterable[Hint]) -> list[str]:
    """The stable ids of ``hints``, for JSON beside their words."""
    return [hint.code.value for hint in hints]


#: The flag that acts on a delivery's failure, by the failure's cause (``transport.failures``).
FAILURE_ADVICE = {FailureCause.UNTRUSTED_CERTIFICATE: "see --ca-bundle"}


def failure_words(failure: Failure | None) -> str | None:
    """A delivery's failure as the command line says it: the fact, then the flag that acts on it."""
    if failure is None:
        return None
    advice = FAILURE_ADVICE.get(failure.cause) if failure.cause is not None else None
    return f"{failure.message} ({advice})" if advice else failure.message
