"""``invwh schemes``: the signature schemes, built in and configured, and what each signs and sends."""

from __future__ import annotations

import sys

import click

from ...outcome import Outcome
from ...signing.schemes import BUILTIN_SCHEMES
from ..context import AppContext
from ..options import complete_scheme_name, format_option, resolve_scheme


@click.group(invoke_without_command=True, short_help="List the signature schemes, or show one.")
@format_option("text", "json")
@click.pass_context
def schemes(ctx: click.Context, output_format: str) -> Outcome | None:
    """List the signature schemes: the built-in presets and those the config file defines.

    For each: the headers a signed delivery carries, the bytes the HMAC
    covers and how the secret becomes the key. `invwh schemes show NAME`
    prints one as a [schemes.NAME] block to paste into invwh.toml, rename
    and change.

    \b
    Examples:
      invwh schemes
      invwh schemes --format json
      invwh schemes show stripe
      invwh schemes show github | sed 's/schemes.github/schemes.acme/' >> invwh.toml
    """
    if ctx.invoked_subcommand is not None:
        return None
    app = ctx.ensure_object(AppContext)
    listed = [(scheme, "built-in") for scheme in BUILTIN_SCHEMES.values()]
    if app.config is not None:
        listed += [
            (s, app.config.path) for name, s in app.config.schemes.items() if name not in BUILTIN_SCHEMES
        ]
    if output_format == "json":
        from ..output import json

        json.write(json.schemes_document(listed, _default_scheme(app)))
    else:
        from ..output.schemes_text import write_schemes
        from ..output.text import TextWriter

        write_schemes(TextWriter(app.color), listed, _default_scheme(app))
    return Outcome.OK


@schemes.command()
@click.argument("name", shell_complete=complete_scheme_name)
@click.pass_obj
def show(app: AppContext, name: str) -> Outcome:
    """Print scheme NAME as a config block for invwh.toml.

    \b
    Examples:
      invwh schemes show standard-webhooks
      invwh schemes show inventory-v1 >> invwh.toml
    """
    from ..output.toml import scheme_block

    scheme = resolve_scheme(name)
    source = "built-in" if name in BUILTIN_SCHEMES else app.config.path if app.config else "config"
    sys.stdout.write(scheme_block(scheme, source))
    return Outcome.OK


def _default_scheme(app: AppContext) -> str:
    """The scheme a command uses without --scheme: the environment's, the config's, or the built-in one."""
    from ...config import settings

    return settings.scheme_name(config=app.config)
