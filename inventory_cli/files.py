"""Reading the user's files: the one place where an OSError becomes one clear line.

Every file a user names (a payload, a secret, a recording, a header file, the
config) fails the same few ways; each gets the same words, naming the file,
whichever command read it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .errors import InputError


@contextlib.contextmanager
def file_access(
    what: str,
    *,
    error: type[InputError] = InputError,
    missing: str = "no such file",
    directory: str = "is a directory",
    verb: str = "read",
) -> Iterator[None]:
    """Turns a failure to open, read or write ``what`` (``"secret file .secret"``) into ``error``.

    ``missing``, ``directory`` and ``verb`` say it in the words of the file's
    use: a recording about to be created is missing its directory, not itself.
    """
    try:
        yield
    except FileNotFoundError:
        raise error(f"{what}: {missing}") from None
    except IsADirectoryError:
        raise error(f"{what}: {directory}") from None
    except PermissionError:
        raise error(f"{what}: permission denied") from None
    except UnicodeDecodeError:
        raise error(f"{what}: not UTF-8 text") from None
    except OSError as failure:
        raise error(f"{what}: cannot {verb}: {failure.strerror or failure}") from None
