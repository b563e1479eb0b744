"""Keras 3 activations added for issue 15: mish, hard_silu/hard_swish, log_sigmoid, celu, glu, sparsemax.

Values against NumPy formulas (and torch.nn.functional where it has them),
float64 gradients by finite differences through ``layers.Activation`` and
``ops``, and serialization by name. Also checks that ``hard_sigmoid`` and
``softsign`` are Keras 3's.
"""

import json

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops
from ranvier.api import activations
from ranvier.testing import check_layer

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 6)) * 3


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _sparsemax_by_bisection(x, axis):
    """Sparsemax as the simplex projection: find tau with sum(max(x - tau, 0)) = 1 by bisection."""
    x = np.moveaxis(x, axis, -1)
    lo = x.max(axis=-1, keepdims=True) - 1
    hi = x.max(axis=-1, keepdims=True)
    for _ in range(200):
        mid = (lo + hi) / 2
        too_low = np.maximum(x - mid, 0).sum(axis=-1, keepdims=True) > 1
        lo, hi = np.where(too_low, mid, lo), np.where(too_low, hi, mid)
    return np.moveaxis(np.maximum(x - (lo + hi) / 2, 0), -1, axis)


NUMPY = {
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "log_sigmoid": lambda x: np.log(_sigmoid(x)),
    "celu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "glu": lambda x: x[..., :3] * _sigmoid(x[..., 3:]),
    "sparsemax": lambda x: _sparsemax_by_bisection(x, -1),
    # Keras 3: hard_sigmoid = relu6(x + 3) / 6 and softsign = x / (|x| + 1).
    "hard_sigmoid": lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
    "softsign": lambda x: x / (np.abs(x) + 1),
}


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_module_function_get_and_ops_match_numpy(name):
    want = NUMPY[name](X)
    for fn in (getattr(activations, name), activations.get(name), getattr(ops, name)):
        got = np.asarray(fn(X))
        assert got.dtype == np.float64 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert getattr(activations, name)(X.astype(np.float32)).dtype == np.float32


def test_parameters_and_axes():
    np.testing.assert_allclose(activations.celu(X, alpha=0.5), np.where(X > 0, X, 0.5 * np.expm1(X / 0.5)), rtol=1e-12)
    np.testing.assert_allclose(ops.celu(X, alpha=2.0), np.where(X > 0, X, 2.0 * np.expm1(X / 2.0)), rtol=1e-12)
    for axis in (0, 1, -2):
        np.testing.assert_allclose(activations.sparsemax(X, axis=axis), _sparsemax_by_bisection(X, axis), atol=1e-12)
        np.testing.assert_allclose(ops.sparsemax(X, axis=axis), _sparsemax_by_bisection(X, axis), atol=1e-12)
    x = X[:, :, :4]  # axis 1 has 4 entries
    glu1 = x[:, :2] * _sigmoid(x[:, 2:])
    np.testing.assert_allclose(activations.glu(x, axis=1), glu1, rtol=1e-12)
    np.testing.assert_allclose(ops.glu(x, axis=1), glu1, rtol=1e-12)
    s = activations.sparsemax(X)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-12)
    assert (s == 0).any(), "sparsemax must give exact zeros"


def test_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = torch.tensor(X)
    pairs = [
        (activations.mish(X), F.mish(t)),
        (activations.hard_silu(X), F.hardswish(t)),
        (activations.log_sigmoid(X), F.logsigmoid(t)),
        (activations.celu(X, alpha=0.7), F.celu(t, alpha=0.7)),
        (activations.glu(X), F.glu(t, dim=-1)),
        (activations.glu(X[:, :, :4], axis=1), F.glu(t[:, :, :4], dim=1)),
        (activations.hard_sigmoid(X), F.hardsigmoid(t)),
        (activations.softsign(X), F.softsign(t)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-14)


LAYER_CASES = [
    ("mish", (2, 3, 5)),
    ("hard_silu", (2, 7)),
    ("hard_swish", (2, 7)),
    ("log_sigmoid", (2, 7)),
    ("celu", (2, 7)),
    ({"class_name": "celu", "config": {"alpha": 0.3}}, (2, 7)),
    ("glu", (2, 3, 6)),
    ({"class_name": "glu", "config": {"axis": 1}}, (2, 4, 3)),
    ("sparsemax", (3, 5)),
    ({"class_name": "sparsemax", "config": {"axis": 1}}, (2, 4, 3)),
]


@pytest.mark.parametrize(
    "identifier,shape", LAYER_CASES, ids=lambda v: json.dumps(v) if not isinstance(v, tuple) else ""
)
def test_activation_layer_contract(identifier, shape):
    """layers.Activation(name): config round trip, symbolic shape, float64 gradients, save/load, threads."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal(shape) * 2
    if identifier in ("hard_silu", "hard_swish"):
        data = np.where(np.abs(np.abs(data) - 3) < 1e-2, data + 0.05, data)  # away from the kinks
    if identifier == "celu" or isinstance(identifier, dict) and identifier["class_name"] == "celu":
        data = np.where(np.abs(data) < 1e-2, data + 0.05, data)
    check_layer(rv.layers.Activation, {"activation": identifier}, input_shape=shape, input_data=data)


@pytest.mark.parametrize("name", ["mish", "log_sigmoid", "celu", "glu", "sparsemax", "hard_silu"])
def test_ops_gradients_match_finite_differences(name):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6)) * 2
    r = rng.standard_normal(np.asarray(getattr(ops, name)(x)).shape)

    def loss(v):
        return float(np.sum(r * np.asarray(getattr(ops, name)(v))))

    with rv.GradientTape() as tape:
        t = tape.watch(x)
        out = ops.sum(ops.multiply(r, getattr(ops, name)(t)))
    grad = tape.gradient(out, t)
    eps = 1e-6
    num = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        num[idx] = (loss(xp) - loss(xm)) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "identifier,expected",
    [
        ("mish", "mish"),
        ("hard_swish", "hard_swish"),
        ("celu", "celu"),
        ({"class_name": "celu", "config": {"alpha": 2.0}}, {"class_name": "celu", "config": {"alpha": 2.0}}),
        ("glu", "glu"),
        ({"class_name": "sparsemax", "config": {"axis": 0}}, {"class_name": "sparsemax", "config": {"axis": 0}}),
    ],
)
def test_serialization_by_name(identifier, expected):
    act = activations.get(identifier)
    assert activations.serialize(act) == expected
    again = activations.deserialize(json.loads(json.dumps(activations.serialize(act))))
    np.testing.assert_array_equal(again(X[..., :4]), act(X[..., :4]))
    assert activations.get(getattr(activations, act.name)).name == act.name


def test_model_with_glu_saves_and_loads(tmp_path):
    model = rv.Sequential([rv.layers.Input((6,)), rv.layers.Activation("glu"), rv.layers.Dense(2)])
    assert model.output_shape == (None, 2) and model.layers[0].compute_output_shape((None, 6)) == (None, 3)
    x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    path = tmp_path / "glu.keras"
    model.save(path)
    np.testing.assert_array_equal(rv.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda: activations.glu(np.zeros((2, 5))), ValueError, "glu.forward: the size of axis -1 must be even, got 5"),
        (lambda: activations.glu(np.zeros((2, 4)), axis=2), ValueError, r"axis 2 is out of range .*\(2, 4\)"),
        (lambda: activations.sparsemax(np.zeros((2, 0))), ValueError, "must not be empty, got size 0"),
        (lambda: activations.celu(X, alpha=0.0), ValueError, "celu: alpha must be > 0, got 0.0"),
        (lambda: activations.glu(X, axis=1.5), TypeError, "glu: axis must be an int, got 1.5"),
        (
            lambda: activations.get({"class_name": "glu", "config": {"axis": 1.5}}),
            ValueError,
            "Cannot rebuild activation 'glu' .*axis must be an int, got 1.5",
        ),
    ],
)
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()
