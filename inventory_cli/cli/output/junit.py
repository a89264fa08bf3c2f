"""A run's report as a JUnit XML file, for the test views of CI systems.

One ``<testsuite>`` named for the run (``invwh check http://... (inventory-v1)``),
one ``<testcase>`` per item: a failure for an answer or case that is wrong, an
error for a delivery that could not be made, ``<skipped>`` for a warning or a
case not proven (never a plain pass), and the request and its answer in
``<system-out>``. Cases are written as they come, in constant memory.
"""

from __future__ import annotations

import tempfile
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

from ...errors import InputError
from ...workflows.report import (
    FAILED,
    MALFORMED,
    NOT_PROVEN,
    SKIPPED,
    UNDELIVERED,
    UNEXPECTED,
    WARNING,
    Item,
    Report,
)
from .exchange import exchange_lines

_FAILURES = {FAILED, UNEXPECTED, MALFORMED}
_SKIPS = {WARNING: "warning", NOT_PROVEN: "not proven", SKIPPED: "skipped"}


class JUnitSink:
    def __init__(self, path: str) -> None:
        self.path = path
        self.tests = self.failures = self.errors = self.skipped = 0
        self.seconds = 0.0
        self.classname = "invwh"
        # Every case's request and answer for short runs; only the failures' for a replay.
        self.every_output = True
        try:
            open(path, "ab").close()  # fail now, before any work, if it cannot be written
        except OSError as error:
            raise InputError(f"cannot write the JUnit report {path}: {error.strerror or error}") from None
        # The suite's counts go on its opening tag, so the cases wait in a temporary file.
        self._cases = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish() or abandon()

    def start(self, report: Report) -> None:
        self.classname = f"invwh {report.command}"
        self.every_output = not report.streamed

    def add(self, item: Item) -> None:
        case = ET.Element("testcase", classname=self.classname, name=item.name, time=f"{item.seconds:.3f}")
        message = item.notes[0] if item.notes else item.outcome
        if item.outcome in _FAILURES:
            ET.SubElement(case, "failure", message=message).text = "\n".join(item.notes)
            self.failures += 1
        elif item.outcome == UNDELIVERED:
            ET.SubElement(case, "error", message=message).text = "\n".join(item.notes)
            self.errors += 1
        elif item.outcome in _SKIPS:
            ET.SubElement(case, "skipped", message=f"{_SKIPS[item.outcome]}: {message}")
            self.skipped += 1
        failing = item.outcome in _FAILURES or item.outcome == UNDELIVERED
        if self.every_output or failing:
            output = [*item.notes]
            for delivery in item.deliveries:
                output += ["", *exchange_lines(delivery)]
            if output:
                ET.SubElement(case, "system-out").text = "\n".join(output)
        self._write(case)

    def _write(self, case: ET.Element) -> None:
        self._cases.write(b"  " + ET.tostring(case, encoding="utf-8", xml_declaration=False) + b"\n")
        self.tests += 1
        self.seconds += float(case.get("time") or 0)

    def finish(self, report: Report) -> None:
        if report.error is not None and not report.counts.get(UNDELIVERED):
            # Nothing reached the receiver: say so as a case, or the CI view shows an empty green suite.
            case = ET.Element("testcase", classname=self.classname, name="reach the receiver", time="0")
            ET.SubElement(case, "error", message=report.error).text = report.error
            self.errors += 1
            self._write(case)
        if report.nothing_to_deliver is not None:
            # A recording with no delivery: an empty green suite would pass a wrong file in CI.
            case = ET.Element("testcase", classname=self.classname, name="the recording", time="0")
            message = report.nothing_to_deliver
            ET.SubElement(case, "error", message=message).text = message
            self.errors += 1
            self._write(case)
        if report.interrupted:
            case = ET.Element("testcase", classname=self.classname, name="the whole run", time="0")
            message = "interrupted: the run stopped before every case was done"
            ET.SubElement(case, "error", message=message).text = message
            self.errors += 1
            self._write(case)
        opening = (
            f'<testsuite name={quoteattr(report.title)} tests="{self.tests}" failures="{self.failures}" '
            f'errors="{self.errors}" skipped="{self.skipped}" time="{self.seconds:.3f}">\n'
        )
        try:
            with open(self.path, "wb") as out:
                out.write(b"<?xml version='1.0' encoding='utf-8'?>\n" + opening.encode("utf-8"))
                self._cases.seek(0)
                while chunk := self._cases.read(1 << 20):
                    out.write(chunk)
                out.write(b"</testsuite>\n")
        except OSError as error:
            raise InputError(
                f"cannot write the JUnit report {self.path}: {error.strerror or error}"
            ) from None
        finally:
            self._cases.close()

    def abandon(self) -> None:
        self._cases.close()
