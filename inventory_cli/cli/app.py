"""The ``invwh`` group: loads commands lazily and turns errors into exit statuses.

This is the one place where the core's exceptions and a run's outcome become
a line on stderr and an exit status (``status.py``). Commands return an
``outcome.Outcome`` for their verdict, or the ``Report`` of a run (an
``outcome.Ended``: its outcome decides, its reasons are said), or raise an
``errors.InvwhError``; they neither pick an exit status nor print an error.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

import click

from ..config.settings import CONFIG_ENV, load_settings_file
from ..errors import DeliveryError, InvalidPayloadError, InvwhError
from ..outcome import Ended, Outcome
from ..text import forget_secrets
from ..version import __version__
from .context import AppContext
from .status import ExitStatus

# name -> "module:attribute". Importing a command only when it runs keeps
# `invwh sign` from paying for requests or jsonschema it does not use.
COMMANDS = {
    "demo": "inventory_cli.cli.commands.demo:demo",
    "samples": "inventory_cli.cli.commands.samples:samples",
    "sign": "inventory_cli.cli.commands.sign:sign",
    "verify": "inventory_cli.cli.commands.verify:verify",
    "audit": "inventory_cli.cli.commands.audit:audit",
    "validate": "inventory_cli.cli.commands.validate:validate",
    "schema": "inventory_cli.cli.commands.schema:schema",
    "send": "inventory_cli.cli.commands.send:send",
    "trigger": "inventory_cli.cli.commands.trigger:trigger",
    "listen": "inventory_cli.cli.commands.listen:listen",
    "replay": "inventory_cli.cli.commands.replay:replay_command",
    "inspect": "inventory_cli.cli.commands.inspect:inspect_command",
    "check": "inventory_cli.cli.commands.check:check",
    "schemes": "inventory_cli.cli.commands.schemes:schemes",
}


#: What a command comes to, and the exit status it ends in: the only such table.
OUTCOME_STATUS = {
    Outcome.OK: ExitStatus.OK,
    Outcome.FAILED: ExitStatus.CHECK_FAILED,
    Outcome.UNDELIVERED: ExitStatus.DELIVERY_FAILED,
    Outcome.INTERRUPTED: ExitStatus.INTERRUPTED,
    Outcome.NOTHING_TO_DELIVER: ExitStatus.USAGE,
}


def status_for(error: InvwhError) -> ExitStatus:
    if isinstance(error, DeliveryError):
        return ExitStatus.DELIVERY_FAILED
    if isinstance(error, InvalidPayloadError):
        return ExitStatus.CHECK_FAILED
    return ExitStatus.USAGE


def fail(message: str, details: Iterable[str] = ()) -> None:
    """The one-line error, then any details (an invalid event's problems) indented below it."""
    from ..text import outside  # a message may quote a file name or a receiver: escaped, redacted

    click.echo(f"invwh: error: {outside(message)}", err=True)
    for detail in details:
        click.echo(f"  {outside(detail)}", err=True)


def usage_error(error: click.UsageError, command: str = "invwh") -> click.exceptions.Exit:
    """A usage error said as every other error is: one line, then exit status 2.

    Click's own form is four lines (usage, a hint, a blank, the error); a
    script's log or a CI step wants the error, and ``--help`` has the usage.
    A bare ``invwh`` still shows the help, as click does. ``command`` is
    the command whose help to point to when the error does not say.
    """
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        raise error
    message = error.format_message()
    message = message[:1].lower() + message[1:]
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]
    if error.ctx is not None:
        command = error.ctx.command_path
    fail(f"{message} (see '{command} --help')")
    return click.exceptions.Exit(ExitStatus.USAGE)


#: The group's options, and whether each takes a value: accepted after the command name too.
GROUP_OPTIONS = {"--color": False, "--no-color": False, "--config": True}


def hoist_group_options(args: list[str]) -> list[str]:
    """``args`` with the group's options that follow the command name moved before it.

    ``invwh send --no-color ...`` is how people type it (git and docker
    accept both places); click knows a group's options only before the
    command. Nothing after ``--`` is touched, and no command has an option
    of the same name, so nothing of the command's is taken.
    """
    position = 0
    while position < len(args) and args[position].startswith("-") and args[position] != "--":
        position += 2 if GROUP_OPTIONS.get(args[position]) else 1
    if position >= len(args):
        return args
    before, command, after = args[:position], args[position], args[position + 1 :]
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(after):
        arg = after[index]
        if arg == "--":
            rest += after[index:]
            break
        name = arg.partition("=")[0]
        takes_value = GROUP_OPTIONS.get(name, False) and "=" not in arg
        if name in GROUP_OPTIONS and index + takes_value < len(after):
            hoisted += after[index : index + 1 + takes_value]
            index += 1 + takes_value
            continue
        rest.append(arg)
        index += 1
    return [*before, *hoisted, command, *rest]


class InvwhGroup(click.Group):
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            raise usage_error(error) from None
        except KeyboardInterrupt:  # click would say "Aborted!" and exit 1
            click.echo("invwh: interrupted", err=True)
            raise click.exceptions.Exit(ExitStatus.INTERRUPTED) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_group_options(args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        typed = args[0] if args else ""
        if typed and typed not in COMMANDS and not typed.startswith("-") and not ctx.resilient_parsing:
            import difflib  # only a typo pays for it; matched on the names, importing no command

            close = difflib.get_close_matches(typed, COMMANDS, n=1)
            if close:
                ctx.fail(f"No such command {typed!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except click.UsageError as error:  # the command's own, or its options' parsing
            command = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
            raise usage_error(error, command) from None
        except InvwhError as error:
            fail(str(error), error.details if isinstance(error, InvalidPayloadError) else ())
            ctx.exit(int(status_for(error)))
        except KeyboardInterrupt:
            click.echo("invwh: interrupted", err=True)
            ctx.exit(int(ExitStatus.INTERRUPTED))
        if isinstance(result, Ended):  # a run's report: say why it fell short, whatever the format
            for reason in result.reasons():
                fail(reason)
            result = result.outcome
        if isinstance(result, Outcome):
            if result is Outcome.INTERRUPTED:
                click.echo("invwh: interrupted", err=True)
            # A plain int: SystemExit.code is what a caller of main() sees, and an IntEnum prints
            # as "ExitStatus.OK" on Python 3.10.
            ctx.exit(int(OUTCOME_STATUS[result]))
        return result


@click.group("invwh", cls=InvwhGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="invwh")
@click.option(
    "--color/--no-color",
    default=None,
    help="Force colour on or off (default: colour on a terminal, unless NO_COLOR is set).",
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar=CONFIG_ENV,
    show_envvar=True,
    help="Read defaults and schemes from this file [default: ./invwh.toml, else [tool.invwh] "
    "in ./pyproject.toml].",
)
@click.pass_context
def cli(ctx: click.Context, color: bool | None, config_path: str | None) -> None:
    """Sign, verify, validate and deliver HMAC-signed inventory webhook events.

    \b
    Examples:
      invwh demo
      invwh sign samples/stock-increase.json --secret-file .secret
      invwh verify --body body.json -H "X-Webhook-Signature: v1=..." -H "X-Timestamp: 1700000000"
      invwh audit deliveries.jsonl
      invwh send samples/ --url http://localhost:3000/webhooks --junit report.xml
      invwh listen --port 0 --record deliveries.jsonl
      invwh check --url http://localhost:3000/webhooks

    The secret comes from --secret, --secret-file or the INVWH_SECRET
    environment variable. A config file may set defaults (url, scheme,
    tolerance, secret_env) and define schemes: `invwh schemes` lists them.
    Exit status: 0 success, 1 a check failed, 2 usage or input error,
    3 delivery failed.
    """
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    forget_secrets()
    # A file name or header that is not valid text must still print, escaped.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    config = load_settings_file(config_path)
    ctx.obj = AppContext(color=color, config=config)
    if config is not None:
        from .options import config_default_map

        # Click ranks a default_map value below a flag and an environment variable.
        ctx.default_map = config_default_map(config, COMMANDS)


def main() -> None:
    cli(prog_name="invwh")
