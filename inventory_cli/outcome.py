"""What a command comes to, as types: ``cli/app.py`` turns them into exit statuses.

A command returns an ``Outcome`` (a verdict: ``OK``, ``FAILED``), or a run that
is an ``Ended`` (a ``workflows.report.Report``, whose outcome and reasons its
counts decide), or raises an ``errors.InvwhError``; it never picks an exit
status. This module is the base layer's: the group's mapping reads it on every
start, so it imports only ``enum``.
"""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    """What a command's run came to, as a whole."""

    OK = "ok"
    #: An answer, a case, a signature or a payload was not what it must be.
    FAILED = "failed"
    #: A request could not be delivered at all: the receiver was not reached.
    UNDELIVERED = "undelivered"
    #: Stopped by Ctrl-C or SIGTERM; the report covers what was done until then.
    INTERRUPTED = "interrupted"
    #: There was nothing to do (a recording with no delivery): an input error, not a pass.
    NOTHING_TO_DELIVER = "nothing_to_deliver"


class Ended:
    """A run that has ended: its outcome, and the lines that say why it fell short.

    ``workflows.report.Report`` is one; ``cli/app.py`` says ``reasons`` as error
    lines (whatever the output format, after the report) and maps ``outcome``.
    """

    @property
    def outcome(self) -> Outcome:
        raise NotImplementedError

    def reasons(self) -> list[str]:
        """One line each: why the receiver could not be reached, why there was nothing to deliver."""
        return []
