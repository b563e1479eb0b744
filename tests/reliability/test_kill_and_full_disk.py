"""Real process deaths and a real write limit: the file on disk is always a whole model.

A child process saves (or trains with ``ModelCheckpoint``) in a loop and is
SIGKILLed at a random moment; the target must then load as the old or a new
complete model, never a torn one. ``RLIMIT_FSIZE`` stands in for a full disk
(a small tmpfs cannot be mounted without privileges): the write fails with an
``OSError`` and the previous file survives. Random kills: 3 per test here, 25 with
``RANVIER_SLOW_TESTS=1``.
"""

import glob
import os
import signal
import time

import numpy as np
import pytest

import ranvier as rv

SLOW = bool(os.environ.get("RANVIER_SLOW_TESTS"))
_KILLS = 25 if SLOW else 3

# Model k: a 1000 x 500 kernel drawn from seed k, with k in its first cell (4 MB, so a save takes a while).
_MODEL_K = """
import numpy as np, ranvier as rv
def model_k(k):
    m = rv.Sequential([rv.layers.Input((1000,)), rv.layers.Dense(500)])
    ws = [np.random.default_rng(k).standard_normal(w.shape).astype(np.float32) for w in m.get_weights()]
    ws[0][0, 0] = k
    m.set_weights(ws)
    return m
"""
_SAVE_LOOP = (
    _MODEL_K
    + """
import sys
path = sys.argv[1]
model_k(0).save(path)
print("ready", flush=True)
k = 1
while True:
    model_k(k).save(path)
    k += 1
"""
)


def _kill_after_ready(spawn_child, code, delay):
    child = spawn_child(code)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL, "the child ended before it was killed"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


def _orphans(directory):
    return sorted(glob.glob(os.path.join(directory, ".ranvier-*")))


def _check_model_k(path, namespace):
    loaded = rv.load_model(path)
    k = int(loaded.get_weights()[0][0, 0])
    expected = namespace["model_k"](k).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), expected)), f"model {k} is torn"
    return k


def _kill_saves(tmp_path, spawn_child):
    """Kill ``_KILLS`` saving children: the models found, and the temp files each kill left."""
    namespace = {}
    exec(_MODEL_K, namespace)
    rng = np.random.default_rng(0)
    found, orphans = [], []
    for i in range(_KILLS):
        directory = tmp_path / f"kill{i}"
        directory.mkdir()
        path = str(directory / "model.ranvier")
        _kill_after_ready(spawn_child, _SAVE_LOOP.replace("sys.argv[1]", repr(path)), rng.uniform(0.05, 1.0))
        found.append(_check_model_k(path, namespace))
        orphans.append(_orphans(directory))
    return found, orphans


def test_sigkill_during_save_leaves_the_old_or_the_new_file(tmp_path, spawn_child):
    found, orphans = _kill_saves(tmp_path, spawn_child)
    assert len(found) == _KILLS and max(found) > 0, f"models found after the kills: {found}"
    print(f"models found {found}; temp files left: {sum(map(len, orphans))} over {_KILLS} kills")


_KILLED_BEFORE_RENAME = """
import os, signal, sys, ranvier as rv
path = sys.argv[1]
rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(2)]).save(path)
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # die with the temp file written, not renamed
rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)]).save(path)
"""


def test_a_save_killed_before_its_rename_keeps_the_old_file(tmp_path, run_child):
    path = str(tmp_path / "model.ranvier")
    result = run_child(_KILLED_BEFORE_RENAME.replace("sys.argv[1]", repr(path)))
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert rv.load_model(path).output_shape == (None, 2)
    assert len(_orphans(tmp_path)) == 1, "the kill did not land between the temp file and the rename"


def test_the_next_save_cleans_what_a_killed_save_left(tmp_path, run_child):
    path = str(tmp_path / "model.ranvier")
    assert run_child(_KILLED_BEFORE_RENAME.replace("sys.argv[1]", repr(path))).returncode == -signal.SIGKILL
    rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)]).save(path)
    assert not _orphans(tmp_path), f"after a killed save and a new one: {_orphans(tmp_path)}"


_FIT_LOOP = """
import sys, numpy as np, ranvier as rv
rv.config.set_random_seed(0)
m = rv.Sequential([rv.layers.Input((64,)), rv.layers.Dense(256, activation="relu"), rv.layers.Dense(3)])
m.compile(optimizer="adam", loss=rv.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.default_rng(0).standard_normal((512, 64)).astype(np.float32)
y = np.arange(512) % 3
m.save(sys.argv[1])
print("ready", flush=True)
m.fit(x, y, epochs=100000, verbose=0, callbacks=[rv.callbacks.ModelCheckpoint(sys.argv[1], save_freq=2)])
"""


def test_sigkill_during_fit_leaves_a_whole_checkpoint(tmp_path, spawn_child):
    rng = np.random.default_rng(2)
    x = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
    iterations, orphans = [], 0
    for i in range(_KILLS):
        directory = tmp_path / f"fit{i}"
        directory.mkdir()
        path = str(directory / "ckpt.ranvier")
        _kill_after_ready(spawn_child, _FIT_LOOP.replace("sys.argv[1]", repr(path)), rng.uniform(0.2, 1.5))
        model = rv.load_model(path)
        assert np.all(np.isfinite(model.predict(x)))
        iterations.append(int(np.asarray(model.optimizer.iterations)))
        orphans += len(_orphans(directory))
    assert max(iterations) > 0, f"no checkpoint was written before the kills: {iterations}"
    print(f"checkpoints at optimizer steps {iterations}; temp files left: {orphans}")


# --------------------------------------------------------------- full disk
_FULL_DISK = """
import os, resource, signal, sys, numpy as np, ranvier as rv
path = sys.argv[1]
small = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(2)])
small.save(path)
expected = [w.copy() for w in small.get_weights()]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, hard))
big = rv.Sequential([rv.layers.Input((1000,)), rv.layers.Dense(500)])
for save in (big.save, big.save_weights):
    target = path if save == big.save else path + ".weights.npz"
    try:
        save(target)
        print("saved", target)
    except OSError as exc:
        print("refused", type(exc).__name__, exc.errno)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
loaded = rv.load_model(path)
print("old file intact", all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), expected)))
print("left", sorted(n for n in os.listdir(os.path.dirname(path)) if n != os.path.basename(path)))
"""


def test_a_full_disk_fails_the_save_cleanly_and_keeps_the_old_file(tmp_path, run_child):
    path = str(tmp_path / "model.ranvier")
    result = run_child(_FULL_DISK.replace("sys.argv[1]", repr(path)))
    if result.returncode != 0 and "RLIMIT_FSIZE" in result.stderr:
        pytest.skip(f"RLIMIT_FSIZE cannot be set here: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[:2] == ["refused OSError 27", "refused OSError 27"], lines  # errno 27: EFBIG
    assert lines[2:] == ["old file intact True", "left []"], lines
