"""The fit loop's guards: a NaN loss is reported, 0 samples and validation_freq=0 are refused before any step."""

import warnings

import numpy as np
import pytest

import ranvier as rv


def _model():
    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)])
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 3, n)


def test_a_nan_loss_is_warned_once_with_its_epoch_and_batch():
    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)])
    model.compile(optimizer=rv.optimizers.SGD(1e3), loss="mse")  # diverges: inf, then NaN
    x, _ = _data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x * 100, x[:, :3], batch_size=10, epochs=3, verbose=0, shuffle=False)
    assert not np.isfinite(history.history["loss"]).any()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert messages[0].startswith("fit: the loss is inf at epoch 1/3, batch 4/4")
    assert caught[0].filename == __file__  # points at the fit call


def test_no_warning_while_the_loss_is_finite():
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(*_data(), batch_size=10, epochs=2, verbose=0)


@pytest.mark.parametrize("call", ["evaluate", "train_on_batch", "fit"])
def test_zero_samples_are_refused_before_any_step(call):
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0)
    before, iterations = model.get_weights(), int(model.optimizer.iterations)
    with pytest.raises(ValueError, match=rf"{call}: x has no samples, got an input of shape \(0, 4\)"):
        getattr(model, call)(x[:0], y[:0])
    assert int(model.optimizer.iterations) == iterations
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_empty_validation_data_is_refused_before_training():
    model = _model()
    x, y = _data()
    with pytest.raises(ValueError, match="fit: validation_data has no samples"):
        model.fit(x, y, validation_data=(x[:0], y[:0]), epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 0


@pytest.mark.parametrize("freq", [0, -1, 1.5, True])
def test_validation_freq_must_be_a_positive_int_before_training(freq):
    model = _model()
    x, y = _data()
    with pytest.raises(ValueError, match=f"validation_freq must be a positive integer, got {freq!r}"):
        model.fit(x, y, validation_data=(x, y), validation_freq=freq, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 0
