"""Bad input gets a clear error naming the argument and the value, and changes nothing."""

import numpy as np
import pytest

import ranvier as rv


@pytest.fixture
def model():
    m = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


@pytest.mark.parametrize(
    "x, y, exc, match",
    [
        (X, Y[:9], ValueError, "same number of samples, got 10 and 9"),
        (X[:, :3], Y, ValueError, r"expects x of shape \(None, 4\), got shape \(10, 3\)"),
        (X[:, 0], Y, ValueError, "must have 2 dimensions"),
        (np.where(np.eye(10, 4) > 0, np.nan, X), Y, ValueError, "NaN or inf"),
        (np.where(np.eye(10, 4) > 0, np.inf, X), Y, ValueError, "NaN or inf"),
        (X, np.where(Y == 0, 3, Y), ValueError, "3"),
        (X, Y - 1, ValueError, "-1"),
        (X, np.where(Y == 0, np.nan, Y), ValueError, "NaN|nan"),
        (X.astype(str), Y, TypeError, "numeric"),
        (X.astype(object), Y, TypeError, "numeric"),
        (X, Y.astype(str), TypeError, "numeric"),
    ],
)
def test_fit_rejects_bad_input_and_leaves_weights_alone(model, x, y, exc, match):
    before = model.get_weights()
    with pytest.raises(exc, match=match):
        model.fit(x, y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)


def test_fit_before_compile():
    m = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(X, Y)
    with pytest.raises(RuntimeError, match="compile"):
        m.evaluate(X, Y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "adamm", "loss": "mse"}, "adamm"),
        ({"optimizer": "adam", "loss": "mean_squared_eror"}, "mean_squared_eror"),
        ({"optimizer": "adam", "loss": "mse", "metrics": ["acuracy"]}, "acuracy"),
    ],
)
def test_unknown_names(kwargs, match):
    m = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)])
    with pytest.raises(ValueError, match=match):
        m.compile(**kwargs)
        m.fit(X, np.zeros((10, 3)), verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"validation_split": 1.5}, "validation_split"),
        ({"verbose": 3}, "verbose"),
        ({"sample_weight": -np.ones(10)}, "sample_weight"),
        ({"sample_weight": np.ones(3)}, "sample_weight"),
        ({"class_weight": [1, 2]}, "class_weight"),
    ],
)
def test_bad_fit_arguments(model, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, Y, **kwargs)


def test_predict_validates(model):
    with pytest.raises(ValueError, match="got shape"):
        model.predict(np.ones((2, 5)))
    assert model.predict(np.ones((1, 4), dtype=bool)).shape == (1, 3)
    assert model.predict(np.ones((2, 4), dtype=np.int64)).shape == (2, 3)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda m: m.fit(X, Y, steps_per_epoch=2, verbose=0), "steps_per_epoch=2"),
        (lambda m: m.fit(X, Y, validation_data=(X, Y), validation_steps=1, verbose=0), "validation_steps=1"),
        (lambda m: m.evaluate(X, Y, steps=1, verbose=0), "steps=1"),
        (lambda m: m.evaluate(X, Y, callbacks=[rv.callbacks.History()], verbose=0), "callbacks="),
        (lambda m: m.predict(X, steps=1), "steps=1"),
        (lambda m: m.predict(X, callbacks=[rv.callbacks.History()]), "callbacks="),
        (lambda m: m.compile(optimizer="adam", loss="mse", steps_per_execution=4), "steps_per_execution=4"),
        (lambda m: m.compile(optimizer="adam", loss="mse", jit_compile=True), "jit_compile=True"),
    ],
)
def test_unsupported_keras_arguments_raise_instead_of_being_ignored(model, call, argument):
    before = model.get_weights()
    with pytest.raises(NotImplementedError, match=argument):
        call(model)
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)


def test_keras_compile_arguments_that_change_nothing_here_are_accepted(model):
    model.compile(
        optimizer="adam", loss="mse", run_eagerly=True, jit_compile="auto", steps_per_execution=1, auto_scale_loss=False
    )
    assert model.compiled


def test_a_refused_compile_leaves_the_model_uncompiled():
    x = rv.layers.Input((4,))
    model = rv.Model(x, [rv.layers.Dense(2, name="a")(x), rv.layers.Dense(3, name="b")(x)])
    with pytest.raises(ValueError, match=r"unknown output name\(s\) \['c'\]"):
        model.compile(optimizer="sgd", loss={"a": "mse", "c": "mse"})
    assert not model.compiled
