"""The user's files: the one place where an OSError becomes one clear line, and files written whole.

Every file a user names (a payload, a secret, a recording, a header file, the
config) fails the same few ways; each gets the same words, naming the file,
whichever command read it. Every file invwh writes (samples, a JUnit report)
goes through ``write_whole``: whole or not at all, never through a link.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator

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


def refuse_symlink(path: str, what: str | None = None) -> None:
    """InputError when ``path`` is a symbolic link, dangling or not: invwh never writes through one.

    A link where a file is to be written points anywhere (``~/.bashrc``, a
    file outside the directory named); it is refused, not followed.
    """
    if os.path.islink(path):
        raise InputError(f"{what or path}: is a symbolic link; invwh does not write through links")


def write_whole(path: str, chunks: Iterable[bytes], *, what: str | None = None) -> None:
    """Writes ``chunks`` to ``path`` whole or not at all; the one way invwh writes a file.

    The bytes go to a temporary file in the same directory, which is synced
    and then renamed over ``path``: a full disk or an error half-way leaves
    the old file as it was (and no temporary file), never a torn one. A
    ``path`` that is a symbolic link is refused, and the rename replaces a
    name, never what a link points to. A new file gets the usual mode (0666
    less the umask); a file replaced keeps its mode. Raises InputError, in
    ``file_access``'s words, naming ``what`` (default: the path).
    """
    shown = what or path
    refuse_symlink(path, shown)
    directory = os.path.dirname(path) or "."
    with file_access(shown, verb="write", missing="its directory does not exist"):
        import tempfile  # here: reading a file, as `invwh sign` does, need not pay for it

        mode = _mode_for(path)
        prefix = f".{os.path.basename(path)}."
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
                file.flush()
                os.fchmod(file.fileno(), mode)
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _mode_for(path: str) -> int:
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask
    if stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(path)
    return stat.S_IMODE(existing.st_mode)
