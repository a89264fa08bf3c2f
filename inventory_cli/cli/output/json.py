"""Every JSON invwh prints: whole documents, streamed documents and JSON lines.

Each is built as dicts and lists and written by the ``json`` module, to
stdout with nothing else mixed in. A document whose data is streamed (a
run's items, a recording's failures) is written as the data comes by
``JsonStream``: the head, each element of its one array, then the tail only
the end knows (counts, ``ok``), so a million items take no memory. A run's
report is ``{"command", "url", "scheme", "items": [...], "summary": {"total",
...}, "ok", "interrupted", "error", ...}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from ...text import printable, redact_value, secret_forms

if TYPE_CHECKING:
    from ...events.sample_files import Sample, Written
    from ...events.validation import EventCheck
    from ...signing.hints import Hint
    from ...signing.schemes import Scheme
    from ...workflows.audit import AuditItem, AuditTally
    from ...workflows.forward import ForwardResult
    from ...workflows.receive import ReceivedDelivery
    from ...workflows.report import Item, Report
    from ...workflows.verdict import Verdict


def dumps(data: Any, indent: int | None = None) -> str:
    """``data`` as JSON, with every known secret redacted from its strings (``text.redact``).

    Every JSON invwh prints is written by this. The redaction walks the
    document only when the written text holds a secret's form: a million
    items cost a few substring searches each.
    """
    encode = _encode_line if indent is None else json.JSONEncoder(indent=indent, ensure_ascii=False).encode
    text = encode(data)
    for form in _escaped_secret_forms():  # a loop, not any(): a generator per line costs more
        if form in text:
            return encode(redact_value(data))
    return text


#: ``json.dumps(..., ensure_ascii=False)`` builds an encoder on every call; a replay's million
#: lines share this one (the same text: ``dumps`` is ``JSONEncoder(**options).encode``).
_LINE = json.JSONEncoder(ensure_ascii=False)


def _line_encoder() -> Callable[[Any], str]:
    """``_LINE.encode``, with the C encoder it builds for every call built once.

    ``JSONEncoder.encode`` makes a closure and a C encoder object each time: 0.7 µs of the
    3 a replay's report item costs. This is the same C encoder with the same arguments, less
    the check for circular structures (invwh writes none); without the C module, ``encode``.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _LINE.encode
    line = _LINE
    encode = make(
        None,  # no markers: the check for circular structures is off
        line.default,
        json.encoder.encode_basestring,  # not ASCII-only
        None,  # no indent
        line.key_separator,
        line.item_separator,
        line.sort_keys,
        line.skipkeys,
        line.allow_nan,
    )
    return lambda data: "".join(encode(data, 0))


_encode_line = _line_encoder()


_escaped: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def _escaped_secret_forms() -> tuple[str, ...]:
    """The secrets' forms as they appear inside a JSON string, worked out once per set of secrets."""
    global _escaped
    forms = secret_forms()
    if forms != _escaped[0]:
        _escaped = (forms, tuple(json.dumps(form, ensure_ascii=False)[1:-1] for form in forms))
    return _escaped[1]


def write(data: Any, out: IO[str] | None = None) -> None:
    """One whole document, indented for people who read it too."""
    (out or sys.stdout).write(dumps(data, indent=2) + "\n")


def line(data: Any) -> str:
    """One object as one line of JSON Lines."""
    return dumps(data)


class JsonStream:
    """One JSON object whose one array member is written an element at a time.

    ``open`` writes the head and opens the array, ``element`` writes one
    element a line, ``close`` ends the array and writes the members that follow
    it. Every piece is written by ``json.dumps``; the joins between them are
    the only text added here.
    """

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.first = True
        self.opened = False

    def open(self, head: Mapping[str, Any], array: str) -> None:
        # The object with the array still empty, less its last "]}": the array stays open.
        self.out.write(dumps({**head, array: []})[: -len("]}")])
        self.opened = True

    def element(self, value: Any) -> None:
        self.out.write(("\n  " if self.first else ",\n  ") + dumps(value))
        self.first = False

    def close(self, tail: Mapping[str, Any]) -> None:
        rest = dumps(tail)  # "{...}": its members follow the array's
        self.out.write("\n]" + (", " + rest[1:] if tail else "}") + "\n")
        self.out.flush()

    def abandon(self) -> None:
        # An error mid-run (a file that cannot be read): the one error line says it on
        # stderr, and stdout must not hold half a document that parses as something.
        if self.opened:
            self.out.write("\n")
            self.out.flush()


# --- a run's report: send, trigger, demo, replay, check -------------------------------

#: The members of an item that are sentences for people, not data: they may quote a receiver
#: (``not HTTP: ...``), and a script prints them (``jq -r .items[].error``), so their control
#: characters are escaped as on the terminal. Data (``reason``, ``response_preview``) stays exact.
SENTENCES = frozenset({"error", "errors", "explanation", "message", "diagnosis", "stopped"})


def sentences_printable(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its ``SENTENCES`` (and those of its ``deliveries``) shown through ``printable``.

    ``data`` itself when none is text (a replay's delivery answered, its ``error`` None): a copy
    only when something changes.
    """
    shown: dict[str, Any] | None = None
    for key in SENTENCES & data.keys():
        value = data[key]
        if isinstance(value, str):
            value = printable(value)
        elif isinstance(value, list):
            value = [printable(one) if isinstance(one, str) else one for one in value]
        else:
            continue
        if shown is None:
            shown = dict(data)
        shown[key] = value
    response, deliveries = data.get("response"), data.get("deliveries")
    if isinstance(response, dict) or isinstance(deliveries, list):
        shown = dict(data) if shown is None else shown
        if isinstance(response, dict):  # a check's exchange: its answer's error is a sentence
            shown["response"] = sentences_printable(response)
        if isinstance(deliveries, list):
            shown["deliveries"] = [
                sentences_printable(one) if isinstance(one, dict) else one for one in deliveries
            ]
    return data if shown is None else shown


class JsonSink:
    def __init__(self, out: IO[str] | None = None) -> None:
        self.stream = JsonStream(out)

    def start(self, report: Report) -> None:
        self.stream.open({"command": report.command, "url": report.url, "scheme": report.scheme}, "items")

    def add(self, item: Item) -> None:
        self.stream.element(sentences_printable(item.data))

    def finish(self, report: Report) -> None:
        error = report.error or report.nothing_to_deliver
        self.stream.close(
            {
                "summary": report.summary,
                "ok": report.ok,
                "interrupted": report.interrupted,
                "error": None if error is None else printable(error),
                **report.extra,
            }
        )

    def abandon(self) -> None:
        self.stream.abandon()


# --- verify, validate, a recording's audit ----------------------------------------------


def hint_fields(hints: Sequence[Hint]) -> dict[str, list[str]]:
    """The core's hints are plain facts; the CLI's JSON carries its own words for them, and
    their codes."""
    # Imported here: their words load transport/ (socket), which `sign` and `validate` never need.
    from .hints import hint_codes, hints_words

    return {"hints": hints_words(hints), "hint_codes": hint_codes(hints)}


def verdict_document(body_name: str, verdict: Verdict) -> dict[str, Any]:
    return {"body": body_name, **verdict.to_dict(), **hint_fields(verdict.hints)}


def validation_document(results: Sequence[tuple[str, EventCheck]]) -> dict[str, Any]:
    from ...workflows.verdict import event_check_dict

    return {
        "ok": all(check.ok for _, check in results),
        "files": [{"file": name, **event_check_dict(check)} for name, check in results],
    }


class AuditJson:
    """``invwh audit``: ``{"recording", "failures": [...], "summary", "ok"}``, streamed."""

    def __init__(self, recording: str, *, explain: bool, out: IO[str] | None = None) -> None:
        self.stream = JsonStream(out)
        self.stream.open({"recording": recording}, "failures")
        self.explain = explain

    def add(self, item: AuditItem) -> None:
        if not item.failed:
            return
        failure: dict[str, Any] = {
            "line": item.line,
            "category": item.category,
            "reason": item.reason,
            "event_type": item.event_type,
        }
        if self.explain:
            failure.update(hint_fields(item.hints))
        self.stream.element(failure)

    def finish(self, tally: AuditTally, error: str | None = None) -> None:
        """``error``: why the audit is not a pass although nothing failed (no delivery in it)."""
        self.stream.close({"summary": tally.to_dict(), "ok": tally.ok and error is None, "error": error})


# --- listen ------------------------------------------------------------------------------


def listening_line(url: str) -> str:
    """``invwh listen --format json``'s first line: scripts wait for it."""
    return line({"listening": url})


def delivery_line(delivery: ReceivedDelivery) -> str:
    """One answered request as one line of JSON."""
    from ...workflows.recording import iso_utc

    verdict = delivery.verdict
    return line(
        {
            "received_at": iso_utc(delivery.received_at),
            "method": delivery.method,
            "path": delivery.path,
            "status": delivery.status,
            "valid": delivery.valid,
            "reason": delivery.reason,
            "event_type": delivery.event_type,
            "message": delivery.message,
            **hint_fields(verdict.hints if verdict is not None else ()),
            "body_bytes": len(delivery.body),
            **({"forward": forward_summary(delivery.forward)} if delivery.forward is not None else {}),
        }
    )


def forward_summary(result: ForwardResult) -> dict[str, Any]:
    """The app's answer on a JSON log line: the recording's ``forward`` object, the body's size for it."""
    from ...workflows.recording import forward_record

    shown = forward_record(result)
    shown.pop("headers", None)
    shown.pop("body_encoding", None)
    if shown.pop("body", None) is not None:
        shown["body_bytes"] = len(result.body)
    return shown


# --- sign ----------------------------------------------------------------------------------


def signature_document(
    scheme: Scheme,
    *,
    event_type: str | None,
    method: str,
    timestamp: int,
    notification_url: str | None,
    headers: Mapping[str, str],
    body_bytes: int,
) -> dict[str, Any]:
    return {
        "scheme": scheme.name,
        "event_type": event_type,
        "method": method,
        "timestamp": timestamp if scheme.uses_timestamp else None,
        "notification_url": notification_url,
        "headers": dict(headers),
        "body_bytes": body_bytes,
    }


# --- schemes -------------------------------------------------------------------------------


def scheme_dict(scheme: Scheme, source: str) -> dict[str, Any]:
    return {
        "name": scheme.name,
        "source": source,
        "summary": scheme.summary,
        "sends": dict(scheme.sends()),
        "signs": scheme.describe_message(),
        "hmac": f"HMAC-{scheme.hash.upper()}",
        "encoding": scheme.encoding,
        "key": scheme.describe_secret(),
        "definition": scheme.definition(),
    }


def schemes_document(listed: Sequence[tuple[Scheme, str]], default: str) -> dict[str, Any]:
    return {"default": default, "schemes": [scheme_dict(scheme, source) for scheme, source in listed]}


# --- samples -------------------------------------------------------------------------------


def sample_dict(sample: Sample) -> dict[str, Any]:
    from ...events.sample_files import summary
    from ...workflows.verdict import event_check_dict

    check = sample.check()
    return {
        "name": sample.name,
        "size": len(sample.body),
        "summary": summary(check),
        **event_check_dict(check),
    }


def samples_document(shipped: Sequence[Sample]) -> dict[str, Any]:
    return {"samples": [sample_dict(sample) for sample in shipped]}


def written_samples_document(directory: str, written: Sequence[Written]) -> dict[str, Any]:
    return {
        "directory": directory,
        "samples": [
            {**sample_dict(item.sample), "path": item.path, "action": item.action} for item in written
        ],
    }
