"""Atomic file writes: a temporary file in the target directory, then a rename."""

import os
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, payload, overwrite):
    """Write ``payload`` (bytes) to ``path`` through a temporary file and a rename.

    Raises
    ------
    FileExistsError
        For an existing ``path`` with ``overwrite=False``.
    FileNotFoundError
        When the directory does not exist.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".ranvier-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
