"""evaluate(callbacks=...), predict(callbacks=...), their steps=, and fit's validation hooks (Keras 3 order)."""

import warnings

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import callbacks

_HOOKS = [name for name in vars(callbacks.Callback) if name.startswith("on_")]


class Recorder(callbacks.Callback):
    """Records every hook as (name, batch or epoch or None, logs)."""

    def __init__(self):
        super().__init__()
        self.calls = []
        for name in _HOOKS:
            setattr(self, name, self._recorder(name))

    def _recorder(self, name):
        def record(*args):
            index = args[0] if len(args) == 2 else None
            self.calls.append((name, index, args[-1]))

        return record

    def names(self, prefix=""):
        return [(name, index) for name, index, _ in self.calls if name.startswith(prefix)]


def _data(n=10):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3))
    return x, np.sin(x.sum(axis=1, keepdims=True))


def _model(use_ema=False):
    rv.utils.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(4, activation="tanh"), rv.layers.Dense(1)])
    model.compile(optimizer=rv.optimizers.SGD(0.1, use_ema=use_ema, ema_momentum=0.8), loss="mse", metrics=["mae"])
    return model


def _batch_order(kind, n_batches):
    """Keras 3's trainer: on_<kind>_begin, each batch's begin and end, on_<kind>_end."""
    order = [(f"on_{kind}_begin", None)]
    for b in range(n_batches):
        order += [(f"on_{kind}_batch_begin", b), (f"on_{kind}_batch_end", b)]
    return order + [(f"on_{kind}_end", None)]


def test_evaluate_calls_the_test_hooks_in_keras_order_with_running_logs():
    model = _model()
    x, y = _data(10)
    rec = Recorder()
    result = model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[rec], return_dict=True)
    assert rec.names() == _batch_order("test", 3)
    error = model.predict(x) - y
    for name, batch, logs in rec.calls:
        if name == "on_test_batch_end":
            rows = min(10, 4 * (batch + 1))  # running means over the rows seen so far
            assert logs["loss"] == pytest.approx(np.mean(error[:rows] ** 2), rel=1e-6)
            assert logs["mae"] == pytest.approx(np.mean(np.abs(error[:rows])), rel=1e-6)
    assert rec.calls[-1][2] == result
    assert rec.model is model and rec.params["steps"] == 3 and rec.params["epochs"] == 1


def test_predict_calls_the_predict_hooks_in_keras_order_with_each_batchs_outputs():
    model = _model()
    x, _ = _data(10)
    rec = Recorder()
    out = model.predict(x, batch_size=4, callbacks=[rec])
    assert rec.names() == _batch_order("predict", 3)
    batch_outputs = [logs["outputs"] for name, _, logs in rec.calls if name == "on_predict_batch_end"]
    reference = model.predict(x)
    for b, got in enumerate(batch_outputs):
        np.testing.assert_array_equal(got, reference[4 * b : 4 * b + 4])
    np.testing.assert_array_equal(out, reference)


def test_predict_batch_outputs_keep_the_models_output_structure():
    inp = rv.layers.Input((3,), name="x")
    model = rv.Model(inp, {"a": rv.layers.Dense(2, name="a")(inp), "b": rv.layers.Dense(1, name="b")(inp)})
    x, _ = _data(6)
    rec = Recorder()
    out = model.predict(x, batch_size=4, callbacks=[rec])
    reference = model.predict(x)
    batches = [logs["outputs"] for name, _, logs in rec.calls if name == "on_predict_batch_end"]
    assert [sorted(b) for b in batches] == [["a", "b"], ["a", "b"]]
    for key in ("a", "b"):
        np.testing.assert_array_equal(np.concatenate([b[key] for b in batches]), reference[key])
        np.testing.assert_array_equal(out[key], reference[key])


def test_fit_validation_runs_the_test_batch_hooks_inside_each_epoch():
    model = _model()
    x, y = _data(12)
    rec = Recorder()
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x[:5], y[:5]), callbacks=[rec])
    epoch = [("on_epoch_begin", 0)]
    epoch += [(f"on_train_batch_{when}", b) for b in range(3) for when in ("begin", "end")]
    epoch += _batch_order("test", 2)  # validation in batches of fit's batch_size: 5 rows in 2 batches
    epoch += [("on_epoch_end", 0)]
    second = [(name, 1 if name.startswith("on_epoch") else index) for name, index in epoch]
    assert rec.names() == [("on_train_begin", None)] + epoch + second + [("on_train_end", None)]
    test_ends = [logs for name, _, logs in rec.calls if name == "on_test_end"]
    for epoch_index, logs in enumerate(test_ends):
        assert logs == {
            "loss": history.history["val_loss"][epoch_index],
            "mae": history.history["val_mae"][epoch_index],
        }


def test_a_callback_can_stop_evaluating_and_predicting_after_a_batch():
    model = _model()
    x, y = _data(10)

    class Stop(callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            self.model.stop_evaluating = batch == 0

        def on_predict_batch_end(self, batch, logs=None):
            self.model.stop_predicting = batch == 1

    stopped = model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[Stop()])
    np.testing.assert_allclose(stopped, model.evaluate(x[:4], y[:4], verbose=0), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(x, batch_size=4, callbacks=[Stop()]), model.predict(x)[:8])
    # The flags are reset by the next call.
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4, verbose=0), model.evaluate(x, y, verbose=0))


def _flat(model):
    return np.concatenate([w.reshape(-1) for w in model.get_weights()])


def _set_flat(model, flat):
    shapes = [w.shape for w in model.get_weights()]
    cuts = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
    model.set_weights([part.reshape(s) for part, s in zip(np.split(flat, cuts), shapes)])


def _trained_with_ema(steps=5):
    """A model after ``steps`` train_on_batch calls (no finalize: weights != average) and the
    moving average computed here from the recorded weights (momentum 0.8, from the first step)."""
    model = _model(use_ema=True)
    x, y = _data(10)
    trajectory = []
    for _ in range(steps):
        model.train_on_batch(x, y)
        trajectory.append(_flat(model))
    average = trajectory[0].copy()
    for w in trajectory[1:]:
        average = 0.8 * average + 0.2 * w
    assert not np.allclose(average, trajectory[-1], atol=1e-4)
    return model, trajectory[-1], average


def test_swap_ema_weights_evaluates_with_the_average_and_restores_the_weights():
    model, weights, average = _trained_with_ema()
    x, y = _data(10)
    reference = _model()
    _set_flat(reference, average)
    expected = reference.evaluate(x, y, verbose=0, return_dict=True)
    seen = []
    peek = callbacks.LambdaCallback(on_test_batch_begin=lambda batch, logs: seen.append(_flat(model)))
    got = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True, callbacks=[callbacks.SwapEMAWeights(), peek])
    assert got.keys() == expected.keys()
    for key in got:
        assert got[key] == pytest.approx(expected[key], rel=1e-6)
    for w in seen:
        np.testing.assert_allclose(w, average, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(_flat(model), weights)


def test_swap_ema_weights_predicts_with_the_average_and_restores_the_weights():
    model, weights, average = _trained_with_ema()
    x, _ = _data(10)
    reference = _model()
    _set_flat(reference, average)
    got = model.predict(x, batch_size=4, callbacks=[callbacks.SwapEMAWeights()])
    np.testing.assert_allclose(got, reference.predict(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(_flat(model), weights)
    assert not np.allclose(model.predict(x), got, atol=1e-5)


def test_swap_ema_weights_in_predict_without_ema_is_a_clear_error():
    model = _model()
    x, _ = _data(4)
    model.train_on_batch(x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="use_ema=True, got use_ema=False"):
        model.predict(x, callbacks=[callbacks.SwapEMAWeights()])


def test_early_stopping_and_model_checkpoint_change_nothing_in_evaluate_and_predict(tmp_path):
    model = _model()
    x, y = _data(10)
    path = tmp_path / "best.ranvier"
    cbs = [callbacks.EarlyStopping(patience=0), callbacks.ModelCheckpoint(str(path))]
    before = _flat(model)
    assert model.evaluate(x, y, verbose=0, callbacks=cbs) == model.evaluate(x, y, verbose=0)
    np.testing.assert_array_equal(model.predict(x, callbacks=cbs), model.predict(x))
    assert not path.exists() and not model.stop_training
    np.testing.assert_array_equal(_flat(model), before)
    # And in fit, they still act on the validation results after the test hooks ran.
    history = model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=cbs)
    assert path.exists() and len(history.history["val_loss"]) == 3


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize(
    "bad, match",
    [
        (callbacks.History(), "callbacks must be a list of Callback instances.*got History"),
        ("History", "callbacks must be a list.*got str: 'History'"),
        ([callbacks.History(), len], "callbacks must hold Callback instances, got builtin_function_or_method"),
    ],
)
def test_a_bad_callbacks_argument_is_a_clear_error_before_any_work(method, bad, match):
    model = _model()
    x, y = _data(4)
    rec = Recorder()
    call = getattr(model, method)
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(TypeError, match=f"^{method}: {match}"):
        call(*args, callbacks=bad + [rec] if isinstance(bad, list) else bad)
    assert rec.calls == []


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_a_bad_steps_argument_is_a_clear_error(method, steps):
    model = _model()
    x, y = _data(4)
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(ValueError, match=f"steps must be a positive integer, got {steps!r}"):
        getattr(model, method)(*args, steps=steps, verbose=0)


def test_steps_with_arrays_reads_the_first_batches():
    model = _model()
    x, y = _data(10)
    rec = Recorder()
    got = model.evaluate(x, y, batch_size=4, steps=2, verbose=0, callbacks=[rec])
    assert rec.names() == _batch_order("test", 2)
    np.testing.assert_allclose(got, model.evaluate(x[:8], y[:8], verbose=0), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(x, batch_size=4, steps=2), model.predict(x)[:8])
    # Without batch_size, as Keras: batches of ceil(n / steps) rows, so steps batches cover every row.
    rec = Recorder()
    np.testing.assert_array_equal(model.predict(x, steps=3, callbacks=[rec]), model.predict(x))
    assert rec.names("on_predict_batch_end") == [("on_predict_batch_end", b) for b in range(3)]
    assert [len(logs["outputs"]) for name, _, logs in rec.calls if name == "on_predict_batch_end"] == [4, 4, 2]


def test_steps_beyond_the_data_warns_that_the_input_ran_out():
    model = _model()
    x, y = _data(10)
    with pytest.warns(UserWarning, match="ran out of data.*got steps=5"):
        got = model.evaluate(x, y, batch_size=4, steps=5, verbose=0)
    np.testing.assert_allclose(got, model.evaluate(x, y, verbose=0), rtol=1e-12)
    with pytest.warns(UserWarning, match="ran out of data"):
        np.testing.assert_array_equal(model.predict(x, batch_size=4, steps=4), model.predict(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(x, batch_size=4, steps=3)


def test_streamed_evaluate_and_predict_drive_the_same_hooks():
    model = _model()
    x, y = _data(10)
    rec = Recorder()
    batches = [(x[a : a + 4], y[a : a + 4]) for a in range(0, 10, 4)]
    got = model.evaluate(iter(batches), verbose=0, callbacks=[rec])
    assert rec.names() == _batch_order("test", 3)
    np.testing.assert_allclose(got, model.evaluate(x, y, verbose=0), rtol=1e-12)
    rec = Recorder()
    out = model.predict(iter([(b[0],) for b in batches]), callbacks=[rec])
    assert rec.names() == _batch_order("predict", 3)
    np.testing.assert_array_equal(out, model.predict(x))


def test_verbose_prints_through_the_progress_bar_and_a_callback_list_is_used_as_given(capsys):
    model = _model()
    x, y = _data(10)
    model.evaluate(x, y, batch_size=4, verbose=2)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "3/3" in out and "- loss: " in out and "- mae: " in out
    model.predict(x, batch_size=4, verbose=2)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "3/3" in out and "loss" not in out
    model.evaluate(x, y, verbose=0)
    model.predict(x, callbacks=[Recorder()])
    assert capsys.readouterr().out == ""
    # Keras: a CallbackList is used as it is (no progress bar added, no params set).
    rec = Recorder()
    model.evaluate(x, y, batch_size=4, verbose=1, callbacks=callbacks.CallbackList([rec], model=model))
    assert capsys.readouterr().out == "" and rec.names() == _batch_order("test", 3)
