"""``listen`` and h11 read the same generated requests alike (issue 19, item 11).

hypothesis builds request byte streams (framing headers, chunk sizes and
extensions, trailers, ``Upgrade``, ``Expect: 100-continue``, ``Connection``,
some broken lines) and cuts them at any bytes. Each stream goes, piece by
piece, to a running receiver (the server ``invwh listen`` runs, over a real
socket, then a half-close) and to h11, an independent parser. The first
request of the stream must come out the same: both take it with the same
body, both refuse it, or both wait for more of it.

Six deliberate differences (``DELIBERATE``: on these listen must refuse,
whatever h11 says):

- ``http10-transfer-encoding``: an HTTP/1.0 request with ``Transfer-Encoding``.
  h11 reads it chunked; RFC 9112 §6.1 says its framing is faulty, so listen
  refuses it (400) rather than guess.
- ``content-length-list``: ``Content-Length: 5, 5`` or two identical
  ``Content-Length`` lines. h11 takes them as one; RFC 9110 §8.6 lets a
  recipient refuse them, and llhttp does: a list is a smuggling shape.
- ``bare-lf``: a head line ended by LF alone. h11 accepts it (RFC 9112 §2.2
  MAY); llhttp refuses it, as the other smuggling shapes.
- ``obs-fold``: a header value continued on the next line. h11 unfolds it;
  RFC 9112 §5.2 lets a server refuse it with 400, and llhttp does.
- ``framing-and-chunked``: ``Content-Length`` beside ``Transfer-Encoding:
  chunked``. h11 reads it chunked; llhttp refuses it (RFC 9112 §6.3 lets a
  server do either; refusing leaves nothing to smuggle).
- ``chunk-size-space``: a space or tab after a chunk size (``5 \r\n``). h11
  allows it; RFC 9112 §7.1 has no whitespace there without an extension, and
  llhttp refuses it, as the spaces before a size (a smuggling shape).

Host values are not generated beyond ``x`` (h11 does not check them; the
Host tests in ``test_listen_edges.py`` do), nor methods other than POST and
PUT (listen answers others 501 or 405 by design).
"""

from __future__ import annotations

import itertools
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import figures
import h11
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_listen import TIMEOUT, running

TOKEN = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~", min_size=1, max_size=8
)
#: Visible ASCII, spaces and a few obs-text bytes (sent as latin-1), as RFC 9110 §5.5 allows in values.
FIELD_VALUE = st.text("".join(chr(c) for c in range(0x21, 0x7F)) + " \t\x80\xe9\xff", max_size=12).map(
    str.strip
)
QUOTED = st.text("abcdefghij 0123456789!#()", max_size=6).map(lambda text: f'"{text}"')

DELIBERATE = {
    "http10-transfer-encoding": "RFC 9112 §6.1: faulty framing",
    "content-length-list": "RFC 9110 §8.6: a list of lengths may be refused; llhttp does",
    "bare-lf": "llhttp refuses LF without CR, as the smuggling shapes",
    "obs-fold": "RFC 9112 §5.2: a server may refuse obs-fold with 400",
    "framing-and-chunked": "RFC 9112 §6.3: Content-Length beside chunked is refused",
    "chunk-size-space": "RFC 9112 §7.1: no whitespace after a chunk size; llhttp refuses it",
}


@dataclass
class Generated:
    data: bytes
    cuts: list[int]
    features: set[str] = field(default_factory=set)

    def pieces(self) -> list[bytes]:
        bounds = [0, *sorted(set(self.cuts)), len(self.data)]
        return [self.data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@st.composite
def chunk_extension(draw: st.DrawFn) -> bytes:
    name = draw(TOKEN)
    value = draw(st.none() | TOKEN | QUOTED)
    return (f";{name}" + ("" if value is None else f"={value}")).encode()


@st.composite
def chunked_body(draw: st.DrawFn, body: bytes) -> tuple[bytes, set[str]]:
    """``body`` in chunks (sizes in any case, leading zeros, extensions) and maybe a trailer section."""
    cuts = sorted(set(draw(st.lists(st.integers(0, len(body)), max_size=3))))
    out = b""
    features = set()
    for start, end in itertools.pairwise([0, *cuts, len(body)]):
        if end == start:
            continue
        size_format = draw(st.sampled_from([*["{:x}"] * 4, "{:X}", "0{:x}", "00{:X}", "{:x} ", "{:x}\t"]))
        if size_format[-1] in " \t":
            features.add("chunk-size-space")
        size = size_format.format(end - start).encode()
        out += (
            size
            + b"".join(draw(st.lists(chunk_extension(), max_size=2)))
            + b"\r\n"
            + body[start:end]
            + b"\r\n"
        )
    out += b"0" + b"".join(draw(st.lists(chunk_extension(), max_size=1))) + b"\r\n"
    trailers = draw(st.lists(st.tuples(TOKEN, FIELD_VALUE), max_size=2))
    out += b"".join(f"X-T-{name}: {value}\r\n".encode("latin-1") for name, value in trailers)
    if trailers:
        features.add("trailers")
    return out + b"\r\n", features


@st.composite
def request_streams(draw: st.DrawFn) -> Generated:
    features: set[str] = set()
    version = draw(st.sampled_from(["1.1"] * 7 + ["1.0"]))
    method = draw(st.sampled_from(["POST", "PUT"]))
    body = draw(st.binary(max_size=40))
    headers: list[tuple[str, str]] = []
    hosts = draw(st.sampled_from(["one"] * 9 + ["no-host", "two-hosts"]))  # the usual case first
    headers += [("Host", "x")] * {"one": 1, "no-host": 0, "two-hosts": 2}[hosts]
    if hosts != "one":
        features.add(hosts)
    framing = draw(
        st.sampled_from([*["length", "chunked"] * 3, "none", "off-length", "odd-length", "odd-coding"])
    )
    chunked = framing == "chunked"
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "off-length":
        headers.append(("Content-Length", str(max(0, len(body) + draw(st.integers(-3, 3))))))
    elif framing == "odd-length":
        value = draw(st.sampled_from(["+{}", "-{}", "0{}", "{} {}", "{}, {}", "0x{}", "{}.0", "{}\t", "{}a"]))
        headers.append(("Content-Length", value.replace("{}", str(len(body)))))
        if value == "{}, {}":
            features.add("content-length-list")
    elif framing == "odd-coding":
        coding = draw(
            st.sampled_from(["gzip, chunked", "identity", "chunked, gzip", "chunked, chunked", "chunkedx"])
        )
        headers.append(("Transfer-Encoding", coding))
    if chunked:
        headers.append(("Transfer-Encoding", draw(st.sampled_from(["chunked", "Chunked", "CHUNKED"]))))
        if draw(st.sampled_from([False] * 5 + [True])):
            headers.append(("Content-Length", str(len(body))))
            features.add("framing-and-chunked")
    if framing == "length" and draw(st.sampled_from([False] * 7 + [True])):
        headers.append(("Content-Length", str(len(body))))
        features.add("content-length-list")
    if version == "1.0" and any(name == "Transfer-Encoding" for name, _ in headers):
        features.add("http10-transfer-encoding")
    if draw(st.booleans()):
        headers += [
            ("Connection", "Upgrade, HTTP2-Settings"),
            ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABk"),
        ]
    if draw(st.booleans()):
        headers.append(("Expect", "100-continue"))
    connection = draw(st.sampled_from([None, "close", "keep-alive"]))
    if connection:
        headers.append(("Connection", connection))
    headers += [
        (f"X-{name}", value) for name, value in draw(st.lists(st.tuples(TOKEN, FIELD_VALUE), max_size=3))
    ]
    headers = draw(st.permutations(headers))
    lines = [f"{method} /webhooks HTTP/{version}".encode()]
    lines += [
        f"{name}:{draw(st.sampled_from(['', ' ', '  ']))}{value}".encode("latin-1") for name, value in headers
    ]
    ends = [b"\r\n"] * len(lines)
    fault = draw(
        st.sampled_from([None] * 15 + ["bare-lf", "obs-fold", "space-before-colon", "nul", "no-colon"])
    )
    if fault is not None and len(lines) > 1:
        index = draw(st.integers(1, len(lines) - 1))
        if fault == "bare-lf":
            ends[index] = b"\n"
        elif fault == "obs-fold":
            lines[index] += b"\r\n folded"
        elif fault == "space-before-colon":
            lines[index] = lines[index].replace(b":", b" :", 1)
        elif fault == "nul":
            lines[index] += b"\x00"
        else:
            lines[index] = lines[index].replace(b":", b"", 1)
        features.add(fault)
    head = b"".join(line + end for line, end in zip(lines, ends, strict=True)) + b"\r\n"
    if chunked:
        encoded, body_features = draw(chunked_body(body))
        features |= body_features
    else:
        encoded = body if framing != "none" else b""
    data = head + encoded
    if draw(st.booleans()):
        data += b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    cuts = draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=4))
    return Generated(data, cuts, features)


def h11_reads(pieces: list[bytes]) -> tuple[str, bytes]:
    """("taken", body), ("refused", b"") or ("waiting", b"") for the first request, as h11 reads it."""
    connection = h11.Connection(h11.SERVER)
    body = b""
    try:
        for piece in pieces:
            connection.receive_data(piece)
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                return "waiting", b""
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return "taken", body
    except h11.RemoteProtocolError:
        return "refused", b""


def listen_reads(port: int, pieces: list[bytes], seen: list) -> tuple[str, bytes]:
    """The same, as the receiver read it: handed on (with its body), refused with an answer, or neither."""
    seen.clear()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(0.002)  # so that the pieces arrive as separate reads
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused and closed before the rest was sent
        try:
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, OSError):
            pass
    if seen:
        return "taken", seen[0].body
    answered = [
        line for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ") and line[9:10] != b"1"
    ]
    return ("refused" if answered else "waiting"), b""


def test_listen_and_h11_agree_on_generated_requests():
    outcomes: Counter[str] = Counter()
    with running() as (receiver, seen):

        @settings(
            max_examples=400,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(request_streams())
        def agree(generated: Generated) -> None:
            pieces = generated.pieces()
            ours = listen_reads(receiver.port, pieces, seen)
            deliberate = generated.features & DELIBERATE.keys()
            event(f"listen: {ours[0]}")
            outcomes[ours[0]] += 1
            outcomes.update(f"feature {name}" for name in generated.features)
            if deliberate:
                assert ours[0] == "refused", (sorted(deliberate), generated.data)
            else:
                theirs = h11_reads(pieces)
                assert ours == theirs, (sorted(generated.features), generated.data, pieces)
            figures.example("listen-agrees-with-h11")

        agree()
    figures.note(
        "listen differential",
        "listen vs h11: "
        + ", ".join(f"{outcomes[key]} {key}" for key in ("taken", "refused", "waiting"))
        + " first requests; "
        + ", ".join(
            f"{key[8:]} {count}" for key, count in sorted(outcomes.items()) if key.startswith("feature ")
        ),
    )
