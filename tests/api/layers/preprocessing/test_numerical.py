"""Rescaling, Normalization and Discretization against NumPy."""

import numpy as np
import pytest

import ranvier as rv

L = rv.layers


def test_rescaling_scales_and_offsets():
    x = np.random.default_rng(0).uniform(0, 255, (3, 4)).astype("float32")
    np.testing.assert_allclose(L.Rescaling(1 / 255, offset=-0.5)(x), x / 255 - 0.5, atol=1e-6)


def test_rescaling_rejects_a_non_number():
    with pytest.raises(ValueError, match="scale must be a number, got 'a'"):
        L.Rescaling("a")


@pytest.mark.parametrize("axis", [-1, (1, 2), None, 1])
def test_normalization_adapt_matches_numpy_mean_and_population_variance(axis):
    x = np.random.default_rng(1).normal(3.0, 2.0, (50, 4, 3))
    layer = L.Normalization(axis=axis, dtype="float64")
    layer.adapt(x, batch_size=7)  # merged over 8 uneven batches
    keep = () if axis is None else tuple(a % 3 for a in np.atleast_1d(axis))
    reduce = tuple(d for d in range(3) if d not in keep)
    np.testing.assert_allclose(layer.adapt_mean.value, x.mean(axis=reduce), rtol=1e-12)
    np.testing.assert_allclose(layer.adapt_variance.value, x.var(axis=reduce), rtol=1e-12)
    assert layer.count.value == np.prod([x.shape[d] for d in reduce])
    mean, std = x.mean(axis=reduce, keepdims=True), x.std(axis=reduce, keepdims=True)
    np.testing.assert_allclose(layer(x), (x - mean) / std, rtol=1e-10, atol=1e-12)


def test_normalization_invert_undoes_it_and_weights_are_keras_named():
    x = np.random.default_rng(2).normal(5, 3, (20, 3))
    norm = L.Normalization(dtype="float64")
    norm.adapt(x)
    assert [w.name.split("/")[-1] for w in norm.weights] == ["mean", "variance", "count"]
    assert not norm.trainable_weights
    inv = L.Normalization(mean=x.mean(0), variance=x.var(0), invert=True, dtype="float64")
    np.testing.assert_allclose(inv(norm(x)), x, rtol=1e-12)


def test_normalization_floors_the_scale_at_epsilon():
    out = L.Normalization(mean=1.0, variance=0.0, dtype="float64")(np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(out, [[0.0, 1.0 / rv.config.epsilon()]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mean": 1.0}, "give both mean and variance or neither"),
        ({"mean": 0.0, "variance": -1.0}, "variance must be finite and >= 0"),
        ({"axis": "x"}, "axis must be an integer"),
    ],
)
def test_normalization_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.Normalization(**kwargs)


@pytest.mark.parametrize("n, num_bins", [(20, 4), (37, 5), (90, 3)])
def test_discretization_adapt_small_data_is_numpy_quantile(n, num_bins):
    # Fewer values than 1 / epsilon: Keras' summary keeps them all, and its boundaries are
    # the interpolated inverted-CDF quantiles.
    x = np.random.default_rng(n).standard_normal(n)
    layer = L.Discretization(num_bins=num_bins, epsilon=0.001)
    layer.adapt(x)
    expected = np.quantile(x, np.arange(1, num_bins) / num_bins, method="interpolated_inverted_cdf")
    np.testing.assert_allclose(layer.bin_boundaries, expected, rtol=1e-12)


@pytest.mark.parametrize("batch_size, tolerance", [(None, 0.01), (3000, 0.02)])
def test_discretization_adapt_large_data_is_within_epsilon_of_the_quantiles(batch_size, tolerance):
    # Keras' summary is approximate in rank: within epsilon for one batch, drifting with each
    # merge of a further batch (its algorithm, kept).
    x = np.random.default_rng(3).uniform(0, 1, 20000)
    layer = L.Discretization(num_bins=4, epsilon=0.01)
    layer.adapt(x, batch_size=batch_size)
    ranks = [np.mean(x <= b) for b in layer.bin_boundaries]
    np.testing.assert_allclose(ranks, [0.25, 0.5, 0.75], atol=tolerance)


def test_discretization_buckets_like_digitize_and_encodes():
    bins = [-1.0, 0.0, 2.5]
    x = np.array([[-3.0, -1.0, 0.5], [2.5, 9.0, 0.0]])
    ids = np.digitize(x, bins)
    np.testing.assert_array_equal(L.Discretization(bins)(x), ids)
    np.testing.assert_array_equal(L.Discretization(bins, output_mode="one_hot")(x), np.eye(4)[ids])
    counts = np.stack([np.bincount(r, minlength=4) for r in ids])
    np.testing.assert_array_equal(L.Discretization(bins, output_mode="count")(x), counts)
    np.testing.assert_array_equal(L.Discretization(bins, output_mode="multi_hot")(x), counts > 0)


def test_discretization_adapted_boundaries_survive_from_config():
    layer = L.Discretization(num_bins=3)
    layer.adapt(np.arange(30.0))
    clone = L.Discretization.from_config(layer.get_config())
    assert clone.bin_boundaries == layer.bin_boundaries and clone.num_bins == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of bin_boundaries and num_bins"),
        ({"bin_boundaries": [1.0, 0.0]}, "must be finite and sorted"),
        ({"num_bins": 3, "output_mode": "tf_idf"}, "output_mode must be one of"),
    ],
)
def test_discretization_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.Discretization(**kwargs)
