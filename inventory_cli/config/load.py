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
from typing import Any, cast

from ..errors import ConfigError, SchemeDefinitionError
from ..files import file_access
from ..signing.schemes import BUILTIN_SCHEMES, REQUIRED_FIELDS, SCHEME_FIELDS, Scheme, get_scheme
from ..signing.signatures import Secret
from ..urls import url_problem
from .find import PYPROJECT_NAME, find_config

#: The keys a config file may set, besides ``schemes``.
SETTINGS = ("url", "scheme", "tolerance", "secret_env", "secret")

_SCHEME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Config:
    """A config file's settings. A setting whose value is wrong is kept as its problem, said
    (``ConfigError``) only when a command reads it: a bad ``url`` stops ``send``, not
    ``invwh schemes``, as a flag that overrides it would have kept it from mattering."""

    def __init__(
        self,
        path: str,
        *,
        url: str | None = None,
        scheme: str | None = None,
        tolerance: int | None = None,
        secret_env: str | None = None,
        secret: Secret | None = None,
        schemes: dict[str, Scheme] | None = None,
        problems: Mapping[str, str] | None = None,
    ) -> None:
        #: The file the settings came from, as shown in messages.
        self.path = path
        self._values: dict[str, Any] = {
            "url": url,
            "scheme": scheme,
            "tolerance": tolerance,
            "secret_env": secret_env,
            "secret": secret,
            "schemes": schemes or {},
        }
        #: Setting -> the one line that says what is wrong with its value (file and key named).
        self.problems: dict[str, str] = dict(problems or {})

    def _read(self, key: str) -> Any:
        problem = self.problems.get(key)
        if problem is not None:
            raise ConfigError(problem)
        return self._values[key]

    @property
    def url(self) -> str | None:
        return cast("str | None", self._read("url"))

    @property
    def scheme(self) -> str | None:
        return cast("str | None", self._read("scheme"))

    @property
    def tolerance(self) -> int | None:
        return cast("int | None", self._read("tolerance"))

    @property
    def secret_env(self) -> str | None:
        """The name of the environment variable that holds the secret."""
        return cast("str | None", self._read("secret_env"))

    @property
    def secret(self) -> Secret | None:
        """A secret written in the file itself (only from a private, untracked file)."""
        return cast("Secret | None", self._read("secret"))

    @property
    def schemes(self) -> dict[str, Scheme]:
        return cast("dict[str, Scheme]", self._read("schemes"))

    def get_scheme(self, name: str) -> Scheme:
        return get_scheme(name, self.schemes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return (self.path, self._values, self.problems) == (other.path, other._values, other.problems)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Config(path={self.path!r}, problems={sorted(self.problems)!r})"


def load_config(
    explicit: str | None = None, directory: str | os.PathLike[str] | None = None
) -> Config | None:
    """The settings from ``explicit`` (``--config``), or from the file found in ``directory``.

    An explicit ``pyproject.toml`` is read for its ``[tool.invwh]`` table.
    None when no file is given or found, or a found ``pyproject.toml`` has no
    ``[tool.invwh]``. A file that is not TOML, or not a table of settings, is
    a ``ConfigError`` here; a wrong value, when a command reads it.
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
        tool = data.get("tool")
        table = tool.get("invwh") if isinstance(tool, dict) else None
        if table is None:
            if explicit is not None:
                raise ConfigError(f"{shown}: no [tool.invwh] table")
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{shown}: tool.invwh must be a table of settings: [tool.invwh]")
        return parse_config(table, path, shown=shown, prefix="tool.invwh.")
    return parse_config(data, path, shown=shown)


#: Far more than any config holds; a wrong path (a log, a device) is not read whole.
MAX_CONFIG_BYTES = 1024 * 1024
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def _parse(path: str, shown: str) -> dict[str, Any]:
    what = f"config file {shown}"
    with file_access(what, error=ConfigError):
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what}: larger than 1 MiB; is it the config file?")
        # Notepad and other Windows editors start UTF-8 files with a byte-order mark, which TOML
        # does not allow; it says nothing, so it is dropped rather than called invalid TOML.
        text = data.removeprefix(_BYTE_ORDER_MARK).decode("utf-8")
    # Imported here: most runs have no config file and never pay for it.
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib  # the backport of tomllib, a dependency on Python 3.10 only
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ConfigError(f"{shown}: not valid TOML: nested too deeply") from None


def parse_config(data: Mapping[str, Any], path: str, *, shown: str, prefix: str = "") -> Config:
    """Check and convert a parsed config table. ``prefix`` is where it sits in the file.

    An unknown key is an error at once (a typo must not pass silently); a
    known key with a wrong value becomes one of the config's ``problems``.
    """
    unknown = [key for key in data if key not in (*SETTINGS, "schemes")]
    if unknown:
        known = ", ".join((*SETTINGS, "schemes"))
        raise ConfigError(f"{shown}: {prefix}{unknown[0]} is not a setting (known: {known})")

    settings: dict[str, Any] = {}
    problems: dict[str, str] = {}
    readers: dict[str, Callable[[Any], Any]] = {
        "schemes": lambda table: _parse_schemes(table, shown),
        "url": _checked_url,
        "scheme": lambda name: _checked_scheme_name(name, data.get("schemes")),
        "tolerance": _checked_tolerance,
        "secret_env": _checked_env_name,
        "secret": lambda text: _checked_secret(text, path, shown, prefix),
    }
    for key, read in readers.items():
        if key not in data:
            continue
        try:
            settings[key] = read(data[key])
        except _BadValue as bad:
            problems[key] = f"{shown}: {prefix}{bad.key or key} {bad}"
        except ConfigError as error:
            problems[key] = str(error)
    return Config(shown, problems=problems, **settings)


class _BadValue(ValueError):
    """What is wrong with a setting's value; ``key`` when it is a key inside the setting."""

    def __init__(self, problem: str, key: str = "") -> None:
        super().__init__(problem)
        self.key = key


def _checked_url(url: Any) -> str:
    if not isinstance(url, str):
        raise _BadValue("must be an http:// or https:// URL with a host, in quotes")
    problem = url_problem(url)
    if problem is not None:
        raise _BadValue(f"{url!r} is not a usable URL: {problem}")
    return url


def _checked_scheme_name(name: Any, schemes: Any) -> str:
    defined = list(schemes) if isinstance(schemes, dict) else []
    if not isinstance(name, str) or (name not in BUILTIN_SCHEMES and name not in defined):
        known = ", ".join([*BUILTIN_SCHEMES, *defined])
        raise _BadValue(f"must name a built-in scheme or one under [schemes] ({known})")
    return name


def _checked_tolerance(tolerance: Any) -> int:
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
        raise _BadValue("must be a whole number of seconds, 0 or more (0 turns the check off)")
    return tolerance


def _checked_env_name(name: Any) -> str:
    if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
        raise _BadValue("must be the name of an environment variable, such as ACME_SECRET")
    return name


def _checked_secret(text: Any, path: str, shown: str, prefix: str) -> Secret:
    if not isinstance(text, str) or not text.strip():
        raise _BadValue("must be a non-empty string")
    _refuse_unsafe_secret_file(path, shown, prefix)
    return Secret(text)


def _parse_schemes(table: Any, shown: str) -> dict[str, Scheme]:
    def bad(key: str, problem: str) -> _BadValue:
        return _BadValue(problem, key)

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
