"""BackupAndRestore: an interrupted fit, restarted, ends with the weights of an uninterrupted one, bit for bit."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import _training_state, callbacks, saving

EPOCHS, BATCH = 4, 16  # 100 samples: 7 batches an epoch


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(100, 8)).astype("float32"), rng.integers(0, 3, 100)


def _model(seed, recurrent=False):
    """Every kind of generator a fit draws from: shuffling, Dropout (unseeded and seeded), noise, LSTM dropout."""
    rv.config.set_random_seed(seed)
    if recurrent:
        layers = [rv.layers.Input((4, 2)), rv.layers.LSTM(6, dropout=0.2, recurrent_dropout=0.2)]
    else:
        layers = [rv.layers.Input((8,)), rv.layers.Dense(16, activation="relu"), rv.layers.BatchNormalization()]
    model = rv.Sequential(
        layers
        + [rv.layers.Dropout(0.3), rv.layers.GaussianNoise(0.1), rv.layers.Dropout(0.2, seed=5), rv.layers.Dense(3)]
    )
    model.compile(optimizer=rv.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


class Interrupt(Exception):
    pass


class InterruptAt(callbacks.Callback):
    """Raise after batch ``step`` of ``epoch`` has trained (what a crash there would leave)."""

    def __init__(self, epoch, step):
        super().__init__()
        self.at, self.epoch = (epoch, step), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise Interrupt


def _fit(model, backup_dir=None, save_freq="epoch", more=(), recurrent=False, after=(), **kwargs):
    x, y = _data()
    if recurrent:
        x = x.reshape(100, 4, 2)
    backup = [callbacks.BackupAndRestore(backup_dir, save_freq=save_freq)] if backup_dir else []
    cbs = list(more) + backup + list(after)
    return model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=cbs, **kwargs)


def _reference(recurrent=False):
    model = _model(1, recurrent)
    _fit(model, recurrent=recurrent)
    return model.get_weights()


def _assert_identical(weights, reference):
    assert len(weights) == len(reference)
    for w, r in zip(weights, reference):
        np.testing.assert_array_equal(w, r)


@pytest.fixture(scope="module")
def reference():
    return _reference()


# Kill points (epoch, step): first batch, mid-epoch, last batch of an epoch, the last epoch.
POINTS = [(0, 0), (0, 3), (1, 6), (2, 2), (3, 5)]


@pytest.mark.parametrize("save_freq", ["epoch", 3])
@pytest.mark.parametrize("point", POINTS)
def test_interrupted_fit_resumes_bit_identical(tmp_path, reference, save_freq, point):
    model = _model(1)
    with pytest.raises(Interrupt):
        _fit(model, tmp_path / "backup", save_freq, more=[InterruptAt(*point)])
    # The rerun script seeds alike; with a backup, any seed gives the same end: the backup decides.
    restarted = _model(7 if (tmp_path / "backup").exists() else 1)
    history = _fit(restarted, tmp_path / "backup", save_freq)
    _assert_identical(restarted.get_weights(), reference)
    # An epoch backup resumes the epoch the crash lost; a step backup the batches it lost, in that epoch.
    assert history.epoch[0] == point[0] and history.epoch[-1] == EPOCHS - 1
    assert not (tmp_path / "backup").exists()  # delete_checkpoint=True


def test_resume_after_a_backup_of_an_epoch_s_last_batch(tmp_path, reference):
    model = _model(1)
    with pytest.raises(Interrupt):  # backed up after batch 6 of 7, lost before the epoch ended
        _fit(model, tmp_path, 1, after=[InterruptAt(1, 6)])
    with np.load(tmp_path / "state.npz") as state:
        assert (int(state["epoch"]), int(state["step"])) == (1, 7)
    restarted = _model(7)
    assert _fit(restarted, tmp_path, 1).epoch == [1, 2, 3]
    _assert_identical(restarted.get_weights(), reference)


def test_resume_after_several_interruptions_and_with_lstm_dropout(tmp_path):
    reference = _reference(recurrent=True)
    model = _model(1, recurrent=True)
    for point in [(0, 2), (0, 5), (1, 0), (2, 6)]:
        with pytest.raises(Interrupt):
            _fit(model, tmp_path, 2, more=[InterruptAt(*point)], recurrent=True)
        model = _model(int(point[1]) + 10, recurrent=True)
    _fit(model, tmp_path, 2, recurrent=True)
    _assert_identical(model.get_weights(), reference)


def test_resume_restores_optimizer_state_and_epoch(tmp_path):
    model = _model(1)
    with pytest.raises(Interrupt):
        _fit(model, tmp_path, more=[InterruptAt(2, 1)])
    restarted = _model(2)
    restarted.fit(*_data(), batch_size=BATCH, epochs=2, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])
    # Two epochs were backed up: the restart with epochs=2 has nothing left to run.
    assert restarted.history.epoch == []
    assert int(restarted.optimizer.iterations) == 2 * 7


def test_delete_checkpoint_false_keeps_the_backup_for_the_next_fit(tmp_path, reference):
    model = _model(1)
    x, y = _data()
    model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path, 5, False)])
    assert sorted(os.listdir(tmp_path)) == ["state.npz", "weights-00000002.npz"]  # one backup, the latest
    again = _model(3)
    _fit(again, tmp_path, 5)
    _assert_identical(again.get_weights(), reference)


def test_a_kill_between_the_two_writes_leaves_the_previous_backup(tmp_path, reference, monkeypatch):
    model = _model(1)
    write = saving._atomic_write

    def dies_at_the_third_commit(path, payload, overwrite):
        if path.endswith("state.npz") and "weights-00000003.npz" in os.listdir(tmp_path):
            raise Interrupt  # the new weights are written, the state naming them is not
        write(path, payload, overwrite)

    monkeypatch.setattr(saving, "_atomic_write", dies_at_the_third_commit)
    with pytest.raises(Interrupt):
        _fit(model, tmp_path)
    monkeypatch.undo()
    restarted = _model(4)
    history = _fit(restarted, tmp_path)
    assert history.epoch == [2, 3]
    _assert_identical(restarted.get_weights(), reference)


class PoisonAt(callbacks.Callback):
    """Write NaN into the first kernel after batch ``step`` (a diverged step, as far as a backup can tell)."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.step:
            self.model.weights[0].value[0, 0] = np.nan


def test_no_backup_of_a_diverged_model(tmp_path):
    model = _model(1)
    x, y = _data()
    backup = callbacks.BackupAndRestore(tmp_path, save_freq=1, delete_checkpoint=False)
    with pytest.warns(UserWarning, match="NaN or inf weights at epoch 1; keeping the previous backup"):
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[PoisonAt(3), backup])
    with np.load(tmp_path / "state.npz") as state:
        assert (int(state["generation"]), int(state["epoch"]), int(state["step"])) == (3, 0, 3)
    assert all(np.isfinite(w).all() for w in np.load(tmp_path / "weights-00000003.npz").values())


def test_a_backup_of_another_model_is_refused(tmp_path):
    with pytest.raises(Interrupt):
        _fit(_model(1), tmp_path, more=[InterruptAt(0, 1)], save_freq=1)
    other = rv.Sequential([rv.layers.Input((8,)), rv.layers.Dense(3)])
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="of another model: it holds 3 layer generators, the model has 0"):
        _fit(other, tmp_path)


def test_full_batch_optimizer_is_refused(tmp_path):
    model = rv.Sequential([rv.layers.Input((8,)), rv.layers.Dense(3)])
    model.compile(optimizer=rv.optimizers.LBFGS(max_iter=2), loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="minibatch fit only"):
        model.fit(*_data(), epochs=1, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"backup_dir": ""}, ValueError, "backup_dir must not be empty"),
        ({"backup_dir": 3}, TypeError, "backup_dir must be a string or a path, got 3"),
        ({"backup_dir": "d", "save_freq": 0}, ValueError, "save_freq must be 'epoch' or a positive integer, got 0"),
        ({"backup_dir": "d", "save_freq": "batch"}, ValueError, "got 'batch'"),
    ],
)
def test_arguments_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        callbacks.BackupAndRestore(**kwargs)


def test_layer_generators_are_found_in_nested_models_in_a_fixed_order():
    inner = rv.Sequential([rv.layers.Input((8,)), rv.layers.Dropout(0.1), rv.layers.GaussianNoise(0.1)])
    outer = rv.Sequential([rv.layers.Input((8,)), inner, rv.layers.Dropout(0.2), rv.layers.Dense(2)])
    found = _training_state.layer_generators(outer)
    assert [type(layer).__name__ for layer, _ in found] == ["Dropout", "GaussianNoise", "Dropout"]
    assert {k for _, k in found} == {"_rng"}


# ------------------------------------------------------------ real SIGKILLs
_CHILD = textwrap.dedent(
    """
    import os
    import sys
    import time
    import numpy as np
    sys.path.insert(0, {test_dir!r})
    import test_backup_and_restore as t
    from ranvier.api import callbacks

    class Slow(callbacks.Callback):  # time for a kill to land in any batch (no effect on the result)
        def on_train_begin(self, logs=None):
            print("fitting", flush=True)

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.02)

    # The rerun script's seed unless a backup is there to decide (then any seed ends alike).
    model = t._model({seed} if os.path.exists(os.path.join({backup!r}, "state.npz")) else 1)
    t._fit(model, {backup!r}, save_freq=1, more=[Slow()])
    np.savez({out!r}, *model.get_weights())
    """
)


def _child(tmp_path, seed):
    code = _CHILD.format(
        test_dir=os.path.dirname(__file__), seed=seed, backup=str(tmp_path / "backup"), out=str(tmp_path / "out.npz")
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)


def _position(tmp_path):
    """(epoch, step) of the backup on disk, None before the first."""
    path = tmp_path / "backup" / "state.npz"
    if not path.exists():
        return None
    with np.load(path) as state:
        return int(state["epoch"]), int(state["step"])


def _killed_runs(tmp_path, kills, seed):
    """Start a child, let it train a random while, SIGKILL it; again ``kills`` times, then let one finish.

    Each child resuming a backup builds its model from another seed: only the backup makes the runs one.
    Returns the backup positions after each kill and the final weights.
    """
    rng, positions = random.Random(seed), []
    for i in range(kills + 1):
        proc = _child(tmp_path, seed + i)
        assert proc.stdout.readline().strip() == "fitting"
        if i == kills:
            proc.communicate(timeout=300)
            assert proc.returncode == 0
            break
        time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL, "the child finished before its kill: train longer"
        positions.append(_position(tmp_path))
    with np.load(tmp_path / "out.npz") as npz:
        weights = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    assert not (tmp_path / "backup").exists()
    return positions, weights


def test_sigkill_during_fit_then_restart_is_bit_identical(tmp_path, reference):
    _, weights = _killed_runs(tmp_path, kills=1, seed=0)
    _assert_identical(weights, reference)


@pytest.mark.skipif(os.environ.get("RANVIER_SLOW_TESTS") != "1", reason="slow: set RANVIER_SLOW_TESTS=1 (about 10 s)")
def test_twenty_sigkills_at_random_points_then_restart_is_bit_identical(tmp_path, reference):
    positions, weights = _killed_runs(tmp_path, kills=20, seed=16)
    print(f"\nbackup (epoch, step) after each of the 20 kills: {positions}")
    _assert_identical(weights, reference)
