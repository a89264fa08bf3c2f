"""One module per ``invwh`` command (or family), loaded only when that command runs.

Each parses its options (``cli/options.py``), calls the workflows, hands what
they found to ``cli/output`` and returns an exit status or a run's report;
``cli/app.py`` turns that into the exit code.
"""
