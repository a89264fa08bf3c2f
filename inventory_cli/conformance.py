"""The cases of ``invwh check``: does a live receiver accept what it must and reject what it must.

Each case is one or two deliveries and a rule for judging the answers. The
required cases decide the verdict; the recommended ones (timestamp freshness,
which the API's own SDK does not check) warn unless run strictly; the
informational one only reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .delivery import Deliverer, DeliveryResult, Signer
from .events import event_type_names
from .schemes import Scheme
from .signing import Secret, replace_signatures, sign
from .templates import event_body, make_event

REQUIRED = "required"
RECOMMENDED = "recommended"
INFO = "info"


@dataclass
class CaseResult:
    name: str
    level: str
    sent: str  # what was sent, one line
    passed: bool | None  # None for informational cases
    explanation: str  # why the answer passes or fails, one line
    deliveries: list[DeliveryResult] = field(default_factory=list)

    @property
    def statuses(self) -> list[int | None]:
        return [d.status for d in self.deliveries]

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.name,
            "level": self.level,
            "passed": self.passed,
            "sent": self.sent,
            "explanation": self.explanation,
            "statuses": self.statuses,
            "errors": [d.error for d in self.deliveries if d.error],
        }


@dataclass
class CheckRun:
    results: list[CaseResult]
    strict: bool

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
    def undelivered(self) -> bool:
        return any(not d.delivered for r in self.results for d in r.deliveries)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_checks(
    deliverer: Deliverer,
    scheme: Scheme,
    secret: Secret,
    *,
    tolerance: int = 300,
    strict: bool = False,
    on_result: Callable[[CaseResult], None] | None = None,
) -> CheckRun:
    results = []
    for case in _cases(deliverer, scheme, secret, tolerance):
        results.append(case)
        if on_result:
            on_result(case)
    return CheckRun(results, strict)


def _cases(deliverer: Deliverer, scheme: Scheme, secret: Secret, tolerance: int) -> Iterator[CaseResult]:
    header = scheme.signature_header

    def post(body: bytes, signer: Signer, what: str, event_type: str | None = None) -> DeliveryResult:
        return deliverer.deliver(body, payload=what, event_type=event_type, signer=signer)

    def signed(body: bytes, **kwargs: Any) -> dict[str, str]:
        return sign(scheme, secret, body, **kwargs)

    # Accepted: one valid event of each type.
    for name in event_type_names():
        body = event_body(make_event(name))
        result = post(body, lambda b: signed(b), f"valid {name}", name)
        yield _judge(
            f"accepts {name}",
            REQUIRED,
            f"a fresh {name} event, validly signed",
            result,
            accept=True,
            fail_hint="a receiver must answer 200 to a valid, validly signed event",
        )

    sample = event_body(make_event("stock.increase"))
    tampered = json.loads(sample)
    tampered["quantityChange"] = tampered.get("quantityChange", 0) + 1000
    tampered_body = event_body(tampered)
    yield _judge(
        "rejects a tampered body",
        REQUIRED,
        "a body changed after signing (quantityChange + 1000)",
        post(tampered_body, lambda b: signed(sample), "tampered body", "stock.increase"),
        accept=False,
        fail_hint="anyone on the path can change the event: compute the HMAC over the raw body received",
    )
    yield _judge(
        "rejects another secret",
        REQUIRED,
        "a valid event signed with a secret that is not the receiver's",
        post(sample, lambda b: sign(scheme, Secret("invwh-check-wrong-secret"), b), "wrong secret"),
        accept=False,
        fail_hint="forged deliveries are accepted: verify the signature against your secret",
    )
    yield _judge(
        "rejects a missing signature",
        REQUIRED,
        f"a valid event without the {header} header",
        post(sample, lambda b: _without(signed(b), header), "no signature"),
        accept=False,
        fail_hint=f"unsigned deliveries are accepted: reject requests without {header}",
    )
    malformed = scheme.value_template.replace("{digest}", "not a signature!")
    yield _judge(
        "rejects a malformed signature",
        REQUIRED,
        f"a valid event whose {header} is not a well-formed signature",
        post(sample, lambda b: replace_signatures(scheme, signed(b), [malformed]), "malformed signature"),
        accept=False,
        fail_hint="a malformed signature is accepted: treat any parse failure as a rejection",
    )
    if any(part == (True, "method") for part in scheme.message_parts):
        yield _judge(
            "rejects a signature for another method",
            REQUIRED,
            "a valid event signed as if for PUT, sent as POST",
            post(sample, lambda b: signed(b, method="PUT"), "signed for PUT"),
            accept=False,
            fail_hint="the signed message must include the request's own method",
        )
    if scheme.signs_id and scheme.id_header:
        id_header = scheme.id_header
        yield _judge(
            "rejects a changed message id",
            REQUIRED,
            f"a valid event whose {id_header} was changed after signing",
            post(sample, lambda b: {**signed(b), id_header: f"{scheme.id_prefix}changed"}, "changed id"),
            accept=False,
            fail_hint=f"the signed message must include {id_header}: a new id slips past deduplication",
        )
    yield _no_server_error(
        "survives malformed JSON",
        "a validly signed body that is not JSON",
        post(b'{"inventoryStockIncreaseEventType": "stock.increase",', lambda b: signed(b), "malformed JSON"),
    )
    yield _no_server_error(
        "survives an unknown event type",
        "a validly signed JSON object of no known event type",
        post(
            b'{"inventoryStockRestockedEventType": "stock.restocked", "sku": "WIDGET-BLU-M"}',
            lambda b: signed(b),
            "unknown event type",
        ),
    )

    if scheme.timestamp_header and tolerance > 0:
        stamp = scheme.timestamp_header
        now = int(time.time())
        stale = now - tolerance - 600
        yield _judge(
            "rejects a stale timestamp",
            RECOMMENDED,
            f"a valid event signed {tolerance + 600} s ago (tolerance {tolerance} s)",
            post(sample, lambda b: signed(b, timestamp=stale), "stale timestamp"),
            accept=False,
            fail_hint=f"a captured delivery can be replayed later: reject {stamp} older than {tolerance} s "
            "(the API's SDK does not check it; add the check yourself)",
        )
        future = now + tolerance + 3600
        yield _judge(
            "rejects a far-future timestamp",
            RECOMMENDED,
            f"a valid event timestamped {tolerance + 3600} s ahead",
            post(sample, lambda b: signed(b, timestamp=future), "future timestamp"),
            accept=False,
            fail_hint=f"a delivery signed ahead of time stays replayable: reject {stamp} more than "
            f"{tolerance} s in the future",
        )

    # The same bytes and headers twice: a receiver may deduplicate by event id.
    fixed = signed(sample)
    first = post(sample, lambda b: fixed, "duplicate, first")
    second = post(sample, lambda b: fixed, "duplicate, second")
    yield CaseResult(
        "duplicate delivery",
        INFO,
        "the same signed delivery twice",
        None,
        f"answered {first.status or first.error} then {second.status or second.error}"
        + ("; the second was refused (deduplicated?)" if first.ok and not second.ok else ""),
        [first, second],
    )


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


def _judge(
    name: str, level: str, sent: str, result: DeliveryResult, *, accept: bool, fail_hint: str
) -> CaseResult:
    if not result.delivered:
        return CaseResult(name, level, sent, False, f"not delivered: {result.error}", [result])
    status = result.status
    assert status is not None
    accepted = 200 <= status < 300
    if accept:
        passed = status == 200
        why = "answered 200" if passed else f"answered {status}: {fail_hint}"
    else:
        passed = not accepted
        why = f"answered {status}, a rejection" if passed else f"answered {status}: {fail_hint}"
    return CaseResult(name, level, sent, passed, why, [result])


def _no_server_error(name: str, sent: str, result: DeliveryResult) -> CaseResult:
    if not result.delivered:
        return CaseResult(name, REQUIRED, sent, False, f"not delivered: {result.error}", [result])
    status = result.status or 0
    if status >= 500:
        why = f"answered {status}: bad input must get a 4xx, not a crash (and not a retry storm)"
        return CaseResult(name, REQUIRED, sent, False, why, [result])
    return CaseResult(name, REQUIRED, sent, True, f"answered {status}, no server error", [result])
