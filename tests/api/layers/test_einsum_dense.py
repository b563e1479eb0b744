"""EinsumDense and RMSNormalization: forward against NumPy / torch, float64 gradients on every path."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_layer

L = rv.layers

# (equation, output_shape, bias_axes, input shape, matmul path, kernel shape, bias shape): Keras' shapes.
EQUATIONS = [
    ("ab,bc->ac", 4, "c", (2, 3), True, (3, 4), (4,)),
    ("abc,cd->abd", (None, 4), "d", (2, 5, 3), True, (3, 4), (4,)),
    ("...x,xy->...y", 4, "y", (2, 5, 3), True, (3, 4), (4,)),
    ("abc,cde->abde", (5, 2, 4), "de", (2, 5, 3), True, (3, 2, 4), (2, 4)),
    ("abc,cd->abd", (5, 4), "bd", (2, 5, 3), True, (3, 4), (5, 4)),
    ("ab...,bc->ac...", 4, "c", (2, 3, 5), False, (3, 4), (4, 1)),
    ("abc,dc->abd", (5, 4), None, (2, 5, 3), False, (4, 3), None),
    ("abcd,cde->abe", (3, 4), "b", (2, 3, 2, 5), True, (2, 5, 4), (3, 1)),
    ("abc,bcd->abd", (3, 4), "bd", (2, 3, 5), False, (3, 5, 4), (3, 4)),
    ("abc,bd->ad", 4, "d", (2, 3, 5), False, (3, 4), (4,)),
]


@pytest.mark.parametrize("eq, out, bias_axes, shape, matmul, kshape, bshape", EQUATIONS)
def test_einsum_dense_matches_numpy_and_keras_shapes(eq, out, bias_axes, shape, matmul, kshape, bshape):
    rng = np.random.default_rng(0)
    layer = L.EinsumDense(eq, out, bias_axes=bias_axes, activation="tanh")
    x = rng.standard_normal(shape).astype(np.float32)
    layer.build(x.shape)
    assert layer._matmul is matmul
    assert layer.kernel.value.shape == kshape
    assert (None if layer.bias is None else layer.bias.value.shape) == bshape
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    expected = np.einsum(eq, x.astype(np.float64), weights[0].astype(np.float64))
    if bias_axes:
        expected = expected + weights[1]
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y, np.tanh(expected), rtol=1e-5, atol=1e-5)
    assert (None,) + y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])


@pytest.mark.parametrize("eq, out, bias_axes, shape", [e[:4] for e in EQUATIONS])
def test_einsum_dense_float64_gradients_and_thread_identity(eq, out, bias_axes, shape):
    init = {"equation": eq, "output_shape": out, "bias_axes": bias_axes, "activation": "tanh"}
    init["bias_initializer"] = "random_normal"
    check_layer(L.EinsumDense, init, shape, checks=("gradient", "threads"))


def test_einsum_dense_config_keys_are_keras():
    layer = L.EinsumDense("ab,bc->ac", 4, bias_axes="c")
    keys = list(layer.get_config())[3:]
    assert keys == [
        "output_shape",
        "equation",
        "activation",
        "bias_axes",
        "kernel_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "quantization_config",
    ]
    assert layer.get_config()["output_shape"] == (4,)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"equation": "ab->b", "output_shape": 3}, ValueError, "Invalid einsum equation"),
        ({"equation": 3, "output_shape": 3}, TypeError, "equation"),
        ({"equation": "ab,bc->ac", "output_shape": 0}, ValueError, "output_shape"),
        ({"equation": "ab,bc->ac", "output_shape": 3, "bias_axes": 1}, TypeError, "bias_axes"),
        ({"equation": "ab,bc->ac", "output_shape": 3, "lora_rank": 2}, NotImplementedError, "lora_rank"),
    ],
)
def test_einsum_dense_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        L.EinsumDense(**kwargs)


def test_einsum_dense_bad_build_and_call():
    with pytest.raises(ValueError, match="Bias dimension 'z'"):
        L.EinsumDense("ab,bc->ac", 3, bias_axes="z").build((None, 2))
    with pytest.raises(ValueError, match="did not have a match"):
        L.EinsumDense("ab,bcd->ac", 3).build((None, 2))
    layer = L.EinsumDense("abc,cd->abd", (4, 3))
    layer.build((None, 4, 2))
    with pytest.raises(ValueError, match="expects input of shape"):
        layer(np.ones((2, 2), np.float32))


def test_rms_normalization_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    layer = L.RMSNormalization(axis=[-2, -1], epsilon=1e-5)
    layer.build(x.shape)
    scale = rng.standard_normal((4, 5)).astype(np.float32)
    layer.set_weights([scale])
    ours = np.asarray(layer(x))
    ref = torch.nn.functional.rms_norm(torch.from_numpy(x), (4, 5), torch.from_numpy(scale), eps=1e-5)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-5, atol=1e-6)
    # the formula, on a middle axis
    layer = L.RMSNormalization(axis=1)
    layer.build(x.shape)
    s1 = rng.standard_normal(4).astype(np.float32)
    layer.set_weights([s1])
    expected = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + 1e-6) * s1[None, :, None]
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6)
    assert layer.scale.value.shape == (4,)
    assert layer.get_config()["axis"] == 1 and layer.get_config()["epsilon"] == 1e-6


def test_rms_normalization_gradients_on_a_middle_axis_and_bad_arguments():
    check_layer(L.RMSNormalization, {"axis": 1}, (2, 3, 4), checks=("gradient",))
    with pytest.raises(TypeError, match="axis"):
        L.RMSNormalization(axis="x")
    with pytest.raises(ValueError, match="epsilon"):
        L.RMSNormalization(epsilon=-1.0)
    with pytest.raises(ValueError, match="out of bounds"):
        L.RMSNormalization(axis=3).build((None, 4))
