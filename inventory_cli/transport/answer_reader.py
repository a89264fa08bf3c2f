"""A connection's HTTP answers read with llhttp (``httptools``): its callbacks and the framing rules.

Both clients read answers here: ``client_pool.py`` (replay's pool) and
``forward_client.py`` (``listen --forward-to``). They differ only in what they
keep of an answer's body and fields, and in how they wait for bytes; what an
answer is, where it ends and when it is no usable answer is decided once, here,
as ``request_reader.py`` decides it for the requests ``listen`` reads.

The rules (RFC 9112 §6.3, §9):

- A body with neither ``Content-Length`` nor a final ``chunked`` coding ends
  where the connection does (``until_close``); so does one whose
  ``Transfer-Encoding`` is not chunked.
- ``Connection: close`` (in any list, on any line) and HTTP/1.0 end the
  connection after the answer (``keep``). On an interim answer llhttp takes
  it at its word: what follows is refused, a malformed answer.
- Interim (1xx) answers are read past; the final one follows. A ``101
  Switching Protocols`` is no answer: what follows is another protocol.
- The head, interim answers included, is bounded (``MAX_HEAD_BYTES``, as
  ``listen`` bounds a request's).
- Bytes after a complete answer, which no request asked for, end the
  connection; the answer stands.
- Bytes that do not start with a status line are "not HTTP", told apart from
  an HTTP answer llhttp refuses.
"""

from __future__ import annotations

import httptools

from . import failures

#: The most of an answer read before its head ends (interim answers included), as ``listen``
#: bounds a request's.
MAX_HEAD_BYTES = 64 * 1024
#: The most of an answer kept before its status line is known, to show what it was instead.
START_BYTES = 64


class _Unsolicited(Exception):
    """Bytes after a complete answer, which no request asked for."""


class AnswerReader:
    """llhttp's callbacks (these methods), gathering the answers to one connection's requests in turn.

    ``body_limit`` is how much of a body is kept: a replay keeps a preview to show
    (``body_cut`` then only says more came), a proxy the whole body, bounded (for it
    ``body_cut`` is a failure). Of the header fields it keeps only ``location`` and
    ``retry_after``, what a replay needs; ``AnswerReaderKeepingFields`` keeps them all.
    """

    def __init__(self, body_limit: int) -> None:
        self.body_limit = body_limit
        self.parser = httptools.HttpResponseParser(self)
        self.next_answer()

    def next_answer(self) -> None:
        """Ready for the answer to the next request on the connection."""
        self.keep = True  # the connection may carry another request after this answer
        self.head_read = 0  # bytes read before the final answer's head ended, interim answers included
        self.status_line = False  # a valid status line was read, an interim answer's included
        self.status: int | None = None
        self.reason = b""
        self.body = bytearray()
        self.body_cut = False  # more of the body came than ``body_limit``
        self.location: bytes | None = None
        self.retry_after: bytes | None = None
        self.start = bytearray()  # the first bytes, while a status line is still to come
        self.length_given = False
        self.chunked = False
        self.encoded = False  # a Transfer-Encoding, chunked or not
        self.head_done = False
        self.complete = False

    @property
    def until_close(self) -> bool:
        """The answer's body ends where the connection does (RFC 9112 §6.3, rules 4 and 8)."""
        return self.head_done and not self.chunked and (self.encoded or not self.length_given)

    @property
    def began(self) -> bool:
        """A byte of an answer to this request came, an interim answer's included.

        An interim answer is the server answering: a close after it is mid-answer, and a reset
        after it is not the race of a kept-alive connection closed before the request arrived.
        """
        return self.head_done or self.head_read > 0

    def feed(self, data: bytes) -> failures.Failure | None:
        """Reads bytes of the answer; returns why there is no usable answer, or None (so far, so good)."""
        if not self.head_done:
            self.head_read += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # llhttp stops at a 101: what follows is another protocol, never this request's answer.
            self.keep = False
            return failures.SWITCHED_PROTOCOLS_FAILURE
        except (httptools.HttpParserError, _Unsolicited) as error:
            self.keep = False
            if not self.complete:
                if not self.status_line:
                    return failures.not_http(bytes(self.start + data[: START_BYTES - len(self.start)]))
                return failures.malformed(str(error) or type(error).__name__)
            # Bytes after the answer: it stands, the connection ends.
        if not self.status_line and len(self.start) < START_BYTES:
            # A status line still to come: what came of it is kept, to show if it never does.
            # (Kept only then, not before every feed: most answers' first read holds their head.)
            self.start += data[: START_BYTES - len(self.start)]
        if not self.head_done and self.head_read > MAX_HEAD_BYTES:
            return failures.head_too_long(MAX_HEAD_BYTES)
        return None

    def closed(self) -> failures.Failure | None:
        """The connection ended: None when that completes the answer, or why there is none."""
        self.keep = False
        if self.complete or self.until_close:
            self.complete = True
            return None
        return failures.CLOSED_MID_ANSWER_FAILURE if self.began else failures.CLOSED_WITHOUT_ANSWER_FAILURE

    # --- llhttp's callbacks ---------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            raise _Unsolicited

    def on_status(self, reason: bytes) -> None:
        self.status_line = True
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.status_line = True  # "HTTP/1.1 200" has no reason, so no on_status
        lowered = name.lower()
        if lowered == b"content-length":
            self.length_given = True
        elif lowered == b"transfer-encoding":
            self.encoded = True
            # Only a final "chunked" frames the body (RFC 9112 §6.3): "gzip, chunked" is chunked.
            self.chunked = value.rpartition(b",")[2].strip().lower() == b"chunked"
        elif lowered == b"location":
            self.location = value
        elif lowered == b"retry-after":
            self.retry_after = value

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.status = parser.get_status_code()
        self.head_done = True
        # Connection: close (in any list, on any line), a close-delimited body, or HTTP/1.0.
        if not parser.should_keep_alive() or parser.get_http_version() != "1.1":
            self.keep = False

    def on_body(self, chunk: bytes) -> None:
        room = self.body_limit - len(self.body)
        if len(chunk) <= room:
            self.body += chunk
        else:
            if room > 0:
                self.body += chunk[:room]
            self.body_cut = True

    def on_message_complete(self) -> None:
        status = self.status
        if status is not None and 100 <= status < 200:
            # An interim answer: the final one follows. Its bytes count against the head's bound, and
            # its status line was HTTP: what llhttp refuses after it is malformed, not "not HTTP".
            keep, head_read = self.keep, self.head_read
            self.next_answer()
            self.keep, self.head_read, self.status_line = keep, head_read, True
        else:
            self.complete = True


class AnswerReaderKeepingFields(AnswerReader):
    """An answer reader that also keeps every header field as sent, in order, repeated ones repeated.

    A proxy passes them on. A replay needs two, and decoding every field would cost each of its
    deliveries: hence a class of its own, not a flag tested on every field.
    """

    def next_answer(self) -> None:
        super().next_answer()
        self.fields: list[tuple[str, str]] = []  # an interim answer's are dropped with it

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.fields.append((name.decode("latin-1"), value.decode("latin-1")))
