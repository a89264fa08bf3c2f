"""Recordings: the requests ``invwh listen`` answered, one JSON object a line.

A line holds what arrived and what was answered::

    {"received_at":"2026-11-27T14:03:22.123Z","received_at_unix":1795701802.123,
     "method":"POST","path":"/webhooks","headers":{"Content-Type":"application/json",...},
     "body":"{\\"inventoryStockIncreaseEventType\\": \\"stock.increase\\"}","body_encoding":"utf-8",
     "verdict":{"valid":true,"reason":"ok","event_type":"stock.increase"},"status":200}

(one line in the file, compact JSON). ``body`` is the exact body: its text when it is UTF-8,
else its base64 with ``"body_encoding": "base64"``. ``verdict`` is null for a
request that was not judged (another path or method, a body refused); when the
body was not read at all (411, 413) the line also says ``"body_read": false``.

Behind ``listen --forward-to`` a judged delivery's line also holds ``forward``,
what the app answered: ``{"status": 200, "headers": {...}, "body": "...",
"body_encoding": "utf-8", "seconds": 0.004, "agrees": true}`` (the body as
the request's is kept), with ``"disagreement"`` (``app_accepted_rejected`` or
``app_refused_accepted``) and ``"why"`` when ``agrees`` is false, ``"error"``
instead of a status when the app could not be reached (the sender got 502),
and ``"blocked": true`` when ``--block-invalid`` answered it instead.

``Recording`` appends lines from many threads at once without tearing or
interleaving them, and a line the disk refuses (full, or over the file size
limit) is taken back whole; ``read_recording`` streams them back, in
constant memory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

import msgspec

from ..errors import InputError
from ..files import file_access
from ..json_text import loads
from ..text import shorten

if TYPE_CHECKING:
    from .forward import ForwardResult
    from .verdict import Verdict


class AnsweredRequest(Protocol):
    """What a recording keeps of a request a receiver answered (``receive.ReceivedDelivery``)."""

    received_at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verdict: Verdict | None
    status: int
    body_read: bool


#: Longer lines are reported as bad, not read into memory: a 1 MiB body takes
#: at most about 6 MiB once escaped as JSON text.
MAX_LINE_BYTES = 64 * 1024 * 1024


def iso_utc(unix: float) -> str:
    """``2026-11-27T14:03:22.123Z``: ISO 8601, UTC, milliseconds."""
    global _last_second
    # To microseconds first, as datetime does: 1700000000.123 is 1700000000.12299990... as a float.
    seconds, millis = divmod(round(unix * 1_000_000) // 1000, 1000)
    last = _last_second  # a receiver asks for the same second many times over
    if last[0] != seconds:
        last = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{last[1]}.{millis:03d}Z"


_last_second: tuple[int, str] = (-1, "")


def _body_text(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def forward_record(result: ForwardResult) -> dict[str, Any]:
    """The ``forward`` object of a line: what the app answered, or why it did not."""
    record: dict[str, Any] = {}
    if result.blocked:
        record["blocked"] = True
    elif result.status is None:
        record["error"] = result.error
    else:
        headers: dict[str, str] = {}
        for name, value in result.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        text, encoding = _body_text(result.body)
        record.update(status=result.status, headers=headers, body=text, body_encoding=encoding)
    record["seconds"] = round(result.seconds, 6)
    record["agrees"] = result.agrees
    if not result.agrees:
        record["disagreement"] = result.disagreement
        record["why"] = result.why
    return record


def delivery_record(delivery: AnsweredRequest) -> dict[str, Any]:
    """The recording's object for one answered request."""
    text, encoding = _body_text(delivery.body)
    verdict = delivery.verdict
    record: dict[str, Any] = {
        "received_at": iso_utc(delivery.received_at),
        "received_at_unix": delivery.received_at,
        "method": delivery.method,
        "path": delivery.path,
        "headers": delivery.headers,
        "body": text,
        "body_encoding": encoding,
        "verdict": None
        if verdict is None
        else {"valid": verdict.valid, "reason": verdict.reason, "event_type": verdict.event_type},
        "status": delivery.status,
    }
    if not delivery.body_read:
        record["body_read"] = False
    forward = getattr(delivery, "forward", None)
    if forward is not None:
        record["forward"] = forward_record(forward)
    return record


def encode_line(delivery: AnsweredRequest) -> bytes:
    """One whole line of the recording, newline included."""
    return _encode(delivery_record(delivery)) + b"\n"


#: msgspec's encoder: UTF-8 JSON in one C call, 2.3 µs a line against the standard library's 17.6
#: (listen writes one a request). Its text differs from ``json.dumps``'s only in layout
#: (no space after ``,`` and ``:``, ``1e+16`` written ``1e16``); every value reads back the same.
_encode = msgspec.json.Encoder().encode


class Recording:
    """A JSON Lines file that deliveries are appended to, safely from many threads.

    The file is opened for appending (an existing recording grows) and, when
    it is created, is readable and writable by its owner only. It must be a
    regular file named as such: a symbolic link is refused (a link planted
    where the recording goes would send bodies and signatures elsewhere), and
    so is a FIFO, a device or a directory, without blocking on them.
    ``loose_mode`` is the mode of an existing file that group or others may
    use (``0o644``), for the caller to warn about; None otherwise.

    Each line is one ``write`` under a lock, straight to the file: no buffer
    to flush, no torn or interleaved lines, and a line written is in the file
    even if the process is killed right after. A write the disk cuts short
    (``ENOSPC``, ``EFBIG``) is undone by truncating the file back to where
    the line began, so the file holds whole lines only and the next line
    starts clean.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        what = f"recording {self.path}"
        # O_NONBLOCK: opening a FIFO must not wait for a reader before the URL is printed.
        flags = (
            os.O_WRONLY
            | os.O_CREAT
            | os.O_APPEND
            | os.O_NONBLOCK
            | getattr(os, "O_NOFOLLOW", 0)
            | getattr(os, "O_CLOEXEC", 0)
            | getattr(os, "O_BINARY", 0)
        )
        with file_access(what, missing="no such directory", verb="open"):
            try:
                fd = os.open(self.path, flags, 0o600)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise InputError(
                        f"{what}: is a symbolic link; name the file itself (links are not followed)"
                    ) from None
                if error.errno == errno.ENXIO:  # a FIFO that nobody reads
                    raise InputError(f"{what}: not a regular file (a FIFO)") from None
                raise
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            raise InputError(f"{what}: not a regular file ({_file_kind(status.st_mode)})")
        os.set_blocking(fd, True)
        self._fd: int | None = fd
        mode = stat.S_IMODE(status.st_mode)
        self.loose_mode: int | None = mode if mode & 0o077 else None
        self._lock = threading.Lock()
        #: How much of a line the disk cut short is still in the file (0: none): it is cut off
        #: before the next line, or that line is refused too.
        self._torn = 0
        #: Lines written so far by this object.
        self.count = 0

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(self, delivery: AnsweredRequest) -> bool:
        """Append one whole line. False when the recording is already closed.

        Raises OSError when the disk refuses it (full, over the size limit):
        then nothing of the line is left in the file.
        """
        data = encode_line(delivery)
        with self._lock:
            fd = self._fd
            if fd is None:
                return False
            if self._torn:  # an OSError here refuses this line too
                os.ftruncate(fd, os.fstat(fd).st_size - self._torn)
                self._torn = 0
            done = 0  # bytes of the line in the file
            try:
                while done < len(data):
                    written = os.write(fd, data[done:] if done else data)
                    if not written:  # a regular file never says 0; if it does, do not spin
                        raise OSError(errno.EIO, "the file took no bytes")
                    done += written
            except OSError:
                if done:  # part of the line is in the file: take it back, now or before the next
                    # O_APPEND put it at the end, so the line began ``done`` bytes before the end.
                    # Worked out here, not asked of lseek before each write: a syscall a request.
                    self._torn = done
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, os.fstat(fd).st_size - done)
                        self._torn = 0
                raise
            self.count += 1
        return True

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


# --- reading ---------------------------------------------------------------


@dataclass(slots=True)  # not frozen: a frozen init costs more than an audit's verdict
class Recorded:
    """One recorded request, its body decoded back to the exact bytes received."""

    line: int  # 1-based line number in the recording
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at_unix: float | None = None
    received_at: str | None = None
    status: int | None = None
    #: ``{"valid", "reason", "event_type"}``, or None when the request was not judged.
    verdict: dict[str, Any] | None = None
    #: False when the receiver refused the body unread (411, 413): ``body`` is then empty.
    body_read: bool = True
    #: Behind ``listen --forward-to``: the app's answer, as recorded (see ``forward_record``).
    forward: dict[str, Any] | None = None


#: What ``invwh listen`` answers a request that was no delivery: another path (404), another
#: method (405), a body it refused unread (411, 413). Replay never sends one; the audit never judges one.
NOT_DELIVERED_STATUSES = frozenset({404, 405, 411, 413})


def why_not_a_delivery(record: Recorded) -> str | None:
    """Why a recorded request was no delivery to the webhook, or None when it was one."""
    if record.method != "POST":
        return f"a {record.method} request, not a delivery"
    if not record.body_read or record.status in (411, 413):
        return f"the body was not recorded (answered {record.status})"
    if record.status in NOT_DELIVERED_STATUSES:
        return f"a POST to {_short(record.path)}, not a delivery (answered {record.status})"
    return None


@dataclass(frozen=True)
class BadLine:
    """A line that is not a usable record, and why."""

    line: int
    reason: str


def read_recording(
    source: str | os.PathLike[str] | IO[bytes] | IO[str],
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    as_opened: bool = False,
) -> Iterator[Recorded | BadLine]:
    """Each line of a recording as a ``Recorded``, or a ``BadLine`` saying what is wrong with it.

    ``source`` is a path or an open stream (binary preferred). Reads one line
    at a time, so any file size takes constant memory. Blank lines are skipped.
    Never raises on the content of a line; a path that cannot be opened raises
    ``InputError`` here, before the first record.

    With ``as_opened``, a file path is read only as far as it reached when it
    was opened: lines appended meanwhile are left out. A replay needs that when
    it delivers to the very receiver that records into the file it reads,
    or it would never reach the end.
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        with file_access(f"recording {path}"):
            stream: IO[Any] = open(path, "rb")  # noqa: SIM115 - closed by the generator
        status = os.fstat(stream.fileno())
        # A pipe (``<(zcat day.jsonl.gz)``) has no size: it is read to its end.
        end = status.st_size if as_opened and stat.S_ISREG(status.st_mode) else None
        return _read_lines(stream, max_line_bytes, close=True, end=end)
    return _read_lines(source, max_line_bytes, close=False)


def _read_lines(
    stream: IO[Any], max_line_bytes: int, *, close: bool, end: int | None = None
) -> Iterator[Recorded | BadLine]:
    try:
        readline = stream.readline
        limit = max_line_bytes + 1
        number = 0
        consumed = 0  # bytes read so far, to stop at ``end``
        while end is None or consumed < end:
            line = readline(limit)
            if not line:
                return
            number += 1
            consumed += len(line)
            if len(line) > max_line_bytes and not line.endswith(b"\n" if isinstance(line, bytes) else "\n"):
                newline = b"\n" if isinstance(line, bytes) else "\n"
                while line and not line.endswith(newline):  # skip the rest of it
                    line = stream.readline(1024 * 1024)
                    consumed += len(line)
                yield BadLine(number, f"longer than {max_line_bytes} bytes")
                continue
            parsed = parse_line(line, number)
            if parsed is not None:
                yield parsed
    finally:
        if close:
            stream.close()


class _Line(msgspec.Struct):
    """A recording's line as ``invwh listen`` writes it, every member of the type it must be.

    msgspec reads a line into it in one pass, checking the types as it goes;
    a line it cannot read so (any member of another type, a value msgspec
    refuses, no JSON object) is read again by ``_parse_checked``, which says
    what is wrong. Unknown members are ignored, as there.
    """

    body: str
    headers: dict[str, str] = {}
    method: str = "POST"
    path: str = "/"
    body_encoding: str = "utf-8"
    received_at: str | None = None
    received_at_unix: float | None = None  # an integer is read as a float, as there
    status: int | None = None
    verdict: dict[str, Any] | None = None
    body_read: bool = True
    forward: dict[str, Any] | None = None


_read_typed = msgspec.json.Decoder(_Line).decode


def parse_line(line: bytes | str, number: int = 1) -> Recorded | BadLine | None:
    """One line of a recording; None for a blank line. Never raises.

    An audit reads every line of a day's traffic: a line of the right shape
    is read by msgspec into ``_Line`` (1.2 µs against 3.5 for a parse and the
    checks in Python), any other by ``_parse_checked``, which finds the same
    record, or says what is wrong with the line. The two agree on every line
    (a hypothesis property).
    """
    if isinstance(line, bytes):
        # Decoded first: msgspec skips an unknown member without looking at its bytes.
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            return BadLine(number, f"not UTF-8: byte 0x{line[error.start]:02x} at offset {error.start}")
    try:
        typed = _read_typed(line)
    except (ValueError, RecursionError):  # msgspec's errors, and a lone surrogate's
        return _parse_checked(line, number)
    body = _body_bytes(typed.body, typed.body_encoding, number)
    if isinstance(body, BadLine):
        return body
    return Recorded(
        number,
        typed.method,
        typed.path,
        typed.headers,
        body,
        typed.received_at_unix,
        typed.received_at,
        typed.status,
        typed.verdict,
        typed.body_read,
        typed.forward,
    )


def _parse_checked(line: str, number: int) -> Recorded | BadLine | None:
    """``parse_line`` for a line msgspec would not read as a ``_Line``: the checks made in turn,
    each saying what is wrong (exact type tests: JSON gives exact types; ``bool`` is told from
    ``int``)."""
    try:
        data = loads(line)
    except ValueError as error:
        if not line.strip():
            return None
        return BadLine(number, f"not JSON: {getattr(error, 'msg', error)}")
    except RecursionError:
        return BadLine(number, "not JSON this tool can read: nested too deeply")
    if type(data) is not dict:
        return BadLine(number, "not a JSON object")
    get = data.get

    body_text = get("body")
    if type(body_text) is not str:
        return BadLine(number, "no body" if body_text is None else "body is not a string")
    body = _body_bytes(body_text, get("body_encoding", "utf-8"), number)
    if isinstance(body, BadLine):
        return body

    headers = get("headers", {})
    if type(headers) is not dict or any(type(value) is not str for value in headers.values()):
        return BadLine(number, "headers is not an object of strings")
    method = get("method", "POST")
    path = get("path", "/")
    received_at = get("received_at")
    if type(method) is not str or type(path) is not str:
        return BadLine(number, "method and path must be strings")
    if received_at is not None and type(received_at) is not str:
        return BadLine(number, "received_at is not a string")
    received_at_unix = get("received_at_unix")
    if (
        received_at_unix is not None
        and type(received_at_unix) is not float
        and type(received_at_unix) is not int
    ):
        return BadLine(number, "received_at_unix is not a number")
    status = get("status")
    if status is not None and type(status) is not int:
        return BadLine(number, "status is not an integer")
    verdict = get("verdict")
    if verdict is not None and type(verdict) is not dict:
        return BadLine(number, "verdict is not an object")
    body_read = get("body_read", True)
    if type(body_read) is not bool:
        return BadLine(number, "body_read is not true or false")
    forward = get("forward")
    if forward is not None and type(forward) is not dict:
        return BadLine(number, "forward is not an object")
    if type(received_at_unix) is int:
        try:
            received_at_unix = float(received_at_unix)
        except OverflowError:
            return BadLine(number, "received_at_unix is out of range")
    return Recorded(
        number,
        method,
        path,
        headers,
        body,
        received_at_unix,
        received_at,
        status,
        verdict,
        body_read,
        forward,
    )


def _body_bytes(text: str, encoding: Any, number: int) -> bytes | BadLine:
    """The exact bytes a line's ``body`` and ``body_encoding`` stand for, or why there are none."""
    if encoding == "utf-8":
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # only the general path meets one: msgspec refuses the line
            return BadLine(number, "body is not valid text: it holds a lone surrogate")
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return BadLine(number, "body is not valid base64")
    return BadLine(number, f"unknown body_encoding {_short(encoding)}")


def _short(value: Any) -> str:
    if not isinstance(value, str):
        return f"(a JSON {type(value).__name__})"
    return shorten(repr(value), 40)
