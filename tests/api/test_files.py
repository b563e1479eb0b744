import os
import subprocess
import sys
import time

import pytest

from ranvier.api import _files


@pytest.fixture
def umask():
    """Set the process umask inside the test."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_file_mode_follows_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    _files.atomic_write(tmp_path / "m.ranvier", b"new", overwrite=True)
    _files.atomic_write(tmp_path / "m.ranvier", b"again", overwrite=True)
    assert os.stat(tmp_path / "m.ranvier").st_mode & 0o777 == mode
    assert (tmp_path / "m.ranvier").read_bytes() == b"again"


def _dead_pid():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(child.stdout)


def _temp(directory, target, pid, tag="0123456789ab"):
    return directory / f".ranvier-{target}-{pid}-{tag}.tmp"


def test_a_save_removes_the_temporary_files_crashed_saves_left(tmp_path):
    dead = _dead_pid()
    crashed = _temp(tmp_path, "m", dead)  # a save killed before its rename
    old = _temp(tmp_path, "m", os.getpid())  # a hung save of this process, hours ago
    live = _temp(tmp_path, "m", os.getppid())  # another process saving now: left alone
    other_target = _temp(tmp_path, "m-1", dead)  # another target's ("m-1-<pid>-..." is not "m"'s)
    foreign = tmp_path / ".ranvier-m-not-ours.tmp"
    for path in (crashed, old, live, other_target, foreign):
        path.write_bytes(b"partial")
    hours_ago = time.time() - _files.STALE_SECONDS - 60
    os.utime(old, (hours_ago, hours_ago))
    _files.atomic_write(tmp_path / "m", b"model", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m", live.name, other_target.name, foreign.name])
    _files.atomic_write(tmp_path / "m-1", b"model", overwrite=True)
    assert not other_target.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "m.ranvier"
    _files.atomic_write(target, b"old", overwrite=True)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        _files.atomic_write(target, b"new", overwrite=True)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.ranvier"]


def test_overwrite_false_and_a_missing_directory(tmp_path):
    _files.atomic_write(tmp_path / "m", b"x", overwrite=False)
    with pytest.raises(FileExistsError):
        _files.atomic_write(tmp_path / "m", b"y", overwrite=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _files.atomic_write(tmp_path / "no" / "m", b"y", overwrite=True)
