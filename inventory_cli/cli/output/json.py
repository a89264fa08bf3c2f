"""A run's report as one JSON document on stdout, written as items come.

``{"command", "url", "scheme", "items": [...], "summary": {"total", ...},
"ok", "interrupted", "error", ...}``: the items stream out one per line, so a
replay of a million deliveries keeps nothing in memory; the summary, which
only the end knows, follows them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ...report import Item, Report


class JsonSink:
    def __init__(self) -> None:
        self.first = True
        self.started = False

    def start(self, report: Report) -> None:
        head = {"command": report.command, "url": report.url, "scheme": report.scheme}
        sys.stdout.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "items": [')
        self.started = True

    def add(self, item: Item) -> None:
        sys.stdout.write(("\n  " if self.first else ",\n  ") + json.dumps(item.data, ensure_ascii=False))
        self.first = False

    def finish(self, report: Report) -> None:
        tail: dict[str, Any] = {
            "summary": report.summary,
            "ok": report.ok,
            "interrupted": report.interrupted,
            "error": report.error,
            **report.extra,
        }
        sys.stdout.write("\n], " + json.dumps(tail, ensure_ascii=False)[1:] + "\n")
        sys.stdout.flush()

    def abandon(self) -> None:
        # An error mid-run (a file that cannot be read): the one error line says it on
        # stderr, and stdout must not hold half a document that parses as something.
        if self.started:
            sys.stdout.write("\n")
