"""Generated calls of every public entry point: a clean error or a finite result, never a crash.

Layer constructors (then a model around the layer, ``predict`` and the eager
call), model constructors and ``compile``, ``fit``, ``evaluate``,
``train_on_batch``, ``test_on_batch``, ``predict``, ``predict_on_batch`` and
``load_model`` get arguments drawn by hypothesis, valid and invalid. Each
call either raises ``ValueError``, ``TypeError`` or ``NotImplementedError``
with a message (a missing file: ``OSError``), leaving the model's weights and
optimizer state byte-identical, or returns finite values whenever its inputs
were finite and within ``_IN_RANGE``. A hang ends the run (conftest's timeout).
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import ranvier as rv

SLOW = bool(os.environ.get("RANVIER_SLOW_TESTS"))
CLEAN = (ValueError, TypeError, NotImplementedError)
_IN_RANGE = 1e3
_SETTINGS = settings(
    max_examples=400 if SLOW else 25,
    deadline=None,
    derandomize=not SLOW,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _attempt(fn, *args, clean=CLEAN, **kwargs):
    """``(True, result)``, or ``(False, exc)`` for a clean rejection; any other exception propagates."""
    try:
        return True, fn(*args, **kwargs)
    except clean as exc:
        assert len(str(exc)) > 8, f"{type(exc).__name__} without a useful message: {exc!r}"
        return False, exc


def _in_range(arguments):
    """True when every numeric argument is finite and within ``_IN_RANGE`` (the others are not numbers)."""
    numbers = [v for v in arguments if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return all(np.isfinite(v) and abs(v) <= _IN_RANGE for v in numbers)


def _finite(tree):
    leaves = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, (list, tuple)) else [tree]
    return all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in leaves)


# Anything at all, for an argument that expects something specific.
_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.tuples(st.integers(-2, 4), st.integers(-2, 4)),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)
_SMALL = st.integers(1, 6)
_WINDOW = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
_VALID = {
    "units": _SMALL,
    "filters": _SMALL,
    "n": _SMALL,
    "input_dim": st.integers(1, 12),
    "output_dim": _SMALL,
    "pieces": st.integers(1, 3),
    "depth_multiplier": st.integers(1, 2),
    "kernel_size": _WINDOW,
    "pool_size": _WINDOW,
    "strides": st.one_of(st.none(), _WINDOW),
    "size": _WINDOW,
    "dilation_rate": st.integers(1, 2),
    "padding": st.sampled_from(["valid", "same"]),
    "cropping": st.integers(0, 1),
    "activation": st.sampled_from(["relu", "tanh", "sigmoid", "softmax", "linear", "gelu", None]),
    "use_bias": st.booleans(),
    "return_sequences": st.booleans(),
    "rate": st.floats(0, 0.9),
    "stddev": st.floats(0, 1),
    "momentum": st.floats(0, 1),
    "epsilon": st.floats(1e-6, 1e-1),
    "negative_slope": st.floats(0, 1),
    "alpha": st.floats(0, 2),
    "axis": st.just(-1),
    "target_shape": st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
}
# class name: (input rank without the batch axis, its arguments)
_LAYERS = {
    "Dense": (1, ["units", "activation", "use_bias"]),
    "Maxout": (1, ["units", "pieces"]),
    "Activation": (1, ["activation"]),
    "LeakyReLU": (1, ["negative_slope"]),
    "ELU": (1, ["alpha"]),
    "Softmax": (1, ["axis"]),
    "Dropout": (1, ["rate"]),
    "GaussianNoise": (1, ["stddev"]),
    "BatchNormalization": (1, ["axis", "momentum", "epsilon"]),
    "LayerNormalization": (1, ["axis", "epsilon"]),
    "RepeatVector": (1, ["n"]),
    "Reshape": (1, ["target_shape"]),
    "Embedding": (1, ["input_dim", "output_dim"]),
    "Conv1D": (2, ["filters", "kernel_size", "strides", "padding", "activation"]),
    "AveragePooling1D": (2, ["pool_size", "strides", "padding"]),
    "Cropping1D": (2, ["cropping"]),
    "SimpleRNN": (2, ["units", "activation", "return_sequences"]),
    "LSTM": (2, ["units", "return_sequences"]),
    "GRU": (2, ["units", "return_sequences"]),
    "Conv2D": (3, ["filters", "kernel_size", "strides", "padding", "dilation_rate", "activation"]),
    "DepthwiseConv2D": (3, ["kernel_size", "strides", "padding", "depth_multiplier"]),
    "SeparableConv2D": (3, ["filters", "kernel_size", "padding", "depth_multiplier"]),
    "MaxPooling2D": (3, ["pool_size", "strides", "padding"]),
    "ZeroPadding2D": (3, []),
    "UpSampling2D": (3, ["size"]),
}


@st.composite
def _arguments(draw, valid):
    """Keyword arguments: each of ``valid`` given or not, mostly valid, anything with probability 1/5."""
    given = [name for name in valid if draw(st.booleans())]
    return {name: draw(_ANY if draw(st.integers(0, 4)) == 0 else valid[name]) for name in given}


@st.composite
def _layer_case(draw, name):
    rank, params = _LAYERS[name]
    # Mostly valid: each argument is invalid with probability about 1/5.
    kwargs = draw(_arguments({p: _VALID[p] for p in params}))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=rank, max_size=rank)))
    n = draw(st.integers(1, 5))
    if name == "Embedding":
        x = draw(st.integers(0, 14).map(lambda hi: np.arange(n * shape[0]).reshape(n, *shape) % (hi + 1)))
    else:
        scale = draw(st.sampled_from([1.0, 100.0, _IN_RANGE]))
        x = np.random.default_rng(draw(st.integers(0, 9))).uniform(-scale, scale, (n, *shape)).astype(np.float32)
    return kwargs, shape, x


@pytest.mark.parametrize("name", sorted(_LAYERS))
@_SETTINGS
@given(data=st.data())
def test_layer_constructor_build_predict_and_eager_call(name, data):
    kwargs, shape, x = data.draw(_layer_case(name))
    cls = getattr(rv.layers, name)
    ok, layer = _attempt(cls, **kwargs)
    if not ok:
        return event("rejected by the constructor")
    ok, model = _attempt(lambda: rv.Sequential([rv.layers.Input(shape, dtype=x.dtype.name), layer]))
    if not ok:
        return event("rejected when built")
    ok, out = _attempt(model.predict, x)
    event(f"predict {'ran' if ok else 'rejected'}")
    if not ok:
        return
    if _in_range(kwargs.values()):
        assert _finite(out), f"{name}({kwargs}) on finite input of shape {x.shape}: non-finite output"
    ok, eager = _attempt(layer, x)
    if ok:
        np.testing.assert_allclose(np.asarray(eager), np.asarray(out), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------ model level
@_SETTINGS
@given(
    layers=st.one_of(st.none(), _ANY, st.lists(st.sampled_from(["dense", "input", "junk"]), max_size=3)),
    optimizer=st.one_of(st.sampled_from(["adam", "sgd", "rmsprop", "lbfgs", "adamm"]), _ANY),
    loss=st.one_of(st.sampled_from(["mse", "sparse_categorical_crossentropy", "hinge", "nope"]), _ANY),
    metrics=st.one_of(st.none(), st.lists(st.sampled_from(["accuracy", "mae", "f1"]), max_size=2), _ANY),
)
def test_model_constructors_and_compile(layers, optimizer, loss, metrics):
    made = {"dense": lambda: rv.layers.Dense(3), "input": lambda: rv.layers.Input((4,)), "junk": lambda: "junk"}
    if isinstance(layers, list) and all(v in made for v in layers):
        layers = [made[v]() for v in layers]
    ok, model = _attempt(rv.Sequential, layers)
    if not ok:
        return
    _attempt(rv.Model, inputs=layers, outputs=layers)
    ok, _ = _attempt(model.compile, optimizer=optimizer, loss=loss, metrics=metrics)
    if ok and model.built:
        with np.errstate(all="ignore"):
            _attempt(model.fit, np.zeros((4, 4), np.float32), np.zeros(4, np.int64), verbose=0)


def _array(draw, n, width, in_range):
    kind = draw(st.sampled_from(["float32", "float64", "int", "bool"] + ([] if in_range else ["str", "object"])))
    values = np.random.default_rng(draw(st.integers(0, 9))).uniform(-10, 10, (n, width))
    if kind in ("str", "object"):
        return values.astype(kind)
    return values.astype(np.float32 if kind == "float32" else kind if kind != "int" else np.int64)


@st.composite
def _data(draw):
    """``(x, y, in_range)``: x and y valid or not; ``in_range`` when both are finite, numeric, in range."""
    n = draw(st.integers(0, 12))
    in_range = draw(st.booleans())
    if in_range:
        x, y = _array(draw, n, 4, True), np.arange(n) % 3
        return x, y, True
    x = draw(
        st.one_of(
            st.builds(lambda: None),
            _ANY,
            st.just(_array(draw, n, draw(st.integers(0, 6)), False)),
            st.just(np.full((n, 4), draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e39, 1e300])))),
            st.just([[0.0] * 4] * n),
            st.just({"nope": np.zeros((n, 4))}),
            st.just(np.zeros((n, 4, 1), np.float32)),
        )
    )
    y = draw(
        st.one_of(
            st.just(np.arange(n) % 3),
            st.just(np.arange(n + 1) % 3),
            st.just(np.arange(n) - 1),
            st.just(np.full(n, np.nan)),
            st.just(np.zeros((n, 3))),
            st.just(np.array(["a"] * n)),
            _ANY,
        )
    )
    return x, y, False


_FIT_KWARGS = _arguments(
    {
        "batch_size": st.integers(1, 8),
        "epochs": st.integers(0, 2),
        "shuffle": st.sampled_from([True, False, "batch"]),
        "validation_split": st.floats(0, 0.5),
        "sample_weight": st.none(),
        "class_weight": st.just({0: 1.0, 1: 2.0, 2: 0.5}),
        "initial_epoch": st.integers(0, 1),
        "validation_freq": st.integers(1, 2),
    }
)
_METHODS = {
    "fit": _FIT_KWARGS.map(lambda k: dict(k, verbose=0)),
    "evaluate": _arguments({"batch_size": st.integers(1, 8)}).map(lambda k: dict(k, verbose=0)),
    "train_on_batch": _arguments({"class_weight": st.just({0: 1.0, 1: 2.0, 2: 0.5}), "sample_weight": st.none()}),
    "test_on_batch": _arguments({"sample_weight": st.none()}),
    "predict": _arguments({"batch_size": st.integers(1, 8)}),
    "predict_on_batch": st.just({}),
}


@pytest.mark.parametrize("method", sorted(_METHODS))
@_SETTINGS
@given(data=st.data())
def test_training_and_inference_calls(method, data, make_model, snapshot):
    x, y, in_range = data.draw(_data())
    kwargs = data.draw(_METHODS[method])
    model = make_model()
    if data.draw(st.booleans()):
        model.fit(np.zeros((3, 4), np.float32), np.arange(3), verbose=0)  # optimizer slots exist
    before = snapshot(model)
    args = (x,) if method.startswith("predict") else (x, y)
    in_range = in_range and all(v is None or isinstance(v, (bool, int, float)) for v in kwargs.values())
    in_range = in_range and _in_range(kwargs.values())
    with np.errstate(all="ignore"):
        ok, result = _attempt(getattr(model, method), *args, **kwargs)
    event(f"{'ran' if ok else 'rejected'}{', in range' if in_range else ''}")
    if not ok:
        assert snapshot(model) == before, f"{method} raised {result!r} after changing the model"
        return
    if in_range:
        history = result.history if method == "fit" else result
        assert _finite(history) and _finite(model.get_weights()), f"{method}({kwargs}) gave non-finite values"
    if method in ("evaluate", "test_on_batch", "predict", "predict_on_batch"):
        assert snapshot(model) == before, f"{method} changed the weights"


@_SETTINGS
@given(
    path=st.one_of(st.text(max_size=8), _ANY, st.just(os.devnull), st.just("/")),
    compile=_ANY,
    safe_mode=st.one_of(st.just(True), _ANY),
    custom_objects=st.one_of(st.none(), _ANY),
)
def test_load_model_arguments(path, compile, safe_mode, custom_objects):
    ok, _ = _attempt(
        rv.load_model,
        path,
        compile=compile,
        safe_mode=safe_mode,
        custom_objects=custom_objects,
        clean=(*CLEAN, OSError),
    )
    assert not ok, f"load_model({path!r}) loaded a model"
