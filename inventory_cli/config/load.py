"""Project settings from a config file: defaults and named schemes.

The file is ``--config PATH``, else ``invwh.toml`` in the current directory,
else the ``[tool.invwh]`` table of ``pyproject.toml`` there. It may set
defaults (``url``, ``scheme``, ``tolerance``, ``secret_env``: the *name* of
an environment variable holding the secret) and define schemes under
``[schemes.NAME]`` with the fields of ``schemes.Scheme``::

    url = "http://localhost:3000/webhooks"
    scheme = "acme"
    secret_env = "ACME_WEBHOOK_SECRET"

    [schemes.acme]
    signature_header = "X-Acme-Signature"
    encoding = "base64"
    message_template = "{timestamp}.{body}"
    timestamp_header = "X-Acme-Timestamp"
    header_aliases = { X-Legacy-Signature = "X-Acme-Signature" }   # optional

A plain ``secret`` is read only from a file that git does not track and that
only its owner can read. Every problem is a ``ConfigError`` of one line that
names the file and the key. TOML is parsed only when a file is found, so
commands run without one pay nothing for it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, SchemeDefinitionError
from ..files import file_access
from ..signing.schemes import BUILTIN_SCHEMES, REQUIRED_FIELDS, SCHEME_FIELDS, Scheme, get_scheme
from ..signing.signatures import Secret
from .find import PYPROJECT_NAME, find_config

#: The keys a config file may set, besides ``schemes``.
SETTINGS = ("url", "scheme", "tolerance", "secret_env", "secret")

_SCHEME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Config:
    #: The file the settings came from, as shown in messages.
    path: str
    url: str | None = None
    scheme: str | None = None
    tolerance: int | None = None
    #: The name of the environment variable that holds the secret.
    secret_env: str | None = None
    #: A secret written in the file itself (only from a private, untracked file).
    secret: Secret | None = None
    schemes: dict[str, Scheme] = field(default_factory=dict)

    def get_scheme(self, name: str) -> Scheme:
        return get_scheme(name, self.schemes)


def load_config(
    explicit: str | None = None, directory: str | os.PathLike[str] | None = None
) -> Config | None:
    """The settings from ``explicit`` (``--config``), or from the file found in ``directory``.

    An explicit ``pyproject.toml`` is read for its ``[tool.invwh]`` table.
    None when no file is given or found, or a found ``pyproject.toml`` has no
    ``[tool.invwh]``.
    """
    if explicit is not None:
        path = explicit
        in_pyproject = os.path.basename(path) == PYPROJECT_NAME
        shown = explicit
    else:
        found = find_config(directory)
        if found is None:
            return None
        path, in_pyproject = found
        shown = os.path.basename(path)
    data = _parse(path, shown)
    if in_pyproject:
        table = data.get("tool", {}).get("invwh") if isinstance(data.get("tool"), dict) else None
        if table is None:
            if explicit is not None:
                raise ConfigError(f"{shown}: no [tool.invwh] table")
            return None
        return parse_config(table, path, shown=shown, prefix="tool.invwh.")
    return parse_config(data, path, shown=shown)


def _parse(path: str, shown: str) -> dict[str, Any]:
    with file_access(f"config file {shown}", error=ConfigError), open(path, "rb") as file:
        text = file.read().decode("utf-8")
    # Imported here: most runs have no config file and never pay for it.
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib  # the backport of tomllib, a dependency on Python 3.10 only
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: not valid TOML: {error}") from None


def parse_config(data: Mapping[str, Any], path: str, *, shown: str, prefix: str = "") -> Config:
    """Check and convert a parsed config table. ``prefix`` is where it sits in the file."""

    def bad(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{shown}: {prefix}{key} {problem}")

    unknown = [key for key in data if key not in (*SETTINGS, "schemes")]
    if unknown:
        known = ", ".join((*SETTINGS, "schemes"))
        raise bad(unknown[0], f"is not a setting (known: {known})")

    schemes = _parse_schemes(data.get("schemes", {}), shown, bad)
    settings: dict[str, Any] = {}
    if "url" in data:
        url = data["url"]
        from urllib.parse import urlsplit  # only a file that sets a url pays for it

        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad("url", "must be an http:// or https:// URL with a host")
        settings["url"] = url
    if "scheme" in data:
        name = data["scheme"]
        if not isinstance(name, str) or (name not in BUILTIN_SCHEMES and name not in schemes):
            known = ", ".join([*BUILTIN_SCHEMES, *schemes])
            raise bad("scheme", f"must name a built-in scheme or one under [schemes] ({known})")
        settings["scheme"] = name
    if "tolerance" in data:
        tolerance = data["tolerance"]
        if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
            raise bad("tolerance", "must be a whole number of seconds, 0 or more (0 turns the check off)")
        settings["tolerance"] = tolerance
    if "secret_env" in data:
        name = data["secret_env"]
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise bad("secret_env", "must be the name of an environment variable, such as ACME_SECRET")
        settings["secret_env"] = name
    if "secret" in data:
        text = data["secret"]
        if not isinstance(text, str) or not text.strip():
            raise bad("secret", "must be a non-empty string")
        _refuse_unsafe_secret_file(path, shown, prefix)
        settings["secret"] = Secret(text)
    return Config(path=shown, schemes=schemes, **settings)


def _parse_schemes(table: Any, shown: str, bad: Callable[[str, str], ConfigError]) -> dict[str, Scheme]:
    if not isinstance(table, dict):
        raise bad("schemes", "must be a table of schemes: [schemes.NAME]")
    schemes = {}
    for name, definition in table.items():
        key = f"schemes.{name}"
        if not _SCHEME_NAME.fullmatch(name):
            raise bad(key, "is not a usable scheme name: letters, digits, '.', '_' and '-'")
        if not isinstance(definition, dict):
            raise bad(key, f"must be a table: [schemes.{name}]")
        unknown = [k for k in definition if k not in SCHEME_FIELDS]
        if unknown:
            raise bad(f"{key}.{unknown[0]}", f"is not a scheme field (known: {', '.join(SCHEME_FIELDS)})")
        for required in REQUIRED_FIELDS:
            if required not in definition:
                raise bad(key, f"needs {required}")
        for field_name, value in definition.items():
            if field_name == "header_aliases":
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    raise bad(f"{key}.{field_name}", 'must be a table of names: { svix-id = "webhook-id" }')
            elif not isinstance(value, str):
                raise bad(f"{key}.{field_name}", "must be a string")
        fields = {"summary": f"Defined in {shown}.", **definition}
        try:
            scheme = Scheme(name=name, **fields)
        except SchemeDefinitionError as error:
            raise bad(f"{key}.{error.field}", error.problem) from None
        builtin = BUILTIN_SCHEMES.get(name)
        if builtin is not None and scheme != builtin:
            raise bad(key, f"differs from the built-in {name} scheme: give yours another name")
        schemes[name] = scheme
    return schemes


def _refuse_unsafe_secret_file(path: str, shown: str, prefix: str) -> None:
    """Raise ConfigError unless ``path`` is private to its owner and not tracked by git."""
    key = f"{prefix}secret"
    advice = "put the secret in an environment variable and name it with secret_env instead"
    if _tracked_by_git(path):
        raise ConfigError(
            f"{shown}: refusing the plain {key}: the file is tracked by git, so everyone with "
            f"the repository has the secret; {advice}"
        )
    if os.name != "nt":  # Windows has no group and other permission bits to look at
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o044:
            raise ConfigError(
                f"{shown}: refusing the plain {key}: the file is readable by other users "
                f"(mode {mode:o}); run `chmod 600 {shown}`, or {advice}"
            )


def _tracked_by_git(path: str) -> bool:
    """Whether git tracks ``path``; False when git is absent or the file is in no repository."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "ls-files", "--error-unmatch", "--", os.path.basename(path)],
            cwd=os.path.dirname(os.path.abspath(path)),
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
