"""The verdict on a received delivery: its signature, its timestamp, its payload.

``judge`` is what ``invwh verify``, ``invwh listen`` and the Python API
share, so all reach the same verdict on the same bytes; a recording's audit
makes the same two checks itself and asks ``conclude`` for the verdict only
on a failure. When a signature fails and the caller wants to know why,
``conclude`` asks ``diagnosis.explain`` for the likely cause (the verdict's
``hints``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..events.validation import EventCheck, check_event
from ..signing.hints import Hint
from ..signing.schemes import Scheme
from ..signing.signatures import Secret
from ..signing.verifier import SignatureCheck, Verifier


@dataclass(slots=True)
class Verdict:
    scheme: str
    signature: SignatureCheck
    #: None when the payload was not validated (``--no-validate``).
    event: EventCheck | None
    #: The likely causes of a bad signature, most likely first; empty when none is
    #: found, or when the caller did not ask (``judge(diagnose=False)``). Each is a cause
    #: code with its facts and a plain sentence; ``cli/output/hints.py`` adds the CLI's advice.
    hints: list[Hint] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.signature.ok and (self.event is None or self.event.ok)

    @property
    def reason(self) -> str:
        if not self.signature.ok:
            return self.signature.reason
        if self.event is not None and not self.event.ok:
            return "invalid_payload"
        return "ok"

    @property
    def event_type(self) -> str | None:
        return self.event.event_type if self.event is not None else None

    @property
    def message(self) -> str:
        if not self.signature.ok or self.event is None or self.event.ok:
            return self.signature.message
        return "the signature holds but the payload is not a valid inventory event"

    def to_dict(self) -> dict[str, Any]:
        signature = self.signature
        return {
            "valid": self.valid,
            "reason": self.reason,
            "message": self.message,
            "hints": [hint.text for hint in self.hints],
            "hint_codes": [hint.code.value for hint in self.hints],
            "event_type": self.event_type,
            "scheme": self.scheme,
            "timestamp": signature.timestamp,
            "checks": {
                "signature": {
                    "ok": signature.ok,
                    "reason": signature.reason,
                    "message": signature.message,
                    "secret_index": signature.secret_index,
                },
                "payload": None if self.event is None else event_check_dict(self.event),
            },
        }


def event_check_dict(check: EventCheck) -> dict[str, Any]:
    return {
        "valid": check.ok,
        "event_type": check.event_type,
        "problems": [{"path": p.path, "message": p.message} for p in check.problems],
    }


def judge(
    scheme: Scheme,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    tolerance: float = 300,
    now: float | None = None,
    validate: bool = True,
    diagnose: bool = True,
    url: str | None = None,
) -> Verdict:
    """The verdict on a received delivery: its signature, its timestamp's age, its payload.

    ``diagnose=False`` skips looking for the likely cause of a bad signature
    (``diagnosis.explain``). ``url`` is the notification URL, for a scheme
    that signs it (``check_signature``). One call builds a ``Verifier``; a run
    judging many deliveries builds one and calls ``judge_with``.
    """
    return judge_with(
        Verifier(scheme, secrets),
        body,
        headers,
        method=method,
        tolerance=tolerance,
        now=now,
        validate=validate,
        diagnose=diagnose,
        url=url,
    )


def judge_with(
    verifier: Verifier,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    tolerance: float = 300,
    now: float | None = None,
    validate: bool = True,
    diagnose: bool = True,
    url: str | None = None,
) -> Verdict:
    """``judge`` with the run's ``Verifier`` (its scheme and secrets), built once by the caller."""
    signature = verifier.check(body, headers, method=method, tolerance=tolerance, now=now, url=url)
    event = check_event(body) if validate else None
    return conclude(
        verifier.scheme,
        signature,
        event,
        verifier.secrets,
        body,
        headers,
        method=method,
        diagnose=diagnose,
        url=url,
    )


def conclude(
    scheme: Scheme,
    signature: SignatureCheck,
    event: EventCheck | None,
    secrets: Sequence[Secret],
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    diagnose: bool = True,
    url: str | None = None,
) -> Verdict:
    """The verdict from the two checks ``judge`` makes (``audit`` makes them itself), with the
    likely cause of a bad signature when ``diagnose``."""
    if signature.ok or not diagnose:
        return Verdict(scheme.name, signature, event)
    from ..signing.diagnosis import explain  # the failures that are explained pay for importing it

    hints = explain(signature, scheme, secrets, body, headers, method=method, url=url)
    return Verdict(scheme.name, signature, event, hints)
