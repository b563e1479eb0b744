"""Conv1DTranspose and Conv2DTranspose: Keras output shapes, PyTorch parity (forward and SGD), errors."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.layers import Conv1DTranspose, Conv2DTranspose, Convolution1DTranspose, Convolution2DTranspose

# Keras 3's output length, worked by hand from compute_conv_transpose_output_shape for an input
# of (5, 4) cells: "valid" (n - 1) * s + span + output_padding (default max(span, s) - span),
# "same" n * s, or (n - 1) * s + span % 2 + output_padding.
SHAPES = [
    (dict(kernel_size=3, strides=2), (11, 9)),  # 4 * 2 + 3, 3 * 2 + 3
    (dict(kernel_size=3, strides=2, padding="same"), (10, 8)),
    (dict(kernel_size=1, strides=3), (15, 12)),  # output_padding defaults to 2: 4 * 3 + 1 + 2
    (dict(kernel_size=2, strides=2, padding="same", output_padding=0), (8, 6)),  # 4 * 2 + 0 + 0
    (dict(kernel_size=3, strides=2, padding="same", output_padding=1), (10, 8)),  # 4 * 2 + 1 + 1
    (dict(kernel_size=3, strides=2, output_padding=(1, 0)), (12, 9)),
    (dict(kernel_size=3, dilation_rate=2), (9, 8)),  # span 5: 4 + 5, 3 + 5
    (dict(kernel_size=(2, 3), strides=(3, 1), padding="same"), (15, 4)),
]


@pytest.mark.parametrize("kwargs, out", SHAPES)
def test_output_shape_follows_keras(kwargs, out):
    layer = Conv2DTranspose(2, **kwargs)
    assert layer.compute_output_shape((None, 5, 4, 3)) == (None,) + out + (2,)
    assert layer(np.zeros((1, 5, 4, 3), np.float32)).shape == (1,) + out + (2,)
    symbolic = Conv2DTranspose(2, **kwargs)(rv.layers.Input((5, 4, 3)))
    assert tuple(symbolic.shape) == (None,) + out + (2,)
    assert Conv2DTranspose(2, **kwargs).compute_output_shape((None, None, 4, 3))[1] is None


def test_conv1d_transpose_output_shape_and_kernel_layout():
    layer = Conv1DTranspose(4, 3, strides=2, padding="same")
    assert layer(np.zeros((2, 7, 5), np.float32)).shape == (2, 14, 4)
    assert layer.kernel.shape == (3, 4, 5)  # (kernel_size, filters, in_channels), as Keras
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "bias"]
    assert Conv2DTranspose(4, (3, 2)).__class__ is Convolution2DTranspose
    assert Convolution1DTranspose is Conv1DTranspose


def test_kernel_layout_is_filters_then_input_channels():
    layer = Conv2DTranspose(6, (3, 2))
    layer.build((None, 5, 5, 4))
    assert layer.kernel.shape == (3, 2, 6, 4)
    assert layer.bias.shape == (6,)


def _crop(t, crops):
    """Remove (top, bottom, left, right) cells of a (n, c, h, w) or ((left, right) of a (n, c, l)) tensor."""
    if t.dim() == 3:
        left, right = crops
        return t[:, :, left : t.shape[2] - right]
    top, bottom, left, right = crops
    return t[:, :, top : t.shape[2] - bottom, left : t.shape[3] - right]


# (Keras kwargs, PyTorch ConvTranspose2d kwargs, cells PyTorch's output has beyond Keras').
# Keras places the cells as TensorFlow/JAX: where (span - stride) is odd, "same" leaves
# the extra cell after, which no PyTorch padding gives; those cases crop it.
PARITY_2D = [
    (dict(kernel_size=3, strides=2), dict(stride=2), (0, 0, 0, 0)),
    (dict(kernel_size=3, strides=2, output_padding=1), dict(stride=2, output_padding=1), (0, 0, 0, 0)),
    (dict(kernel_size=4, strides=2, padding="same"), dict(stride=2, padding=1), (0, 0, 0, 0)),
    (dict(kernel_size=3, padding="same", dilation_rate=2), dict(padding=2, dilation=2), (0, 0, 0, 0)),
    (dict(kernel_size=2, dilation_rate=3), dict(dilation=3), (0, 0, 0, 0)),
    (dict(kernel_size=3, strides=2, padding="same"), dict(stride=2), (0, 1, 0, 1)),
    (
        dict(kernel_size=(3, 2), strides=(2, 3), padding="same", output_padding=(1, 0)),
        dict(stride=(2, 3)),
        (0, 1, 1, 1),
    ),
    (dict(kernel_size=2, strides=2, dilation_rate=2), dict(stride=2, dilation=2), (0, 0, 0, 0)),  # beyond Keras
]


def _torch_transpose(torch, torch_kwargs, crops):
    """``make_net`` for ``sgd_parity``: a float64 ConvTranspose{1,2}d with the layer's weights, cropped, tanh."""

    def make(layer):
        kernel = layer.kernel.value.astype(np.float64)
        cls = torch.nn.ConvTranspose1d if kernel.ndim == 3 else torch.nn.ConvTranspose2d
        net = cls(kernel.shape[-1], kernel.shape[-2], layer.kernel_size, **torch_kwargs).double()
        with torch.no_grad():  # (..., out, in) -> (in, out, ...)
            net.weight.copy_(torch.from_numpy(kernel).permute(*_TO_TORCH[kernel.ndim]))
            net.bias.copy_(torch.from_numpy(layer.bias.value.astype(np.float64)))
        return net, lambda x: torch.tanh(_crop(net(x), crops))

    return make


_TO_TORCH = {3: (2, 1, 0), 4: (3, 2, 0, 1)}
_FROM_TORCH = {3: (2, 1, 0), 4: (2, 3, 1, 0)}


def _weights_from_net(net):
    """[kernel, bias] in Keras' layout."""
    w = net.weight.detach().numpy()
    return [w.transpose(*_FROM_TORCH[w.ndim]), net.bias.detach().numpy()]


@pytest.mark.parametrize("kwargs, torch_kwargs, crops", PARITY_2D)
def test_conv2d_transpose_matches_pytorch(kwargs, torch_kwargs, crops, sgd_parity):
    torch = pytest.importorskip("torch")
    rv.config.set_random_seed(1)
    layer = Conv2DTranspose(3, activation="tanh", **kwargs)
    sgd_parity(torch, layer, (5, 4, 2), _torch_transpose(torch, torch_kwargs, crops), _weights_from_net)


@pytest.mark.parametrize(
    "kwargs, torch_kwargs, crops",
    [
        (dict(kernel_size=5, strides=3), dict(stride=3), (0, 0)),
        (dict(kernel_size=3, strides=2, padding="same", output_padding=1), dict(stride=2), (0, 1)),
        (dict(kernel_size=2, strides=2, padding="same"), dict(stride=2), (0, 0)),
        (dict(kernel_size=3, dilation_rate=2, padding="same"), dict(dilation=2, padding=2), (0, 0)),
    ],
)
def test_conv1d_transpose_matches_pytorch(kwargs, torch_kwargs, crops, sgd_parity):
    torch = pytest.importorskip("torch")
    rv.config.set_random_seed(2)
    layer = Conv1DTranspose(4, activation="tanh", **kwargs)
    sgd_parity(torch, layer, (7, 3), _torch_transpose(torch, torch_kwargs, crops), _weights_from_net)


def test_transpose_is_the_adjoint_of_the_convolution():
    # <conv_transpose(u), v> == <u, conv(v)> for the convolution sharing its kernel.
    rng = np.random.default_rng(3)
    tconv = Conv2DTranspose(3, (3, 2), strides=(2, 1), padding="same", use_bias=False, dtype="float64")
    u = rng.standard_normal((2, 4, 5, 6))
    out = tconv(u)
    conv = rv.layers.Conv2D(6, (3, 2), strides=(2, 1), padding="same", use_bias=False, dtype="float64")
    v = rng.standard_normal(out.shape)
    conv(v)  # builds it
    conv.kernel.assign(tconv.kernel.value)
    np.testing.assert_allclose(np.sum(out * v), np.sum(u * conv(v)), rtol=1e-12)


def test_backward_preactivation_skips_the_activation():
    rng = np.random.default_rng(4)
    layer = Conv2DTranspose(2, 3, strides=2, activation="tanh", dtype="float64")
    x = rng.standard_normal((2, 3, 3, 2))
    layer.build(x.shape)
    _, cache = layer.call(x)
    dz = rng.standard_normal(layer.compute_output_shape(x.shape))
    layer.kernel.grad = np.zeros(layer.kernel.shape)
    layer.bias.grad = np.zeros(layer.bias.shape)
    dx = layer.backward_preactivation(dz, cache)
    linear = Conv2DTranspose(2, 3, strides=2, dtype="float64")
    linear.build(x.shape)
    linear.set_weights(layer.get_weights())
    _, lcache = linear.call(x)
    np.testing.assert_allclose(dx, linear.backward(dz, lcache), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0, kernel_size=3), "filters"),
        (dict(filters=2, kernel_size=0), "kernel_size"),
        (dict(filters=2, kernel_size=3, strides=(2, 0)), "strides"),
        (dict(filters=2, kernel_size=3, dilation_rate=0), "dilation_rate"),
        (dict(filters=2, kernel_size=3, strides=2, output_padding=2), "output_padding must be smaller"),
        (dict(filters=2, kernel_size=3, output_padding=-1), "output_padding"),
        (dict(filters=2, kernel_size=3, output_padding=(0, 0, 0)), "output_padding"),
        (dict(filters=2, kernel_size=3, padding="causal"), "padding"),
        (dict(filters=2, kernel_size=3, data_format="channels_first"), "channels_last"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        Conv2DTranspose(**kwargs)
    assert "got" in str(err.value)


def test_bad_inputs_raise_before_any_kernel_runs():
    with pytest.raises(ValueError, match="output would be empty"):
        Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0)(np.zeros((1, 1, 3, 1), np.float32))
    with pytest.raises(ValueError, match="rank 3"):
        Conv1DTranspose(2, 3)(np.zeros((1, 4, 4, 1), np.float32))
    layer = Conv2DTranspose(2, 3)
    layer(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        layer.call(np.zeros((1, 4, 4, 2), np.float32))


def test_config_round_trip():
    layer = Conv2DTranspose(4, (3, 2), strides=(2, 3), padding="same", output_padding=(1, 2), activation="relu")
    config = layer.get_config()
    assert config["output_padding"] == [1, 2]
    assert Conv2DTranspose.from_config(config).get_config() == config
    assert Conv1DTranspose.from_config(Conv1DTranspose(3, 5).get_config()).output_padding is None


def test_gradients_through_relu_and_max_pooling_fused_backward(float64):
    # The pool below a ReLU transposed conv folds the ReLU backward (backward_preactivation).
    inputs = rv.layers.Input((3, 3, 2))
    hidden = Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")(inputs)
    outputs = rv.layers.Dense(2)(rv.layers.Flatten()(rv.layers.MaxPooling2D()(hidden)))
    model = rv.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(5)
    rv.testing.check_gradients(model, rng.standard_normal((3, 3, 3, 2)), rng.standard_normal((3, 2)))
