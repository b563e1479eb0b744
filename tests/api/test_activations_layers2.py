"""hard_shrink, hard_tanh, soft_shrink, sparse_plus, squareplus, tanh_shrink, threshold (Keras 3).

Forward against the formulas written out per element and against PyTorch, float64
gradients by finite differences (in an Activation layer's contract), configs.
"""

import math

import numpy as np
import pytest

import ranvier as rv
from ranvier import activations
from ranvier.testing import check_layer


def _per_element(fn):
    return lambda x, **kw: np.vectorize(lambda v: fn(float(v), **kw))(x)


# The formulas, one element at a time (Keras' definitions).
FORMULAS = {
    "hard_shrink": _per_element(lambda v, threshold=0.5: v if abs(v) > threshold else 0.0),
    "hard_tanh": _per_element(lambda v: -1.0 if v < -1 else (1.0 if v > 1 else v)),
    "soft_shrink": _per_element(
        lambda v, threshold=0.5: v - threshold if v > threshold else (v + threshold if v < -threshold else 0.0)
    ),
    "sparse_plus": _per_element(lambda v: 0.0 if v <= -1 else ((v + 1) ** 2 / 4 if v < 1 else v)),
    "squareplus": _per_element(lambda v, b=4: (v + math.sqrt(v * v + b)) / 2),
    "tanh_shrink": _per_element(lambda v: v - math.tanh(v)),
    "threshold": _per_element(lambda v, threshold, default_value: v if v > threshold else default_value),
}
PARAMS = {
    "hard_shrink": {"threshold": 0.3},
    "soft_shrink": {"threshold": 0.7},
    "squareplus": {"b": 2.0},
    "threshold": {"threshold": 0.2, "default_value": -1.5},
}
X = np.random.default_rng(0).standard_normal((4, 7)) * 2


@pytest.mark.parametrize("name", sorted(FORMULAS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_the_formula(name, dtype):
    fn = getattr(activations, name)
    x = X.astype(dtype)
    params = PARAMS.get(name, {})
    y = fn(x, **params)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_allclose(y, FORMULAS[name](x.astype(np.float64), **params), rtol=1e-6, atol=1e-6)
    if name != "threshold":  # default parameters through get()
        np.testing.assert_allclose(activations.get(name)(x), FORMULAS[name](x.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = torch.from_numpy(X)
    pairs = [
        (activations.hard_shrink(X, 0.3), F.hardshrink(t, 0.3)),
        (activations.hard_tanh(X), F.hardtanh(t)),
        (activations.soft_shrink(X, 0.7), F.softshrink(t, 0.7)),
        (activations.tanh_shrink(X), F.tanhshrink(t)),
        (activations.threshold(X, 0.2, -1.5), F.threshold(t, 0.2, -1.5)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


def _away_from_kinks(name, data):
    kinks = {
        "hard_shrink": [0.3],
        "soft_shrink": [0.7],
        "hard_tanh": [1.0],
        "sparse_plus": [1.0],
        "threshold": [0.2],
    }.get(name, [])
    for k in kinks:
        for point in (k, -k):
            data = np.where(np.abs(data - point) < 0.05, data + 0.1, data)
    return data


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_activation_layer_contract_and_gradients(name):
    params = PARAMS.get(name, {})
    identifier = {"class_name": name, "config": params} if params else name
    data = _away_from_kinks(name, np.random.default_rng(1).standard_normal((3, 5)) * 2)
    check_layer(rv.layers.Activation, {"activation": identifier}, input_shape=(3, 5), input_data=data)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_backward_is_the_finite_difference_derivative(name):
    act = activations.get({"class_name": name, "config": PARAMS.get(name, {})})
    z = _away_from_kinks(name, X.copy())
    eps = 1e-6
    numeric = (act.forward(z + eps) - act.forward(z - eps)) / (2 * eps)
    dz = act.backward(np.ones_like(z), z, act.forward(z.copy()))
    np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-6)


def test_configs_bias_and_errors():
    assert activations.serialize(activations.get("squareplus")) == "squareplus"
    custom = activations.get({"class_name": "soft_shrink", "config": {"threshold": 0.25}})
    assert activations.serialize(custom) == {"class_name": "soft_shrink", "config": {"threshold": 0.25}}
    th = activations.get({"class_name": "threshold", "config": {"threshold": 0.0, "default_value": 0.0}})
    assert activations.serialize(th) == {"class_name": "threshold", "config": {"threshold": 0.0, "default_value": 0.0}}
    assert activations.get(activations.hard_tanh).name == "hard_tanh"
    z = np.array([[0.2, -0.4]], np.float32)
    y = activations.get("hard_tanh").forward(z, bias=np.array([1.0, -1.0], np.float32))
    np.testing.assert_allclose(y, [[1.0, -1.0]])
    np.testing.assert_allclose(z, [[1.2, -1.4]])  # z holds z + bias for backward
    dense = rv.layers.Dense(3, activation="sparse_plus")
    assert dense.get_config()["activation"] == "sparse_plus"
    with pytest.raises(ValueError, match="missing required argument .threshold."):
        activations.get("threshold")
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        activations.hard_shrink(X, threshold=-1)
    with pytest.raises(ValueError, match="b must be >= 0"):
        activations.squareplus(X, b=-1)
    with pytest.raises(TypeError, match="threshold must be a number"):
        activations.soft_shrink(X, threshold="a")
    with pytest.raises(ValueError, match="unexpected argument"):
        activations.get({"class_name": "hard_tanh", "config": {"alpha": 1.0}})
