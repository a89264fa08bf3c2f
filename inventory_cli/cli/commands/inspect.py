"""``invwh inspect``: a page in the browser showing every delivery of a recording as it arrives."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import click

from ...config.settings import URL_ENV
from ...errors import MissingSecretError
from ...outcome import Outcome
from ..context import AppContext
from ..options import (
    address_options,
    check_notification_url,
    format_option,
    notification_url_option,
    resolve_scheme,
    resolve_secrets,
    scheme_option,
    secret_options,
    tolerance_option,
)


@click.command(short_help="Watch a recording's deliveries in a browser.")
@click.argument("recording", metavar="RECORDING")
@address_options(
    port=0,
    host_help="The address to serve the page on. Anything but a loopback address shows it to other machines.",
)
@secret_options(multiple=True)
@scheme_option
@tolerance_option("For the verdicts judged again with the secret: the timestamp age allowed on arrival.")
@notification_url_option("For a scheme that signs the URL (square): the URL the deliveries were sent to.")
@click.option(
    "--url",
    envvar=URL_ENV,
    show_envvar=True,
    metavar="URL",
    help="The URL the page offers to replay to (it can be changed there).",
)
@format_option("text", "json")
@click.pass_obj
def inspect_command(
    app: AppContext,
    recording: str,
    host: str,
    port: int,
    secret_values: tuple[str, ...],
    secret_file: tuple[str, ...],
    scheme_name: str,
    tolerance: int,
    notification_url: str | None,
    url: str | None,
    output_format: str,
) -> Outcome:
    """Serve a page that shows every delivery of RECORDING, following it as it grows.

    RECORDING is a file `invwh listen --record` writes. Each delivery appears
    in the page as it is appended, without a reload: its verdict, its headers,
    its body with the invisible characters made visible and as JSON. From the
    page: replay one (as received, re-signed or edited), copy it as a curl
    command, diff two, download the ones shown as JSON Lines for `invwh
    replay`. With a secret (--secret-file, INVWH_SECRET), a failed signature
    is judged again and its likely cause named; the secret never reaches the
    page.

    The first line on stdout is the page's URL ({"inspector": URL} with
    --format json). Ctrl-C or SIGTERM stops it (exit 0).

    \b
    Examples:
      invwh inspect deliveries.jsonl
      invwh inspect deliveries.jsonl --secret-file .secret --port 4040
      invwh listen --record rec.jsonl & invwh inspect rec.jsonl --url http://localhost:3000/webhooks
    """
    from ...inspector.actions import Actions, secret_of
    from ...inspector.feed import Feed
    from ...inspector.server import Inspector, InspectorServer
    from ...inspector.views import Judge
    from ...workflows.delivery import check_url
    from ...workflows.receive import is_loopback

    scheme = resolve_scheme(scheme_name)
    notification_url = check_notification_url(scheme, notification_url, needed=False)
    if url is not None:  # the config file's url too: where the app under test listens
        check_url(url)
    try:
        secrets = resolve_secrets(secret_values, secret_file)
    except MissingSecretError:
        if secret_values or secret_file:
            raise
        secrets = []  # without one, the page shows the recorded verdicts and replays as received
    feed = Feed(recording)
    feed.poll()
    judge = Judge(scheme, secrets, tolerance, notification_url)
    actions = Actions(scheme, secret_of(secrets), curl=_curl)
    inspector = Inspector(feed, judge, actions, replay_url=url)
    try:
        server = InspectorServer(inspector, host, port)
    except OSError as error:
        feed.close()
        from ...errors import InputError

        raise InputError(f"cannot serve on {host}:{port}: {error.strerror or error}") from None

    stop = threading.Event()
    follower = threading.Thread(target=feed.follow, args=(stop,), name="inspect-follow", daemon=True)
    with _sigterm_stops():
        try:
            if output_format == "json":
                import json

                _write_stdout(json.dumps({"inspector": server.url}))
            else:
                _write_stdout(f"invwh inspect: inspector on {server.url}")
            if not is_loopback(host):
                click.echo(
                    f"invwh inspect: warning: {host} is not a loopback address: "
                    "other machines can open this page and replay deliveries",
                    err=True,
                )
            secret_note = (
                f"{len(secrets)} secret{'s' if len(secrets) != 1 else ''}"
                if secrets
                else "no secret: the recorded verdicts are shown"
            )
            click.echo(
                f"invwh inspect: following {recording} ({len(feed.entries)} deliveries so far); "
                f"{scheme.name}, {secret_note}; Ctrl-C stops",
                err=True,
            )
            follower.start()
            server.serve_forever(poll_interval=0.2)
        except (KeyboardInterrupt, _Terminated):
            pass
        finally:
            stop.set()
            server.stop()
    click.echo(f"invwh inspect: stopped after {len(feed.entries)} deliveries", err=True)
    return Outcome.OK


def _curl(url: str, method: str, headers: Mapping[str, str], body: bytes) -> str:
    """The command ``invwh sign --format curl`` writes, for a body given inline."""
    from ...events.payloads import Payload
    from ..output.sign_text import curl_command

    return curl_command(url, method, headers, Payload("<stdin>", body))


def _write_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Terminated(BaseException):
    """SIGTERM arrived: stop as Ctrl-C does (a BaseException, so no ``except Exception`` keeps it)."""


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: let the shutdown finish
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
