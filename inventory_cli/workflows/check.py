"""The run of ``invwh check``: does a live receiver accept what it must and reject what it must.

Each case (a row of ``check_cases.CASES``) is one or two deliveries and a rule
for judging the answers; ``run_checks`` sends them and judges each answer,
and a result, once reported, never changes, so a report can stream. The
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
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidPayloadError
from ..events.factory import SeededEvents, event_body
from ..events.payloads import Payload
from ..events.validation import check_event, event_type_names
from ..signing.schemes import Scheme
from ..signing.signatures import Secret, sign
from ..transport.exchange import Signer
from . import report
from .check_cases import (
    CASES,
    CASES_BY_ID,
    CONTRACT_422,
    PAYLOAD_CASE,
    REQUIRED,
    Case,
    Forging,
    select_cases,
)
from .check_results import CaseResult, CheckRun, answer_excerpt
from .delivery import Deliverer, DeliveryResult

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


def new_seed() -> int:
    """A seed for a run not given one; reported, so that the run can be repeated."""
    return random.SystemRandom().randrange(SEED_RANGE)


def unreachable(result: DeliveryResult) -> bool:
    """Nothing came back at all (refused, DNS, TLS, timeout), unlike an answer that is not HTTP."""
    return not result.delivered and not _not_http(result)


def _not_http(result: DeliveryResult) -> bool:
    # Decided by the failure's kind, never its wording: the messages may change.
    return result.failure_kind is not None and result.failure_kind.answered


def check_payloads(payloads: Sequence[Payload]) -> list[tuple[Payload, str, dict[str, Any]]]:
    """Each payload with its event type and document; an invalid one is a failed check (exit 1)."""
    out = []
    for payload in payloads:
        checked = check_event(payload.body)
        if not checked.ok or not isinstance(checked.document, dict):
            problem = checked.problems[0] if checked.problems else "not an object"
            raise InvalidPayloadError(f"{payload.name} is not a valid inventory event: {problem}")
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
    cases: Collection[str] | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> CheckRun:
    """Run the cases against the deliverer's URL: every one, or those whose ids ``cases`` names.

    ``expect`` is what accepting means (200 by default). Generated events come
    from ``seed`` (a new one, kept on the run, when None) and are dated by
    ``clock``; ``payloads``, the user's own valid events, replace them.
    ``on_result`` sees each case as it is done, in its final form. The
    preflight (the acceptance cases) runs whichever cases are asked for.
    """
    valid = check_payloads(payloads)
    selected = None if cases is None else select_cases(list(cases), scheme, tolerance, len(valid))
    run = CheckRun([], strict, seed=new_seed() if seed is None else seed, expect=tuple(sorted(expect)))
    _Suite(deliverer, scheme, secret, run, on_result, selected, clock).run(tolerance, valid)
    return run


@dataclass(frozen=True)
class _Preflight:
    """One acceptance case's delivery, before it is judged."""

    id: str
    name: str
    sent: str
    result: DeliveryResult


class _Suite:
    def __init__(
        self,
        deliverer: Deliverer,
        scheme: Scheme,
        secret: Secret,
        run: CheckRun,
        on_result: Callable[[CaseResult], None] | None,
        selected: frozenset[str] | None,
        clock: Callable[[], float],
    ) -> None:
        self.deliverer = deliverer
        self.scheme = scheme
        self.secret = secret
        self.check_run = run
        self.on_result = on_result
        self.selected = selected
        self.clock = clock
        self.events = SeededEvents(run.seed, clock)
        self.expect = run.expect

    # --- helpers ---------------------------------------------------------

    def wanted(self, case_id: str) -> bool:
        return self.selected is None or case_id in self.selected

    def record(self, case: CaseResult) -> CaseResult:
        self.check_run.results.append(case)
        if self.on_result:
            self.on_result(case)
        return case

    def result(
        self,
        case: Case | tuple[str, str],
        sent: str,
        passed: bool | None,
        explanation: str,
        deliveries: list[DeliveryResult],
        *,
        proven: bool = True,
        soft: bool = False,
        level: str = REQUIRED,
        accepted_instead: int | None = None,
    ) -> CaseResult:
        """A case's result with its outcome: where strictness is decided, once."""
        case_id, name = (case.id, case.name) if isinstance(case, Case) else case
        level = case.level if isinstance(case, Case) else level
        if not proven:
            outcome = report.NOT_PROVEN
        elif passed is None:
            outcome = report.INFO
        elif passed:
            outcome = report.PASSED
        elif (level == REQUIRED and not soft) or self.check_run.strict:
            outcome = report.FAILED
        else:
            outcome = report.WARNING
        return CaseResult(
            name, level, sent, passed, explanation, deliveries, proven, case_id, outcome, accepted_instead
        )

    def post(self, body: bytes, signer: Signer, what: str, event_type: str | None = None) -> DeliveryResult:
        return self.deliverer.deliver(
            body, payload=what, event_type=event_type, signer=signer, expected=self.expect
        )

    def signer(self) -> Signer:
        url = self.deliverer.options.url
        return lambda b: sign(self.scheme, self.secret, b, url=url)

    def accepted(self, result: DeliveryResult) -> bool:
        """Taken in: an expected answer, or any 2xx (which may be what the receiver means by it)."""
        status = result.status
        return result.delivered and status is not None and (status in self.expect or 200 <= status < 300)

    def expected_text(self) -> str:
        return " or ".join(map(str, self.expect))

    # --- the run ---------------------------------------------------------

    def run(self, tolerance: int, payloads: list[tuple[Payload, str, dict[str, Any]]]) -> None:
        forged = [
            case
            for case in CASES
            if case.forge is not None and self.wanted(case.id) and case.applies(self.scheme, tolerance)
        ]
        sent: list[_Preflight] = []
        try:
            # The duplicate is built on the same base as the forged cases.
            need_base = bool(forged) or self.wanted("duplicate-delivery")
            found = self.preflight(payloads, sent, need_base=need_base)
        except KeyboardInterrupt:
            # Stopped before the preflight was judged: what it sent is reported, on its own answer.
            for p in sent:
                self.record(self.judge_acceptance(p, None))
            raise
        if found is None:
            return
        base, proven = found
        forging = Forging(
            self.scheme, self.secret, self.deliverer.options.url, base, tolerance, int(self.clock())
        )
        for case in forged:
            assert case.forge is not None
            request = case.forge(forging)
            delivery = self.post(request.body, request.headers, request.label)
            if case.rule == CONTRACT_422:
                self.record(self.judge_survival(case, request.sent, delivery, proven))
            else:
                self.record(self.judge_rejection(case, request.sent, delivery, request.fail_hint, proven))
        if self.wanted("duplicate-delivery"):
            self.duplicate(base)

    def preflight(
        self, payloads: list[tuple[Payload, str, dict[str, Any]]], sent: list[_Preflight], *, need_base: bool
    ) -> tuple[bytes, bool] | None:
        """The valid events, judged together: the base of the forged cases and whether a rejection
        proves anything; None when the run stops here."""
        if not self.acceptance(payloads, sent):
            return None
        first_accepted = next((p for p in sent if self.accepted(p.result)), None)
        # The raw-bytes case also tells a receiver that re-serializes (it takes json.dumps
        # bytes) from one with another secret (it takes none): when nothing was accepted
        # as sent, the forged cases need it to find their base.
        raw: tuple[list[DeliveryResult], bytes] | None = None
        if self.wanted("raw-body-bytes") or (first_accepted is None and need_base):
            base_document = json.loads((first_accepted or sent[0]).result.request_body.decode("utf-8"))
            raw = self.reserialization(base_document)
        dumps_accepted = raw is not None and self.accepted(raw[0][1])
        baseline: bytes | None = None
        cause: tuple[str, Collection[int]] | None = None
        if first_accepted is not None:
            baseline = first_accepted.result.request_body
        elif raw is not None and dumps_accepted:
            baseline = raw[1]
            self.check_run.diagnosis = (
                "valid events are refused as sent but accepted as json.dumps writes them: the receiver "
                "most likely computes the HMAC over re-serialized JSON, not the raw bytes (the secret "
                "is right); the forged cases below are built on json.dumps bytes"
            )
            cause = (
                "refused as sent, yet accepted as json.dumps re-serializes it: the HMAC is most likely "
                "computed over re-serialized JSON",
                range(400, 500),
            )
        else:
            cause = self.refusal_cause(sent)
        judged = [self.judge_acceptance(p, cause) for p in sent]
        base = baseline if baseline is not None else sent[0].result.request_body
        sent.clear()
        for case in judged:
            self.record(case)
        if raw is not None:
            self.record(self.judge_formats(raw[0], first_accepted is not None, dumps_accepted))
        return base, baseline is not None

    def acceptance(self, payloads: list[tuple[Payload, str, dict[str, Any]]], sent: list[_Preflight]) -> bool:
        """Each valid event sent once, into ``sent``; False when the run stops there (reported)."""
        items: list[tuple[str, str, str, bytes, str]]
        if payloads:
            items = [
                (
                    PAYLOAD_CASE.format(n),
                    f"accepts {p.name}",
                    f"{p.name} as given, validly signed",
                    p.body,
                    kind,
                )
                for n, (p, kind, _) in enumerate(payloads, 1)
            ]
        else:
            items = [
                (
                    f"accepts-{name}",
                    f"accepts {name}",
                    f"a {name} event, validly signed",
                    event_body(self.events.event(name)),
                    name,
                )
                for name in event_type_names()
            ]
        for case_id, name, what, body, event_type in items:
            result = self.post(body, self.signer(), f"valid {event_type}", event_type)
            sent.append(_Preflight(case_id, name, what, result))
            if len(sent) == 1 and unreachable(result):
                # No receiver at all: each further case would only fail the same way.
                self.check_run.unreachable = True
                sent.clear()
                why = f"not delivered: {result.error}"
                outcome = report.UNDELIVERED
                self.record(
                    CaseResult(name, REQUIRED, what, False, why, [result], id=case_id, outcome=outcome)
                )
                return False
            wrong = self.wrong_endpoint(result)
            if wrong is not None:
                self.check_run.stopped = (
                    f"{result.url} {wrong} to a validly signed event: is this the webhook endpoint?"
                )
                judged = [self.judge_acceptance(p, None) for p in sent]
                sent.clear()
                for case in judged:
                    self.record(case)
                return False
        return True

    def refusal_cause(self, preflight: list[_Preflight]) -> tuple[str, Collection[int]]:
        """Why no valid event was accepted, said once for the run and on each refused case.

        The receiver's own words come first when they say more than a refusal
        (``Signature header 'X-Signature' is missing``); else a guess from the status.
        """
        answers = _answers([p.result for p in preflight])
        statuses = {p.result.status for p in preflight}
        refused = next(
            (p.result for p in preflight if p.result.delivered and self.informative(p.result)), None
        )
        unproven = "the rejection cases below prove nothing (not proven)"
        if refused is not None:
            words = answer_excerpt(refused.response_preview)
            cause = f"the receiver says {words!r}, most likely the cause"
            header = self.unsent_header(words, refused)
            if header is not None:
                cause += (
                    f" ({header} is not a header the {self.scheme.name} scheme sends: "
                    "the receiver most likely expects another scheme)"
                )
            self.check_run.diagnosis = f"valid events are refused ({answers}): {cause}; {unproven}"
            return cause, range(400, 500)
        if statuses & {401, 403}:
            guess = f"the secret or the scheme ({self.scheme.name}) most likely differs from the receiver's"
            self.check_run.diagnosis = f"valid events are refused ({answers}): {guess}; {unproven}"
            return guess, (401, 403)
        self.check_run.diagnosis = f"no valid event was accepted ({answers}): {unproven}"
        return "", ()

    def informative(self, result: DeliveryResult) -> bool:
        """Whether the answer says more than "the signature does not match", which the guess says:
        it names a header the request did not carry, or a cause of its own (missing, expired, ...)."""
        words = answer_excerpt(result.response_preview)
        if self.unsent_header(words, result) is not None:
            return True
        return bool(set(re.findall(r"[a-z]+", words.lower())) & _CAUSE_WORDS)

    def unsent_header(self, words: str, result: DeliveryResult) -> str | None:
        """A header the answer names that the request did not carry: the receiver's scheme's."""
        sent = {name.lower() for name in result.request_headers}
        return next((h for h in _HEADER_NAMES.findall(words) if h.lower() not in sent), None)

    def judge_acceptance(self, p: _Preflight, cause: tuple[str, Collection[int]] | None) -> CaseResult:
        result, case = p.result, (p.id, p.name)
        if not result.delivered:
            return self.result(case, p.sent, False, f"not delivered: {result.error}", [result])
        status = _status(result)
        if result.status in self.expect:
            return self.result(case, p.sent, True, f"answered {status}", [result])
        if cause is not None and cause[0] and result.status in cause[1]:
            return self.result(case, p.sent, False, f"answered {status}: {cause[0]}", [result])
        if self.accepted(result):
            why = f"answered {status}, not {self.expected_text()}: if that means accepted, expect it too"
            return self.result(case, p.sent, False, why, [result], accepted_instead=result.status)
        why = f"answered {status}: a valid, validly signed event must be accepted ({self.expected_text()})"
        return self.result(case, p.sent, False, why, [result])

    def reserialization(self, document: dict[str, Any]) -> tuple[list[DeliveryResult], bytes]:
        """The same valid event as sent (indented, non-ASCII text) and as json.dumps writes it."""
        event = dict(document)
        name = event.get("productName")
        event["productName"] = (name if isinstance(name, str) else "Widget") + " (Größe M, ±5 %)"
        as_sent = dict(event)
        as_dumped = dict(event)
        if isinstance(event.get("eventId"), str):
            # New ids: a receiver that deduplicates must not refuse the second form as a repeat.
            ids = self.events.for_case("raw-body-bytes")
            as_sent["eventId"] = ids.event_id()
            as_dumped["eventId"] = ids.event_id()
        sent_body = json.dumps(as_sent, indent=2, ensure_ascii=False).encode("utf-8")
        dumps_body = json.dumps(as_dumped).encode()
        event_type = check_event(sent_body).event_type
        first = self.post(sent_body, self.signer(), "formatted event", event_type)
        second = self.post(dumps_body, self.signer(), "json.dumps event", event_type)
        return [first, second], dumps_body

    def judge_formats(
        self, deliveries: list[DeliveryResult], any_accepted: bool, dumps_accepted: bool
    ) -> CaseResult:
        case = CASES_BY_ID["raw-body-bytes"]
        sent = "a valid event indented with non-ASCII text, then as json.dumps writes it"
        first, second = deliveries
        answers = f"answered {_status(first)}, then {_status(second)}"
        if not first.delivered or not second.delivered:
            return self.result(case, sent, False, f"{answers}: not delivered", deliveries)
        if self.accepted(first):
            why = f"{answers}: the signature is checked over the bytes as received"
            return self.result(case, sent, True, why, deliveries)
        if dumps_accepted:
            why = (
                f"{answers}: the receiver most likely computes the HMAC over re-serialized JSON "
                f"instead of the raw request bytes; {RAW_BYTES_FIX}"
            )
            return self.result(case, sent, False, why, deliveries)
        if not any_accepted:
            why = f"{answers}, as to every valid event: nothing is proven"
            return self.result(case, sent, None, why, deliveries, proven=False)
        why = f"{answers}: a valid, validly signed event must be accepted however its JSON is formatted"
        return self.result(case, sent, False, why, deliveries)

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

    def judge_rejection(
        self, case: Case, sent: str, result: DeliveryResult, fail_hint: str, proven: bool
    ) -> CaseResult:
        if not result.delivered:
            return self.result(case, sent, False, f"not delivered: {result.error}", [result])
        status = result.status
        assert status is not None
        shown = _status(result)
        if self.accepted(result):
            return self.result(case, sent, False, f"answered {shown}: {fail_hint}", [result])
        if 400 <= status < 500 and status not in NOT_A_REJECTION:
            if not proven:
                why = f"answered {shown}, but no valid event was accepted either: a rejection proves nothing"
                return self.result(case, sent, None, why, [result], proven=False)
            return self.result(case, sent, True, f"answered {shown}, a rejection", [result])
        if status in NOT_A_REJECTION:
            why = f"answered {shown}: {NOT_A_REJECTION[status]}; a forged request must get a 4xx such as 401"
        elif status >= 500:
            why = f"answered {shown}: a forged request must get a 4xx (401), not a crash"
        else:
            why = f"answered {shown}: not a rejection; a forged request must get a 4xx such as 401"
        return self.result(case, sent, False, why, [result])

    def judge_survival(self, case: Case, sent: str, result: DeliveryResult, proven: bool) -> CaseResult:
        if not result.delivered:
            return self.result(case, sent, False, f"not delivered: {result.error}", [result])
        status = result.status or 0
        shown = _status(result)
        if status >= 500:
            why = f"answered {shown}: bad input must get a 4xx, not a crash (and not a retry storm)"
            return self.result(case, sent, False, why, [result])
        if self.accepted(result):
            why = f"answered {shown}: the contract says 422: the receiver claims to have processed it"
            return self.result(case, sent, False, why, [result], soft=True)
        if not proven and 400 <= status < 500:
            why = f"answered {shown}, as to valid events: whether it copes with the body is not proven"
            return self.result(case, sent, None, why, [result], proven=False)
        return self.result(case, sent, True, f"answered {shown}, no server error", [result])

    def duplicate(self, base: bytes) -> None:
        # The same bytes and headers twice, under an id not sent before: a
        # receiver may deduplicate by event id.
        body = _with_event_id(base, self.events.for_case("duplicate-delivery").event_id())
        fixed = self.signer()(body)
        first = self.post(body, lambda b: fixed, "duplicate, first")
        second = self.post(body, lambda b: fixed, "duplicate, second")
        self.record(
            self.result(
                CASES_BY_ID["duplicate-delivery"],
                "the same signed delivery twice",
                None,
                f"answered {_status(first)} then {_status(second)}"
                + ("; the second was refused (deduplicated?)" if first.ok and not second.ok else ""),
                [first, second],
            )
        )


#: Words that make an answer say more than a refusal: a cause the receiver names itself.
_CAUSE_WORDS = frozenset(
    {
        *("missing", "absent", "required", "empty", "expired", "old", "stale", "future", "late"),
        *("timestamp", "tolerance", "clock", "header", "headers", "format", "encoding", "base64"),
        *("hex", "prefix", "version", "scheme", "algorithm", "sha1", "sha512", "replay", "replayed"),
        *("duplicate", "unknown", "unsupported", "ip", "token", "key", "content", "type", "date"),
    }
)
#: Header names an answer may mention (X-Signature, Webhook-Timestamp): one the scheme does not
#: send says the receiver looks for another scheme's headers.
_HEADER_NAMES = re.compile(r"\b(?:X-[A-Za-z0-9-]+|[A-Za-z]+-(?:Signature|Timestamp|Id)[A-Za-z0-9-]*)\b")


def _answers(results: list[DeliveryResult]) -> str:
    seen = []
    for d in results:
        shown = f"{d.status} {d.reason}".strip() if d.delivered else "not delivered"
        if shown not in seen:
            seen.append(shown)
    return ", ".join(seen)


def _status(result: DeliveryResult) -> str:
    if not result.delivered:
        return f"nothing ({result.error})"
    return f"{result.status} {result.reason}".rstrip()


def _with_event_id(body: bytes, new_id: str) -> bytes:
    """``body`` with its eventId's value replaced in place, or unchanged when it has none."""
    match = re.search(rb'"eventId"\s*:\s*"([^"\\]*)"', body)
    if not match:
        return body
    return body[: match.start(1)] + new_id.encode() + body[match.end(1) :]
