"""ranvier.api.activations: lookup, serialization, Keras functions, errors."""

import numpy as np
import pytest
from scipy.special import erf, expit, log_softmax, softmax

from ranvier.api import activations

X = np.linspace(-4, 4, 24).reshape(2, 3, 4)


@pytest.mark.parametrize(
    "fn,expected",
    [
        (activations.linear, X),
        (activations.sigmoid, expit(X)),
        (activations.tanh, np.tanh(X)),
        (activations.relu, np.maximum(X, 0)),
        (activations.relu6, np.clip(X, 0, 6)),
        (activations.leaky_relu, np.where(X >= 0, X, 0.2 * X)),
        (activations.elu, np.where(X > 0, X, np.expm1(X))),
        (activations.gelu, 0.5 * X * (1 + erf(X / np.sqrt(2)))),
        (activations.softplus, np.log1p(np.exp(X))),
        (activations.softsign, X / (1 + np.abs(X))),
        (activations.swish, X * expit(X)),
        (activations.silu, X * expit(X)),
        (activations.hard_sigmoid, np.clip(X + 3, 0, 6) / 6),
        (activations.exponential, np.exp(X)),
        (activations.binary_step, (X >= 0).astype(float)),
        (activations.softmax, softmax(X, axis=-1)),
        (activations.log_softmax, log_softmax(X, axis=-1)),
    ],
)
def test_module_functions(fn, expected):
    out = fn(X)
    assert out.shape == X.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    assert fn(X.astype(np.float32)).dtype == np.float32


def test_keras_arguments():
    np.testing.assert_allclose(
        activations.relu(X, negative_slope=0.1, max_value=2.0, threshold=1.0),
        np.where(X > 1, np.clip(X, 0, 2), 0.1 * (X - 1)),
    )
    np.testing.assert_allclose(activations.leaky_relu(X, negative_slope=0.5), np.where(X > 0, X, X / 2))
    np.testing.assert_allclose(activations.elu(X, alpha=2.0), np.where(X > 0, X, 2 * np.expm1(X)))
    approx = 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(activations.gelu(X, approximate=True), approx, rtol=1e-9)
    np.testing.assert_allclose(activations.get("gelu_tanh")(X), approx, rtol=1e-9)
    np.testing.assert_allclose(activations.get("gelu_approximate")(X), approx, rtol=1e-9)
    selu = activations.selu(X)
    np.testing.assert_allclose(selu, 1.0507009873554805 * np.where(X > 0, X, 1.6732632423543772 * np.expm1(X)))
    for axis in (0, 1, -2):
        np.testing.assert_allclose(activations.softmax(X, axis=axis), softmax(X, axis=axis), rtol=1e-12)
        np.testing.assert_allclose(activations.log_softmax(X, axis=axis), log_softmax(X, axis=axis), rtol=1e-12)


def test_get_and_objects():
    relu = activations.get("relu")
    assert relu.name == "relu" and not relu.needs_input
    assert activations.get(None).name == "linear"
    assert activations.get(relu) is relu
    assert activations.get(activations.gelu).name == "gelu"
    assert activations.get("gelu").needs_input
    assert not activations.get("softmax").needs_input and not activations.get("sigmoid").needs_input
    ints = activations.get("relu")(np.array([-1, 2]))
    assert ints.dtype == np.float32 and ints.tolist() == [0.0, 2.0]


def test_forward_with_bias_and_in_place():
    z = np.random.default_rng(0).standard_normal((5, 3))
    bias = np.array([0.5, -1.0, 2.0])
    z0 = z.copy()
    y = activations.get("sigmoid").forward(z, out=z, bias=bias)
    assert y is z
    np.testing.assert_allclose(y, expit(z0 + bias))
    z = z0.copy()
    act = activations.get("swish")
    y = act.forward(z, bias=bias)
    np.testing.assert_array_equal(z, z0 + bias)  # kept for the backward pass
    dz = act.backward(np.ones_like(y), z, y)
    s = expit(z0 + bias)
    np.testing.assert_allclose(dz, s + (z0 + bias) * s * (1 - s), rtol=1e-12)


def test_serialize_round_trip():
    for ident in [
        "relu",
        "silu",
        "gelu_tanh",
        {"class_name": "relu", "config": {"max_value": 6.0}},
        {"class_name": "elu", "config": {"alpha": 0.5}},
    ]:
        act = activations.get(ident)
        assert activations.serialize(act) == ident
        again = activations.deserialize(activations.serialize(act))
        np.testing.assert_array_equal(again(X), act(X))
    assert activations.serialize(activations.get({"class_name": "gelu", "config": {"approximate": False}})) == "gelu"


class Cube(activations.Activation):
    name = "cube"

    def forward(self, z, out=None, bias=None):
        if bias is not None:
            z += bias
        return np.power(z, 3, out=out)

    def backward(self, dy, z, y, out=None):
        return np.multiply(dy, 3 * z * z, out=out)


def test_custom_activation_subclass():
    cube = activations.get(Cube)
    np.testing.assert_allclose(cube(X), X**3)
    cfg = activations.serialize(cube)
    assert cfg == {"class_name": "Cube", "config": {}}
    assert isinstance(activations.deserialize(cfg, custom_objects={"Cube": Cube}), Cube)


def test_errors():
    with pytest.raises(ValueError, match=r"Unknown activation: 'rleu'. Known: \[.*'relu'"):
        activations.get("rleu")
    with pytest.raises(TypeError, match="must subclass ranvier.activations.Activation"):
        activations.get(np.tanh)
    with pytest.raises(TypeError, match="must subclass ranvier.activations.Activation"):
        activations.get(lambda x: x)
    with pytest.raises(TypeError, match="got 3"):
        activations.get(3)
    with pytest.raises(TypeError, match="x must be a numeric array, got dtype <U1"):
        activations.relu(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        activations.sigmoid(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="negative_slope must be a finite number >= 0.0, got -1"):
        activations.relu(X, negative_slope=-1)
    with pytest.raises(ValueError, match="axis 3 is out of range for x of shape"):
        activations.softmax(X, axis=3)
    with pytest.raises(ValueError, match="needs the pre-activation z, got None"):
        activations.get("gelu").backward(X, None, X)
    with pytest.raises(ValueError, match="out must be an ndarray of shape"):
        activations.get("relu").forward(X.copy(), out=np.empty((2, 3)))
    with pytest.raises(ValueError, match="Unknown activation: 'Nope'"):
        activations.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(NotImplementedError, match="must define forward"):
        activations.Activation()(X)
