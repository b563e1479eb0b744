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
        (lambda m: m.compile(optimizer="adam", loss="mse", steps_per_execution=4), "steps_per_execution=4"),
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


def test_jit_compile_true_warns_that_it_has_no_effect(model):
    with pytest.warns(UserWarning, match="compiled ahead of time; jit_compile has no effect"):
        model.compile(optimizer="adam", loss="mse", jit_compile=True)
    assert model.compiled and model.jit_compile is False
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto', got jit_compile='xla'"):
        model.compile(optimizer="adam", loss="mse", jit_compile="xla")


def test_a_refused_compile_leaves_the_model_uncompiled():
    x = rv.layers.Input((4,))
    model = rv.Model(x, [rv.layers.Dense(2, name="a")(x), rv.layers.Dense(3, name="b")(x)])
    with pytest.raises(ValueError, match=r"unknown output name\(s\) \['c'\]"):
        model.compile(optimizer="sgd", loss={"a": "mse", "c": "mse"})
    assert not model.compiled


# ----------------------------------------------- values a float32 model cannot hold (issue 16)
BIG = float(np.finfo(np.float32).max) * 10.0  # finite in float64, inf in float32


def _beyond(arg, index):
    return rf"{arg} contains a value beyond the float32 range .*, got 3.4\d*e\+39 at index \({index}\)"


def _with(a, index, value):
    a = np.array(a, dtype=np.float64)
    a[index] = value
    return a


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: m.fit(_with(X, (2, 1), BIG), Y, verbose=0), _beyond("x", "2, 1")),
        (lambda m: m.fit(_with(X, (2, 1), -BIG), Y, verbose=0), _beyond("x", "2, 1").replace("got 3.4", "got -3.4")),
        (lambda m: m.train_on_batch(_with(X, (0, 0), BIG), Y), _beyond("x", "0, 0")),
        (lambda m: m.evaluate(_with(X, (9, 3), BIG), Y, verbose=0), _beyond("x", "9, 3")),
        (lambda m: m.fit(X, Y, sample_weight=_with(np.ones(10), 4, BIG), verbose=0), _beyond("sample_weight", "4,")),
        (lambda m: m.fit(X, Y, validation_data=(_with(X, (1, 1), BIG), Y), verbose=0), _beyond("x_val", "1, 1")),
    ],
)
def test_values_beyond_float32_are_refused_before_any_kernel(model, call, match):
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        call(model)
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)


def test_predict_refuses_values_beyond_float32_instead_of_returning_nan(model):
    with pytest.raises(ValueError, match=_beyond("x", "0, 0").replace(r"3.4\d*e\+39", r"1e\+300")):
        model.predict(np.full((3, 4), 1e300))
    assert np.isfinite(model.predict(np.full((3, 4), 1e30))).all()  # large but within float32: accepted


def test_targets_beyond_float32_are_refused():
    m = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"mean_squared_error: y contains a value beyond the float32 range"):
        m.fit(X, _with(np.zeros(10), 7, BIG), verbose=0)


def test_generator_batches_beyond_float32_are_refused(model):
    def batches():
        yield X[:5], Y[:5]
        yield _with(X[5:], (1, 2), BIG), Y[5:]

    # Batches from a generator go through the same check (data adapters -> _prepare -> check_x).
    with pytest.raises(ValueError, match=_beyond("x", "1, 2")):
        model.fit(batches(), epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_eager_layer_calls_and_weights_refuse_values_beyond_float32():
    layer = rv.layers.Dense(2)
    with pytest.raises(ValueError, match=r"Layer 'dense\w*': input contains a value beyond the float32 range"):
        layer(np.full((2, 4), BIG))
    layer(np.ones((2, 4)))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"Variable '.*kernel': value contains a value beyond the float32 range"):
        layer.kernel.assign(np.full((4, 2), BIG))
    with pytest.raises(ValueError, match="NaN or inf"):
        layer.kernel.assign(np.full((4, 2), np.nan))
    for a, b in zip(before, layer.get_weights()):
        assert np.array_equal(a, b)


def test_a_float64_model_accepts_what_float32_cannot_hold(float64):
    m = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)])
    m.set_weights([np.full((4, 3), 1e-300), np.zeros(3)])
    assert np.isfinite(m.predict(np.full((2, 4), BIG))).all()
    m.layers[0].kernel.assign(np.full((4, 3), BIG))


# ---------------------------------------------------------------- unclear errors (issue 16)
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (
            lambda m: m.fit(X, 1, verbose=0),
            ValueError,
            r"y must be an array with one target per sample of x \(10\), got a scalar: 1",
        ),
        (lambda m: m.train_on_batch(X, np.float32(2)), ValueError, "got a scalar: 2.0"),
        (
            lambda m: m.fit(X, Y, class_weight={"a": 1}, verbose=0),
            TypeError,
            r"class_weight keys must be integer class indices, got the key 'a' \(str\)",
        ),
        (lambda m: m.fit(X, Y, class_weight={1.5: 2.0}, verbose=0), TypeError, r"got the key 1.5 \(float\)"),
        (
            lambda m: m.fit(X, Y, callbacks=rv.callbacks.History(), verbose=0),
            TypeError,
            r"callbacks must be a list of Callback instances \(callbacks=\[cb\] for one\), got History",
        ),
        (
            lambda m: m.fit(X, Y, callbacks=[print], verbose=0),
            TypeError,
            "callbacks must hold Callback instances, got builtin_function_or_method",
        ),
        (lambda m: m.train_on_batch(X), ValueError, r"train_on_batch: y is required \(targets\), got None"),
        (
            lambda m: m.train_on_batch(X[:0], Y[:0]),
            ValueError,
            r"train_on_batch: x has no samples, got an input of shape \(0, 4\)",
        ),
        (
            lambda m: m.evaluate(X[:0], Y[:0], verbose=0),
            ValueError,
            r"evaluate: x has no samples, got an input of shape \(0, 4\)",
        ),
        (lambda m: m.fit(X[:0], Y[:0], verbose=0), ValueError, "fit: x has no samples"),
        (
            lambda m: m.evaluate(X, Y[:7], verbose=0),
            ValueError,
            "x and y must have the same number of samples, got 10 and 7",
        ),
        (
            lambda m: m.evaluate(X[:4], Y, verbose=0),
            ValueError,
            "x and y must have the same number of samples, got 4 and 10",
        ),
    ],
)
def test_unclear_errors_now_name_the_argument_and_the_value(model, call, exc, match):
    before = model.get_weights()
    with pytest.raises(exc, match=match):
        call(model)
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)
    assert model.optimizer.iterations == 0  # no step was taken (a 0-sample train_on_batch used to take one)
    model.fit(X, Y, class_weight={np.int64(0): 2.0, 1: 1.0}, callbacks=[rv.callbacks.History()], verbose=0)


def test_evaluate_on_a_generator_with_no_batch_raises():
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(1)])
    model.compile("sgd", "mse")

    def empty():
        yield from ()

    with pytest.warns(UserWarning, match="ran out of data"), pytest.raises(ValueError, match="x gave no batch"):
        model.evaluate(empty(), verbose=0)
