"""``invwh listen``: a local receiver that verifies each delivery and answers as a receiver should."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from ..context import AppContext
from ..options import (
    check_notification_url,
    format_option,
    notification_url_option,
    resolve_scheme,
    resolve_secrets,
    scheme_option,
    secret_options,
    tolerance_option,
)
from ..status import ExitStatus

if TYPE_CHECKING:
    from ...workflows.receive import ReceivedDelivery, ReceiverConfig


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on. Anything but a loopback address lets other machines send to it.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="The port; 0 picks a free one (the first line printed says which).",
)
@click.option(
    "--path", default="/webhooks", show_default=True, help="Where deliveries are POSTed; other paths get 404."
)
@secret_options(multiple=True)
@scheme_option
@tolerance_option("Reject timestamps older or further ahead than this many seconds; 0 turns the check off.")
@click.option(
    "--max-body",
    type=click.IntRange(min=0),
    default=1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="Answer 413 to a larger body, without reading it.",
)
@click.option(
    "--respond",
    type=click.IntRange(200, 599),
    metavar="STATUS",
    help="Answer every delivery with this status, to see how the sender handles it "
    "(each delivery is still verified, printed and recorded).",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Append every answered request to FILE, one JSON object a line, the body byte for byte "
    "(a new file is readable by you only).",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Drop a connection silent this long, or whose request head is not whole this long "
    "after it began (however slowly its bytes arrive).",
)
@notification_url_option(
    "For a scheme that signs the URL the receiver is reached at (square): the URL senders sign "
    "for [default: the URL it listens on, as printed]."
)
@format_option("text", "json")
@click.pass_obj
def listen(
    app: AppContext,
    host: str,
    port: int,
    path: str,
    secret_values: tuple[str, ...],
    secret_file: tuple[str, ...],
    scheme_name: str,
    tolerance: int,
    max_body: int,
    respond: int | None,
    record: str | None,
    read_timeout: float,
    notification_url: str | None,
    output_format: str,
) -> ExitStatus:
    """Receive webhook deliveries on a local URL, verify each one and answer it.

    Answers 200 to a validly signed inventory event, 401 to a missing, bad or
    stale signature, 422 to a signed body that is not an inventory event, 404
    to another path, 405 to another method, 413 to a body over --max-body,
    400 to malformed HTTP (not recorded).

    The first line on stdout is the URL it listens on ({"listening": URL}
    with --format json); then one line per request as it is answered.
    Notes and warnings go to stderr. Ctrl-C or SIGTERM stops it (exit 0).

    \b
    Examples:
      invwh listen --secret-file .secret
      invwh listen --port 0 --record deliveries.jsonl
      invwh listen --respond 422      # how does the sender handle a failure?
      invwh listen --read-timeout 30  # a slow sender on a slow link
      invwh listen --secret-file old.key --secret-file new.key   # key rotation
      invwh listen --format json | jq -c 'select(.valid | not)'
      invwh listen --scheme square --notification-url https://abc123.tunnel.example/webhooks
    """
    from ...workflows.receive import Receiver, ReceiverConfig, is_loopback

    scheme = resolve_scheme(scheme_name)
    notification_url = check_notification_url(scheme, notification_url, needed=False)
    secrets = resolve_secrets(secret_values, secret_file)
    config = ReceiverConfig(
        scheme=scheme,
        secrets=secrets,
        host=host,
        port=port,
        path=path,
        tolerance=tolerance,
        max_body=max_body,
        respond=respond,
        record=record,
        read_timeout=read_timeout,
        notification_url=notification_url,
    )
    printer = _Printer(app, output_format, forced=respond is not None)
    receiver = Receiver(config, on_delivery=printer)
    with _sigterm_stops():
        try:
            receiver.bind()
            _write_stdout(printer.listening_line(receiver.url))
            if not is_loopback(host):
                click.echo(
                    f"invwh listen: warning: {host} is not a loopback address: "
                    "other machines can send to this receiver",
                    err=True,
                )
            settings = _settings(config, receiver.notification_url)
            click.echo(f"invwh listen: {settings}; Ctrl-C stops", err=True)
            receiver.serve_forever()
        except (KeyboardInterrupt, _Terminated):
            pass
        finally:
            receiver.close()
    click.echo(
        f"invwh listen: stopped after {printer.count} request{'s' if printer.count != 1 else ''}", err=True
    )
    return ExitStatus.OK


def _settings(config: ReceiverConfig, notification_url: str | None) -> str:
    secrets = f"{len(config.secrets)} secret{'s' if len(config.secrets) != 1 else ''}"
    if not config.scheme.uses_timestamp:
        tolerance = "no timestamp in this scheme"
    else:
        tolerance = f"tolerance {config.tolerance} s" if config.tolerance else "timestamp age not checked"
    parts = [
        f"{config.scheme.name}, {secrets}, {tolerance}, bodies up to {config.max_body} bytes, "
        f"read timeout {config.read_timeout:g} s"
    ]
    if notification_url is not None:
        parts.append(f"signatures checked for the notification URL {notification_url}")
    if config.respond is not None:
        parts.append(f"answering {config.respond} to every delivery")
    if config.record is not None:
        parts.append(f"recording to {config.record}")
    return "; ".join(parts)


def _write_stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Printer:
    """Prints each delivery as it is answered. Called from the receiver's threads."""

    def __init__(self, app: AppContext, output_format: str, *, forced: bool) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._broken = False
        self.listening_line: Callable[[str], str]
        self._text: Callable[[ReceivedDelivery], str]
        if output_format == "json":
            from ..output import json

            self.listening_line, self._text = json.listening_line, json.delivery_line
        else:
            from ..output import listen_text
            from ..output.text import TextWriter

            writer = TextWriter(app.color)
            self.listening_line = listen_text.listening_line
            self._text = functools.partial(listen_text.delivery_text, writer, forced=forced)

    def __call__(self, delivery: ReceivedDelivery) -> None:
        text = self._text(delivery)
        with self._lock:
            self.count += 1
            if self._broken:
                return
            try:
                _write_stdout(text)
            except OSError:
                # stdout is gone (`invwh listen | head`): keep answering and recording.
                self._broken = True


class _Terminated(BaseException):
    """SIGTERM arrived: stop as Ctrl-C does.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on
    its way out of ``Receiver.serve_forever`` swallows it.
    """


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
