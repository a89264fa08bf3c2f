"""Signing: the schemes (data), secrets and keys, signing a body, checking a signature, and
diagnosing a bad one.

``schemes`` describes each scheme as plain data; ``signatures`` signs and
checks by those descriptions; ``diagnosis`` explains a failed check (it
imports ``signatures``, never the reverse). This layer imports only the
standard library and the base modules (``errors``, ``record``, ``text``): it knows nothing of
events, HTTP or the command line.
"""
