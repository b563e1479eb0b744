"""GroupNormalization against torch.nn.GroupNorm, UnitNormalization against its formula (issue 15).

Float64 gradients of both are checked by ``test_contract.py``.
"""

import numpy as np
import pytest

import ranvier as rv

L = rv.layers


def _channels_first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def _torch_group_norm(torch, layer, x):
    """torch.nn.GroupNorm with ``layer``'s groups, epsilon and weights, on channels-last ``x``."""
    channels = x.shape[-1]
    groups = channels if layer.groups == -1 else layer.groups
    norm = torch.nn.GroupNorm(groups, channels, eps=layer.epsilon, dtype=torch.float64)
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(layer.gamma.value))
        norm.bias.copy_(torch.from_numpy(layer.beta.value))
    xt = torch.from_numpy(_channels_first(x)).requires_grad_()
    return norm, xt, norm(xt)


@pytest.mark.parametrize("groups, shape", [(2, (3, 5, 4, 6)), (1, (2, 7, 4)), (-1, (2, 3, 3, 2, 4)), (3, (4, 6))])
def test_group_normalization_matches_pytorch_forward_and_gradients(groups, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 3 + 1
    layer = L.GroupNormalization(
        groups, epsilon=1e-4, gamma_initializer="random_normal", beta_initializer="random_normal", dtype="float64"
    )
    layer(x)
    y, cache = layer.call(x, training=True)
    norm, xt, yt = _torch_group_norm(torch, layer, x)
    np.testing.assert_allclose(_channels_first(y), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    dy = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(_channels_first(dy)))
    for v in layer.trainable_weights:
        v._fresh = True  # the first write of a step: backward overwrites what the buffer held
        v.grad[...] = 7.0
    dx = layer.backward(dy, cache)
    np.testing.assert_allclose(_channels_first(dx), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.gamma.grad, norm.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.beta.grad, norm.bias.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_group_normalization_on_axis_1_is_pytorch_on_channels_first_input():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 5))
    layer = L.GroupNormalization(3, axis=1, gamma_initializer="random_normal", dtype="float64")
    y = layer(x)
    norm = torch.nn.GroupNorm(3, 6, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(layer.gamma.value))
    np.testing.assert_allclose(y, norm(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-10)


def test_group_normalization_three_sgd_steps_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 5, 4, 6)).astype(np.float32) * 2 + 0.5
    target = rng.standard_normal((8, 5, 4, 3)).astype(np.float32)
    model = rv.Sequential([L.Input((5, 4, 6)), L.GroupNormalization(2, epsilon=1e-5), L.Dense(3)])
    norm_layer, dense = model.layers
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="mse")
    norm = torch.nn.GroupNorm(2, 6, eps=1e-5)
    lin = torch.nn.Linear(6, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(dense.kernel.value.T.copy()))
        lin.bias.copy_(torch.from_numpy(dense.bias.value))
    opt = torch.optim.SGD([*norm.parameters(), *lin.parameters()], lr=0.1)
    xt, tt = torch.from_numpy(_channels_first(x)), torch.from_numpy(target)
    for _ in range(3):
        loss = model.train_on_batch(x, target)
        opt.zero_grad()
        t_loss = torch.nn.functional.mse_loss(lin(norm(xt).permute(0, 2, 3, 1)), tt)
        t_loss.backward()
        opt.step()
        assert loss == pytest.approx(t_loss.item(), rel=1e-5)
    np.testing.assert_allclose(norm_layer.gamma.value, norm.weight.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(norm_layer.beta.value, norm.bias.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(dense.kernel.value, lin.weight.detach().numpy().T, atol=1e-5)


def test_group_normalization_without_center_and_scale_has_no_weights():
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    layer = L.GroupNormalization(2, center=False, scale=False, dtype="float64")
    y = layer(x)
    assert layer.weights == []
    grouped = x.reshape(2, 3, 2, 2)
    mean, var = grouped.mean(axis=(1, 3), keepdims=True), grouped.var(axis=(1, 3), keepdims=True)
    np.testing.assert_allclose(y, ((grouped - mean) / np.sqrt(var + 1e-3)).reshape(x.shape), rtol=1e-12)


def test_group_normalization_config_is_keras():
    layer = L.GroupNormalization()
    config = layer.get_config()
    assert (config["groups"], config["axis"], config["epsilon"]) == (32, -1, 1e-3)
    assert {"center", "scale", "beta_initializer", "gamma_regularizer", "beta_constraint"} <= set(config)
    layer(np.zeros((1, 2, 64), np.float32))
    assert [v.name.split("/")[-1] for v in layer.weights] == ["gamma", "beta"] and layer.gamma.shape == (64,)


@pytest.mark.parametrize(
    "kwargs, shape, match",
    [
        (dict(groups=4), (2, 3, 6), "groups must divide the 6 channels"),
        (dict(groups=8), (2, 6), "groups must divide"),
        (dict(groups=2, axis=0), (2, 6), "axis"),
        (dict(groups=2, axis=3), (2, 6), "axis"),
    ],
)
def test_group_normalization_bad_inputs_raise_value_error(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        L.GroupNormalization(**kwargs)(np.ones(shape, np.float32))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(groups=0), ValueError),
        (dict(groups=-2), ValueError),
        (dict(groups=2.0), ValueError),
        (dict(epsilon=0.0), ValueError),
        (dict(axis="x"), TypeError),
    ],
)
def test_group_normalization_bad_arguments_raise(kwargs, error):
    with pytest.raises(error, match="got"):
        L.GroupNormalization(**kwargs)


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_unit_normalization_matches_its_formula(axis):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 5))
    axes = tuple(axis) if isinstance(axis, list) else axis
    y = L.UnitNormalization(axis, dtype="float64")(x)
    np.testing.assert_allclose(y, x / np.linalg.norm(x, axis=axes, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(np.sum(y * y, axis=axes), 1.0, rtol=1e-12)


def test_unit_normalization_of_zero_is_zero_with_a_finite_gradient():
    layer = L.UnitNormalization(dtype="float64")
    x = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    layer(x)  # builds
    y, cache = layer.call(x)
    np.testing.assert_allclose(y, [[0.0, 0.0, 0.0], [0.6, 0.0, 0.8]], rtol=1e-15)
    dx = layer.backward(np.ones_like(x), cache)
    # Under the floor the scale is the constant 1 / sqrt(1e-12) (Keras' rsqrt(max(sum, 1e-12))).
    np.testing.assert_allclose(dx[0], 1e6)
    assert np.isfinite(dx).all()


@pytest.mark.parametrize("axis, error", [(0, ValueError), (3, ValueError), ("a", TypeError), ([], TypeError)])
def test_unit_normalization_bad_axis_raises(axis, error):
    with pytest.raises(error, match="axis"):
        L.UnitNormalization(axis)(np.ones((2, 3, 4), np.float32))
