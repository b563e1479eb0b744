"""BatchNormalization and LayerNormalization: gradients, statistics, PyTorch parity, bad input."""

import numpy as np
import pytest

from ranvier.api import config
from ranvier.api.layers.normalization import BatchNormalization, LayerNormalization
from ranvier.testing import check_gradients


def _built(layer, x, seed=0):
    """Build ``layer`` for ``x`` and give its trainable weights random values."""
    layer(x)
    rng = np.random.default_rng(seed)
    for v in layer.trainable_weights:
        v.value[...] = rng.normal(size=v.shape)
    return layer


BN_CASES = {
    "dense": ({}, (7, 4)),
    "conv_nhwc": ({}, (3, 4, 3, 5)),
    "axis1": ({"axis": 1}, (4, 3, 2, 2)),
    "no_center": ({"center": False}, (6, 3)),
    "no_scale": ({"scale": False}, (6, 3)),
}


@pytest.mark.parametrize("case", sorted(BN_CASES))
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients(case, training):
    kwargs, shape = BN_CASES[case]
    x = np.random.default_rng(1).normal(2.0, 3.0, shape)
    layer = _built(BatchNormalization(dtype="float64", **kwargs), x)
    layer.moving_variance.value[...] = np.random.default_rng(2).uniform(0.5, 2.0, layer.moving_variance.shape)
    check_gradients(layer, x, training=training)


@pytest.mark.parametrize(
    "kwargs,shape",
    [
        ({}, (5, 6)),
        ({"axis": [-2, -1]}, (4, 3, 2)),
        ({"axis": [1, 2, 3], "center": False}, (2, 2, 3, 2)),
        ({"scale": False}, (3, 2, 4)),
    ],
)
def test_layer_norm_gradients(kwargs, shape):
    x = np.random.default_rng(3).normal(1.0, 2.0, shape)
    check_gradients(_built(LayerNormalization(dtype="float64", **kwargs), x), x)


def test_weight_gradients_accumulate_over_calls():
    x = np.random.default_rng(0).normal(size=(8, 3))
    layer = _built(BatchNormalization(dtype="float64"), x)
    dy = np.ones_like(x)
    for v in layer.trainable_weights:
        v._fresh = True
    layer.backward(dy, layer.call(x, training=True)[1])
    once = layer.beta.grad.copy()
    layer.backward(dy, layer.call(x, training=True)[1])
    np.testing.assert_allclose(layer.beta.grad, 2 * once)


def test_moving_statistics_update_only_in_training():
    rng = np.random.default_rng(0)
    layer = BatchNormalization(momentum=0.9, dtype="float64")
    x = rng.normal(5.0, 2.0, (64, 3))
    layer(x)
    np.testing.assert_array_equal(layer.moving_mean.value, 0.0)  # inference call: no update
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.value, 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(layer.moving_variance.value, 0.9 + 0.1 * x.var(axis=0))  # biased variance
    for _ in range(200):
        layer(x, training=True)
    # Inference then uses the converged moving statistics: the output is normalised.
    out = layer(x, training=False)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-3), rtol=1e-6)


def test_frozen_layer_uses_moving_statistics_in_training():
    x = np.random.default_rng(0).normal(size=(16, 3))
    layer = BatchNormalization(dtype="float64")
    layer(x)
    layer.trainable = False
    np.testing.assert_array_equal(layer(x, training=True), layer(x, training=False))
    np.testing.assert_array_equal(layer.moving_mean.value, 0.0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_weights_follow_keras_order_and_names():
    layer = BatchNormalization()
    layer(np.ones((2, 5), np.float32))
    assert [v.name.split("/")[-1] for v in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.trainable for v in layer.weights] == [True, True, False, False]
    assert all(v.dtype == np.float32 and v.shape == (5,) for v in layer.weights)


def test_nhwc_statistics_reduce_over_batch_and_pixels():
    x = np.random.default_rng(0).normal(size=(4, 5, 6, 3))
    layer = BatchNormalization(momentum=0.0, dtype="float64")
    out = layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.value, x.mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-12)
    # axis=1 on the NCHW transpose gives the same numbers.
    nchw = BatchNormalization(axis=1, momentum=0.0, dtype="float64")
    out_nchw = nchw(np.transpose(x, (0, 3, 1, 2)), training=True)
    np.testing.assert_allclose(np.transpose(out_nchw, (0, 2, 3, 1)), out, atol=1e-12)
    assert out_nchw.flags.c_contiguous


def test_float32_close_to_float64():
    x = np.random.default_rng(0).normal(3.0, 2.0, (50, 8))
    out64 = BatchNormalization(dtype="float64")(x, training=True)
    out32 = BatchNormalization(dtype="float32")(x.astype(np.float32), training=True)
    np.testing.assert_allclose(out32, out64, atol=1e-5)


def test_thread_count_does_not_change_results():
    x = np.random.default_rng(0).normal(size=(8192, 32)).astype(np.float32)  # large enough to run threaded
    dy = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    results = []
    old = config.get_num_threads()
    try:
        for t in (1, 2):
            config.set_num_threads(t)
            for cls in (BatchNormalization, LayerNormalization):
                layer = cls(name=f"{cls.__name__}_{t}")
                layer(x)
                out, cache = layer.call(x, training=True)
                dx = layer.backward(dy, cache)
                results.append([out, dx, layer.gamma.grad.copy(), layer.beta.grad.copy()])
    finally:
        config.set_num_threads(old)
    for got, want in zip(results[2:], results[:2]):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_batch_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    momentum, eps = 0.9, 1e-3
    ours = BatchNormalization(momentum=momentum, epsilon=eps, dtype="float64")
    theirs = torch.nn.BatchNorm2d(3, eps=eps, momentum=1 - momentum, dtype=torch.float64)  # torch: 1 - ours
    gamma, beta = rng.normal(size=(2, 3))
    x0 = rng.normal(size=(4, 5, 5, 3))
    ours(x0)
    ours.gamma.assign(gamma)
    ours.beta.assign(beta)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    var_gap = 0.0  # torch's running_var - ours: torch averages the unbiased batch variance
    for step in range(4):
        x = rng.normal(step, 1.0 + step, (4, 5, 5, 3))
        out = ours(x, training=True)
        want = theirs.train()(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
        np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)
        m = x.size // 3
        var_gap = momentum * var_gap + (1 - momentum) * x.var(axis=(0, 1, 2)) / (m - 1)
        np.testing.assert_allclose(ours.moving_mean.value, theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            theirs.running_var.numpy() - ours.moving_variance.value, var_gap, rtol=1e-9, atol=1e-14
        )
    # Inference with the same moving statistics gives the same output.
    with torch.no_grad():
        theirs.running_var.copy_(torch.from_numpy(ours.moving_variance.value))
    x = rng.normal(size=(2, 5, 5, 3))
    want = theirs.eval()(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy()
    np.testing.assert_allclose(ours(x), want, rtol=1e-10, atol=1e-10)


def test_layer_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, dy = rng.normal(2.0, 3.0, (2, 6, 4, 5))
    layer = _built(LayerNormalization(axis=[-2, -1], dtype="float64"), x)
    xt = torch.from_numpy(x).requires_grad_(True)
    g = torch.from_numpy(layer.gamma.value.copy()).requires_grad_(True)
    b = torch.from_numpy(layer.beta.value.copy()).requires_grad_(True)
    yt = torch.nn.functional.layer_norm(xt, (4, 5), g, b, eps=1e-3)
    yt.backward(torch.from_numpy(dy))
    out, cache = layer.call(x, training=True)
    for v in layer.trainable_weights:
        v._fresh = True
    dx = layer.backward(dy, cache)
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(layer.gamma.grad, g.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(layer.beta.grad, b.grad.numpy(), rtol=1e-9)


def test_layer_norm_is_the_same_in_training_and_inference():
    x = np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32)
    layer = LayerNormalization()
    np.testing.assert_array_equal(layer(x, training=True), layer(x))


def test_get_config_round_trip():
    for layer in (
        BatchNormalization(
            axis=1, momentum=0.9, epsilon=1e-5, center=False, gamma_regularizer="l2", beta_constraint="non_neg"
        ),
        LayerNormalization(axis=[-2, -1], epsilon=1e-6, scale=False, beta_initializer="ones"),
    ):
        config_ = layer.get_config()
        clone = type(layer).from_config(config_)
        assert clone.get_config() == config_


def test_bad_arguments_and_input():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        BatchNormalization(axis=2)(np.ones((3, 4)))
    with pytest.raises(ValueError, match="batch axis"):
        BatchNormalization(axis=0)(np.ones((3, 4)))
    with pytest.raises(TypeError, match="axis must be an integer"):
        BatchNormalization(axis="last")
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="epsilon"):
        LayerNormalization(epsilon=-1e-3)
    with pytest.raises(ValueError, match="non-empty batch"):
        BatchNormalization()(np.ones((0, 4), np.float32), training=True)
    assert BatchNormalization()(np.ones((0, 4), np.float32)).shape == (0, 4)
    with pytest.raises(ValueError, match="trailing axes"):
        LayerNormalization(axis=1)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="out of range"):
        LayerNormalization(axis=-4)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="rms_scaling"):
        LayerNormalization(rms_scaling=True)
    layer = BatchNormalization()
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="expects input of shape"):
        layer(np.ones((2, 5), np.float32))


def test_synchronized_is_not_supported_but_old_configs_load():
    with pytest.raises(NotImplementedError, match="synchronized=True is not supported.*got synchronized=True"):
        BatchNormalization(synchronized=True)
    old = {**BatchNormalization().get_config(), "synchronized": True}  # saved when it was accepted, unused
    assert BatchNormalization.from_config(old).get_config()["synchronized"] is False


def test_saved_model_keeps_moving_statistics(tmp_path):
    import ranvier as rv
    from ranvier.api.layers.regularization import Dropout

    rng = np.random.default_rng(0)
    x, y = rng.normal(2.0, 3.0, (64, 5)).astype(np.float32), rng.integers(0, 2, 64)
    model = rv.Sequential(
        [
            rv.layers.Input((5,)),
            rv.layers.Dense(8, activation="relu"),
            BatchNormalization(momentum=0.5),
            Dropout(0.3, seed=1),
            rv.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "bn.ranvier"
    model.save(path)
    custom = {"BatchNormalization": BatchNormalization, "Dropout": Dropout}
    loaded = rv.load_model(path, custom_objects=custom)
    bn = [layer for layer in loaded.layers if isinstance(layer, BatchNormalization)][0]
    assert np.any(bn.moving_mean.value != 0)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
