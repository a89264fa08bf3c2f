"""Signing: the schemes (data), secrets and keys, signing a body, checking a signature, and
diagnosing a bad one.

``schemes`` describes each scheme as plain data; ``signatures`` holds the
secrets and keys and signs by those descriptions (``make_signature``, the
one place a signature is made); ``verifier`` checks a received signature
against what ``make_signature`` makes; ``diagnosis`` explains a failed check
(it imports both, never the reverse). This layer imports only the
standard library and the base modules (``errors``, ``record``, ``text``): it knows nothing of
events, HTTP or the command line.
"""
