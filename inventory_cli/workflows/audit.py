"""Audit a recording: the verdict on every delivery in it, counted as it streams.

Each delivery is judged as ``invwh verify`` would have judged it when it
arrived: its timestamp's age is measured against its own received time.
Looking for the likely cause of a bad signature tries dozens of near-misses,
so it runs only when asked (``explain``), and then only for the failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..events.validation import check_event
from ..json_text import use_fast_decoder
from ..signing.hints import Hint
from ..signing.schemes import Scheme
from ..signing.signatures import Secret
from ..signing.verifier import Verifier
from .recording import NOT_DELIVERED_STATUSES, BadLine, Recorded, why_not_a_delivery
from .verdict import conclude

#: Failure reasons grouped into the columns of the summary.
CATEGORIES = {
    "ok": "valid",
    "stale_timestamp": "stale",
    "future_timestamp": "stale",
    "invalid_payload": "invalid payload",
}
BAD_SIGNATURE = "bad signature"
COLUMNS = ("valid", BAD_SIGNATURE, "stale", "invalid payload")
MALFORMED = "malformed line"
#: A recorded request that was no delivery to judge (a GET, another path, a body refused unread).
SKIPPED = "skipped"
NO_TYPE = "(not an event)"


@dataclass(slots=True)
class AuditItem:
    line: int
    category: str  # one of COLUMNS, MALFORMED or SKIPPED
    reason: str  # the verdict's reason code, or why the line is malformed or skipped
    event_type: str | None = None
    #: The likely causes of a failure, as ``invwh verify`` finds them; only with ``explain``.
    hints: tuple[Hint, ...] = ()

    @property
    def ok(self) -> bool:
        return self.category == "valid"

    @property
    def failed(self) -> bool:
        return self.category not in ("valid", SKIPPED)


@dataclass
class AuditTally:
    total: int = 0
    malformed: int = 0
    skipped: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, item: AuditItem) -> None:
        self.total += 1
        if item.category == MALFORMED:
            self.malformed += 1
            return
        if item.category == SKIPPED:
            self.skipped += 1
            return
        self.counts[item.category] += 1
        name = item.event_type or NO_TYPE
        row = self.by_type.get(name)
        if row is None:
            row = self.by_type[name] = dict.fromkeys(COLUMNS, 0)
        row[item.category] += 1

    @property
    def deliveries(self) -> int:
        return self.total - self.malformed - self.skipped

    @property
    def failed(self) -> int:
        return self.total - self.skipped - self.counts["valid"]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, object]:
        return {
            "deliveries": self.deliveries,
            "malformed_lines": self.malformed,
            "skipped_requests": self.skipped,
            **{name.replace(" ", "_"): count for name, count in self.counts.items()},
            "by_event_type": {
                name: {k.replace(" ", "_"): v for k, v in row.items()}
                for name, row in sorted(self.by_type.items())
            },
        }


def audit(
    records: Iterable[Recorded | BadLine],
    scheme: Scheme,
    secrets: Sequence[Secret],
    *,
    tolerance: int = 300,
    validate: bool = True,
    explain: bool = False,
    url: str | None = None,
) -> Iterator[AuditItem]:
    """``url`` is the notification URL the deliveries were sent to, for a scheme that signs it."""
    # Two JSON documents a delivery (the line, the body): msgspec's decoder, where it is installed.
    use_fast_decoder()
    check_signature = Verifier(scheme, secrets).check  # keys and HMACs made once for the run
    for record in records:
        if isinstance(record, BadLine):
            yield AuditItem(record.line, MALFORMED, record.reason)
            continue
        # As replay does: only a POST to the webhook path whose body was read is a delivery to judge.
        if record.method != "POST" or not record.body_read or record.status in NOT_DELIVERED_STATUSES:
            yield AuditItem(record.line, SKIPPED, why_not_a_delivery(record) or "not a delivery")
            continue
        # judge's two checks, made here so that the valid majority (a Verdict and a
        # call each) costs ~5% less: this loop is what the audit benchmark times.
        signature = check_signature(
            record.body,
            record.headers,
            method=record.method,
            tolerance=tolerance if record.received_at_unix is not None else 0,
            now=record.received_at_unix,
            url=url,
        )
        event = check_event(record.body) if validate else None
        if signature.ok and (event is None or event.ok):
            yield AuditItem(record.line, "valid", "ok", None if event is None else event.event_type)
            continue
        verdict = conclude(  # diagnosis runs on failures only, and only when asked
            scheme, signature, event, secrets, record.body, record.headers,
            method=record.method, diagnose=explain, url=url,
        )  # fmt: skip
        reason = verdict.reason
        category = CATEGORIES.get(reason, BAD_SIGNATURE)
        yield AuditItem(record.line, category, reason, verdict.event_type, tuple(verdict.hints))
