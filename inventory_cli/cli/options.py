"""Options shared by several commands, and turning their values into core objects.

Settings are resolved in the order ``config/settings.py`` defines for every
way in: a command-line flag, an environment variable (named there once), the
config file, the built-in default. Click applies that order for ``--scheme``,
``--url`` and ``--tolerance`` (each option's ``envvar=`` is the resolver's
variable, and the group puts the config's values in ``ctx.default_map``:
``config_default_map``), so that a usage error names the flag or variable at
fault; the secrets, which have more ways in, are the resolver's
(``resolve_secrets``).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

import click
from click.core import ParameterSource

from ..config.settings import SCHEME_ENV, SECRET_ENV, TOLERANCE_ENV, URL_ENV
from ..errors import InputError
from ..files import file_access
from ..text import is_token
from ..urls import url_problem
from .context import AppContext

# Schemes and signing load when a command uses them: `invwh validate` needs neither.
if TYPE_CHECKING:
    from ..config.load import Config
    from ..signing.schemes import Scheme
    from ..signing.signatures import Secret
    from ..workflows.delivery import DeliveryOptions

F = TypeVar("F", bound=Callable[..., Any])

#: Config setting -> the parameter it gives a default to, in every command that has it.
CONFIG_PARAMETERS = {"url": "url", "scheme": "scheme_name", "tolerance": "tolerance"}


class URL(click.types.StringParamType):
    """A receiver's URL, checked where it is read (``urls.url_problem``): a malformed one
    is a usage error naming it, not a delivery that fails halfway through a run."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = super().convert(value, param, ctx)
        problem = url_problem(text)
        if problem is not None:
            self.fail(f"invalid URL {text!r}: {problem}", param, ctx)
        return text


class FiniteRange(click.FloatRange):
    """A number that is finite (no ``inf``, ``nan`` or ``1e309``) and within a range.

    Click's ``FloatRange`` lets ``nan`` through (every comparison with it is
    false) and ``inf`` when there is no upper bound; a timeout or a rate of
    either reaches ``select`` or ``sleep`` as a traceback or a hang.
    """

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: More retries than any receiver's hiccup needs; the backoff doubles after each.
MAX_RETRIES = 100

#: The longest wait a user may ask of one step (a day): longer is a typo, and the
#: operating system's timers refuse what does not fit their seconds.
MAX_SECONDS = 86_400.0


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
    from ..signing.schemes import BUILTIN_SCHEMES, DEFAULT_SCHEME

    return click.option(
        "--scheme",
        "scheme_name",
        default=DEFAULT_SCHEME,
        show_default=True,
        envvar=SCHEME_ENV,
        show_envvar=True,
        metavar="NAME",
        shell_complete=complete_scheme_name,
        help=f"Signature scheme: {', '.join(BUILTIN_SCHEMES)}, or one defined in the config file "
        "(`invwh schemes` lists them).",
    )(function)


def complete_scheme_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from ..signing.schemes import BUILTIN_SCHEMES

    names = list(BUILTIN_SCHEMES)
    try:
        from ..config.load import load_config

        config = load_config(ctx.find_root().params.get("config_path"))
    except Exception:  # a broken config file must not break the shell's completion
        config = None
    if config is not None:
        names += [name for name in config.schemes if name not in names]
    return [name for name in names if name.startswith(incomplete)]


def notification_url_option(help_text: str) -> Callable[[F], F]:
    """``--notification-url``, for the schemes that sign the URL a receiver is reached at (square)."""
    return click.option("--notification-url", metavar="URL", help=help_text)


def check_notification_url(scheme: Scheme, url: str | None, *, needed: bool = True) -> str | None:
    """``url`` checked against ``scheme``: refused for a scheme that does not sign a URL, and, when
    ``needed``, required by one that does."""
    if url is None:
        if needed and scheme.signs_url:
            raise click.UsageError(
                f"the {scheme.name} scheme signs the notification URL: give --notification-url URL, "
                "the URL the sender delivers to"
            )
        return None
    if not scheme.signs_url:
        raise click.UsageError(f"--notification-url: the {scheme.name} scheme does not sign the URL")
    from ..workflows.delivery import check_url

    return check_url(url)


def format_option(*choices: str, help_text: str = "") -> Callable[[F], F]:
    """``--format``, as every command declares it: one of ``choices``, the first by default.

    Each format's rendering lives in ``cli/output/`` (one module per format).
    """
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help_text or "Output format.",
    )


def current_config() -> Config | None:
    """The config file's settings for this run (loaded by the group), or None."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    return app.config if app is not None else None


def config_default_map(config: Config, commands: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``ctx.default_map`` for the group: the config's defaults for every command's parameters.

    A setting with a wrong value gives a default that raises its ``ConfigError`` when called:
    click calls it only for a command that has the parameter and no flag or variable setting
    it, so the file's mistake stops just the commands that would have used it.
    """
    defaults: dict[str, Any] = {}
    for setting, parameter in CONFIG_PARAMETERS.items():
        if setting in config.problems:
            defaults[parameter] = functools.partial(_raise_config_problem, config, setting)
        elif (value := getattr(config, setting)) is not None:
            defaults[parameter] = value
    return {name: dict(defaults) for name in commands}


def _raise_config_problem(config: Config, setting: str) -> Any:
    return getattr(config, setting)  # raises the setting's ConfigError


def resolve_scheme(name: str) -> Scheme:
    from ..signing.schemes import get_scheme

    config = current_config()
    return get_scheme(name, config.schemes if config is not None else None)


def resolve_secrets(values: Any, files: Any) -> list[Secret]:
    """The secrets from flags, else as ``config.settings.secrets`` finds them.

    Accepts a single value or a tuple for each, so one function serves commands
    with one secret and those that accept several.
    """
    from ..config import settings

    values = _as_tuple(values)
    files = _as_tuple(files)
    if values:
        hint_secret_on_command_line()
    texts = list(values) + [_read_secret_file(path) for path in files]
    return settings.secrets(
        texts,
        config=current_config(),
        ways=f"use --secret TEXT, --secret-file PATH or the {SECRET_ENV} environment variable",
    )


SECRET_HINT = f"invwh: hint: --secret shows in the process list; prefer ${SECRET_ENV} or --secret-file"


def hint_secret_on_command_line(stderr: Any = None) -> None:
    """Say on a terminal's stderr, in one line, that --secret's value is visible to other users.

    Only when the value came from the command line itself, and only to a
    person at a terminal: logs and pipes get nothing.
    """
    stderr = sys.stderr if stderr is None else stderr
    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source("secret_values") if ctx is not None else None
    if source not in (None, ParameterSource.COMMANDLINE):
        return
    isatty = getattr(stderr, "isatty", None)
    if isatty is not None and isatty():
        click.echo(SECRET_HINT, file=stderr)


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


#: Far more than any secret; a wrong path (a log, /dev/zero) is not read whole.
MAX_SECRET_FILE_BYTES = 64 * 1024


def _read_secret_file(path: str) -> str:
    with file_access(f"secret file {path}"), open(path, "rb") as file:
        data = file.read(MAX_SECRET_FILE_BYTES + 1)
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise InputError(f"secret file {path}: larger than 64 KiB; expected the secret alone")
    with file_access(f"secret file {path}"):
        # As open() in text mode read it before the cap: universal newlines.
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    # Editors and `echo` end files with a newline that is not part of the secret.
    text = text.removesuffix("\n").removesuffix("\r")
    if not text.strip():
        raise InputError(f"secret file {path}: the secret is empty")
    return text


def check_method(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A ``--method`` callback: refuse what cannot be an HTTP method before it is signed."""
    if not is_token(value):  # RFC 9110 section 9.1
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


def parse_headers(lines: tuple[str, ...], *, stdin: BinaryIO | None = None) -> dict[str, str]:
    """``-H`` values into headers. ``@FILE`` stands for the header lines in FILE, as curl's
    ``-H @file`` does (``invwh sign`` writes such a file); ``@-`` reads them from ``stdin``,
    when the command has it to spare (None: it does not)."""
    headers: dict[str, str] = {}
    for line in lines:
        if line.startswith("@"):
            for where, text in _header_file_lines(line[1:], stdin):
                try:
                    name, value = parse_header(text)
                except click.BadParameter as error:
                    raise InputError(f"header file {where}: {error.message}") from None
                headers[name] = value
            continue
        name, value = parse_header(line)
        headers[name] = value
    return headers


def require_signed_headers(scheme: Scheme, headers: Mapping[str, str]) -> None:
    """Refuse to sign for a scheme whose message names a header (``{header:Name}``) that the
    command was not given with -H: signed as empty text, the signature would hold for no
    delivery that carries the header."""
    from ..signing.signatures import missing_signed_headers

    missing = missing_signed_headers(scheme, headers)
    if missing:
        raise InputError(
            f"the {scheme.name} scheme signs the {missing[0]} header: give it with -H '{missing[0]}: VALUE'"
        )


#: More than any real set of headers; a wrong path (a log, an image) is not read whole.
_MAX_HEADER_FILE_BYTES = 1024 * 1024


def _header_file_lines(path: str, stdin: BinaryIO | None) -> Iterator[tuple[str, str]]:
    """The non-blank lines of a header file, each with where it is, for messages."""
    shown = "<stdin>" if path == "-" else path
    if not path:
        raise InputError("-H @FILE needs a file name after the @ (or @- for standard input)")
    if path == "-":
        if stdin is None:
            raise InputError("-H @-: this command reads no headers from standard input; use -H @FILE")
        data = stdin.read(_MAX_HEADER_FILE_BYTES + 1)
    else:
        with file_access(f"header file {path}"), open(path, "rb") as file:
            data = file.read(_MAX_HEADER_FILE_BYTES + 1)
    if len(data) > _MAX_HEADER_FILE_BYTES:
        raise InputError(f"header file {shown}: larger than 1 MiB; expected 'Name: value' lines")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"header file {shown}: not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{shown} line {number}", line


# --- where deliveries go: send, trigger, replay, check ----------------------------


class Endpoint:
    """The receiver's URL and how to reach it, from the options every delivering command shares."""

    def __init__(self, url: str, timeout: float, retries: int, tls_verify: bool | str) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.tls_verify = tls_verify

    def delivery_options(self, scheme: Scheme, secret: Secret | None, **extra: Any) -> DeliveryOptions:
        from ..workflows.delivery import DeliveryOptions

        return DeliveryOptions(
            url=self.url,
            scheme=scheme,
            secret=secret,
            timeout=self.timeout,
            retries=self.retries,
            tls_verify=self.tls_verify,
            **extra,
        )


def endpoint_options(
    *, retries: bool = True, url_required: bool = True, url_not_needed_with: str = "--print"
) -> Callable[[F], F]:
    """``--url``, ``--timeout``, ``--retries``, ``--insecure`` and ``--ca-bundle``, given to the
    command as one ``endpoint`` (None when ``--url`` is optional and absent: with the option
    ``url_not_needed_with`` names)."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(*args: Any, **kwargs: Any) -> Any:
            url = kwargs.pop("url")
            timeout = kwargs.pop("timeout")
            attempts = kwargs.pop("retries", 0)
            insecure, ca_bundle = kwargs.pop("insecure"), kwargs.pop("ca_bundle")
            if insecure and ca_bundle:
                raise InputError("give --insecure or --ca-bundle, not both")
            endpoint = None
            if url is not None:  # checked by the URL type where it was read
                endpoint = Endpoint(url, timeout, attempts, ca_bundle or not insecure)
            return function(*args, endpoint=endpoint, **kwargs)

        options = [
            click.option(
                "--url",
                type=URL(),
                required=url_required,
                envvar=URL_ENV,
                show_envvar=True,
                help="The receiver's URL."
                + ("" if url_required else f" Not needed with {url_not_needed_with}."),
            ),
            click.option(
                "--timeout",
                type=FiniteRange(min=0, max=MAX_SECONDS, min_open=True),
                default=10.0,
                show_default=True,
                help="Seconds to wait for each step of an answer.",
            ),
            *(
                [
                    click.option(
                        "--retries",
                        type=click.IntRange(0, MAX_RETRIES),
                        default=0,
                        show_default=True,
                        help="Retry connection errors, 5xx and 429 with exponential backoff "
                        "(never other 4xx).",
                    )
                ]
                if retries
                else []
            ),
            click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate."),
            click.option(
                "--ca-bundle",
                type=click.Path(exists=True, dir_okay=False),
                help="Trust this CA bundle for TLS.",
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command  # type: ignore[return-value]

    return decorate


def expect_option(function: F) -> F:
    return click.option(
        "--expect",
        "expected",
        type=click.IntRange(100, 599),
        multiple=True,
        help="A status that counts as success (repeatable) [default: 200].",
    )(function)


def report_options(function: F) -> F:
    """``--format text|json``, ``--junit FILE`` and ``-q``/``-v``, for commands that report cases.

    The command gets ``verbosity``: -1 quiet, 0 normal, 1 verbose.
    """

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        quiet, verbose = kwargs.pop("quiet"), kwargs.pop("verbose")
        if quiet and verbose:
            raise click.UsageError("give -q/--quiet or -v/--verbose, not both")
        return function(*args, verbosity=-1 if quiet else 1 if verbose else 0, **kwargs)

    decorated = click.option(
        "-v", "--verbose", is_flag=True, help="Show each request and the answer it got."
    )(command)
    decorated = click.option(
        "-q", "--quiet", is_flag=True, help="Print only what failed and the summary line."
    )(decorated)
    decorated = click.option(
        "--junit",
        "junit_path",
        type=click.Path(dir_okay=False),
        help="Also write a JUnit XML report, for CI systems.",
    )(decorated)
    return cast(F, format_option("text", "json")(decorated))


def progress_option(function: F) -> F:
    """``--progress/--no-progress``: where the run stands, on stderr while it runs (default: when
    stderr is a terminal). The command gets ``progress``: True, False or None (decide)."""
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show where the run stands on stderr while it runs [default: when stderr is a terminal].",
    )(function)


def address_options(*, port: int, host_help: str) -> Callable[[F], F]:
    """``--host`` (127.0.0.1 by default) and ``--port``, for the commands that serve
    (``listen``, ``inspect``): ``port`` is the default, 0 a free one."""

    def decorate(function: F) -> F:
        function = click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=port,
            show_default=True,
            help="The port; 0 picks a free one (the first line printed says which).",
        )(function)
        return click.option("--host", default="127.0.0.1", show_default=True, help=host_help)(function)

    return decorate


def tolerance_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--tolerance",
        type=click.IntRange(min=0),
        default=300,
        show_default=True,
        envvar=TOLERANCE_ENV,
        show_envvar=True,
        help=help_text,
    )
