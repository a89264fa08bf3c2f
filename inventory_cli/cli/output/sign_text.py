"""``invwh sign``'s text formats: ``Name: value`` header lines, the signature alone, a curl command.

Each is what another tool reads: curl's ``-H @FILE``, a shell variable, a
shell. They are never coloured or wrapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...errors import InputError

if TYPE_CHECKING:
    from ...events.payloads import Payload


def header_lines(headers: Mapping[str, str]) -> str:
    """``Name: value`` lines, as curl's ``-H @FILE`` and ``invwh verify -H @FILE`` read them."""
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


def curl_command(url: str, method: str, headers: Mapping[str, str], payload: Payload) -> str:
    """A runnable curl command that sends ``payload``'s exact bytes with ``headers``.

    curl exits 0 on any HTTP answer, so a 401 would pass for success in
    ``... | sh`` or a CI step: ``--fail-with-body`` makes a 4xx or 5xx exit 22
    and still prints the receiver's answer; ``-sS`` drops the progress meter
    but keeps curl's own errors.
    """
    import shlex

    lines = [f"curl -sS --fail-with-body --request {method} --url {shlex.quote(url)}"]
    lines += [f"--header {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    lines.append(f"--data-binary {shlex.quote(_curl_data(payload))}")
    return " \\\n  ".join(lines) + "\n"


#: Linux's MAX_ARG_STRLEN: exec refuses a longer single argument ("Argument list too long").
LONGEST_ARGUMENT = 128 * 1024


def _curl_data(payload: Payload) -> str:
    """The body as curl's ``--data-binary`` argument, or an InputError when a command line cannot
    carry those exact bytes: the receiver would get other bytes than were signed."""
    if payload.name != "<stdin>":
        return "@" + payload.name  # curl sends the file's bytes untouched, as they were signed
    advice = "save it to a file and sign the file (the command then sends it with --data-binary @FILE)"
    try:
        text = payload.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"--format curl cannot carry a body that is not UTF-8 text: {advice}") from None
    if text.startswith("@"):  # curl would read the file it names
        raise InputError(f"--format curl cannot carry a body that starts with '@': {advice}")
    if "\0" in text:  # argv strings end at a NUL: curl would send the bytes before it only
        raise InputError(f"--format curl cannot carry a body holding a NUL byte: {advice}")
    if len(payload.body) >= LONGEST_ARGUMENT:  # the argument and the NUL that ends it
        raise InputError(
            f"--format curl cannot carry a body over {LONGEST_ARGUMENT // 1024} KiB in one argument: {advice}"
        )
    return text
