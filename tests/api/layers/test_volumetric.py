"""3-D layers (issue 15): Conv3D and 3-D pooling against PyTorch, the 3-D reshaping layers and Permute.

Float64 gradients of every layer here are checked by ``test_contract.py``.
"""

import itertools

import numpy as np
import pytest

import ranvier as rv
from ranvier.api._errors import UnsupportedArgument

L = rv.layers


def _same_pads(size, kernel, stride, dilation=1):
    """Keras "same" padding (before, after) along one axis, computed here independently of the library."""
    span = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def _torch_pad(shape, kernel, strides, dilation, padding):
    """F.pad's argument for an NCDHW tensor of spatial ``shape`` (last axis first)."""
    if padding == "valid":
        return (0,) * 6
    pads = [_same_pads(*a) for a in zip(shape, kernel, strides, dilation)]
    return tuple(p for pair in reversed(pads) for p in pair)


def _to_torch(torch, x):
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 4, 1, 2, 3)  # NDHWC -> NCDHW


def _from_torch(t):
    return t.permute(0, 2, 3, 4, 1).detach().numpy()


_CONV_CASES = [
    dict(kernel_size=(3, 2, 3)),
    dict(kernel_size=3, strides=(2, 1, 2), padding="same"),
    dict(kernel_size=(2, 3, 2), dilation_rate=(2, 1, 2)),
    dict(kernel_size=(3, 3, 2), strides=2, dilation_rate=(2, 1, 1), padding="same"),
    dict(kernel_size=(4, 1, 1), strides=(3, 1, 1), padding="same"),
    # One depth tap reading every depth: the input is its own gathered copy.
    dict(kernel_size=(1, 3, 2), padding="same"),
    # On a depth-1 input the first and last depth taps read padding only.
    dict(kernel_size=(3, 2, 2), padding="same", depth=1),
]


def _torch_conv3d(torch, layer, xt):
    """PyTorch's conv3d with ``layer``'s weights (DHWIO -> OIDHW) and Keras' padding."""
    kernel = torch.from_numpy(layer.kernel.value).permute(4, 3, 0, 1, 2)
    pads = _torch_pad(xt.shape[2:], layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    bias = torch.from_numpy(layer.bias.value) if layer.use_bias else None
    return torch.nn.functional.conv3d(
        torch.nn.functional.pad(xt, pads), kernel, bias, stride=layer.strides, dilation=layer.dilation_rate
    ), (kernel, bias)


@pytest.mark.parametrize("kwargs", _CONV_CASES)
def test_conv3d_forward_and_gradients_match_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    kwargs = dict(kwargs)
    x = rng.standard_normal((2, kwargs.pop("depth", 7), 6, 8, 3))
    layer = L.Conv3D(4, dtype="float64", bias_initializer="random_normal", **kwargs)
    layer(x)  # builds
    y, cache = layer.call(x, training=True)
    xt = _to_torch(torch, x).requires_grad_()
    with torch.no_grad():
        w = torch.from_numpy(layer.kernel.value).permute(4, 3, 0, 1, 2).clone()
    w.requires_grad_()
    pads = _torch_pad(x.shape[1:4], layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    b = torch.from_numpy(layer.bias.value.copy()).requires_grad_()
    yt = torch.nn.functional.conv3d(
        torch.nn.functional.pad(xt, pads), w, b, stride=layer.strides, dilation=layer.dilation_rate
    )
    np.testing.assert_allclose(y, _from_torch(yt), rtol=1e-10, atol=1e-10)
    dy = rng.standard_normal(y.shape)
    yt.backward(_to_torch(torch, dy))
    for v in layer.trainable_weights:
        v._fresh = True  # the first write of a step: backward overwrites what the buffer held
        v.grad[...] = 7.0
    dx = layer.backward(dy, cache)
    np.testing.assert_allclose(dx, _from_torch(xt.grad), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.kernel.grad, w.grad.permute(2, 3, 4, 1, 0).numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.bias.grad, b.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kwargs", [_CONV_CASES[1], _CONV_CASES[3]])
def test_conv3d_three_sgd_steps_match_pytorch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6, 5, 7, 2)).astype(np.float32)
    model = rv.Sequential([L.Input((6, 5, 7, 2)), L.Conv3D(3, activation="tanh", **kwargs)])
    layer = model.layers[-1]
    target = rng.standard_normal((4,) + layer.compute_output_shape((None, 6, 5, 7, 2))[1:]).astype(np.float32)
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="mse")
    with torch.no_grad():
        _, (kernel, bias) = _torch_conv3d(torch, layer, _to_torch(torch, x))
    kernel, bias = kernel.clone().requires_grad_(), bias.clone().requires_grad_()
    opt = torch.optim.SGD([kernel, bias], lr=0.1)
    pads = _torch_pad(x.shape[1:4], layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    for _ in range(3):
        loss = model.train_on_batch(x, target)
        opt.zero_grad()
        xt = torch.nn.functional.pad(_to_torch(torch, x), pads)
        yt = torch.tanh(
            torch.nn.functional.conv3d(xt, kernel, bias, stride=layer.strides, dilation=layer.dilation_rate)
        )
        t_loss = torch.nn.functional.mse_loss(yt, _to_torch(torch, target))
        t_loss.backward()
        opt.step()
        assert loss == pytest.approx(t_loss.item(), rel=1e-5)
    np.testing.assert_allclose(layer.kernel.value, kernel.detach().permute(2, 3, 4, 1, 0).numpy(), atol=1e-5)
    np.testing.assert_allclose(layer.bias.value, bias.detach().numpy(), atol=1e-5)


def test_conv3d_shared_by_two_calls_adds_both_gradients():
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((2, 4, 3, 3, 2)), rng.standard_normal((2, 2))
    rv.config.set_floatx("float64")
    try:
        shared = L.Conv3D(2, (3, 2, 2), padding="same", activation="tanh")
        inputs = L.Input((4, 3, 3, 2))
        model = rv.Model(inputs, L.GlobalAveragePooling3D()(shared(shared(inputs))))
        model.compile(optimizer="sgd", loss="mse")
        rv.testing.check_gradients(model, x, y)
    finally:
        rv.config.set_floatx("float32")


def test_conv3d_kernel_layout_and_config_are_keras():
    layer = L.Convolution3D(5, (3, 2, 1), use_bias=False)
    layer(np.zeros((1, 4, 4, 4, 2), np.float32))
    assert layer.kernel.shape == (3, 2, 1, 2, 5) and layer.bias is None
    config = layer.get_config()
    assert {"filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias"} <= set(config)
    assert config["kernel_size"] == [3, 2, 1]
    assert type(L.Conv3D.from_config(config)) is L.Conv3D


def test_conv3d_gives_a_sample_the_same_bits_alone_or_in_a_batch():
    """The gathered depth slices never mix samples."""
    rng = np.random.default_rng(3)
    layer = L.Conv3D(3, 3, strides=(2, 1, 1), padding="same")
    x = rng.standard_normal((2, 5, 4, 4, 2)).astype(np.float32)
    both = layer(x)
    np.testing.assert_array_equal(both[1:], layer(x[1:]))


@pytest.mark.parametrize(
    "make, match, error",
    [
        (lambda: L.Conv3D(2, (3, 3)), "kernel_size", ValueError),
        (lambda: L.Conv3D(2, 3, strides=0), "strides", ValueError),
        (lambda: L.Conv3D(2, 3, padding="causal"), "padding", ValueError),
        (lambda: L.Conv3D(0, 3), "filters", ValueError),
        (lambda: L.Conv3D(2, 3, data_format="channels_first"), "data_format", UnsupportedArgument),
        (lambda: L.Conv3D(2, 3, groups=2), "groups", UnsupportedArgument),
        (lambda: L.MaxPooling3D(pool_size=(2, 2)), "pool_size", ValueError),
        (lambda: L.AveragePooling3D(strides=-1), "strides", ValueError),
        (lambda: L.MaxPooling3D(data_format="channels_first"), "data_format", UnsupportedArgument),
        (lambda: L.GlobalAveragePooling3D(data_format="channels_first"), "data_format", UnsupportedArgument),
        (lambda: L.ZeroPadding3D(padding=(1, 2)), "padding", ValueError),
        (lambda: L.ZeroPadding3D(data_format="channels_first"), "data_format", UnsupportedArgument),
        (lambda: L.Cropping3D(cropping=-1), "cropping", ValueError),
        (lambda: L.UpSampling3D(size=0), "size", ValueError),
        (lambda: L.UpSampling3D(data_format="channels_first"), "data_format", UnsupportedArgument),
        (lambda: L.Permute((1, 3)), "dims", ValueError),
        (lambda: L.Permute((0, 1)), "dims", ValueError),
        (lambda: L.Permute(2), "dims", ValueError),
    ],
)
def test_bad_arguments_raise(make, match, error):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "make, shape, match",
    [
        (lambda: L.Conv3D(2, 3), (2, 5, 5, 2), "rank 5 \\(batch, depth, rows, cols, channels\\)"),
        (lambda: L.Conv3D(2, (2, 5, 1)), (2, 3, 4, 3, 1), "larger than"),
        (lambda: L.Conv3D(2, (4, 1, 1)), (2, 3, 4, 3, 1), "larger than"),
        (lambda: L.MaxPooling3D(3), (2, 2, 4, 4, 1), "larger than"),
        (lambda: L.GlobalMaxPooling3D(), (2, 4, 4, 1), "rank 5"),
        (lambda: L.Cropping3D(2), (1, 4, 5, 5, 1), "nothing"),
        (lambda: L.Permute((2, 1)), (2, 3, 4, 5), "rank 3"),
    ],
)
def test_bad_inputs_raise_value_error(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(shape, np.float32))


def test_conv3d_rejects_other_channel_counts_after_build():
    layer = L.Conv3D(2, 2)
    layer(np.ones((1, 3, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        layer.call(np.ones((1, 3, 3, 3, 2), np.float32))


# ------------------------------------------------------------------ pooling

_POOL_CASES = [
    dict(pool_size=2),
    dict(pool_size=(3, 2, 2), strides=(1, 2, 1)),
    dict(pool_size=(2, 3, 3), strides=(2, 1, 2)),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kwargs", _POOL_CASES)
def test_pooling3d_matches_pytorch_forward_and_input_gradient(kind, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    layer = (L.MaxPooling3D if kind == "max" else L.AveragePooling3D)(dtype="float64", **kwargs)
    x = rng.standard_normal((2, 6, 7, 5, 3))
    y, cache = layer.call(x, training=True)
    pool = (torch.nn.MaxPool3d if kind == "max" else torch.nn.AvgPool3d)(layer.pool_size, layer.strides)
    xt = _to_torch(torch, x).requires_grad_()
    yt = pool(xt)
    np.testing.assert_allclose(y, _from_torch(yt), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    yt.backward(_to_torch(torch, dy))
    np.testing.assert_allclose(layer.backward(dy, cache), _from_torch(xt.grad), rtol=1e-12, atol=1e-12)


def _pool3d_reference(x, pool, strides, is_max):
    """Keras "same" 3-D pooling, one window at a time: padding never wins a max and is not counted in a mean."""
    n, *spatial, c = x.shape
    out_shape = [-(-s // st) for s, st in zip(spatial, strides)]
    before = [_same_pads(s, k, st)[0] for s, k, st in zip(spatial, pool, strides)]
    out = np.empty((n, *out_shape, c))
    for o in itertools.product(*map(range, out_shape)):
        window = tuple(
            slice(max(i * st - b, 0), min(i * st - b + k, s))
            for i, st, b, k, s in zip(o, strides, before, pool, spatial)
        )
        cells = x[(slice(None),) + window + (slice(None),)]
        out[(slice(None),) + o + (slice(None),)] = cells.max(axis=(1, 2, 3)) if is_max else cells.mean(axis=(1, 2, 3))
    return out


@pytest.mark.parametrize("is_max", [True, False])
def test_pooling3d_same_padding_matches_a_window_by_window_reference(is_max):
    rng = np.random.default_rng(5)
    pool, strides = (3, 2, 4), (2, 2, 3)
    layer = (L.MaxPooling3D if is_max else L.AveragePooling3D)(pool, strides, "same", dtype="float64")
    x = rng.standard_normal((2, 5, 6, 7, 2))
    np.testing.assert_allclose(layer(x), _pool3d_reference(x, pool, strides, is_max), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("is_max", [True, False])
@pytest.mark.parametrize("keepdims", [True, False])
def test_global_pooling3d_matches_numpy(is_max, keepdims):
    rng = np.random.default_rng(6)
    layer = (L.GlobalMaxPool3D if is_max else L.GlobalAvgPool3D)(keepdims=keepdims, dtype="float64")
    x = rng.standard_normal((3, 4, 2, 5, 3))
    y, cache = layer.call(x)
    reduce = np.max if is_max else np.mean
    np.testing.assert_allclose(y, reduce(x, axis=(1, 2, 3), keepdims=keepdims), rtol=1e-12)
    dy = rng.standard_normal(y.shape)
    dy3 = dy.reshape(3, 1, 1, 1, 3)
    expected = (x == x.max(axis=(1, 2, 3), keepdims=True)) * dy3 if is_max else np.broadcast_to(dy3 / 40, x.shape)
    np.testing.assert_allclose(layer.backward(dy, cache), expected, rtol=1e-12)


def test_pooling3d_config_and_aliases_are_keras():
    assert L.MaxPool3D is L.MaxPooling3D and L.AvgPool3D is L.AveragePooling3D
    assert L.GlobalMaxPool3D is L.GlobalMaxPooling3D and L.GlobalAvgPool3D is L.GlobalAveragePooling3D
    config = L.MaxPooling3D().get_config()
    assert (config["pool_size"], config["strides"], config["padding"]) == ([2, 2, 2], [2, 2, 2], "valid")


# ---------------------------------------------------------- reshaping, Permute


def test_zero_padding3d_and_cropping3d_match_numpy():
    x = np.random.default_rng(7).standard_normal((2, 3, 4, 5, 2)).astype(np.float32)
    pairs = ((1, 2), (0, 1), (3, 0))
    padded = L.ZeroPadding3D(pairs)(x)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0),) + pairs + ((0, 0),)))
    np.testing.assert_array_equal(L.Cropping3D(pairs)(padded), x)
    np.testing.assert_array_equal(L.ZeroPadding3D()(x), np.pad(x, ((0, 0),) + ((1, 1),) * 3 + ((0, 0),)))
    np.testing.assert_array_equal(L.Cropping3D(1)(padded), padded[:, 1:-1, 1:-1, 1:-1])


def test_upsampling3d_matches_numpy():
    x = np.random.default_rng(8).standard_normal((2, 2, 3, 2, 2)).astype(np.float32)
    expected = x.repeat(3, axis=1).repeat(1, axis=2).repeat(2, axis=3)
    np.testing.assert_array_equal(L.UpSampling3D((3, 1, 2))(x), expected)
    assert L.UpSampling3D().get_config()["size"] == [2, 2, 2]


def test_permute_matches_numpy_and_its_gradient_is_the_inverse_permutation():
    rng = np.random.default_rng(9)
    layer = L.Permute((3, 1, 2))
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y, cache = layer.call(x)
    np.testing.assert_array_equal(y, x.transpose(0, 3, 1, 2))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dy, cache), dy.transpose(0, 2, 3, 1))
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 5, 3, 4)
    assert layer.get_config()["dims"] == [3, 1, 2]
