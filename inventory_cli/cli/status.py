"""Exit statuses: the contract scripts and CI jobs rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    #: A check failed: bad, missing or stale signature, invalid payload,
    #: an unexpected response status.
    CHECK_FAILED = 1
    #: Usage or input error: bad flag, unreadable file, missing secret.
    USAGE = 2
    #: A delivery could not be made: connection refused, DNS, TLS, timeout.
    DELIVERY_FAILED = 3
    #: Interrupted by Ctrl-C.
    INTERRUPTED = 130
