"""Options shared by several commands, and turning their values into core objects."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import InputError, MissingSecretError
from ..schemes import BUILTIN_SCHEMES, DEFAULT_SCHEME, Scheme, get_scheme
from ..signing import Secret

F = TypeVar("F", bound=Callable[..., Any])

SECRET_ENV = "INVWH_SECRET"


def secret_options(*, multiple: bool = False) -> Callable[[F], F]:
    """``--secret`` (repeatable for key rotation when ``multiple``) and ``--secret-file``."""
    rotation = " Repeat to accept any of several secrets (key rotation)." if multiple else ""

    def decorate(function: F) -> F:
        function = click.option(
            "--secret-file",
            type=click.Path(dir_okay=False),
            multiple=multiple,
            help="Read the secret from this file (a trailing newline is dropped).",
        )(function)
        return click.option(
            "--secret",
            "secret_values",
            multiple=multiple,
            metavar="TEXT",
            help=f"The shared secret. Prefer --secret-file or ${SECRET_ENV}: "
            f"the process list shows arguments.{rotation}",
        )(function)

    return decorate


def scheme_option(function: F) -> F:
    return click.option(
        "--scheme",
        "scheme_name",
        default=DEFAULT_SCHEME,
        show_default=True,
        metavar="NAME",
        help=f"Signature scheme: {', '.join(BUILTIN_SCHEMES)}.",
    )(function)


def format_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def resolve_scheme(name: str) -> Scheme:
    return get_scheme(name)


def resolve_secrets(values: Any, files: Any) -> list[Secret]:
    """The secrets from flags, files or the environment, in that order of precedence.

    Accepts a single value or a tuple for each, so one function serves commands
    with one secret and those that accept several.
    """
    values = _as_tuple(values)
    files = _as_tuple(files)
    texts = list(values) + [_read_secret_file(path) for path in files]
    if not texts:
        from_env = os.environ.get(SECRET_ENV)
        if from_env is not None:
            texts = [from_env]
    if not texts:
        raise MissingSecretError(
            f"no secret given: use --secret TEXT, --secret-file PATH or the {SECRET_ENV} environment variable"
        )
    return [Secret(text) for text in texts]


def resolve_secret(value: str | None, file: str | None) -> Secret:
    secrets = resolve_secrets(value, file)
    if len(secrets) > 1:
        raise InputError("give one secret: --secret or --secret-file, not both")
    return secrets[0]


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _read_secret_file(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"secret file {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"secret file {path}: is a directory") from None
    except PermissionError:
        raise InputError(f"secret file {path}: permission denied") from None
    except UnicodeDecodeError:
        raise InputError(f"secret file {path}: not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"secret file {path}: cannot read: {error.strerror or error}") from None
    # Editors and `echo` end files with a newline that is not part of the secret.
    text = text.removesuffix("\n").removesuffix("\r")
    if not text.strip():
        raise InputError(f"secret file {path}: the secret is empty")
    return text


#: An HTTP method is a token (RFC 9110 section 5.6.2).
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_method(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A ``--method`` callback: refuse what cannot be an HTTP method before it is signed."""
    if not _METHOD.fullmatch(value):
        raise click.BadParameter(f"not an HTTP method: {value!r}")
    return value


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` into ``("Name", "value")``."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name or any(c.isspace() for c in name):
        raise click.BadParameter(f"expected 'Name: value', got {text!r}", param_hint="'-H' / '--header'")
    return name, value.strip()


def header_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "-H",
        "--header",
        "header_lines",
        multiple=True,
        metavar="'NAME: VALUE'",
        help=help_text,
    )


def parse_headers(lines: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, value = parse_header(line)
        headers[name] = value
    return headers
