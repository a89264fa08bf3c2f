"""``invwh listen``: a local receiver that verifies each delivery and answers as a receiver should."""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import sys
import threading
import time
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
    from ...workflows.receive import ReceivedDelivery, Receiver, ReceiverConfig


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
    type=float,
    callback=lambda ctx, param, value: _seconds_above_zero(value),
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
    Notes and warnings go to stderr. Ctrl-C or SIGTERM stops it (exit 0),
    whenever it comes. Serving never waits for stdout: lines a reader does
    not take in time are dropped, and their number said on stderr.

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
    receiver = Receiver(config)  # an InputError for a setting it cannot work with
    printer = _Printer(app, output_format, forced=respond is not None)
    receiver.on_delivery = printer
    with _signals_stop(receiver):
        try:
            receiver.bind()
            _warn_of_loose_mode(receiver.recording_mode, record)
            _write_stdout(printer.listening_line(receiver.url))
            if not is_loopback(host):
                click.echo(
                    f"invwh listen: warning: {host} is not a loopback address: "
                    "other machines can send to this receiver",
                    err=True,
                )
            settings = _settings(config, receiver.notification_url)
            click.echo(f"invwh listen: {settings}; Ctrl-C stops", err=True)
            printer.show_footer()
            receiver.serve_forever()
        finally:
            receiver.close()
            printer.close()
        plural = "s" if printer.count != 1 else ""
        click.echo(f"invwh listen: stopped after {printer.count} request{plural}", err=True)
    return ExitStatus.OK


def _warn_of_loose_mode(mode: int | None, record: str | None) -> None:
    if mode is None or record is None:
        return
    from ..output.text import printable

    shown = printable(record)
    click.echo(
        f"invwh listen: warning: the recording {shown} has mode {mode:04o}: others on this machine "
        f"can read or change it, and it holds bodies and signatures (chmod 600 {shown})",
        err=True,
    )


def _seconds_above_zero(value: float) -> float:
    # nan and inf would pass a range check, and keep every silent connection forever.
    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter(f"{value:g} is not a finite number of seconds above 0")
    return value


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
    """Prints each delivery as it is answered. Called from the receiver's threads; never blocks them."""

    def __init__(self, app: AppContext, output_format: str, *, forced: bool) -> None:
        from ..output.log_stream import LogStream

        self.count = 0
        #: Requests answered so far, by verdict: what the footer counts.
        self.by_reason: dict[str, int] = {}
        self._started = time.monotonic()
        self._footer: Callable[[], str] | None = None
        self._lock = threading.Lock()
        self.listening_line: Callable[[str], str]
        self._text: Callable[[ReceivedDelivery], str]
        if output_format == "json":
            from ..output import json

            self.listening_line, self._text = json.listening_line, json.delivery_line
        else:
            from ..output import listen_text
            from ..output.text import TextWriter
            from ..output.theme import can_redraw

            writer = TextWriter(app.color)
            self.listening_line = listen_text.listening_line
            self._text = functools.partial(listen_text.delivery_text, writer, forced=forced)
            if can_redraw(sys.stdout):
                self._footer = lambda: listen_text.footer_text(
                    writer, dict(self.by_reason), time.monotonic() - self._started
                )
        self._log = LogStream(sys.stdout, _say_dropped)

    def show_footer(self) -> None:
        """Counts under the log, once the URL is out (a terminal and text only)."""
        if self._footer is not None:
            self._log.show_footer(self._footer)

    def __call__(self, delivery: ReceivedDelivery) -> None:
        text = self._text(delivery)
        with self._lock:
            self.count += 1
            self.by_reason[delivery.reason] = self.by_reason.get(delivery.reason, 0) + 1
        self._log.put(text)

    def close(self) -> None:
        """Write the lines still queued (or say they are dropped)."""
        self._log.close()


def _say_dropped(count: int) -> None:
    click.echo(
        f"invwh listen: {count} log line{'s' if count != 1 else ''} dropped: stdout is not being read",
        err=True,
    )


@contextlib.contextmanager
def _signals_stop(receiver: Receiver) -> Iterator[None]:
    """Ctrl-C and SIGTERM ask the receiver to stop, whenever they come; nothing is raised.

    An exception raised from a signal handler lands wherever the main thread
    happens to be, starting a thread or closing one included, and turns a
    clean stop into a traceback. Asking the receiver to stop is a flag and a
    byte on a socket, safe at any moment, and the way out is the usual one:
    ``serve_forever`` returns, the answers under way are sent, the recording
    is closed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        receiver.stop()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
