"""The cases of ``invwh check``: does a live receiver accept what it must and reject what it must.

Each case is one or two deliveries and a rule for judging the answers. The
required cases decide the verdict; the recommended ones (timestamp freshness,
which the API's own SDK does not check) warn unless run strictly; the
informational one only reports.

A rejection only means something from a receiver that accepts a valid event,
so the acceptance cases run first, as a preflight. An answer that says the
URL is not a webhook endpoint at all (404, 405, a redirect, not HTTP) stops
the run there. When no valid event is accepted, the rejection cases are
reported as not proven, never as passed. And every forged request is built
from an event the receiver did accept, so that the forgery is the only
difference.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..events.factory import SeededEvents, event_body
from ..events.payloads import Payload
from ..events.validation import check_event, event_type_names
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, replace_signatures, sign, wrong_secret
from ..transport.failures import NOT_HTTP_PREFIXES
from . import report
from .delivery import Deliverer, DeliveryResult, Signer
from .report import Item

REQUIRED = "required"
RECOMMENDED = "recommended"
INFO = "info"

#: How much of each request and answer body a case records.
PREVIEW_BYTES = 200

#: 4xx answers that say something other than "refused", so are no rejection.
NOT_A_REJECTION = {
    404: "that says there is no such path, not that the request was refused",
    405: "that says the method is not allowed, not that the request was refused",
    408: "that says the request timed out, not that it was refused",
    429: "that says slow down (rate limiting), not that the request was refused",
}

#: Where the fix for a receiver that verifies re-serialized JSON goes.
RAW_BYTES_FIX = (
    "verify over the raw body bytes before parsing (request.get_data() in Flask, "
    "await request.body() in FastAPI)"
)

SEED_RANGE = 1_000_000


@dataclass
class CaseResult:
    name: str
    level: str
    sent: str  # what was sent, one line
    passed: bool | None  # None for informational cases and those not proven
    explanation: str  # why the answer passes or fails, one line
    deliveries: list[DeliveryResult] = field(default_factory=list)
    #: False when the answer cannot prove the case: a rejection by a receiver that accepted no valid event.
    proven: bool = True

    @property
    def statuses(self) -> list[int | None]:
        return [d.status for d in self.deliveries]

    @property
    def verdict(self) -> str:
        if not self.proven:
            return "not proven"
        if self.passed is None:
            return "reported"
        return "passed" if self.passed else "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.name,
            "level": self.level,
            "passed": self.passed,
            "verdict": self.verdict,
            "sent": self.sent,
            "explanation": self.explanation,
            "statuses": self.statuses,
            "errors": [d.error for d in self.deliveries if d.error],
            "deliveries": [exchange(d) for d in self.deliveries],
        }


def exchange(delivery: DeliveryResult) -> dict[str, Any]:
    """What one delivery sent and what came back, bodies cut to ``PREVIEW_BYTES``."""
    return {
        "request": {
            "method": delivery.method,
            "url": delivery.url,
            "headers": dict(delivery.request_headers),
            "body_preview": _preview(delivery.request_body),
            "body_bytes": len(delivery.request_body),
        },
        "response": {
            "status": delivery.status,
            "reason": delivery.reason or None,
            "body_preview": _preview(delivery.response_preview),
            "error": delivery.error,
        },
    }


def _preview(data: bytes) -> str:
    return data[:PREVIEW_BYTES].decode("utf-8", "replace")


@dataclass
class CheckRun:
    results: list[CaseResult]
    strict: bool
    #: Gives the same generated events again: ``--seed``.
    seed: int = 0
    expect: tuple[int, ...] = (200,)
    #: Why the run stopped after the preflight (the URL is not a webhook endpoint), one line.
    stopped: str | None = None
    #: What the preflight found that shapes the other verdicts (a wrong secret, re-serialized JSON).
    diagnosis: str | None = None

    def decides(self, result: CaseResult) -> bool:
        """Whether the case decides the verdict: the required ones, and the recommended ones when strict."""
        return result.level == REQUIRED or (self.strict and result.level == RECOMMENDED)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if r.passed is False and self.decides(r)]

    @property
    def warnings(self) -> list[CaseResult]:
        return [r for r in self.results if r.passed is False and not self.decides(r)]

    @property
    def not_proven(self) -> list[CaseResult]:
        return [r for r in self.results if not r.proven]

    @property
    def undelivered(self) -> bool:
        return any(not d.delivered for r in self.results for d in r.deliveries)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_proven and self.stopped is None


def case_item(case: CaseResult, strict: bool, *, unreachable: bool = False) -> Item:
    """A case as an item of the run's report."""
    if unreachable:
        outcome = report.UNDELIVERED
    elif not case.proven:
        outcome = report.NOT_PROVEN
    elif case.passed is None:
        outcome = report.INFO
    elif case.passed:
        outcome = report.PASSED
    elif case.level == REQUIRED or (strict and case.level == RECOMMENDED):
        outcome = report.FAILED
    else:
        outcome = report.WARNING
    return Item(
        case.name,
        outcome,
        {"name": case.name, "outcome": outcome, **case.to_dict()},
        sum(d.elapsed for d in case.deliveries),
        cells=(case.level,),
        notes=(case.explanation, f"sent: {case.sent}"),
        deliveries=case.deliveries,
    )


def new_seed() -> int:
    """A seed for a run not given one; reported, so that the run can be repeated."""
    return random.SystemRandom().randrange(SEED_RANGE)


def unreachable(result: DeliveryResult) -> bool:
    """Nothing came back at all (refused, DNS, TLS, timeout), unlike an answer that is not HTTP."""
    return not result.delivered and not _not_http(result)


def _not_http(result: DeliveryResult) -> bool:
    # How transport.failures describes a server that answered, but not in HTTP.
    return result.error is not None and result.error.startswith(NOT_HTTP_PREFIXES)


def check_payloads(payloads: Sequence[Payload]) -> list[tuple[Payload, str, dict[str, Any]]]:
    """Each payload with its event type and document; an invalid one is an input error."""
    out = []
    for payload in payloads:
        checked = check_event(payload.body)
        if not checked.ok or not isinstance(checked.document, dict):
            problem = checked.problems[0] if checked.problems else "not an object"
            raise InputError(f"{payload.name} is not a valid inventory event: {problem}")
        assert checked.event_type is not None
        out.append((payload, checked.event_type, checked.document))
    return out


def run_checks(
    deliverer: Deliverer,
    scheme: Scheme,
    secret: Secret,
    *,
    tolerance: int = 300,
    strict: bool = False,
    expect: Collection[int] = (200,),
    seed: int | None = None,
    payloads: Sequence[Payload] = (),
    on_result: Callable[[CaseResult], None] | None = None,
) -> CheckRun:
    """Run every case against the deliverer's URL.

    ``expect`` is what accepting means (200 by default). Generated events come
    from ``seed`` (a new one, kept on the run, when None); ``payloads``, the
    user's own valid events, replace them. ``on_result`` sees each case as it
    is done.
    """
    valid = check_payloads(payloads)
    run = CheckRun([], strict, seed=new_seed() if seed is None else seed, expect=tuple(sorted(expect)))
    _Suite(deliverer, scheme, secret, run, on_result).run(tolerance, valid)
    return run


class _Suite:
    def __init__(
        self,
        deliverer: Deliverer,
        scheme: Scheme,
        secret: Secret,
        run: CheckRun,
        on_result: Callable[[CaseResult], None] | None,
    ) -> None:
        self.deliverer = deliverer
        self.scheme = scheme
        self.secret = secret
        self.check_run = run
        self.on_result = on_result
        self.events = SeededEvents(run.seed)
        self.expect = run.expect

    # --- helpers ---------------------------------------------------------

    def record(self, case: CaseResult) -> CaseResult:
        self.check_run.results.append(case)
        if self.on_result:
            self.on_result(case)
        return case

    def post(self, body: bytes, signer: Signer, what: str, event_type: str | None = None) -> DeliveryResult:
        return self.deliverer.deliver(
            body, payload=what, event_type=event_type, signer=signer, expected=self.expect
        )

    def signed(self, body: bytes, **kwargs: Any) -> dict[str, str]:
        # A scheme that signs the notification URL (square) signs the URL checked.
        kwargs.setdefault("url", self.deliverer.options.url)
        return sign(self.scheme, self.secret, body, **kwargs)

    def signer(self) -> Signer:
        return lambda b: self.signed(b)

    def accepted(self, result: DeliveryResult) -> bool:
        """Taken in: an expected answer, or any 2xx (which may be what the receiver means by it)."""
        status = result.status
        return result.delivered and status is not None and (status in self.expect or 200 <= status < 300)

    def expected_text(self) -> str:
        return " or ".join(map(str, self.expect))

    # --- the run ---------------------------------------------------------

    def run(self, tolerance: int, payloads: list[tuple[Payload, str, dict[str, Any]]]) -> None:
        acceptance = self.acceptance(payloads)
        if self.check_run.stopped is not None:
            return
        first_accepted = next((case for case in acceptance if self.accepted(case.deliveries[0])), None)
        # The re-serialization case also tells a receiver that re-serializes
        # (it takes json.dumps bytes) from one with another secret (it takes none).
        base_document = json.loads(
            (first_accepted or acceptance[0]).deliveries[0].request_body.decode("utf-8")
        )
        formats_case, dumps_body, dumps_accepted = self.reserialization(base_document)
        baseline: bytes | None
        if first_accepted is not None:
            baseline = first_accepted.deliveries[0].request_body
        elif dumps_accepted:
            baseline = dumps_body
            self.blame(
                acceptance,
                "valid events are refused as sent but accepted as json.dumps writes them: the receiver "
                "most likely computes the HMAC over re-serialized JSON, not the raw bytes (the secret "
                "is right); the forged cases below are built on json.dumps bytes",
                "refused as sent, yet accepted as json.dumps re-serializes it: the HMAC is most likely "
                "computed over re-serialized JSON",
            )
        else:
            baseline = None
            statuses = {case.deliveries[0].status for case in acceptance}
            if statuses & {401, 403}:
                self.blame(
                    acceptance,
                    f"valid events are refused ({self.answers(acceptance)}): the secret or the scheme "
                    f"({self.scheme.name}) most likely differs from the receiver's; the rejection cases "
                    "below prove nothing (not proven)",
                    f"the secret or the scheme ({self.scheme.name}) most likely differs from the receiver's",
                    (401, 403),
                )
            else:
                self.check_run.diagnosis = (
                    f"no valid event was accepted ({self.answers(acceptance)}): the rejection cases "
                    "below prove nothing (not proven)"
                )
        self.judge_formats(formats_case, first_accepted is not None, dumps_accepted)
        self.record(formats_case)
        base = baseline if baseline is not None else acceptance[0].deliveries[0].request_body
        self.forgeries(base, proven=baseline is not None, tolerance=tolerance)
        self.duplicate(base)

    def answers(self, cases: list[CaseResult]) -> str:
        seen = []
        for case in cases:
            d = case.deliveries[0]
            shown = f"{d.status} {d.reason}".strip() if d.delivered else "not delivered"
            if shown not in seen:
                seen.append(shown)
        return ", ".join(seen)

    def blame(
        self,
        acceptance: list[CaseResult],
        diagnosis: str,
        cause: str,
        statuses: Collection[int] = range(400, 500),
    ) -> None:
        """Say once for the run, and on each refused acceptance case, what most likely went wrong."""
        self.check_run.diagnosis = diagnosis
        for case in acceptance:
            d = case.deliveries[0]
            if d.delivered and d.status in statuses:
                case.explanation = f"answered {d.status} {d.reason}: {cause}".replace("  ", " ")

    def acceptance(self, payloads: list[tuple[Payload, str, dict[str, Any]]]) -> list[CaseResult]:
        items: list[tuple[str, str, bytes, str]]
        if payloads:
            items = [
                (f"accepts {p.name}", f"{p.name} as given, validly signed", p.body, event_type)
                for p, event_type, _ in payloads
            ]
        else:
            items = [
                (
                    f"accepts {name}",
                    f"a {name} event, validly signed",
                    event_body(self.events.event(name)),
                    name,
                )
                for name in event_type_names()
            ]
        cases = []
        for name, sent, body, event_type in items:
            result = self.post(body, self.signer(), f"valid {event_type}", event_type)
            case = self.record(self.judge_acceptance(name, sent, result))
            cases.append(case)
            wrong = self.wrong_endpoint(result)
            if wrong is not None:
                self.check_run.stopped = (
                    f"{result.url} {wrong} to a validly signed event: is this the webhook endpoint?"
                )
                break
        return cases

    def wrong_endpoint(self, result: DeliveryResult) -> str | None:
        """What the answer was, when it says this URL is no webhook endpoint; else None."""
        if _not_http(result):
            return f"answered with something that is not HTTP ({result.error})"
        status = result.status
        if status is None:
            return None
        if status in (404, 405):
            return f"answered {status} {result.reason}".rstrip()
        if 300 <= status < 400:
            where = f" (a redirect to {result.location})" if result.location else " (a redirect)"
            return f"answered {status} {result.reason}".rstrip() + where
        return None

    def judge_acceptance(self, name: str, sent: str, result: DeliveryResult) -> CaseResult:
        if not result.delivered:
            return CaseResult(name, REQUIRED, sent, False, f"not delivered: {result.error}", [result])
        status = _status(result)
        if result.status in self.expect:
            return CaseResult(name, REQUIRED, sent, True, f"answered {status}", [result])
        if self.accepted(result):
            why = (
                f"answered {status}, not {self.expected_text()}: if that means accepted, "
                f"say so with --expect {result.status}"
            )
        else:
            why = (
                f"answered {status}: a valid, validly signed event must be accepted ({self.expected_text()})"
            )
        return CaseResult(name, REQUIRED, sent, False, why, [result])

    def reserialization(self, document: dict[str, Any]) -> tuple[CaseResult, bytes, bool]:
        """The same valid event as sent (indented, non-ASCII text) and as json.dumps writes it."""
        event = dict(document)
        name = event.get("productName")
        event["productName"] = (name if isinstance(name, str) else "Widget") + " (Größe M, ±5 %)"
        as_sent = dict(event)
        as_dumped = dict(event)
        if isinstance(event.get("eventId"), str):
            # New ids: a receiver that deduplicates must not refuse the second form as a repeat.
            as_sent["eventId"] = self.events.event_id()
            as_dumped["eventId"] = self.events.event_id()
        sent_body = json.dumps(as_sent, indent=2, ensure_ascii=False).encode("utf-8")
        dumps_body = json.dumps(as_dumped).encode()
        event_type = check_event(sent_body).event_type
        first = self.post(sent_body, self.signer(), "formatted event", event_type)
        second = self.post(dumps_body, self.signer(), "json.dumps event", event_type)
        case = CaseResult(
            "verifies the raw body bytes",
            REQUIRED,
            "a valid event indented with non-ASCII text, then as json.dumps writes it",
            None,
            "",
            [first, second],
        )
        return case, dumps_body, self.accepted(second)

    def judge_formats(self, case: CaseResult, any_accepted: bool, dumps_accepted: bool) -> None:
        first, second = case.deliveries
        answers = f"answered {_status(first)}, then {_status(second)}"
        if not first.delivered or not second.delivered:
            case.passed, case.explanation = False, f"{answers}: not delivered"
        elif self.accepted(first):
            case.passed = True
            case.explanation = f"{answers}: the signature is checked over the bytes as received"
        elif dumps_accepted:
            case.passed = False
            case.explanation = (
                f"{answers}: the receiver most likely computes the HMAC over re-serialized JSON "
                f"instead of the raw request bytes; {RAW_BYTES_FIX}"
            )
        elif not any_accepted:
            case.proven = False
            case.explanation = f"{answers}, as to every valid event: nothing is proven"
        else:
            case.passed = False
            case.explanation = (
                f"{answers}: a valid, validly signed event must be accepted however its JSON is formatted"
            )

    def forgeries(self, base: bytes, *, proven: bool, tolerance: int) -> None:
        scheme = self.scheme
        header = scheme.signature_header

        def reject(
            name: str, sent: str, result: DeliveryResult, fail_hint: str, level: str = REQUIRED
        ) -> None:
            self.record(self.judge_rejection(name, level, sent, result, fail_hint, proven))

        tampered, change = _tamper(base)
        reject(
            "rejects a tampered body",
            f"a body changed after signing ({change})",
            self.post(tampered, lambda b: self.signed(base), "tampered body"),
            "anyone on the path can change the event: compute the HMAC over the raw body received",
        )
        reject(
            "rejects another secret",
            "a valid event signed with a secret that is not the receiver's",
            self.post(
                base,
                lambda b: sign(scheme, wrong_secret(scheme), b, url=self.deliverer.options.url),
                "wrong secret",
            ),
            "forged deliveries are accepted: verify the signature against your secret",
        )
        reject(
            "rejects a missing signature",
            f"a valid event without the {header} header",
            self.post(base, lambda b: _without(self.signed(b), header), "no signature"),
            f"unsigned deliveries are accepted: reject requests without {header}",
        )
        malformed = scheme.value_template.replace("{digest}", "not a signature!")
        reject(
            "rejects a malformed signature",
            f"a valid event whose {header} is not a well-formed signature",
            self.post(
                base, lambda b: replace_signatures(scheme, self.signed(b), [malformed]), "malformed signature"
            ),
            "a malformed signature is accepted: treat any parse failure as a rejection",
        )
        if any(part == (True, "method") for part in scheme.message_parts):
            reject(
                "rejects a signature for another method",
                "a valid event signed as if for PUT, sent as POST",
                self.post(base, lambda b: self.signed(b, method="PUT"), "signed for PUT"),
                "the signed message must include the request's own method",
            )
        if scheme.signs_url:
            elsewhere = _another_endpoint(self.deliverer.options.url)
            reject(
                "rejects a signature for another URL",
                f"a valid event signed for {elsewhere}, sent to the URL checked",
                self.post(base, lambda b: self.signed(b, url=elsewhere), "signed for another URL"),
                "the signed message must include the receiver's own notification URL: "
                "a delivery meant for another endpoint must not verify here",
            )
        if scheme.signs_id and scheme.id_header:
            id_header = scheme.id_header
            reject(
                "rejects a changed message id",
                f"a valid event whose {id_header} was changed after signing",
                self.post(
                    base, lambda b: {**self.signed(b), id_header: f"{scheme.id_prefix}changed"}, "changed id"
                ),
                f"the signed message must include {id_header}: a new id slips past deduplication",
            )
        self.record(
            self.judge_survival(
                "survives malformed JSON",
                "a validly signed body that is not JSON",
                self.post(
                    b'{"inventoryStockIncreaseEventType": "stock.increase",', self.signer(), "malformed JSON"
                ),
                proven,
            )
        )
        self.record(
            self.judge_survival(
                "survives an unknown event type",
                "a validly signed JSON object of no known event type",
                self.post(
                    b'{"inventoryStockRestockedEventType": "stock.restocked", "sku": "WIDGET-BLU-M"}',
                    self.signer(),
                    "unknown event type",
                ),
                proven,
            )
        )
        if scheme.timestamp_header and tolerance > 0:
            stamp = scheme.timestamp_header
            now = int(time.time())
            stale = now - tolerance - 600
            reject(
                "rejects a stale timestamp",
                f"a valid event signed {tolerance + 600} s ago (tolerance {tolerance} s)",
                self.post(base, lambda b: self.signed(b, timestamp=stale), "stale timestamp"),
                f"a captured delivery can be replayed later: reject {stamp} older than {tolerance} s "
                "(the API's SDK does not check it; add the check yourself)",
                RECOMMENDED,
            )
            future = now + tolerance + 3600
            reject(
                "rejects a far-future timestamp",
                f"a valid event timestamped {tolerance + 3600} s ahead",
                self.post(base, lambda b: self.signed(b, timestamp=future), "future timestamp"),
                f"a delivery signed ahead of time stays replayable: reject {stamp} more than "
                f"{tolerance} s in the future",
                RECOMMENDED,
            )

    def judge_rejection(
        self, name: str, level: str, sent: str, result: DeliveryResult, fail_hint: str, proven: bool
    ) -> CaseResult:
        if not result.delivered:
            return CaseResult(name, level, sent, False, f"not delivered: {result.error}", [result])
        status = result.status
        assert status is not None
        shown = _status(result)
        if self.accepted(result):
            return CaseResult(name, level, sent, False, f"answered {shown}: {fail_hint}", [result])
        if 400 <= status < 500 and status not in NOT_A_REJECTION:
            if not proven:
                why = f"answered {shown}, but no valid event was accepted either: a rejection proves nothing"
                return CaseResult(name, level, sent, None, why, [result], proven=False)
            return CaseResult(name, level, sent, True, f"answered {shown}, a rejection", [result])
        if status in NOT_A_REJECTION:
            why = f"answered {shown}: {NOT_A_REJECTION[status]}; a forged request must get a 4xx such as 401"
        elif status >= 500:
            why = f"answered {shown}: a forged request must get a 4xx (401), not a crash"
        else:
            why = f"answered {shown}: not a rejection; a forged request must get a 4xx such as 401"
        return CaseResult(name, level, sent, False, why, [result])

    def judge_survival(self, name: str, sent: str, result: DeliveryResult, proven: bool) -> CaseResult:
        if not result.delivered:
            return CaseResult(name, REQUIRED, sent, False, f"not delivered: {result.error}", [result])
        status = result.status or 0
        shown = _status(result)
        if status >= 500:
            why = f"answered {shown}: bad input must get a 4xx, not a crash (and not a retry storm)"
            return CaseResult(name, REQUIRED, sent, False, why, [result])
        if not proven and 400 <= status < 500:
            why = f"answered {shown}, as to valid events: whether it copes with the body is not proven"
            return CaseResult(name, REQUIRED, sent, None, why, [result], proven=False)
        return CaseResult(name, REQUIRED, sent, True, f"answered {shown}, no server error", [result])

    def duplicate(self, base: bytes) -> None:
        # The same bytes and headers twice, under an id not sent before: a
        # receiver may deduplicate by event id.
        body = _with_event_id(base, self.events.event_id())
        fixed = self.signed(body)
        first = self.post(body, lambda b: fixed, "duplicate, first")
        second = self.post(body, lambda b: fixed, "duplicate, second")
        self.record(
            CaseResult(
                "duplicate delivery",
                INFO,
                "the same signed delivery twice",
                None,
                f"answered {_status(first)} then {_status(second)}"
                + ("; the second was refused (deduplicated?)" if first.ok and not second.ok else ""),
                [first, second],
            )
        )


def _status(result: DeliveryResult) -> str:
    if not result.delivered:
        return f"nothing ({result.error})"
    return f"{result.status} {result.reason}".rstrip()


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


def _with_event_id(body: bytes, new_id: str) -> bytes:
    """``body`` with its eventId's value replaced in place, or unchanged when it has none."""
    match = re.search(rb'"eventId"\s*:\s*"([^"\\]*)"', body)
    if not match:
        return body
    return body[: match.start(1)] + new_id.encode() + body[match.end(1) :]
