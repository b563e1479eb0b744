"""Conv1D / Conv2D with groups > 1: Keras kernel layout, PyTorch parity, float64 gradients, errors."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.layers._capabilities import CONV_MAXPOOL
from ranvier.layers import Conv1D, Conv2D
from ranvier.testing import check_layer


def test_kernel_layout_follows_keras():
    layer = Conv2D(6, (3, 2), groups=3)
    layer.build((None, 7, 7, 9))
    assert layer.kernel.shape == (3, 2, 3, 6)  # (kh, kw, in / groups, filters)
    assert Conv2D.from_config(layer.get_config()).groups == 3
    assert layer.get_config()["groups"] == 3


def test_each_group_sees_only_its_channels():
    # Group g = a plain conv of input channels block g to filters block g.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 4))
    layer = Conv2D(6, 3, strides=(2, 1), padding="same", groups=2, dtype="float64")
    y = layer(x)
    for g in range(2):
        plain = Conv2D(3, 3, strides=(2, 1), padding="same", dtype="float64")
        plain(x[..., 2 * g : 2 * g + 2])
        plain.set_weights([layer.kernel.value[..., 3 * g : 3 * g + 3], layer.bias.value[3 * g : 3 * g + 3]])
        np.testing.assert_allclose(y[..., 3 * g : 3 * g + 3], plain(x[..., 2 * g : 2 * g + 2]), rtol=1e-12)


def _torch_conv(torch, rank, torch_kwargs):
    def make(layer):
        kernel = layer.kernel.value.astype(np.float64)
        cls = torch.nn.Conv1d if rank == 1 else torch.nn.Conv2d
        c_in = kernel.shape[-2] * layer.groups
        net = cls(c_in, layer.filters, layer.kernel_size, groups=layer.groups, **torch_kwargs).double()
        with torch.no_grad():  # (..., in / groups, out) -> (out, in / groups, ...)
            net.weight.copy_(torch.from_numpy(kernel).permute(*((2, 1, 0) if rank == 1 else (3, 2, 0, 1))))
            net.bias.copy_(torch.from_numpy(layer.bias.value.astype(np.float64)))
        return net, lambda x: torch.tanh(net(x))

    return make


def _weights_from_net(net):
    """[kernel, bias] in Keras' layout."""
    w = net.weight.detach().numpy()
    return [w.transpose(2, 1, 0) if w.ndim == 3 else w.transpose(2, 3, 1, 0), net.bias.detach().numpy()]


@pytest.mark.parametrize(
    "kwargs, torch_kwargs",
    [
        (dict(filters=6, kernel_size=3, groups=2), {}),
        (dict(filters=6, kernel_size=(3, 2), strides=2, groups=3), dict(stride=2)),
        (dict(filters=4, kernel_size=3, padding="same", dilation_rate=2, groups=2), dict(padding=2, dilation=2)),
        (dict(filters=6, kernel_size=1, groups=6), {}),  # pointwise per group: the kernels' 1x1 path
    ],
)
def test_conv2d_groups_match_pytorch(kwargs, torch_kwargs, sgd_parity):
    torch = pytest.importorskip("torch")
    rv.config.set_random_seed(4)
    layer = Conv2D(activation="tanh", **kwargs)
    sgd_parity(torch, layer, (6, 7, 6), _torch_conv(torch, 2, torch_kwargs), _weights_from_net)


def test_conv1d_groups_match_pytorch(sgd_parity):
    torch = pytest.importorskip("torch")
    rv.config.set_random_seed(5)
    layer = Conv1D(4, 3, strides=2, groups=2, activation="tanh")
    sgd_parity(torch, layer, (9, 6), _torch_conv(torch, 1, dict(stride=2)), _weights_from_net)


@pytest.mark.parametrize(
    "cls, init, shape",
    [
        (Conv2D, {"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same", "activation": "tanh"}, (2, 4, 5, 6)),
        (Conv2D, {"filters": 3, "kernel_size": 2, "strides": 2, "groups": 3, "activation": "relu"}, (2, 5, 5, 3)),
        (Conv1D, {"filters": 4, "kernel_size": 3, "groups": 4, "padding": "causal", "use_bias": False}, (2, 6, 8)),
    ],
)
def test_grouped_conv_keeps_the_layer_contract(cls, init, shape):
    check_layer(cls, init, shape)  # float64 gradients, config, save/load, thread counts


def test_grouped_conv_before_max_pooling_is_not_fused(float64):
    inputs = rv.layers.Input((6, 6, 4))
    conv = Conv2D(4, 3, padding="same", groups=2, activation="relu")
    model = rv.Model(inputs, rv.layers.Dense(3)(rv.layers.Flatten()(rv.layers.MaxPooling2D()(conv(inputs)))))
    model.compile(optimizer="sgd", loss="mse")
    assert CONV_MAXPOOL not in conv.capabilities
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 6, 6, 4)), rng.standard_normal((4, 3))
    rv.testing.check_gradients(model, x, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=4, kernel_size=3, groups=0), "groups must be a positive integer, got 0"),
        (dict(filters=4, kernel_size=3, groups=True), "groups must be a positive integer, got True"),
        (dict(filters=4, kernel_size=3, groups=1.5), "groups must be a positive integer, got 1.5"),
        (dict(filters=4, kernel_size=3, groups=3), "filters \\(4\\) must be a multiple of groups, got groups=3"),
    ],
)
def test_bad_groups_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


def test_input_channels_must_divide_into_groups():
    with pytest.raises(ValueError, match="multiple of groups=2, got input shape"):
        Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 3), np.float32))
    layer = Conv1D(4, 3, groups=2)
    layer(np.zeros((1, 5, 4), np.float32))
    with pytest.raises(ValueError, match="4 channels"):
        layer.call(np.zeros((1, 5, 2), np.float32))
