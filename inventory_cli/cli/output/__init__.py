"""Everything invwh prints: one module per output format, and the reporter that feeds them.

- ``text`` is the writer of text for people, rendered by rich (marks,
  colour as ``theme`` decides, wrapping at word boundaries, tables, all to
  the terminal's width or 80 columns); the ``*_text`` modules use it, one
  per kind of report: ``report_text`` (a run of send, trigger, demo, replay,
  check), ``verdict_text`` (verify, a recording's audit), ``listen_text``,
  ``schemes_text``, ``samples_text``. ``theme`` is the one colour theme and
  the colour and width decisions; ``plain`` writes ``validate``'s few lines
  without rich, and ``sign_text`` the headers and curl command that other
  tools read, so that neither start-up pays for rich.
- ``progress`` shows where a long run stands (replay, an audit, retries, a
  receiver's footer) on stderr when stderr is a terminal, fed plain data by
  the workflows' callbacks; nothing of it reaches a pipe.
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
``text.text`` (every piece of text before rich wraps it) and the stream
under rich's console, ``plain.PlainWriter.line``, ``json.dumps`` and
``junit.xml_text``. Nothing given to rich is read as markup. So what a
command adds to an ``Item`` or a report is escaped and redacted without a
call of its own.

Nothing here decides an exit status (``cli/app.py`` does), and importing the
package costs nothing, so ``invwh sign`` pays only for the module it prints
with.
"""

#: How much a report says: -q, normal, -v.
QUIET, NORMAL, VERBOSE = -1, 0, 1
