"""DepthwiseConv2D / SeparableConv2D layers: shapes, Keras conventions, gradients, PyTorch parity, bad input."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.layers.depthwise import DepthwiseConv2D, SeparableConv2D
from ranvier.testing import check_gradients


def _build(layer, shape):
    layer._build_once((None,) + shape)
    return layer


@pytest.mark.parametrize(
    "kwargs, in_shape, out_shape",
    [
        (dict(kernel_size=3), (7, 6, 2), (5, 4, 2)),
        (dict(kernel_size=(3, 3), padding="same", depth_multiplier=3), (7, 6, 2), (7, 6, 6)),
        (dict(kernel_size=(3, 2), strides=(2, 3), padding="same"), (7, 8, 1), (4, 3, 1)),
        (dict(kernel_size=3, dilation_rate=2, depth_multiplier=2), (9, 7, 3), (5, 3, 6)),
        (dict(kernel_size=[3, 3], strides=[2, 2], padding="VALID"), (8, 8, 3), (3, 3, 3)),
    ],
)
def test_depthwise_output_shape_follows_keras(kwargs, in_shape, out_shape):
    layer = _build(DepthwiseConv2D(**kwargs), in_shape)
    assert layer.compute_output_shape((None,) + in_shape) == (None,) + out_shape
    assert layer(np.ones((2,) + in_shape, np.float32)).shape == (2,) + out_shape
    sep = _build(SeparableConv2D(5, **kwargs), in_shape)
    assert sep.compute_output_shape((None,) + in_shape) == (None,) + out_shape[:2] + (5,)
    assert sep(np.ones((2,) + in_shape, np.float32)).shape == (2,) + out_shape[:2] + (5,)


def test_weights_follow_keras_names_shapes_and_order():
    layer = _build(DepthwiseConv2D((3, 2), depth_multiplier=2), (6, 6, 4))
    assert [(v.name.split("/")[1], v.shape) for v in layer.weights] == [
        ("depthwise_kernel", (3, 2, 4, 2)),
        ("bias", (8,)),
    ]
    assert not layer.bias.value.any()
    limit = np.sqrt(6.0 / (3 * 2 * 4 + 3 * 2 * 2))  # glorot_uniform: fans (kh*kw*c, kh*kw*m) as Keras
    assert 0.8 * limit < np.abs(layer.depthwise_kernel.value).max() <= limit
    sep = _build(SeparableConv2D(5, 3, depth_multiplier=2, use_bias=False), (6, 6, 4))
    assert [(v.name.split("/")[1], v.shape) for v in sep.weights] == [
        ("depthwise_kernel", (3, 3, 4, 2)),
        ("pointwise_kernel", (1, 1, 8, 5)),
    ]
    assert sep.bias is None


def test_output_channel_order_is_channel_times_multiplier_plus_filter():
    # Channel c = 1 with filter j = 1 is output channel 1 * 2 + 1 = 3.
    layer = _build(DepthwiseConv2D(1, depth_multiplier=2, use_bias=False, dtype="float64"), (2, 2, 2))
    layer.depthwise_kernel.assign(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2))
    x = np.stack([np.full((1, 2, 2), 10.0), np.full((1, 2, 2), 100.0)], axis=-1)
    np.testing.assert_allclose(layer(x)[0, 0, 0], [10.0, 20.0, 300.0, 400.0])


def test_separable_is_depthwise_then_pointwise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 3))
    sep = _build(
        SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2, activation="tanh", dtype="float64"),
        (7, 6, 3),
    )
    sep.bias.assign(rng.standard_normal(4))
    dw = _build(
        DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, use_bias=False, dtype="float64"), (7, 6, 3)
    )
    dw.depthwise_kernel.assign(sep.depthwise_kernel.value)
    expected = np.tanh(dw(x) @ sep.pointwise_kernel.value[0, 0] + sep.bias.value)
    np.testing.assert_allclose(sep(x), expected, rtol=1e-12, atol=1e-12)


CASES = [
    dict(kernel_size=3),
    dict(kernel_size=(3, 2), strides=(2, 1), padding="same", depth_multiplier=2),
    dict(kernel_size=2, strides=2, padding="same"),
    dict(kernel_size=(2, 3), dilation_rate=(2, 1), depth_multiplier=3),
    dict(kernel_size=1, use_bias=False),
]


@pytest.mark.parametrize("kwargs", CASES)
def test_depthwise_gradients(kwargs):
    layer = DepthwiseConv2D(dtype="float64", **{"activation": "tanh", **kwargs})
    check_gradients(layer, np.random.default_rng(1).standard_normal((2, 5, 7, 2)))


@pytest.mark.parametrize("kwargs", CASES)
def test_separable_gradients(kwargs):
    layer = SeparableConv2D(3, dtype="float64", **{"activation": "tanh", **kwargs})
    check_gradients(layer, np.random.default_rng(2).standard_normal((2, 5, 7, 2)))


@pytest.mark.parametrize("cls", [DepthwiseConv2D, SeparableConv2D])
def test_backward_preactivation_skips_the_activation(cls):
    layer = cls(*((3,) if cls is SeparableConv2D else ()), kernel_size=3, activation="tanh", dtype="float64")
    x = np.random.default_rng(3).standard_normal((2, 5, 5, 2))
    layer._build_once((None, 5, 5, 2))
    y, cache = layer.call(x, training=True)
    dz = np.random.default_rng(4).standard_normal(y.shape)
    dx_pre = layer.backward_preactivation(dz, cache)
    _, cache = layer.call(x, training=True)
    np.testing.assert_allclose(layer.backward(dz / (1 - y**2), cache), dx_pre, rtol=1e-10)


@pytest.mark.parametrize("cls", [DepthwiseConv2D, SeparableConv2D])
def test_weight_gradients_accumulate_when_a_layer_is_reused(cls):
    layer = cls(*((2,) if cls is SeparableConv2D else ()), kernel_size=3, dtype="float64")
    x = np.random.default_rng(5).standard_normal((2, 5, 5, 2))
    layer._build_once((None, 5, 5, 2))
    y, cache = layer.call(x, training=True)
    dy = np.ones(y.shape)
    for v in layer.trainable_weights:
        v._fresh = True
    layer.backward(dy, cache, need_input_grad=False)
    once = [v.grad.copy() for v in layer.trainable_weights]
    _, cache = layer.call(x, training=True)
    assert layer.backward(dy, cache, need_input_grad=False) is None
    for v, g in zip(layer.trainable_weights, once):
        assert np.any(g != 0)
        np.testing.assert_allclose(v.grad, 2 * g)


@pytest.mark.parametrize("cls", [DepthwiseConv2D, SeparableConv2D])
def test_frozen_layer_still_passes_the_input_gradient(cls):
    args = (2,) if cls is SeparableConv2D else ()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 5, 2))
    live = cls(*args, kernel_size=3, dtype="float64")
    frozen = cls(*args, kernel_size=3, dtype="float64", trainable=False)
    for layer in (live, frozen):
        layer._build_once((None, 5, 5, 2))
    frozen.set_weights(live.get_weights())
    for v in live.trainable_weights:
        v._fresh = True
    y, cache = live.call(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx = live.backward(dy, cache)
    _, cache = frozen.call(x, training=True)
    np.testing.assert_allclose(frozen.backward(dy, cache), dx, rtol=1e-12)


def _torch_depthwise(torch, layer, x, pads):
    """PyTorch's Conv2d(groups=channels) on the converted weight: (c * m, 1, kh, kw)."""
    kh, kw, c, m = layer.depthwise_kernel.shape
    w = torch.from_numpy(layer.depthwise_kernel.value).permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    xt = torch.nn.functional.pad(torch.from_numpy(x).permute(0, 3, 1, 2), pads)
    return torch.nn.functional.conv2d(xt, w, stride=layer.strides, dilation=layer.dilation_rate, groups=c)


@pytest.mark.parametrize(
    "kwargs, pads",
    [
        (dict(kernel_size=3), (0, 0, 0, 0)),
        (dict(kernel_size=(3, 2), strides=2, padding="same", depth_multiplier=2), (0, 0, 1, 1)),  # (l, r, t, b)
        (dict(kernel_size=3, dilation_rate=2, padding="same", depth_multiplier=3), (2, 2, 2, 2)),
        (dict(kernel_size=(4, 1), padding="same"), (0, 0, 1, 2)),
    ],
)
def test_depthwise_and_separable_match_pytorch(kwargs, pads):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 8, 3))
    layer = _build(DepthwiseConv2D(activation="relu", dtype="float64", **kwargs), (9, 8, 3))
    layer.bias.assign(rng.standard_normal(layer.bias.shape))
    yt = _torch_depthwise(torch, layer, x, pads) + torch.from_numpy(layer.bias.value)[:, None, None]
    np.testing.assert_allclose(layer(x), torch.relu(yt).permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-10)

    sep = _build(SeparableConv2D(4, activation="relu", dtype="float64", **kwargs), (9, 8, 3))
    sep.bias.assign(rng.standard_normal(4))
    pw = torch.from_numpy(sep.pointwise_kernel.value).permute(3, 2, 0, 1)  # (1, 1, in, out) -> (out, in, 1, 1)
    yt = torch.nn.functional.conv2d(_torch_depthwise(torch, sep, x, pads), pw, torch.from_numpy(sep.bias.value))
    np.testing.assert_allclose(sep(x), torch.relu(yt).permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "make, x_shape, match",
    [
        (lambda: DepthwiseConv2D(3), (2, 5, 5), "rank 4"),
        (lambda: SeparableConv2D(2, 3), (2, 5, 5, 1, 1), "rank 4"),
        (lambda: DepthwiseConv2D(5), (2, 4, 6, 1), "larger than"),
        (lambda: SeparableConv2D(2, 3, dilation_rate=3), (2, 6, 6, 1), "larger than"),
    ],
)
def test_bad_input_raises_value_error(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(x_shape, np.float32))


@pytest.mark.parametrize("cls", [DepthwiseConv2D, SeparableConv2D])
def test_channel_mismatch_raises_before_any_kernel_runs(cls):
    layer = cls(*((2,) if cls is SeparableConv2D else ()), kernel_size=3)
    layer(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        layer.call(np.ones((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="channels"):
        layer.compute_output_shape((None, 5, 5, 4))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DepthwiseConv2D(0), "kernel_size"),
        (lambda: DepthwiseConv2D((3, -1)), "kernel_size"),
        (lambda: DepthwiseConv2D((3, 3, 3)), "kernel_size"),
        (lambda: DepthwiseConv2D(3, strides=0), "strides"),
        (lambda: DepthwiseConv2D(3, dilation_rate=(1, 0)), "dilation_rate"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=-1), "depth_multiplier"),
        (lambda: DepthwiseConv2D(3, depth_multiplier=1.5), "depth_multiplier"),
        (lambda: DepthwiseConv2D(3, padding="causal"), "padding"),
        (lambda: DepthwiseConv2D(3, data_format="channels_first"), "channels_last"),
        (lambda: SeparableConv2D(0, 3), "filters"),
        (lambda: SeparableConv2D(-2, 3), "filters"),
        (lambda: SeparableConv2D(True, 3), "filters"),
        (lambda: SeparableConv2D(2, 3, depth_multiplier=0), "depth_multiplier"),
        (lambda: SeparableConv2D(2, 3, pointwise_initializer="no_such_init"), "no_such_init"),
    ],
)
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_config_round_trip():
    layer = DepthwiseConv2D(
        (3, 2),
        strides=(2, 1),
        padding="same",
        depth_multiplier=2,
        activation="relu",
        depthwise_regularizer="l2",
        name="d",
    )
    assert DepthwiseConv2D.from_config(layer.get_config()).get_config() == layer.get_config()
    sep = SeparableConv2D(
        4,
        3,
        dilation_rate=2,
        depth_multiplier=3,
        pointwise_regularizer="l1",
        pointwise_constraint="non_neg",
        use_bias=False,
        name="s",
    )
    config = sep.get_config()
    assert config["filters"] == 4 and config["depth_multiplier"] == 3
    assert SeparableConv2D.from_config(config).get_config() == config


def test_model_trains_saves_and_loads(tmp_path):
    rv.config.set_random_seed(0)
    L = rv.layers
    model = rv.Sequential(
        [
            L.Input((8, 8, 2)),
            L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
            L.SeparableConv2D(4, 3, padding="same", activation="relu"),
            L.Flatten(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((6, 8, 8, 2)).astype(np.float32), np.arange(6) % 2
    model.train_on_batch(x, y)
    model.save(tmp_path / "sep.ranvier")
    again = rv.load_model(tmp_path / "sep.ranvier")
    assert [type(layer) for layer in again.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_model_gradients_through_both_layers_and_fused_softmax(float64):
    L = rv.layers
    model = rv.Sequential(
        [
            L.Input((7, 6, 2)),
            L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="tanh"),
            L.SeparableConv2D(3, (2, 1), strides=(2, 1), activation="relu"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(9)
    check_gradients(model, rng.standard_normal((4, 7, 6, 2)), rng.integers(0, 3, 4))


# ---------------------------------------------------------------- 1-D (issue 15)
L = rv.layers


@pytest.mark.parametrize(
    "kwargs, steps, out_steps",
    [
        (dict(kernel_size=3), 9, 7),
        (dict(kernel_size=4, strides=2, padding="same"), 9, 5),  # ceil(9 / 2)
        (dict(kernel_size=3, dilation_rate=3), 9, 3),  # span 7
    ],
)
def test_1d_output_shapes_and_weights_follow_keras(kwargs, steps, out_steps):
    dw = L.DepthwiseConv1D(depth_multiplier=2, **kwargs)
    assert dw(np.ones((2, steps, 3), np.float32)).shape == (2, out_steps, 6)
    assert dw.compute_output_shape((None, steps, 3)) == (None, out_steps, 6)
    assert dw.depthwise_kernel.shape == dw.kernel_size + (3, 2)
    sep = L.SeparableConv1D(4, depth_multiplier=2, **kwargs)
    assert sep(np.ones((2, steps, 3), np.float32)).shape == (2, out_steps, 4)
    assert [w.shape for w in sep.weights] == [dw.kernel_size + (3, 2), (1, 6, 4), (4,)]
    assert L.SeparableConvolution1D is L.SeparableConv1D


def _torch_depthwise_1d(torch, torch_kwargs, separable):
    """``make_net`` for ``sgd_parity``: Conv1d(groups=channels) (then a 1x1 conv) with the layer's weights."""

    def make(layer):
        k, c, m = layer.depthwise_kernel.shape
        depth = torch.nn.Conv1d(c, c * m, k, groups=c, bias=not separable, **torch_kwargs).double()
        net = torch.nn.Conv1d(c * m, layer.filters, 1).double() if separable else depth
        with torch.no_grad():  # (k, c, m) -> (c * m, 1, k): output channel c * m + j
            kernel = torch.from_numpy(layer.depthwise_kernel.value.astype(np.float64))
            depth.weight.copy_(kernel.permute(1, 2, 0).reshape(c * m, 1, k))
            if separable:
                net.weight.copy_(torch.from_numpy(layer.pointwise_kernel.value.astype(np.float64)).permute(2, 1, 0))
            net.bias.copy_(torch.from_numpy(layer.bias.value.astype(np.float64)))
        if not separable:
            return net, lambda x: torch.tanh(net(x))
        net.depth = depth  # a submodule: the optimizer trains its weight too
        return net, lambda x: torch.tanh(net(depth(x)))

    return make


@pytest.mark.parametrize(
    "kwargs, torch_kwargs",
    [
        (dict(kernel_size=3, depth_multiplier=2), {}),
        (dict(kernel_size=3, strides=2, dilation_rate=2), dict(stride=2, dilation=2)),  # beyond Keras
        (dict(kernel_size=3, padding="same"), dict(padding=1)),
    ],
)
@pytest.mark.parametrize("separable", [False, True])
def test_1d_layers_match_pytorch(kwargs, torch_kwargs, separable, sgd_parity):
    torch = pytest.importorskip("torch")
    rv.config.set_random_seed(6)
    if separable:
        layer = L.SeparableConv1D(4, activation="tanh", **kwargs)
    else:
        layer = L.DepthwiseConv1D(activation="tanh", **kwargs)

    def weights_from_net(net):
        k, c, m = layer.depthwise_kernel.shape
        depth = net.depth if separable else net
        weights = [depth.weight.detach().numpy().reshape(c, m, k).transpose(2, 0, 1)]
        if separable:
            weights.append(net.weight.detach().numpy().transpose(2, 1, 0))
        return weights + [net.bias.detach().numpy()]

    sgd_parity(torch, layer, (11, 3), _torch_depthwise_1d(torch, torch_kwargs, separable), weights_from_net)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.DepthwiseConv1D(3, padding="causal"), "padding"),
        (lambda: L.DepthwiseConv1D((3, 3)), "kernel_size"),
        (lambda: L.SeparableConv1D(0, 3), "filters"),
        (lambda: L.SeparableConv1D(2, 3, strides=0), "strides"),
        (lambda: L.DepthwiseConv1D(3, depth_multiplier=0), "depth_multiplier"),
    ],
)
def test_1d_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_1d_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="rank 3"):
        L.DepthwiseConv1D(3)(np.ones((2, 5, 5, 1), np.float32))
    with pytest.raises(ValueError, match="larger than"):
        L.SeparableConv1D(2, 5)(np.ones((2, 4, 1), np.float32))


def test_1d_config_round_trip():
    layer = L.SeparableConv1D(4, 3, strides=2, padding="same", depth_multiplier=2, pointwise_regularizer="l2")
    config = layer.get_config()
    assert config["kernel_size"] == [3] and config["strides"] == [2]
    assert L.SeparableConv1D.from_config(config).get_config() == config
