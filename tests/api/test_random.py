"""keras.random: seeds as Keras treats them, distributions, and gradients through dropout and shuffle."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.variables import Variable


def test_an_int_seed_repeats_a_seed_generator_advances_and_none_follows_the_global_seed():
    r = rv.random
    assert np.array_equal(r.normal((3, 4), seed=7), r.normal((3, 4), seed=7))
    gen = r.SeedGenerator(1337)
    first, second = r.normal((3, 4), seed=gen), r.normal((3, 4), seed=gen)
    assert not np.array_equal(first, second)
    again = r.SeedGenerator(1337)
    assert np.array_equal(r.normal((3, 4), seed=again), first)
    rv.utils.set_random_seed(5)
    a = r.uniform((4,))
    rv.utils.set_random_seed(5)
    assert np.array_equal(r.uniform((4,)), a)


@pytest.mark.parametrize("dtype", [None, "float32", "float64"])
def test_float_draws_have_keras_dtypes_shapes_and_moments(dtype):
    r = rv.random
    n = (200, 500)
    expected = np.dtype(dtype or rv.config.floatx())
    z = r.normal(n, mean=2.0, stddev=3.0, dtype=dtype, seed=1)
    u = r.uniform(n, minval=-1.0, maxval=3.0, dtype=dtype, seed=2)
    t = r.truncated_normal(n, mean=1.0, stddev=0.5, dtype=dtype, seed=3)
    for a in (z, u, t):
        assert a.shape == n and a.dtype == expected
    assert abs(z.mean() - 2.0) < 0.05 and abs(z.std() - 3.0) < 0.05
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.03
    assert np.all(np.abs(t - 1.0) <= 1.0) and abs(t.mean() - 1.0) < 0.01  # within two stddevs
    g = r.gamma(n, alpha=2.0, seed=4)
    assert abs(g.mean() - 2.0) < 0.05
    b = r.beta(n, 2.0, 3.0, seed=5)
    assert abs(b.mean() - 0.4) < 0.01
    k = r.binomial(n, counts=10, probabilities=0.3, seed=6)
    assert abs(k.mean() - 3.0) < 0.03


def test_integer_and_categorical_draws():
    r = rv.random
    i = r.randint((10000,), 3, 7, seed=0)
    assert i.dtype == np.int32 and set(np.unique(i)) == {3, 4, 5, 6}
    probs = np.array([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]])
    draws = r.categorical(np.log(probs), 20000, seed=1)
    assert draws.shape == (2, 20000) and draws.dtype == np.int32
    freq = np.stack([np.bincount(row, minlength=3) / row.size for row in draws])
    np.testing.assert_allclose(freq, probs, atol=0.01)


def test_dropout_and_shuffle_carry_the_gradient():
    x = Variable("x", np.arange(1.0, 13.0).reshape(3, 4))
    with rv.GradientTape() as tape:
        y = rv.random.dropout(x, 0.5, seed=3)
        s = rv.random.shuffle(x, axis=1, seed=4)
        total = rv.ops.sum(y * 2.0) + rv.ops.sum(s * rv.ops.arange(4.0))
    g = tape.gradient(total, [x])[0]
    kept = np.asarray(y) != 0
    perm = np.argsort(np.asarray(s)[0])  # column j of s holds column perm^-1 ... of x
    expected = np.where(kept, 4.0, 0.0) + np.tile(np.arange(4.0)[perm], (3, 1))
    np.testing.assert_allclose(g, expected)
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(np.asarray(y)[kept], 2 * x.value[kept])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda r: r.normal((2,), seed=-1), "seed must be None, a non-negative int or a SeedGenerator, got -1"),
        (lambda r: r.normal((2, -1)), "shape must hold non-negative ints, got \\(2, -1\\)"),
        (lambda r: r.uniform((2,), dtype="int32"), "dtype must be a float type, got int32"),
        (lambda r: r.randint((2,), 5, 5), "maxval must exceed minval, got minval=5, maxval=5"),
        (lambda r: r.dropout(np.ones(3), 1.0), "rate must be in \\[0, 1\\), got 1.0"),
        (lambda r: r.categorical(np.ones(3), 2), "logits must be \\(batch, classes\\), got shape \\(3,\\)"),
        (lambda r: r.SeedGenerator("a"), "seed must be a non-negative integer or None, got 'a'"),
    ],
)
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call(rv.random)
