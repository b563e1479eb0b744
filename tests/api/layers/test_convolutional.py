"""Conv1D / Conv2D layers: shapes, Keras conventions, gradients, PyTorch parity, bad input."""

import numpy as np
import pytest

from ranvier.api.layers import convolutional
from ranvier.api.layers.convolutional import Conv1D, Conv2D
from ranvier.testing import check_gradients


def _build(layer, shape):
    layer._build_once((None,) + shape)
    return layer


@pytest.mark.parametrize(
    "kwargs, in_shape, out_shape",
    [
        (dict(filters=4, kernel_size=3), (7, 6, 2), (5, 4, 4)),
        (dict(filters=4, kernel_size=(3, 3), padding="same"), (7, 6, 2), (7, 6, 4)),
        (dict(filters=2, kernel_size=(3, 2), strides=(2, 3), padding="same"), (7, 8, 1), (4, 3, 2)),
        (dict(filters=2, kernel_size=3, dilation_rate=2), (9, 7, 1), (5, 3, 2)),
        (dict(filters=2, kernel_size=3, strides=2), (8, 8, 3), (3, 3, 2)),
    ],
)
def test_conv2d_output_shape_follows_keras(kwargs, in_shape, out_shape):
    layer = _build(Conv2D(**kwargs), in_shape)
    assert layer.compute_output_shape((None,) + in_shape) == (None,) + out_shape
    y = layer(np.ones((2,) + in_shape, np.float32))
    assert y.shape == (2,) + out_shape


@pytest.mark.parametrize(
    "padding, strides, out_len", [("valid", 1, 8), ("same", 1, 10), ("causal", 1, 10), ("same", 3, 4), ("valid", 2, 4)]
)
def test_conv1d_output_shape_follows_keras(padding, strides, out_len):
    layer = Conv1D(3, 3, strides=strides, padding=padding)
    assert layer(np.ones((2, 10, 4), np.float32)).shape == (2, out_len, 3)
    assert layer.compute_output_shape((None, 10, 4)) == (None, out_len, 3)


def test_kernel_layout_and_initialisation_follow_keras():
    layer = _build(Conv2D(8, (3, 2)), (10, 10, 4))
    assert layer.kernel.shape == (3, 2, 4, 8)
    assert layer.bias.shape == (8,)
    assert not layer.bias.value.any()
    limit = np.sqrt(6.0 / (3 * 2 * 4 + 3 * 2 * 8))  # glorot_uniform with receptive-field fans
    assert np.abs(layer.kernel.value).max() <= limit
    assert np.abs(layer.kernel.value).max() > 0.8 * limit
    assert _build(Conv1D(5, 4), (10, 3)).kernel.shape == (4, 3, 5)
    assert _build(Conv2D(2, 3, use_bias=False), (5, 5, 1)).bias is None


def test_same_padding_is_asymmetric_like_keras():
    # A 2x2 kernel with "same" pads only after: output (i, j) sees x[i:i+2, j:j+2].
    layer = _build(Conv2D(1, 2, padding="same", use_bias=False, dtype="float64"), (3, 3, 1))
    layer.kernel.assign(np.arange(1.0, 5.0).reshape(2, 2, 1, 1))
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    xp = np.pad(x[0, :, :, 0], ((0, 1), (0, 1)))
    expected = xp[:3, :3] * 1 + xp[:3, 1:] * 2 + xp[1:, :3] * 3 + xp[1:, 1:] * 4
    np.testing.assert_allclose(layer(x)[0, :, :, 0], expected)


def test_causal_conv1d_sees_only_the_past():
    layer = Conv1D(2, 3, padding="causal", dilation_rate=2, dtype="float64")
    x = np.random.default_rng(0).standard_normal((1, 12, 2))
    y1 = layer(x)
    x2 = x.copy()
    x2[:, 7:] += 1.0
    y2 = layer(x2)
    np.testing.assert_array_equal(y1[:, :7], y2[:, :7])
    assert not np.allclose(y1[:, 7:], y2[:, 7:])


CONV2D_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2), strides=(2, 1), padding="same"),
    dict(kernel_size=2, strides=2, padding="same"),
    dict(kernel_size=(2, 3), dilation_rate=(2, 1)),
    dict(kernel_size=1),
    dict(kernel_size=3, padding="same", activation="tanh", use_bias=False),
    dict(kernel_size=3, activation="relu"),  # bias and ReLU applied inside the kernel
    dict(kernel_size=(3, 2), strides=(2, 1), padding="same", activation="linear"),
]


@pytest.mark.parametrize("kwargs", CONV2D_CASES)
def test_conv2d_gradients(kwargs):
    layer = Conv2D(3, dtype="float64", **{"activation": "tanh", **kwargs})
    x = np.random.default_rng(1).standard_normal((2, 5, 7, 2))
    check_gradients(layer, x)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kernel_size=3),
        dict(kernel_size=2, strides=2, padding="same"),
        dict(kernel_size=3, padding="causal", dilation_rate=2),
        dict(kernel_size=4, strides=3, padding="same"),
    ],
)
def test_conv1d_gradients(kwargs):
    layer = Conv1D(3, dtype="float64", activation="tanh", **kwargs)
    check_gradients(layer, np.random.default_rng(2).standard_normal((2, 9, 2)))


def test_relu_in_the_kernel_matches_the_activation_pass():
    x = np.random.default_rng(5).standard_normal((3, 6, 6, 2))
    fused, plain = Conv2D(4, 3, activation="relu", name="fused"), Conv2D(4, 3, name="plain")
    for layer in (fused, plain):
        layer._build_once((None, 6, 6, 2))
        layer.kernel.assign(np.random.default_rng(6).standard_normal(layer.kernel.shape))
        layer.bias.assign(np.linspace(-1, 1, 4))
    assert convolutional._in_kernel_activation(fused.activation) == "relu"
    assert convolutional._in_kernel_activation(Conv2D(4, 3, activation="relu6").activation) is None
    np.testing.assert_array_equal(fused(x), np.maximum(plain(x), 0))


def test_weight_gradients_accumulate_when_a_layer_is_reused():
    layer = Conv2D(2, 3, dtype="float64")
    x = np.random.default_rng(4).standard_normal((2, 5, 5, 1))
    layer._build_once((None, 5, 5, 1))
    dy = np.ones((2, 3, 3, 2))
    layer.kernel._fresh = layer.bias._fresh = True
    _, cache = layer.call(x, training=True)
    layer.backward(dy, cache, need_input_grad=False)
    once = layer.kernel.grad.copy(), layer.bias.grad.copy()
    _, cache = layer.call(x, training=True)
    assert layer.backward(dy, cache, need_input_grad=False) is None
    np.testing.assert_allclose(layer.kernel.grad, 2 * once[0])
    np.testing.assert_allclose(layer.bias.grad, 2 * once[1])


def test_backward_preactivation_skips_the_activation():
    layer = Conv2D(2, 3, activation="tanh", dtype="float64")
    x = np.random.default_rng(5).standard_normal((2, 5, 5, 1))
    y, cache = (layer._build_once((None, 5, 5, 1)), layer.call(x, training=True))[1]
    dz = np.random.default_rng(6).standard_normal(y.shape)
    dx_pre = layer.backward_preactivation(dz, cache)
    _, cache = layer.call(x, training=True)
    dx = layer.backward(dz / (1 - y**2), cache)
    np.testing.assert_allclose(dx, dx_pre, rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, pads",
    [
        (dict(kernel_size=3), None),
        (dict(kernel_size=(3, 2), strides=2, padding="same"), (0, 0, 1, 1)),  # (left, right, top, bottom)
        (dict(kernel_size=3, dilation_rate=2, padding="same"), (2, 2, 2, 2)),
        (dict(kernel_size=(4, 1), strides=(1, 1), padding="same"), (0, 0, 1, 2)),
    ],
)
def test_conv2d_matches_pytorch(kwargs, pads):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    layer = Conv2D(4, activation="relu", dtype="float64", **kwargs)
    x = rng.standard_normal((2, 9, 8, 3))
    layer._build_once((None, 9, 8, 3))
    layer.bias.assign(rng.standard_normal(4))
    w = torch.from_numpy(layer.kernel.value).permute(3, 2, 0, 1)  # HWIO -> OIHW
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC -> NCHW
    if pads is not None:
        xt = torch.nn.functional.pad(xt, pads)
    yt = torch.nn.functional.conv2d(
        xt, w, torch.from_numpy(layer.bias.value), stride=layer.strides, dilation=layer.dilation_rate
    )
    np.testing.assert_allclose(layer(x), torch.relu(yt).permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-10)


def test_conv1d_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    layer = Conv1D(4, 3, strides=2, padding="same", dtype="float64")
    x = rng.standard_normal((2, 10, 3))
    layer._build_once((None, 10, 3))
    w = torch.from_numpy(layer.kernel.value).permute(2, 1, 0)  # (k, in, out) -> (out, in, k)
    xt = torch.nn.functional.pad(torch.from_numpy(x).permute(0, 2, 1), (0, 1))
    yt = torch.nn.functional.conv1d(xt, w, stride=2)
    np.testing.assert_allclose(layer(x), yt.permute(0, 2, 1).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "make, x_shape, match",
    [
        (lambda: Conv2D(2, 3), (2, 5, 5), "rank 4"),
        (lambda: Conv1D(2, 3), (2, 5, 5, 1), "rank 3"),
        (lambda: Conv2D(2, 5), (2, 4, 6, 1), "larger than"),
        (lambda: Conv2D(2, 3, dilation_rate=3), (2, 6, 6, 1), "larger than"),
        (lambda: Conv1D(2, 7), (2, 6, 1), "larger than"),
    ],
)
def test_bad_input_raises_value_error(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(x_shape, np.float32))


def test_channel_mismatch_raises_before_any_kernel_runs():
    layer = Conv2D(2, 3)
    layer(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        layer.call(np.ones((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError):
        layer(np.ones((1, 5, 5, 2), np.float32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0, kernel_size=3), "filters"),
        (dict(filters=-2, kernel_size=3), "filters"),
        (dict(filters=2, kernel_size=0), "kernel_size"),
        (dict(filters=2, kernel_size=(3, -1)), "kernel_size"),
        (dict(filters=2, kernel_size=(3, 3, 3)), "kernel_size"),
        (dict(filters=2, kernel_size=3, strides=0), "strides"),
        (dict(filters=2, kernel_size=3, dilation_rate=(1, 0)), "dilation_rate"),
        (dict(filters=2, kernel_size=3, padding="full"), "padding"),
        (dict(filters=2, kernel_size=3, padding="causal"), "padding"),
        (dict(filters=2, kernel_size=3, data_format="channels_first"), "channels_last"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


def test_config_round_trip():
    layer = Conv2D(
        4, (3, 2), strides=(2, 1), padding="same", dilation_rate=1, activation="relu", kernel_regularizer="l2", name="c"
    )
    clone = Conv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert Conv1D.from_config(Conv1D(3, 5, padding="causal").get_config()).padding == "causal"


def test_model_gradients_through_conv_pool_and_fused_softmax(float64):
    import ranvier as rv
    from ranvier.api.layers.pooling import MaxPooling2D

    model = rv.Sequential(
        [
            rv.layers.Input((7, 6, 2)),
            Conv2D(3, 3, padding="same", activation="tanh"),
            MaxPooling2D(2, padding="same"),
            Conv2D(2, (2, 1), strides=(2, 1), activation="relu"),
            rv.layers.Flatten(),
            rv.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(9)
    check_gradients(model, rng.standard_normal((4, 7, 6, 2)), rng.integers(0, 3, 4))


def test_a_small_cnn_learns():
    import ranvier as rv
    from ranvier.api.layers.pooling import GlobalMaxPooling1D

    # Sequences labelled by whether the pattern (1, -1, 1) occurs: a job for one conv filter.
    rng = np.random.default_rng(10)
    x = rng.normal(0, 0.3, (256, 20, 1)).astype(np.float32)
    y = rng.integers(0, 2, 256)
    for i in np.flatnonzero(y):
        t = rng.integers(0, 17)
        x[i, t : t + 3, 0] += (1, -1, 1)
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [
            rv.layers.Input((20, 1)),
            Conv1D(4, 3, activation="relu"),
            GlobalMaxPooling1D(),
            rv.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer=rv.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=30, verbose=0)
    assert np.mean(model.predict(x).argmax(axis=1) == y) > 0.9


def test_outputs_outside_a_scratch_pool_are_never_overwritten():
    from ranvier.api.layers.pooling import MaxPooling2D

    rng = np.random.default_rng(11)
    conv, pool = Conv2D(4, 3, activation="relu"), MaxPooling2D()
    x1, x2 = rng.standard_normal((2, 2, 8, 8, 3)).astype(np.float32)
    y1, p1 = conv(x1), pool(conv(x1))
    y1_copy, p1_copy = y1.copy(), p1.copy()
    y2, _ = conv(x2), pool(conv(x2))  # a second pooled call must leave p1 alone
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(p1, p1_copy)
    assert not np.array_equal(y1, y2)
