"""The settings every way in shares, and the one order they are resolved in.

A setting (the secret, the scheme, the receiver's URL, the timestamp
tolerance) comes from, first to last: the explicit value (a command's flag, a
Locust user's class attribute), the environment (the variables below, each
named here once), the caller's own settings file when it has one (the pytest
plugin's ini options), the config file (``invwh.toml``, ``[tool.invwh]``,
``$INVWH_CONFIG``: ``load.py``), the built-in default. The CLI, the pytest
plugin, the Locust user and the GitHub Action's step all resolve through
here; the CLI lets click apply the same order for ``--scheme``, ``--url`` and
``--tolerance`` (``envvar=`` from ``ENVIRONMENT``, the config's values as its
``default_map``), so that its messages name the flag or variable at fault.

A config file's wrong value is said (``ConfigError``) only when a setting is
read from it: a flag or variable that gives the setting keeps it from
mattering. A secret is remembered for redaction (``text.remember_secret``)
here, where it is read, whichever way it came. This module imports nothing at
start-up beyond ``os``: ``invwh validate`` reads a variable name from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import InputError, MissingSecretError

if TYPE_CHECKING:
    from ..signing.schemes import Scheme
    from ..signing.signatures import Secret
    from .load import Config

SECRET_ENV = "INVWH_SECRET"
SCHEME_ENV = "INVWH_SCHEME"
URL_ENV = "INVWH_URL"
TOLERANCE_ENV = "INVWH_TOLERANCE"
#: The config file to read instead of the one found in the current directory.
CONFIG_ENV = "INVWH_CONFIG"

#: Setting -> the environment variable that gives it (the secret's is ``SECRET_ENV``).
ENVIRONMENT = {"scheme": SCHEME_ENV, "url": URL_ENV, "tolerance": TOLERANCE_ENV}


def load_settings_file(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    directory: str | os.PathLike[str] | None = None,
) -> Config | None:
    """The config file: ``explicit``, else ``$INVWH_CONFIG``, else the one found in
    ``directory`` (default: the current one); None when there is none."""
    from .find import find_config

    path = explicit or environ.get(CONFIG_ENV) or None
    # Most runs have no config file: look before importing the module that reads one.
    if path is None and find_config(directory) is None:
        return None
    from .load import load_config

    return load_config(path, directory)


def setting(
    name: str,
    explicit: str | int | None = None,
    *,
    config: Config | None,
    environ: Mapping[str, str] = os.environ,
    local: str | None = None,
) -> str | int | None:
    """``name`` (``scheme``, ``url`` or ``tolerance``) in the order above; None when nothing gives it.

    A variable set to the empty text counts as unset, as click counts it.
    """
    if explicit is not None:
        return explicit
    from_environment = environ.get(ENVIRONMENT[name])
    if from_environment:
        return from_environment
    if local:
        return local
    if config is None:
        return None
    value: str | int | None = getattr(config, name)  # raises the setting's ConfigError
    return value


def scheme_name(
    explicit: str | None = None,
    *,
    config: Config | None,
    environ: Mapping[str, str] = os.environ,
    local: str | None = None,
) -> str:
    """The signature scheme's name; ``inventory-v1`` when nothing names one."""
    name = setting("scheme", explicit, config=config, environ=environ, local=local)
    if name is None:
        from ..signing.schemes import DEFAULT_SCHEME

        return DEFAULT_SCHEME
    return str(name)


def scheme(
    explicit: str | None = None,
    *,
    config: Config | None,
    environ: Mapping[str, str] = os.environ,
    local: str | None = None,
) -> Scheme:
    """The signature scheme: built in, or defined in the config file."""
    from ..signing.schemes import get_scheme

    name = scheme_name(explicit, config=config, environ=environ, local=local)
    return get_scheme(name, config.schemes if config is not None else None)


def url(
    explicit: str | None = None, *, config: Config | None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The receiver's URL, checked (``urls.url_problem``); None when nothing gives one."""
    from ..urls import url_problem

    value = setting("url", explicit, config=config, environ=environ)
    if value is None:
        return None
    text = str(value)
    problem = url_problem(text)
    if problem is not None:
        where = "" if explicit is not None else f" ({URL_ENV})" if environ.get(URL_ENV) else ""
        raise InputError(f"invalid URL {text!r}{where}: {problem}")
    return text


def tolerance(
    explicit: int | None = None, *, config: Config | None, environ: Mapping[str, str] = os.environ
) -> int | None:
    """How old a timestamp may be, in seconds (0: not checked); None: the command's default."""
    value = setting("tolerance", explicit, config=config, environ=environ)
    if value is None or isinstance(value, int):
        return value
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise InputError(f"{TOLERANCE_ENV}: {value!r} is not a whole number of seconds, 0 or more")
    return seconds


def secrets(
    explicit: Sequence[str] = (),
    *,
    config: Config | None,
    ways: str,
    environ: Mapping[str, str] = os.environ,
    local: str | None = None,
    default: str | None = None,
) -> list[Secret]:
    """The secrets: the explicit ones, else ``$INVWH_SECRET``, else ``local``, else the
    config file's (the variable its ``secret_env`` names, then a plain ``secret``),
    else ``default``. Each is remembered for redaction.

    Raises ``MissingSecretError`` when none is given; ``ways`` says, in its
    message, how the caller's user gives one (``use --secret TEXT, ...``).
    """
    texts = list(explicit)
    if not texts and environ.get(SECRET_ENV) is not None:
        texts = [environ[SECRET_ENV]]
    if not texts and local:
        texts = [local]
    if not texts and config is not None:
        named = config.secret_env
        if named and environ.get(named) is not None:
            texts = [environ[named]]
        elif config.secret is not None:
            texts = [config.secret.key.decode("utf-8")]
    if not texts and default is not None:
        texts = [default]
    if not texts:
        unset = (
            f" ({config.path} names {config.secret_env}, which is not set)"
            if config is not None and config.secret_env
            else ""
        )
        raise MissingSecretError(f"no secret given: {ways}{unset}")
    from ..signing.signatures import Secret
    from ..text import remember_secret

    read = [Secret(text) for text in texts]
    for text in texts:  # whatever invwh prints or writes from now on hides it, whoever echoed it
        remember_secret(text)
    return read
