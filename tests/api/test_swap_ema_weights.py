"""callbacks.SwapEMAWeights and fit's use of the optimizer's moving average (Keras 3 semantics)."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import callbacks


def _flat(model):
    return np.concatenate([w.reshape(-1) for w in model.get_weights()])


def _model(use_ema=True, momentum=0.8):
    rv.utils.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(4, activation="tanh"), rv.layers.Dense(1)])
    model.compile(optimizer=rv.optimizers.SGD(0.05, use_ema=use_ema, ema_momentum=momentum), loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    return x, np.sin(x.sum(axis=1, keepdims=True)), x[:8], x[:8, :1]


def _ema(trajectory, momentum):
    average = trajectory[0].copy()
    for w in trajectory[1:]:
        average = momentum * average + (1 - momentum) * w
    return average


@pytest.mark.parametrize("swap_on_epoch", [False, True])
def test_validation_sees_the_averages_and_fit_ends_with_them(swap_on_epoch):
    model = _model()
    x, y, xv, yv = _data()
    steps, seen = [], []
    record = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: steps.append(_flat(model)),
        on_test_begin=lambda logs: seen.append(("test", _flat(model), len(steps))),
        on_test_end=lambda logs: seen.append(("after", _flat(model), len(steps))),
    )
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        validation_data=(xv, yv),
        callbacks=[callbacks.SwapEMAWeights(swap_on_epoch), record],
    )
    tests = [s for s in seen if s[0] == "test"]
    assert len(tests) == 3
    for kind, weights, n in seen:
        want = _ema(steps[:n], 0.8) if kind == "test" else steps[n - 1]
        np.testing.assert_allclose(weights, want, rtol=1e-5, atol=1e-6)
    # fit's last act (Keras' finalize_variable_values): the weights become their average.
    np.testing.assert_allclose(_flat(model), _ema(steps, 0.8), rtol=1e-5, atol=1e-6)
    assert not np.allclose(steps[-1], _ema(steps, 0.8), atol=1e-6)


def test_swap_on_epoch_lets_later_callbacks_see_the_averages():
    model = _model()
    x, y, _, _ = _data()
    steps, at_epoch_end = [], []
    record = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: steps.append(_flat(model)),
        on_epoch_end=lambda epoch, logs: at_epoch_end.append((_flat(model), len(steps))),
    )
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callbacks.SwapEMAWeights(swap_on_epoch=True), record])
    for weights, n in at_epoch_end:
        np.testing.assert_allclose(weights, _ema(steps[:n], 0.8), rtol=1e-5, atol=1e-6)
    # The second epoch trained from the raw weights, not from the averages swapped in.
    first_step_of_epoch_2 = steps[4]
    assert not np.allclose(first_step_of_epoch_2, _ema(steps[:4], 0.8), atol=1e-3)


def test_without_ema_is_a_clear_error():
    model = _model(use_ema=False)
    x, y, xv, yv = _data()
    with pytest.raises(ValueError, match="use_ema=True, got use_ema=False"):
        model.fit(x, y, epochs=1, verbose=0, validation_data=(xv, yv), callbacks=[callbacks.SwapEMAWeights()])


def test_fit_without_ema_keeps_the_trained_weights():
    model = _model(use_ema=False)
    x, y, _, _ = _data()
    steps = []
    record = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(_flat(model)))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[record])
    np.testing.assert_array_equal(_flat(model), steps[-1])
