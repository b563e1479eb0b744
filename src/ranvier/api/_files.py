"""Atomic file writes whose temporary files the next write can clean.

A save writes ``.ranvier-<name>-<pid>-<12 hex digits>.tmp`` beside the target,
flushes it to disk, then renames it over the target: an interrupted save
leaves the previous file whole. A process killed between the two leaves its
temporary file behind, so each save first removes the ones of the same
target that no save can still be writing: their process is gone, or they
are older than :data:`STALE_SECONDS` (a hung process, or a pid reused).

The file is created with mode ``0o666`` less the umask, as ``open`` would
create it (``tempfile.mkstemp`` gives ``0o600`` whatever the umask).
"""

import os
import re
import secrets
import time

__all__ = ["atomic_write", "STALE_SECONDS"]

#: Age after which another process's temporary file of the same target is removed anyway.
STALE_SECONDS = 3600
# What follows ".ranvier-<name>-": exactly this, so the files of target "m" and of "m-1234" differ.
_TAIL = re.compile(r"(\d+)-[0-9a-f]{12}\.tmp")


def atomic_write(path, payload, overwrite):
    """Write ``payload`` (bytes) to ``path`` through a temporary file and a rename.

    Raises
    ------
    FileExistsError
        For an existing ``path`` with ``overwrite=False``.
    FileNotFoundError
        When the directory does not exist.
    """
    path = os.path.abspath(os.fspath(path))
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    directory, name = os.path.split(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path}: directory {directory} does not exist")
    prefix = f".ranvier-{name[:200]}-"  # within the 255 bytes of a file name
    _remove_stale(directory, prefix)
    tmp = os.path.join(directory, f"{prefix}{os.getpid()}-{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
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


def _remove_stale(directory, prefix):
    now = time.time()
    for entry in os.scandir(directory):
        tail = _TAIL.fullmatch(entry.name[len(prefix) :]) if entry.name.startswith(prefix) else None
        if tail is None:
            continue
        try:
            if not _running(int(tail.group(1))) or now - entry.stat().st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
        except (OverflowError, OSError):
            continue  # a pid beyond the system's, or removed meanwhile by another save


def _running(pid):
    """Whether process ``pid`` exists (on this machine): another save may be writing its file."""
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user (PermissionError)
    return True
