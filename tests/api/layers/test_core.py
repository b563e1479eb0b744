import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_gradients


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax", "gelu", "elu", "swish"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients(float64, activation, use_bias):
    layer = rv.layers.Dense(4, activation=activation, use_bias=use_bias)
    x = np.random.default_rng(1).standard_normal((5, 3)) + 0.05
    check_gradients(layer, x)


def test_dense_per_timestep_on_3d_input(float64):
    layer = rv.layers.Dense(3, activation="tanh")
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    y = layer(x)
    assert y.shape == (2, 4, 3)
    np.testing.assert_allclose(y, np.tanh(x @ layer.kernel.value + layer.bias.value), rtol=1e-12)
    check_gradients(layer, x)


def test_dense_forward_matches_numpy():
    layer = rv.layers.Dense(7, activation="relu")
    x = np.random.default_rng(0).standard_normal((9, 5)).astype(np.float32)
    y = layer(x)
    expected = np.maximum(x @ layer.kernel.value + layer.bias.value, 0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_dense_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        rv.layers.Dense(0)
    with pytest.raises(ValueError, match="Unknown activation|unknown activation"):
        rv.layers.Dense(3, activation="relu2")
    with pytest.raises(TypeError, match="unexpected keyword"):
        rv.layers.Dense(3, unit=4)
    layer = rv.layers.Dense(3)
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"expects input of shape \(None, 4\), got shape \(2, 5\)"):
        layer(np.ones((2, 5), np.float32))


def test_flatten_reshape_round_trip(float64):
    x = np.random.default_rng(0).standard_normal((3, 2, 3, 4))
    flat = rv.layers.Flatten()
    assert flat(x).shape == (3, 24)
    assert flat.compute_output_shape((None, 2, 3, 4)) == (None, 24)
    r = rv.layers.Reshape((4, -1))
    assert r.compute_output_shape((None, 2, 3, 4)) == (None, 4, 6)
    np.testing.assert_array_equal(r(x), x.reshape(3, 4, 6))
    check_gradients(r, x)
    with pytest.raises(ValueError, match="cannot reshape"):
        rv.layers.Reshape((5, 5)).compute_output_shape((None, 24))
    with pytest.raises(ValueError, match="at most one -1"):
        rv.layers.Reshape((-1, -1))


def test_input_validation():
    with pytest.raises(ValueError, match="shape"):
        rv.layers.Input()
    with pytest.raises(ValueError, match="dtype"):
        rv.layers.Input((3,), dtype="complex64")
    t = rv.layers.Input((None, 8), dtype="float32")
    assert t.shape == (None, None, 8)


def test_layer_config_round_trip():
    layer = rv.layers.Dense(
        5,
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=rv.regularizers.L2(1e-3),
        name="d",
    )
    again = rv.layers.Dense.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
