"""Activation layers: outputs, gradients vs finite differences (float64), configs, errors."""

import numpy as np
import pytest
from scipy.special import softmax

from ranvier.api import activations
from ranvier.api.layers._capabilities import PREACTIVATION
from ranvier.api.layers.activation import ELU, Activation, LeakyReLU, Maxout, PReLU, ReLU, Softmax
from ranvier.reference import activations as ref
from ranvier.testing import check_gradients

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3, 5))


@pytest.mark.parametrize(
    "layer,expected",
    [
        (Activation("tanh"), np.tanh(X)),
        (ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2), np.where(X > 0.2, np.clip(X, 0, 1), 0.1 * (X - 0.2))),
        (LeakyReLU(), np.where(X > 0, X, 0.3 * X)),
        (ELU(alpha=0.5), np.where(X > 0, X, 0.5 * np.expm1(X))),
        (Softmax(), softmax(X, axis=-1)),
        (Softmax(axis=1), softmax(X, axis=1)),
    ],
)
def test_outputs_gradients_and_config(layer, expected):
    layer._dtype_arg = "float64"
    out = layer(X)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)
    assert check_gradients(layer, X).passed
    clone = type(layer).from_config(layer.get_config())
    np.testing.assert_array_equal(clone(X), out)


def test_fusion_protocol():
    layer = Activation("softmax", dtype="float64")
    y, cache = layer.call(X.reshape(12, 5))
    assert PREACTIVATION in layer.capabilities and layer.activation.name == "softmax"
    dz = RNG.standard_normal(y.shape)
    assert layer.backward_preactivation(dz, cache) is dz
    assert layer.backward_preactivation(dz, cache, need_input_grad=False) is None
    moved = Softmax(axis=1)
    moved(X)
    assert PREACTIVATION not in moved.capabilities
    assert Softmax()(X) is not None and PREACTIVATION in Softmax().capabilities


def test_input_is_not_modified():
    x = X.copy()
    for layer in (Activation("relu", dtype="float64"), Activation("gelu", dtype="float64"), Softmax(dtype="float64")):
        layer(x)
        np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("shared_axes", [None, [1], [1, 2]])
def test_prelu(shared_axes):
    layer = PReLU(alpha_initializer="random_normal", shared_axes=shared_axes, dtype="float64")
    out = layer(X)
    alpha = layer.alpha.value
    expected_shape = tuple(1 if i + 1 in (shared_axes or []) else d for i, d in enumerate(X.shape[1:]))
    assert alpha.shape == expected_shape
    np.testing.assert_allclose(out, np.where(X > 0, X, alpha * X), rtol=1e-14)
    assert check_gradients(layer, X).passed
    cfg = layer.get_config()
    assert cfg["shared_axes"] == shared_axes
    PReLU.from_config(cfg)


def test_prelu_gradient_accumulates():
    layer = PReLU(alpha_initializer="random_normal", dtype="float64")
    layer(X)
    layer.alpha._fresh = True
    _, cache = layer.call(X)
    dy = RNG.standard_normal(X.shape)
    layer.backward(dy, cache)
    first = layer.alpha.grad.copy()
    np.testing.assert_allclose(first, np.sum(dy * np.minimum(X, 0), axis=0), rtol=1e-13)
    layer.backward(dy, cache)
    np.testing.assert_allclose(layer.alpha.grad, 2 * first, rtol=1e-13)


@pytest.mark.parametrize("pieces", [1, 3])
def test_maxout(pieces):
    layer = Maxout(4, pieces=pieces, bias_initializer="random_normal", dtype="float64")
    out = layer(X)
    w, b = layer.kernel.value, layer.bias.value
    assert w.shape == (5, 4 * pieces) and out.shape == (4, 3, 4)
    expected = (X.reshape(-1, 5) @ w + b).reshape(12, 4, pieces).max(-1).reshape(4, 3, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    assert check_gradients(layer, X).passed
    assert layer.compute_output_shape((None, 3, 5)) == (None, 3, 4)
    clone = Maxout.from_config(layer.get_config())
    assert clone.units == 4 and clone.pieces == pieces


def test_maxout_matches_reference_backward():
    layer = Maxout(3, pieces=2, dtype="float64")
    x = RNG.standard_normal((6, 5))
    layer(x)
    layer.kernel._fresh = layer.bias._fresh = True
    _, (x2, argmax, _) = layer.call(x)
    dy = RNG.standard_normal((6, 3))
    dx = layer.backward(dy, (x2, argmax, x.shape))
    exp = [np.empty((6, 6)), np.empty((5, 6)), np.empty(6), np.empty((6, 5))]
    ref.maxout_backward(x2, layer.kernel.value, dy, argmax, 0.0, *exp, True, 1)
    np.testing.assert_allclose(dx, exp[3], rtol=1e-12)
    np.testing.assert_allclose(layer.kernel.grad, exp[1], rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, exp[2], rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="ReLU: max_value must be a finite number >= 0, got -1"):
        ReLU(max_value=-1)
    with pytest.raises(ValueError, match="LeakyReLU: negative_slope must be a finite number >= 0, got -0.1"):
        LeakyReLU(negative_slope=-0.1)
    with pytest.raises(ValueError, match="Unknown activation: 'nope'"):
        Activation("nope")
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        Softmax(axis=3)(X)
    with pytest.raises(ValueError, match="Maxout: pieces must be a positive integer, got 0"):
        Maxout(3, pieces=0)
    with pytest.raises(ValueError, match="shared_axes must be positive axis numbers"):
        PReLU(shared_axes=[0])
    with pytest.raises(ValueError, match="shared axis 3 is out of range"):
        PReLU(shared_axes=[3])(np.zeros((2, 3)))
    assert activations.serialize(Activation("relu").activation) == "relu"
