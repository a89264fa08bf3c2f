"""A run's report as a JUnit XML file, for the test views of CI systems.

One ``<testsuite>`` named for the run (``invwh check http://... (inventory-v1)``),
one ``<testcase>`` per item: a failure for an answer or case that is wrong, an
error for a delivery that could not be made, ``<skipped>`` for a warning or a
case not proven (never a plain pass), and the request and its answer in
``<system-out>``. Cases are written as they come, in constant memory, to a
spool beside the report (not in ``TMPDIR``: one disk to fill, not two); the
report itself is written whole at the end (``files.write_whole``), so a
report that cannot be written leaves the previous one as it was. Text from
outside goes through ``xml_text``: characters XML 1.0 forbids (a receiver's
ESC or BEL) are shown escaped, never written raw into an invalid file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

from ...errors import InputError
from ...files import file_access, refuse_symlink, write_whole
from ...text import redact
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
from .items import notes as item_notes

_FAILURES = {FAILED, UNEXPECTED, MALFORMED}
_SKIPS = {WARNING: "warning", NOT_PROVEN: "not proven", SKIPPED: "skipped"}


# What XML 1.0 does not allow in a document (section 2.2), and DEL and the C1 controls,
# which it allows but a reader's terminal obeys: shown as \xNN, as on the terminal.
_NOT_IN_XML = {
    code: f"\\x{code:02x}" for code in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
}
_NOT_IN_XML.update({0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"})
_NOT_IN_XML.update({code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)})


def xml_text(text: str) -> str:
    """``text`` redacted (``text.redact``) and with every character XML 1.0 forbids shown escaped:
    always a valid element or attribute, never a secret."""
    text = redact(text)
    return text if text.isprintable() else text.translate(_NOT_IN_XML)


class JUnitSink:
    def __init__(self, path: str) -> None:
        if not path:
            raise InputError("--junit: the path is empty")
        self.path = path
        self.what = f"the JUnit report {path}"
        self.tests = self.failures = self.errors = self.skipped = 0
        self.seconds = 0.0
        self.classname = "invwh"
        # Every case's request and answer for short runs; only the failures' for a replay.
        self.every_output = True
        #: Why the spool could not be written (a full disk): said at the end, with the old report kept.
        self.broken: str | None = None
        # Fail now, before any work, if the report cannot be written: a link, a directory, no room.
        refuse_symlink(path, self.what)
        directory = os.path.dirname(os.path.abspath(path))
        with file_access(self.what, verb="write", directory="is a directory"):
            if os.path.isdir(path):
                raise IsADirectoryError(path)
            os.makedirs(directory, exist_ok=True)  # --junit reports/invwh.xml: reports/ need not exist
            # The suite's counts go on its opening tag, so the cases wait in a spool.
            # Unbuffered: a full disk shows at the case that did not fit, not at a later flush.
            self._cases = tempfile.TemporaryFile(dir=directory, buffering=0)  # noqa: SIM115 - closed in abandon()

    def start(self, report: Report) -> None:
        self.classname = f"invwh {report.command}"
        self.every_output = not report.streamed

    def add(self, item: Item) -> None:
        name = xml_text(item.name)
        case = ET.Element(
            "testcase", classname=xml_text(self.classname), name=name, time=f"{item.seconds:.3f}"
        )
        notes = [xml_text(note) for note in item_notes(item)]
        message = notes[0] if notes else item.outcome
        if item.outcome in _FAILURES:
            ET.SubElement(case, "failure", message=message).text = "\n".join(notes)
            self.failures += 1
        elif item.outcome == UNDELIVERED:
            ET.SubElement(case, "error", message=message).text = "\n".join(notes)
            self.errors += 1
        elif item.outcome in _SKIPS:
            ET.SubElement(case, "skipped", message=f"{_SKIPS[item.outcome]}: {message}")
            self.skipped += 1
        failing = item.outcome in _FAILURES or item.outcome == UNDELIVERED
        if self.every_output or failing:
            output = [*notes]
            for delivery in item.deliveries:
                output += ["", *map(xml_text, exchange_lines(delivery))]
            if output:
                ET.SubElement(case, "system-out").text = "\n".join(output)
        self._write(case)

    def _write(self, case: ET.Element) -> None:
        if self.broken is None:
            try:
                self._cases.write(b"  " + ET.tostring(case, encoding="utf-8", xml_declaration=False) + b"\n")
            except OSError as error:  # a full disk: the run goes on; the end says so, the old report kept
                self.broken = error.strerror or str(error)
        self.tests += 1
        self.seconds += float(case.get("time") or 0)

    def finish(self, report: Report) -> None:
        if report.error is not None and not report.counts.get(UNDELIVERED):
            # Nothing reached the receiver: say so as a case, or the CI view shows an empty green suite.
            case = ET.Element("testcase", classname=self.classname, name="reach the receiver", time="0")
            error = xml_text(report.error)
            ET.SubElement(case, "error", message=error).text = error
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
            f'<testsuite name={quoteattr(xml_text(report.title))} tests="{self.tests}" '
            f'failures="{self.failures}" errors="{self.errors}" skipped="{self.skipped}" '
            f'time="{self.seconds:.3f}">\n'
        )
        kept = "; the previous report is kept" if os.path.exists(self.path) else ""
        try:
            if self.broken is not None:
                raise InputError(f"{self.what}: cannot write: {self.broken}")
            write_whole(self.path, self._document(opening), what=self.what)
        except InputError as error:
            raise InputError(f"{error}{kept}") from None
        finally:
            self.abandon()

    def _document(self, opening: str) -> Iterator[bytes]:
        yield b"<?xml version='1.0' encoding='utf-8'?>\n" + opening.encode("utf-8")
        self._cases.seek(0)
        while chunk := self._cases.read(1 << 20):
            yield chunk
        yield b"</testsuite>\n"

    def abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._cases.close()
