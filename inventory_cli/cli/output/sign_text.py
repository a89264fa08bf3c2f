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


def _curl_data(payload: Payload) -> str:
    if payload.name != "<stdin>":
        return "@" + payload.name  # curl sends the file's bytes untouched, as they were signed
    try:
        text = payload.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("--format curl needs the payload as a file when it is not UTF-8 text") from None
    if text.startswith("@"):
        raise InputError("--format curl needs the payload as a file when it starts with '@'")
    return text
