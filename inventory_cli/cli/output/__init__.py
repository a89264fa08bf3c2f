"""Everything invwh prints: one module per output format, and the reporter that feeds them.

- ``text`` is the writer of plain text for people (marks, colour on a
  terminal only, wrapping, tables); the ``*_text`` modules use it, one per
  kind of report: ``report_text`` (a run of send, trigger, demo, replay,
  check), ``verdict_text`` (verify, validate, a recording's audit),
  ``listen_text``, ``schemes_text``, ``samples_text`` and ``sign_text``
  (headers and a curl command).
- ``json`` is every JSON document and JSON line, built as dicts and written
  by the ``json`` module; streamed where the data is streamed.
- ``junit`` is the JUnit XML file, ``toml`` a scheme as a config block, and
  ``exchange`` a request and its answer as lines (for ``-v`` and JUnit).
- ``reporter`` hands a run's ``Report`` to the formats chosen for the run.
- ``log_stream`` writes a long-running command's lines (``listen``'s) from a
  thread of its own, so that a stdout nobody reads never blocks serving.

Text from outside (a receiver's reason phrase and body, a recording's
fields, file names) is rendered through ``inventory_cli.text.printable``
(control characters as ``\\xNN``) wherever it is shown: ``report_text``
applies it to every item's name, cells and notes, ``exchange`` to every
field, ``json`` to a report's sentences (``error``, ``explanation``).
Every known secret (``text.remember_secret``, called by
``options.resolve_secrets``) is redacted as it is written: by
``TextWriter.line``/``wrapped``/``table``, ``json.dumps`` and
``junit.xml_text``. So what a command adds to an ``Item`` or a report is
escaped and redacted without a call of its own.

Nothing here decides an exit status (``cli/app.py`` does), and importing the
package costs nothing, so ``invwh sign`` pays only for the module it prints
with.
"""

#: How much a report says: -q, normal, -v.
QUIET, NORMAL, VERBOSE = -1, 0, 1
