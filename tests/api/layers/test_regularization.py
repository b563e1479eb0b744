"""Dropout family and noise layers: masks, scaling, seeds, gradients through the forward's mask."""

import numpy as np
import pytest
from scipy import stats

from ranvier.api import config
from ranvier.api.layers.normalization import BatchNormalization
from ranvier.api.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    Dropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from ranvier.testing import check_gradients

RANDOM_LAYERS = [
    lambda: Dropout(0.4, dtype="float64"),
    lambda: Dropout(0.4, noise_shape=(None, 1, 3), dtype="float64"),
    lambda: SpatialDropout1D(0.5, dtype="float64"),
    lambda: GaussianNoise(0.3, dtype="float64"),
    lambda: GaussianDropout(0.3, dtype="float64"),
    lambda: AlphaDropout(0.3, dtype="float64"),
    lambda: AlphaDropout(0.3, noise_shape=(None, 1, 3), dtype="float64"),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_identity_at_inference(make):
    x = np.random.default_rng(0).normal(size=(4, 2, 3))
    layer = make()
    out, cache = layer.call(x, training=False)
    assert out is x
    np.testing.assert_array_equal(layer.backward(x, cache), x)


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_gradients_with_the_forward_noise(make):
    # With the per-call seed held fixed the layer is a deterministic function of x:
    # its backward must be the derivative of the forward it cached.
    x = np.random.default_rng(1).normal(size=(4, 2, 3))
    layer = make()
    layer(x)
    layer._next_seed = lambda: 1234
    check_gradients(layer, x, training=True)


def test_dropout_backward_uses_the_forward_mask():
    x = np.random.default_rng(0).normal(size=(64, 50)).astype(np.float32)
    layer = Dropout(0.5, seed=3)
    out, mask = layer.call(x, training=True)
    other, _ = layer.call(x, training=True)
    assert not np.array_equal(out, other)  # a new mask every call...
    dy = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    dx = layer.backward(dy, mask)
    # ...and backward follows the mask of the call whose cache it gets.
    np.testing.assert_allclose(dx, np.where(out != 0, dy * 2.0, 0.0), rtol=1e-6)


def test_dropout_zeroes_rate_fraction_and_keeps_the_expectation():
    x = np.ones((400, 500), np.float32)
    out = Dropout(0.3, seed=0)(x, training=True)
    kept = int((out != 0).sum())
    assert stats.binomtest(kept, x.size, 0.7).pvalue > 1e-4
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.01


def test_seeded_layers_repeat_their_masks():
    x = np.ones((8, 16), np.float32)
    a, b, c = Dropout(0.5, seed=7), Dropout(0.5, seed=7), Dropout(0.5, seed=8)
    seq_a = [a(x, training=True) for _ in range(3)]
    seq_b = [b(x, training=True) for _ in range(3)]
    for u, v in zip(seq_a, seq_b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(seq_a[0], seq_a[1])
    assert not np.array_equal(seq_a[0], c(x, training=True))


def test_global_seed_makes_unseeded_layers_reproducible():
    x = np.ones((8, 16), np.float32)
    outs = []
    for _ in range(2):
        config.set_random_seed(42)
        outs.append(Dropout(0.5)(x, training=True))
    np.testing.assert_array_equal(*outs)


def test_masks_do_not_depend_on_thread_count():
    x = np.ones((512, 512), np.float32)  # large enough to run threaded
    old = config.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            config.set_num_threads(t)
            outs.append(Dropout(0.5, seed=1)(x, training=True))
    finally:
        config.set_num_threads(old)
    np.testing.assert_array_equal(*outs)


@pytest.mark.parametrize(
    "layer,shape,axes",
    [
        (SpatialDropout1D(0.5, seed=0), (6, 5, 8), (1,)),
        (SpatialDropout2D(0.5, seed=0), (6, 3, 4, 8), (1, 2)),
        (SpatialDropout2D(0.5, data_format="channels_first", seed=0), (6, 8, 3, 4), (2, 3)),
        (SpatialDropout3D(0.5, seed=0), (3, 2, 2, 2, 8), (1, 2, 3)),
        (Dropout(0.5, noise_shape=(None, 1, 8), seed=0), (6, 5, 8), (1,)),
    ],
)
def test_spatial_dropout_drops_whole_feature_maps(layer, shape, axes):
    out = layer(np.ones(shape, np.float32), training=True)
    dropped = out == 0
    # Along the spatial axes a channel is either all dropped or all kept.
    assert np.array_equal(dropped.all(axis=axes), dropped.any(axis=axes))
    assert 0 < dropped.mean() < 1
    np.testing.assert_allclose(out[~dropped], 2.0)


def test_gaussian_noise_and_dropout_statistics():
    x = np.full((500, 400), 3.0)
    noisy = GaussianNoise(0.5, seed=0, dtype="float64")(x, training=True)
    assert stats.kstest(((noisy - 3.0) / 0.5).ravel(), "norm").pvalue > 1e-4
    scaled = GaussianDropout(0.2, seed=0, dtype="float64")(x, training=True)
    assert stats.kstest(((scaled / 3.0 - 1.0) / np.sqrt(0.25)).ravel(), "norm").pvalue > 1e-4


def test_alpha_dropout_keeps_mean_and_variance_of_selu_outputs():
    x = np.random.default_rng(0).normal(size=(1000, 500))
    out = AlphaDropout(0.2, seed=0, dtype="float64")(x, training=True)
    assert abs(out.mean()) < 0.01 and abs(out.var() - 1.0) < 0.01
    alpha_p, rate = -1.6732632423543772 * 1.0507009873554805, 0.2
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    dropped = np.isclose(out, a * alpha_p - a * alpha_p * rate, rtol=0, atol=1e-12)
    assert stats.binomtest(int(dropped.sum()), x.size, 0.2).pvalue > 1e-4


def test_activity_regularization_layer():
    layer = ActivityRegularization(l1=0.1, l2=0.2)
    x = np.array([[1.0, -2.0]], np.float32)
    np.testing.assert_array_equal(layer(x, training=True), x)
    assert layer.activity_regularizer.penalty(x) == pytest.approx(0.1 * 3 + 0.2 * 5)


def test_zero_rate_is_the_identity_in_training():
    x = np.ones((3, 4), np.float32)
    for layer in (Dropout(0.0), GaussianDropout(0.0), AlphaDropout(0.0), GaussianNoise(0.0)):
        assert layer.call(x, training=True)[0] is x


def test_get_config_round_trip():
    for layer in (
        Dropout(0.3, noise_shape=(None, 1), seed=4),
        SpatialDropout1D(0.2, seed=1),
        SpatialDropout2D(0.2, data_format="channels_first"),
        SpatialDropout3D(0.1),
        GaussianNoise(0.1, seed=2),
        GaussianDropout(0.2),
        AlphaDropout(0.1, seed=5),
        ActivityRegularization(l1=0.01),
    ):
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg


def test_bad_arguments():
    for rate in (-0.1, 1.0, 2, "0.5", None, True):
        with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\)"):
            Dropout(rate)
    with pytest.raises(ValueError, match="rate"):
        GaussianDropout(1.0)
    with pytest.raises(ValueError, match="rate"):
        SpatialDropout2D(-1)
    with pytest.raises(ValueError, match="stddev"):
        GaussianNoise(-0.1)
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-1)
    with pytest.raises(TypeError, match="noise_shape"):
        Dropout(0.5, noise_shape=("a", 1))
    with pytest.raises(ValueError, match="does not broadcast"):
        Dropout(0.5, noise_shape=(None, 3))(np.ones((2, 4)), training=True)
    with pytest.raises(ValueError, match="one entry per input dimension"):
        Dropout(0.5, noise_shape=(None, 1, 1))(np.ones((2, 4)), training=True)
    with pytest.raises(ValueError, match="4 dimensions"):
        SpatialDropout2D(0.5)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="data_format"):
        SpatialDropout2D(0.5, data_format="NHWC")


def _mlp_with_dropout_and_batch_norm(seed):
    import ranvier as rv

    rv.config.set_random_seed(seed)
    model = rv.Sequential(
        [
            rv.layers.Input((6,)),
            rv.layers.Dense(16, activation="relu"),
            BatchNormalization(),
            Dropout(0.5, seed=seed),
            rv.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return model


def test_model_predict_is_deterministic_and_training_is_stochastic_but_seeded():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    a, b = _mlp_with_dropout_and_batch_norm(1), _mlp_with_dropout_and_batch_norm(1)
    for model in (a, b):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    np.testing.assert_array_equal(a.predict(x), a.predict(x))
    np.testing.assert_array_equal(a(x, training=False), a.predict(x))
    # Same seeds: same weights (moving statistics included) after training...
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    # ...and the same sequence of training-mode outputs, each call with a new mask.
    train_a = [a(x, training=True) for _ in range(2)]
    assert not np.array_equal(*train_a)
    np.testing.assert_array_equal(train_a, [b(x, training=True) for _ in range(2)])


def test_model_gradient_check_through_batch_norm(float64):
    import ranvier as rv

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
    model = rv.Sequential(
        [
            rv.layers.Input((4,)),
            rv.layers.Dense(5, activation="tanh"),
            BatchNormalization(gamma_regularizer=rv.regularizers.L2(0.1)),
            Dropout(0.0),
            rv.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    check_gradients(model, x, y)
