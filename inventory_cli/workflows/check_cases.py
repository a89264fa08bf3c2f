"""The table of ``invwh check``'s cases: each one's stable id, level, rule and what it sends.

A case is data: its id (``tampered-body``), the name a report shows, its
level (required, recommended, info), the rule its answer is judged by, one
line on what it checks, what of the request the scheme must sign for it to
exist, and, for a forged case, the function that builds its request from an
event the receiver accepted (``Forging``). ``check`` runs them in this order.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, UnknownCaseError
from ..events.validation import event_type_names
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, replace_signatures, sign, wrong_secret
from ..transport.exchange import Signer

REQUIRED = "required"
RECOMMENDED = "recommended"
INFO = "info"

# --- the cases, as data ------------------------------------------------------------------

# What counts as passing: the rule each case is judged by.
ACCEPT = "accept"  # accepted: an expected answer
RAW_BYTES = "raw bytes"  # accepted however the JSON is written
REJECT = "reject"  # a 4xx that means refused
CONTRACT_422 = "422"  # no crash; a 2xx claims to have processed what the contract answers 422
REPORT = "report"  # only reported


@dataclass(frozen=True)
class Forged:
    """What a forged case sends: the body, the headers it gets, and what to say of it."""

    body: bytes
    headers: Signer
    label: str  # the delivery's name
    sent: str  # what was sent, one line
    fail_hint: str = ""  # why accepting it is wrong and what to do


@dataclass(frozen=True)
class Forging:
    """What every forged case builds on: an event the receiver accepted, and how to sign."""

    scheme: Scheme
    secret: Secret
    url: str
    base: bytes
    tolerance: int
    now: int

    def signed(self, body: bytes, **kwargs: Any) -> dict[str, str]:
        # A scheme that signs the notification URL (square) signs the URL checked.
        kwargs.setdefault("url", self.url)
        return sign(self.scheme, self.secret, body, **kwargs)


@dataclass(frozen=True)
class Case:
    """One case of the table: a stable id, its level, what it sends and the rule it is judged by."""

    id: str
    name: str
    level: str
    rule: str
    about: str  # one line, for a list of the cases
    #: What of the request the scheme must sign for the case to exist: "method", "url", "id",
    #: "timestamp" (and a tolerance above 0); "" for every scheme.
    needs: str = ""
    forge: Callable[[Forging], Forged] | None = None

    def applies(self, scheme: Scheme, tolerance: int) -> bool:
        if self.needs == "method":
            return any(part == (True, "method") for part in scheme.message_parts)
        if self.needs == "url":
            return scheme.signs_url
        if self.needs == "id":
            return bool(scheme.signs_id and scheme.id_header)
        if self.needs == "timestamp":
            return bool(scheme.timestamp_header) and tolerance > 0
        return True


def _tampered(f: Forging) -> Forged:
    tampered, change = _tamper(f.base)
    return Forged(
        tampered,
        lambda b: f.signed(f.base),
        "tampered body",
        f"a body changed after signing ({change})",
        "anyone on the path can change the event: compute the HMAC over the raw body received",
    )


def _wrong_secret(f: Forging) -> Forged:
    return Forged(
        f.base,
        lambda b: sign(f.scheme, wrong_secret(f.scheme), b, url=f.url),
        "wrong secret",
        "a valid event signed with a secret that is not the receiver's",
        "forged deliveries are accepted: verify the signature against your secret",
    )


def _missing_signature(f: Forging) -> Forged:
    header = f.scheme.signature_header
    return Forged(
        f.base,
        lambda b: _without(f.signed(b), header),
        "no signature",
        f"a valid event without the {header} header",
        f"unsigned deliveries are accepted: reject requests without {header}",
    )


def _malformed_signature(f: Forging) -> Forged:
    malformed = f.scheme.value_template.replace("{digest}", "not a signature!")
    return Forged(
        f.base,
        lambda b: replace_signatures(f.scheme, f.signed(b), [malformed]),
        "malformed signature",
        f"a valid event whose {f.scheme.signature_header} is not a well-formed signature",
        "a malformed signature is accepted: treat any parse failure as a rejection",
    )


def _wrong_method(f: Forging) -> Forged:
    return Forged(
        f.base,
        lambda b: f.signed(b, method="PUT"),
        "signed for PUT",
        "a valid event signed as if for PUT, sent as POST",
        "the signed message must include the request's own method",
    )


def _wrong_url(f: Forging) -> Forged:
    elsewhere = _another_endpoint(f.url)
    return Forged(
        f.base,
        lambda b: f.signed(b, url=elsewhere),
        "signed for another URL",
        f"a valid event signed for {elsewhere}, sent to the URL checked",
        "the signed message must include the receiver's own notification URL: "
        "a delivery meant for another endpoint must not verify here",
    )


def _changed_id(f: Forging) -> Forged:
    id_header = f.scheme.id_header or ""
    return Forged(
        f.base,
        lambda b: {**f.signed(b), id_header: f"{f.scheme.id_prefix}changed"},
        "changed id",
        f"a valid event whose {id_header} was changed after signing",
        f"the signed message must include {id_header}: a new id slips past deduplication",
    )


def _malformed_json(f: Forging) -> Forged:
    return Forged(
        b'{"inventoryStockIncreaseEventType": "stock.increase",',
        f.signed,
        "malformed JSON",
        "a validly signed body that is not JSON",
    )


def _unknown_event_type(f: Forging) -> Forged:
    return Forged(
        b'{"inventoryStockRestockedEventType": "stock.restocked", "sku": "WIDGET-BLU-M"}',
        f.signed,
        "unknown event type",
        "a validly signed JSON object of no known event type",
    )


def _stale_timestamp(f: Forging) -> Forged:
    stamp = f.scheme.timestamp_header
    return Forged(
        f.base,
        lambda b: f.signed(b, timestamp=f.now - f.tolerance - 600),
        "stale timestamp",
        f"a valid event signed {f.tolerance + 600} s ago (tolerance {f.tolerance} s)",
        f"a captured delivery can be replayed later: reject {stamp} older than {f.tolerance} s "
        "(the API's SDK does not check it; add the check yourself)",
    )


def _future_timestamp(f: Forging) -> Forged:
    stamp = f.scheme.timestamp_header
    return Forged(
        f.base,
        lambda b: f.signed(b, timestamp=f.now + f.tolerance + 3600),
        "future timestamp",
        f"a valid event timestamped {f.tolerance + 3600} s ahead",
        f"a delivery signed ahead of time stays replayable: reject {stamp} more than "
        f"{f.tolerance} s in the future",
    )


def _accepts(event_type: str) -> Case:
    return Case(
        f"accepts-{event_type}",
        f"accepts {event_type}",
        REQUIRED,
        ACCEPT,
        f"a {event_type} event, validly signed, is accepted (the preflight)",
    )


#: Every case, in the order a run sends them. The acceptance cases and the raw-bytes
#: case are the preflight: the forged cases are built on what they found accepted.
CASES: tuple[Case, ...] = (
    *(_accepts(name) for name in event_type_names()),
    Case(
        "raw-body-bytes",
        "verifies the raw body bytes",
        REQUIRED,
        RAW_BYTES,
        "a valid event indented with non-ASCII text, then as json.dumps writes it: both accepted",
    ),
    Case(
        "tampered-body",
        "rejects a tampered body",
        REQUIRED,
        REJECT,
        "a body changed after signing is rejected",
        forge=_tampered,
    ),
    Case(
        "wrong-secret",
        "rejects another secret",
        REQUIRED,
        REJECT,
        "a valid event signed with another secret is rejected",
        forge=_wrong_secret,
    ),
    Case(
        "missing-signature",
        "rejects a missing signature",
        REQUIRED,
        REJECT,
        "a valid event without its signature header is rejected",
        forge=_missing_signature,
    ),
    Case(
        "malformed-signature",
        "rejects a malformed signature",
        REQUIRED,
        REJECT,
        "a signature header that does not parse is rejected",
        forge=_malformed_signature,
    ),
    Case(
        "wrong-method",
        "rejects a signature for another method",
        REQUIRED,
        REJECT,
        "a signature made for PUT, sent as POST, is rejected (schemes that sign the method)",
        "method",
        _wrong_method,
    ),
    Case(
        "wrong-url",
        "rejects a signature for another URL",
        REQUIRED,
        REJECT,
        "a signature made for another URL is rejected (schemes that sign the URL)",
        "url",
        _wrong_url,
    ),
    Case(
        "changed-message-id",
        "rejects a changed message id",
        REQUIRED,
        REJECT,
        "a message id changed after signing is rejected (schemes that sign the id)",
        "id",
        _changed_id,
    ),
    Case(
        "malformed-json",
        "survives malformed JSON",
        REQUIRED,
        CONTRACT_422,
        "a validly signed body that is not JSON gets no 5xx; a 2xx warns (the contract says 422)",
        forge=_malformed_json,
    ),
    Case(
        "unknown-event-type",
        "survives an unknown event type",
        REQUIRED,
        CONTRACT_422,
        "a validly signed object of no known event type gets no 5xx; a 2xx warns (422)",
        forge=_unknown_event_type,
    ),
    Case(
        "stale-timestamp",
        "rejects a stale timestamp",
        RECOMMENDED,
        REJECT,
        "a timestamp older than the tolerance is rejected (schemes with a timestamp)",
        "timestamp",
        _stale_timestamp,
    ),
    Case(
        "future-timestamp",
        "rejects a far-future timestamp",
        RECOMMENDED,
        REJECT,
        "a timestamp far ahead is rejected (schemes with a timestamp)",
        "timestamp",
        _future_timestamp,
    ),
    Case(
        "duplicate-delivery",
        "duplicate delivery",
        INFO,
        REPORT,
        "the same signed delivery twice: both answers are reported",
    ),
)
CASES_BY_ID = {case.id: case for case in CASES}
#: The acceptance case of the n-th --payload (from 1).
PAYLOAD_CASE = "accepts-payload-{}"


def case_ids(scheme: Scheme, tolerance: int, payload_count: int = 0) -> list[str]:
    """The ids of the cases a run with this scheme, tolerance and number of payloads has."""
    ids = [case.id for case in CASES if case.rule != ACCEPT and case.applies(scheme, tolerance)]
    if payload_count:
        return [PAYLOAD_CASE.format(n) for n in range(1, payload_count + 1)] + ids
    return [case.id for case in CASES if case.rule == ACCEPT] + ids


def select_cases(
    ids: Sequence[str], scheme: Scheme, tolerance: int, payload_count: int = 0
) -> frozenset[str]:
    """The ids asked for with --case, checked: an unknown one is an input error naming the nearest."""
    known = case_ids(scheme, tolerance, payload_count)
    for wanted in ids:
        if wanted in known:
            continue
        case = CASES_BY_ID.get(wanted)
        if case is not None and not case.applies(scheme, tolerance):
            raise InputError(
                f"case {wanted} does not apply to scheme {scheme.name}"
                + (" with a tolerance of 0" if case.needs == "timestamp" and scheme.timestamp_header else "")
            )
        nearest = difflib.get_close_matches(wanted, known, n=1, cutoff=0.0)
        hint = f": did you mean {nearest[0]}?" if nearest else ""
        raise UnknownCaseError(f"unknown case {wanted!r}{hint}")
    return frozenset(ids)


def _another_endpoint(url: str) -> str:
    """``url`` on another path of the same host: where a captured delivery could have been meant."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "-elsewhere", "", ""))


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


_NUMBER_FIELDS = ("quantityChange", "newQuantity", "previousQuantity")
_TEXT_FIELDS = ("sku", "productName", "eventId")


def _tamper(body: bytes) -> tuple[bytes, str]:
    """``body`` with one field's value changed in place, keeping every other byte; what changed."""
    for name in _NUMBER_FIELDS:
        match = re.search(rb'"%s"\s*:\s*(-?[0-9]+)(?![0-9.eE])' % name.encode(), body)
        if match:
            changed = str(int(match.group(1)) + 1000).encode()
            return body[: match.start(1)] + changed + body[match.end(1) :], f"{name} + 1000"
    for name in _TEXT_FIELDS:
        match = re.search(rb'"%s"\s*:\s*"' % name.encode(), body)
        if match:
            return body[: match.end()] + b"X" + body[match.end() :], f"{name} prefixed with X"
    # Still the same JSON document: only a receiver that verifies the raw bytes notices.
    return body + b" ", "a space appended"
