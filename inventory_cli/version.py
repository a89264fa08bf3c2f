"""invwh's version: the one place it is written.

``pyproject.toml`` reads it for the package's metadata, ``invwh --version``
prints it, and the clients and the receiver name themselves with it
(``User-Agent``, ``Server``: ``invwh/0.1.0``). A base module, so every layer
may import it without going up to the package's face.
"""

__version__ = "0.1.0"
