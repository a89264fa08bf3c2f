"""What ``invwh check`` reports: each case's result, the run's, and a case as a report item.

``check.run_checks`` makes them; a ``CaseResult`` never changes once
reported, so a report can stream. ``exchange`` is what the JSON shows of
each request a case made and its answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import report
from .delivery import DeliveryResult
from .report import Item, one_line

#: How much of each request and answer body a case records.
PREVIEW_BYTES = 200


@dataclass(frozen=True)
class CaseResult:
    """What one case came to; never changed once reported."""

    name: str
    level: str
    sent: str  # what was sent, one line
    passed: bool | None  # None for informational cases and those not proven
    explanation: str  # why the answer passes or fails, one line
    deliveries: list[DeliveryResult] = field(default_factory=list)
    #: False when the answer cannot prove the case: a rejection by a receiver that accepted no valid event.
    proven: bool = True
    id: str = ""
    #: The report outcome: passed, failed, warning, not_proven, info or undelivered.
    outcome: str = report.INFO
    #: A 2xx the receiver answered a valid event instead of an expected status: if it means
    #: accepted, the run should expect it too (the CLI says how: --expect).
    accepted_instead: int | None = None

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

    @property
    def answer(self) -> str:
        """The first line of what the receiver answered (up to ``PREVIEW_BYTES``), or ``""``."""
        for delivery in self.deliveries:
            if delivery.delivered and delivery.response_preview.strip():
                return answer_excerpt(delivery.response_preview)
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case": self.name,
            "level": self.level,
            "passed": self.passed,
            "verdict": self.verdict,
            "sent": self.sent,
            "explanation": self.explanation,
            "accepted_instead": self.accepted_instead,
            "answer": self.answer or None,
            "statuses": self.statuses,
            "errors": [d.error for d in self.deliveries if d.error],
            "deliveries": [exchange(d) for d in self.deliveries],
        }


def answer_excerpt(data: bytes) -> str:
    """The first line of an answer's body, at most ``PREVIEW_BYTES`` of it, as one line of text."""
    first = data.lstrip().split(b"\n", 1)[0][:PREVIEW_BYTES]
    return one_line(first)


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
            "failure": delivery.failure_kind.value if delivery.failure_kind is not None else None,
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
    #: The first request found no receiver at all: the run stopped there.
    unreachable: bool = False


@dataclass
class CaseItem(Item):
    """A case as an item of the run's report; ``rerun`` is the command that runs it alone."""

    case: CaseResult = field(kw_only=True)
    rerun: str | None = field(default=None, kw_only=True)


def case_item(case: CaseResult, rerun: str | None = None) -> CaseItem:
    shown = case.outcome in (report.FAILED, report.WARNING, report.NOT_PROVEN)
    return CaseItem(
        case.name,
        case.outcome,
        {"name": case.name, "outcome": case.outcome, **case.to_dict(), "rerun": rerun if shown else None},
        sum(d.elapsed for d in case.deliveries),
        case.deliveries,
        case=case,
        rerun=rerun,
    )
