"""What the page can do with a delivery: replay it, edited or not, and give it as a curl command.

A replay is one line of a recording handed to ``workflows.replay.replay``,
the code ``invwh replay`` runs, through the same client (``transport.client``:
llhttp for plain HTTP, never a silent re-send; requests for HTTPS). As received, it
carries the recorded signature headers untouched (``--keep-signature``);
re-signed, a fresh signature by the inspector's secret; edited, the page's
body and headers, signed fresh. The secret stays in this process: the page
only learns whether there is one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config.settings import SECRET_ENV
from ..errors import InputError
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, sign
from ..text import is_token
from ..workflows.delivery import Deliverer, DeliveryOptions, check_url
from ..workflows.recording import Recorded
from ..workflows.replay import ReplayOptions, replay

#: Makes a runnable curl command from a URL, a method, headers and a body: the CLI's own
#: (``invwh sign --format curl``), handed in so that the words stay at the edge.
CurlFormatter = Callable[[str, str, Mapping[str, str], bytes], str]

#: Headers an edited delivery never carries from the page: the connection's own (RFC 9110
#: section 7.6.1), those the client sets for the body it sends, and those a fresh signature replaces.
_NOT_FROM_THE_PAGE = {
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
}

MODES = ("as_received", "resign", "edited")


@dataclass
class Request:
    """A replay or curl request from the page, checked."""

    mode: str
    url: str
    body: bytes | None = None  # edited only
    headers: dict[str, str] | None = None  # edited only


def parse_request(data: Any) -> Request:
    """The page's JSON (``mode``, ``url``, and for ``edited`` ``body``, ``body_encoding``, ``headers``,
    a list of ``[name, value]``). Raises InputError, in words for the page."""
    if not isinstance(data, dict):
        raise InputError("expected a JSON object")
    mode, url = data.get("mode"), data.get("url")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}")
    if not isinstance(url, str) or not url:
        raise InputError("give the URL to send to")
    try:
        check_url(url)
        urlsplit(url).port  # noqa: B018 - raises for a port out of range, as the clients would
    except ValueError as error:  # urlsplit's: an unclosed [ of an IPv6 address, a port past 65535
        raise InputError(f"invalid URL {url!r}: {error}") from None
    if mode != "edited":
        return Request(mode, url)
    body_text, encoding = data.get("body"), data.get("body_encoding", "utf-8")
    if not isinstance(body_text, str):
        raise InputError("an edited delivery needs its body")
    if encoding == "utf-8":
        try:
            body = body_text.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("the body is not valid text") from None
    elif encoding == "base64":
        try:
            body = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("the body is not valid base64") from None
    else:
        raise InputError("body_encoding must be utf-8 or base64")
    return Request(mode, url, body, _headers(data.get("headers", [])))


def _headers(pairs: Any) -> dict[str, str]:
    if not isinstance(pairs, list):
        raise InputError("headers must be a list of [name, value]")
    headers: dict[str, str] = {}
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise InputError("headers must be a list of [name, value]")
        name, value = pair[0].strip(), pair[1].strip()
        if not is_token(name):
            raise InputError(f"not a header name: {name!r}")
        # What HTTP/1.1 can carry in a field value (RFC 9110 section 5.5), and the client pool writes.
        if any((ord(char) < 0x20 and char != "\t") or char == "\x7f" for char in value):
            raise InputError(f"header {name}: a value cannot hold control characters")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise InputError(f"header {name}: a value must be Latin-1 text") from None
        headers[name] = value
    return headers


class Actions:
    """Replays and curl commands for the deliveries of one inspector."""

    def __init__(
        self,
        scheme: Scheme,
        secret: Secret | None,
        *,
        curl: CurlFormatter,
        timeout: float = 10.0,
    ) -> None:
        self.scheme = scheme
        self.secret = secret
        self.curl_formatter = curl
        self.timeout = timeout

    def _needs_secret(self, request: Request) -> None:
        if request.mode != "as_received" and self.secret is None:
            raise InputError(
                f"no secret to sign with: start invwh inspect with --secret-file PATH or {SECRET_ENV} "
                "(or replay as received)"
            )

    def _signature_headers(self, record: Recorded) -> dict[str, str]:
        kept = {name.lower() for name in self.scheme.replayed_header_names()}
        return {name: value for name, value in record.headers.items() if name.lower() in kept}

    def _what_to_send(self, record: Recorded, request: Request) -> tuple[Recorded, dict[str, str]]:
        """The record to deliver and the headers to add to it (beside Content-Type and the signature)."""
        if request.mode != "edited":
            return record, {}
        assert request.body is not None and request.headers is not None
        signed = {name.lower() for name in self.scheme.replayed_header_names()}
        extra = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FROM_THE_PAGE and name.lower() not in signed
        }
        edited = Recorded(record.line, "POST", record.path, dict(request.headers), request.body)
        return edited, extra

    def replay(self, record: Recorded, request: Request) -> dict[str, Any]:
        """Deliver ``record`` to ``request.url`` as asked; what was sent and what came back."""
        self._needs_secret(request)
        if not record.body_read:
            raise InputError(f"the body was not recorded (answered {record.status}): nothing to replay")
        if record.method != "POST" and request.mode != "edited":
            raise InputError(f"a {record.method} request, not a delivery: edit it to send it as a POST")
        to_send, extra = self._what_to_send(record, request)
        options = DeliveryOptions(
            url=request.url, scheme=self.scheme, secret=self.secret, timeout=self.timeout, headers=extra
        )
        replay_options = ReplayOptions(keep_signature=request.mode == "as_received", expected=(200,))
        with Deliverer(options) as deliverer:
            (item,) = list(replay([to_send], deliverer, self.scheme, replay_options))
        if item.result is None:  # replay skips only what was refused above
            raise InputError(item.skipped or "nothing was sent")
        result = item.result
        return {
            **result.to_dict(),
            "mode": request.mode,
            "request": {
                "headers": dict(result.request_headers),
                "body_bytes": len(result.request_body),
            },
        }

    def curl(self, record: Recorded, request: Request) -> dict[str, Any]:
        """A curl command that sends the delivery's bytes to ``request.url``: signed now when there is
        a secret (as ``invwh sign --format curl`` does), else with the recorded signature."""
        self._needs_secret(request)
        to_send, extra = self._what_to_send(record, request)
        if request.mode == "as_received":
            signature = self._signature_headers(record)
        else:
            assert self.secret is not None
            signature = sign(self.scheme, self.secret, to_send.body, url=request.url)
        headers = {"Content-Type": "application/json", **extra, **signature}
        return {
            "mode": request.mode,
            "curl": self.curl_formatter(request.url, "POST", headers, to_send.body),
        }


def secret_of(secrets: Sequence[Secret]) -> Secret | None:
    """The secret replays and curl commands are signed with: the first one given."""
    return secrets[0] if secrets else None
