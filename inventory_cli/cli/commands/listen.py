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

if TYPE_CHECKING:
    from ...inspector.feed import Feed
    from ...workflows.forward import ForwardTally
    from ...workflows.receive import ReceivedDelivery, Receiver, ReceiverConfig


@click.command()
@address_options(
    port=8787,
    host_help="The address to listen on. Anything but a loopback address lets other machines send to it.",
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
@click.option(
    "--forward-to",
    metavar="URL",
    help="Send every delivery, once judged, on to the app at this http:// URL, its bytes untouched, "
    "and answer the sender what the app answers (502 when it cannot be reached).",
)
@click.option(
    "--forward-timeout",
    type=float,
    callback=lambda ctx, param, value: _seconds_above_zero(value),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="With --forward-to: the longest silence of the app (connect, write, read); 3 times that in all.",
)
@click.option(
    "--block-invalid",
    is_flag=True,
    help="With --forward-to: answer an invalid delivery here (401 or 422), without forwarding it.",
)
@click.option(
    "--inspect",
    is_flag=True,
    help="Serve the inspector (a page showing every delivery live) on 127.0.0.1, on a second port.",
)
@click.option(
    "--inspect-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="With --inspect: the inspector's port; 0 picks a free one (printed after the URL).",
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
    forward_to: str | None,
    forward_timeout: float,
    block_invalid: bool,
    inspect: bool,
    inspect_port: int,
    output_format: str,
) -> Outcome:
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
      invwh listen --forward-to http://localhost:3000/webhooks --inspect

    With --forward-to, each delivery is judged, then sent on to the app, and
    the sender gets the app's answer. A disagreement (the app accepting a
    delivery invwh rejects, or refusing with 401/403 one it accepts) is
    flagged on its line; at the stop a summary goes to stderr, and the exit
    status is 1 if the app accepted any delivery invwh rejects.
    """
    from ...workflows.receive import Receiver, ReceiverConfig, is_loopback

    scheme = resolve_scheme(scheme_name)
    notification_url = check_notification_url(scheme, notification_url, needed=False)
    secrets = resolve_secrets(secret_values, secret_file)
    if forward_to is not None:
        from ...workflows.delivery import check_url  # the one URL check: --url's too

        check_url(forward_to)
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
        forward_to=forward_to,
        forward_timeout=forward_timeout,
        block_invalid=block_invalid,
    )
    receiver = Receiver(config)  # an InputError for a setting it cannot work with
    printer = _Printer(app, output_format, forced=respond is not None)
    receiver.on_delivery = printer
    inspector = None
    with _signals_stop(receiver):
        try:
            receiver.bind()
            _warn_of_loose_mode(receiver.recording_mode, record)
            if inspect:
                inspector = _Inspecting(config, inspect_port)
                printer.feed = inspector.feed if record is None else None
            _write_stdout(printer.listening_line(receiver.url))
            if inspector is not None:
                _write_stdout(printer.inspector_line(inspector.url))
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
            if inspector is not None:
                inspector.stop()
        plural = "s" if printer.count != 1 else ""
        click.echo(f"invwh listen: stopped after {printer.count} request{plural}", err=True)
        if receiver.tally is not None:
            click.echo(f"invwh listen: {_forward_summary(receiver.tally)}", err=True)
            if receiver.tally.accepted_rejected:
                return Outcome.FAILED
    return Outcome.OK


def _forward_summary(tally: ForwardTally) -> str:
    """``5 deliveries, 4 forwarded (app: 200 x3, 401 x1), 1 app unreachable, 1 disagreement: ...``."""
    from ...workflows.forward import ACCEPTED_REJECTED, REFUSED_ACCEPTED

    answers = ", ".join(f"{status} x{count}" for status, count in sorted(tally.statuses.items()))
    parts = [
        f"{tally.deliveries} deliver{'ies' if tally.deliveries != 1 else 'y'}",
        f"{tally.forwarded} forwarded" + (f" (the app answered {answers})" if answers else ""),
    ]
    if tally.blocked:
        parts.append(f"{tally.blocked} blocked")
    if tally.unreachable:
        parts.append(f"{tally.unreachable} not answered (the app could not be reached)")
    accepted, refused = tally.disagreements[ACCEPTED_REJECTED], tally.disagreements[REFUSED_ACCEPTED]
    total = accepted + refused
    line = ", ".join(parts) + f"; {total} disagreement{'s' if total != 1 else ''}"
    if accepted:
        line += f"; the app ACCEPTED {accepted} deliver{'ies' if accepted != 1 else 'y'} invwh rejects"
    if refused:
        line += f"; the app refused {refused} deliver{'ies' if refused != 1 else 'y'} invwh accepts"
    return line


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
    if config.forward_to is not None:
        blocking = ", invalid ones answered here" if config.block_invalid else ""
        parts.append(f"forwarding to {config.forward_to} (timeout {config.forward_timeout:g} s{blocking})")
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
        #: With --inspect and no --record: the inspector's feed, given each line listen would record.
        self.feed: Feed | None = None
        self.listening_line: Callable[[str], str]
        self.inspector_line: Callable[[str], str]
        self._text: Callable[[ReceivedDelivery], str]
        if output_format == "json":
            from ..output import json

            self.listening_line, self._text = json.listening_line, json.delivery_line
            self.inspector_line = _inspector_json_line
        else:
            from ..output import listen_text
            from ..output.text import TextWriter
            from ..output.theme import can_redraw

            writer = TextWriter(app.color)
            self.listening_line = listen_text.listening_line
            self.inspector_line = _inspector_text_line
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
        # To /dev/null (a receiver run for its recording) the line is not even made: it was a
        # tenth of the serving thread's time.
        text = None if self._log.discards else self._text(delivery)
        with self._lock:
            self.count += 1
            self.by_reason[delivery.reason] = self.by_reason.get(delivery.reason, 0) + 1
        feed = self.feed
        if feed is not None:
            from ...workflows.recording import encode_line

            feed.push(encode_line(delivery))
        if text is not None:
            self._log.put(text)

    def close(self) -> None:
        """Write the lines still queued (or say they are dropped)."""
        self._log.close()


class _Inspecting:
    """``--inspect``: the inspector's page served from a thread, over the recording or, without one,
    over the lines listen would record. Loaded only with --inspect."""

    def __init__(self, config: ReceiverConfig, port: int) -> None:
        from ...errors import InputError
        from ...inspector.actions import Actions, secret_of
        from ...inspector.feed import Feed
        from ...inspector.server import Inspector, InspectorServer
        from ...inspector.views import Judge
        from .inspect import _curl

        self.feed = Feed(config.record) if config.record is not None else Feed.in_memory()
        self.feed.poll()
        judge = Judge(config.scheme, config.secrets, config.tolerance, config.notification_url)
        actions = Actions(config.scheme, secret_of(config.secrets), curl=_curl)
        inspector = Inspector(self.feed, judge, actions, replay_url=config.forward_to)
        try:
            self.server = InspectorServer(inspector, "127.0.0.1", port)
        except OSError as error:
            self.feed.close()
            cause = error.strerror or error
            raise InputError(f"cannot serve the inspector on 127.0.0.1:{port}: {cause}") from None
        self.url = self.server.url
        self._stop = threading.Event()
        serve = self.server.serve_forever
        threading.Thread(target=serve, args=(0.2,), name="invwh-inspector", daemon=True).start()
        if config.record is not None:
            threading.Thread(
                target=self.feed.follow, args=(self._stop,), name="invwh-inspect-follow", daemon=True
            ).start()

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.stop()


def _inspector_text_line(url: str) -> str:
    return f"invwh listen: inspector on {url}"


def _inspector_json_line(url: str) -> str:
    import json

    return json.dumps({"inspector": url})


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
