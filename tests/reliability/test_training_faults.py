"""Training that goes wrong: divergence to NaN, and a process killed mid-``fit`` then resumed.

The ``resume`` helper's work (issue 16) makes these pass: a NaN/inf loss is
reported with its epoch and step, ``ModelCheckpoint`` never replaces a good
file with a non-finite model, and ``callbacks.BackupAndRestore`` resumes a
SIGKILLed shuffled, dropout-using ``fit`` bit-identically (2 kills here, 20
with ``RANVIER_SLOW_TESTS=1``).
"""

import os
import signal
import time
import warnings

import numpy as np
import pytest

import ranvier as rv

SLOW = bool(os.environ.get("RANVIER_SLOW_TESTS"))
_RESUME = "issue 16, resume item"
X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
Y = np.arange(64) % 3


def _diverging(make_model, epochs_before=1):
    """A model whose learning rate jumps to 1e30 after ``epochs_before`` epochs."""
    model = make_model()
    schedule = rv.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3 if epoch < epochs_before else 1e30)
    return model, schedule


def test_a_nan_loss_is_reported_with_its_epoch(make_model):
    model, schedule = _diverging(make_model)
    with pytest.warns(Warning, match=r"(?i)epoch") as record:
        with np.errstate(all="ignore"):
            model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[schedule])
    assert any("nan" in str(w.message).lower() or "inf" in str(w.message).lower() for w in record)


def test_model_checkpoint_keeps_the_last_finite_model(tmp_path, make_model):
    model, schedule = _diverging(make_model)
    path = str(tmp_path / "ckpt.ranvier")
    checkpoint = rv.callbacks.ModelCheckpoint(path, monitor="loss")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[schedule, checkpoint])
    assert not np.all(np.isfinite(model.get_weights()[0])), "the run did not diverge: nothing was tested"
    assert all(np.all(np.isfinite(w)) for w in rv.load_model(path).get_weights())


_RESUMABLE_FIT = """
import sys, numpy as np, ranvier as rv
backup_dir, out = sys.argv[1], sys.argv[2]
rv.config.set_random_seed(0)
model = rv.Sequential([rv.layers.Input((16,)), rv.layers.Dense(64, activation="relu"), rv.layers.Dropout(0.3),
                       rv.layers.Dense(3)])
model.compile(optimizer="adam", loss=rv.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.default_rng(1).standard_normal((2048, 16)).astype(np.float32)
y = np.arange(2048) % 3
callbacks = [rv.callbacks.BackupAndRestore(backup_dir, save_freq=8)] if backup_dir else []
print("ready", flush=True)
model.fit(x, y, epochs=12, batch_size=32, shuffle=True, verbose=0, callbacks=callbacks)
np.save(out, np.concatenate([w.ravel() for w in model.get_weights()]))
"""


def test_a_sigkilled_fit_resumes_bit_identically(tmp_path, run_child, spawn_child):
    def code(backup_dir, out):
        return _RESUMABLE_FIT.replace("sys.argv[1], sys.argv[2]", f"{backup_dir!r}, {out!r}")

    reference = str(tmp_path / "reference.npy")
    result = run_child(code("", reference), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    resumed, backup = str(tmp_path / "resumed.npy"), str(tmp_path / "backup")
    rng, kills = np.random.default_rng(0), 0
    while not os.path.exists(resumed):
        child = spawn_child(code(backup, resumed), stderr=-1)
        try:
            assert child.stdout.readline().strip() == "ready", child.communicate()[1][-2000:]
            if kills < (20 if SLOW else 2):
                time.sleep(rng.uniform(0.3, 1.5))
                child.send_signal(signal.SIGKILL)
                kills += child.wait(timeout=60) == -signal.SIGKILL
            else:
                _, err = child.communicate(timeout=300)
                assert child.returncode == 0, err[-2000:]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()
    np.testing.assert_array_equal(np.load(resumed), np.load(reference), err_msg=f"after {kills} kills")
