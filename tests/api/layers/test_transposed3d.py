"""Conv3DTranspose: a NumPy scatter reference, PyTorch parity ("valid"), Keras shapes, float64 gradients."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.layers import Conv3DTranspose, Convolution3DTranspose
from ranvier.testing import check_layer

GEOMETRIES = [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2, 2), strides=2),
    dict(kernel_size=(2, 3, 1), strides=(3, 1, 2), padding="same"),
    dict(kernel_size=(3, 2, 3), strides=(2, 2, 1), padding="same", output_padding=(1, 0, 0)),
    dict(kernel_size=(2, 2, 2), dilation_rate=(2, 1, 1)),
    dict(kernel_size=1),  # the direct path: one depth tap reading every depth
    dict(kernel_size=(1, 3, 3), padding="same"),
]


def _reference(x, kernel, bias, layer):
    """Every input cell scattered through every tap: output cell ``i * s + k * d - pad``."""
    (od, oh, ow), pads = layer._check_shape(x.shape)
    n, depth, h, w, _ = x.shape
    s, d = layer.strides, layer.dilation_rate
    big = [
        (m - 1) * st + (k - 1) * dl + 1 + p + o
        for m, st, k, dl, p, o in zip((depth, h, w), s, kernel.shape, d, pads, (od, oh, ow))
    ]
    y = np.zeros((n, *big, kernel.shape[3]))
    for a in range(kernel.shape[0]):
        for b in range(kernel.shape[1]):
            for c in range(kernel.shape[2]):
                contrib = x @ kernel[a, b, c].T
                y[
                    :,
                    a * d[0] : a * d[0] + (depth - 1) * s[0] + 1 : s[0],
                    b * d[1] : b * d[1] + (h - 1) * s[1] + 1 : s[1],
                    c * d[2] : c * d[2] + (w - 1) * s[2] + 1 : s[2],
                ] += contrib
    p0, p1, p2 = pads
    return y[:, p0 : p0 + od, p1 : p1 + oh, p2 : p2 + ow] + bias


@pytest.mark.parametrize("kwargs", GEOMETRIES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_matches_the_scatter_reference(kwargs, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 3, 3)).astype(dtype)
    layer = Conv3DTranspose(2, dtype=dtype, bias_initializer="random_normal", **kwargs)
    y = np.asarray(layer(x))
    assert (None,) + y.shape[1:] == layer.compute_output_shape((None,) + x.shape[1:])
    expected = _reference(x.astype(np.float64), layer.kernel.value.astype(np.float64), layer.bias.value, layer)
    np.testing.assert_allclose(
        y, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5 if dtype == "float32" else 1e-12
    )


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=3), dict(kernel_size=(3, 2, 2), strides=2), dict(kernel_size=2, dilation_rate=2)]
)
def test_valid_padding_matches_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 3, 3))
    layer = Conv3DTranspose(4, dtype="float64", bias_initializer="random_normal", **kwargs)
    y = np.asarray(layer(x))
    net = torch.nn.ConvTranspose3d(3, 4, layer.kernel_size, stride=layer.strides, dilation=layer.dilation_rate).double()
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(layer.kernel.value).permute(4, 3, 0, 1, 2))
        net.bias.copy_(torch.from_numpy(layer.bias.value))
        expected = net(torch.from_numpy(x).permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_float64_gradients(kwargs):
    check_layer(
        Conv3DTranspose,
        {"filters": 2, "activation": "tanh", "bias_initializer": "random_normal", **kwargs},
        (2, 3, 2, 3, 2),
        checks=("gradient",),
    )


def test_kernel_layout_config_and_errors():
    layer = Conv3DTranspose(5, (3, 2, 1), strides=2, padding="same")
    layer.build((None, 4, 4, 4, 3))
    assert layer.kernel.shape == (3, 2, 1, 5, 3) and layer.bias.shape == (5,)
    assert Convolution3DTranspose is Conv3DTranspose
    config = layer.get_config()
    assert config["kernel_size"] == [3, 2, 1] and config["strides"] == [2, 2, 2] and config["output_padding"] is None
    with pytest.raises(ValueError, match="rank 5"):
        Conv3DTranspose(2, 3)(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="output_padding"):
        Conv3DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(NotImplementedError, match="channels_first"):
        Conv3DTranspose(2, 3, data_format="channels_first")


def test_trains_in_a_model():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 3, 3, 3, 2)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32)
    inputs = rv.layers.Input((3, 3, 3, 2))
    h = Conv3DTranspose(3, 2, strides=2, activation="relu")(inputs)
    model = rv.Model(inputs, rv.layers.Dense(2)(rv.layers.GlobalAveragePooling3D()(h)))
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=5, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < history[0]


@pytest.mark.parametrize(
    "kwargs",
    [dict(kernel_size=(3, 2), strides=2, padding="same", output_padding=1), dict(kernel_size=(2, 3), strides=(3, 1))],
)
def test_one_depth_slice_is_conv2d_transpose(kwargs):
    """On depth 1 with a depth-1 kernel, the layer is Conv2DTranspose (checked against PyTorch in test_transposed)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4, 3)).astype(np.float32)
    flat = rv.layers.Conv2DTranspose(2, bias_initializer="random_normal", **kwargs)
    expected = np.asarray(flat(x))
    op = kwargs.get("output_padding")
    kwargs3 = {k: (1, *v) if isinstance(v, tuple) else (1, v, v) for k, v in kwargs.items() if k != "padding"}
    if op is not None:
        kwargs3["output_padding"] = (0, op, op)
    deep = Conv3DTranspose(2, padding=kwargs.get("padding", "valid"), **kwargs3)
    deep.build((None, 1, 5, 4, 3))
    deep.set_weights([flat.kernel.value[None], flat.bias.value])
    np.testing.assert_allclose(np.asarray(deep(x[:, None]))[:, 0], expected, rtol=1e-6, atol=1e-6)
