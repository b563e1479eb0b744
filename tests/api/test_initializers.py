import numpy as np
import pytest

from ranvier.api import config
from ranvier.api import initializers as I


@pytest.mark.parametrize(
    "name, shape, var",
    [
        ("glorot_uniform", (300, 200), 2 / 500),
        ("glorot_normal", (300, 200), 2 / 500),
        ("he_uniform", (400, 100), 2 / 400),
        ("he_normal", (3, 3, 40, 30), 2 / 360),
        ("lecun_uniform", (400, 100), 1 / 400),
        ("lecun_normal", (400, 100), 1 / 400),
    ],
)
def test_variance_scaling_families_have_the_keras_variance(name, shape, var):
    w = I.get(name)(shape)
    assert w.dtype == np.float32 and w.shape == shape
    assert abs(w.var() / var - 1) < 0.05
    assert abs(w.mean()) < 0.01


def test_uniform_limits_and_truncation():
    w = I.GlorotUniform(seed=1)((100, 50), "float64")
    assert np.abs(w).max() <= np.sqrt(6 / 150)
    t = I.TruncatedNormal(0.0, 1.0, seed=2)((10000,))
    assert np.abs(t).max() <= 2.0


def test_constant_zeros_ones_identity():
    assert np.all(I.get("zeros")((2, 3)) == 0) and np.all(I.get("ones")((4,)) == 1)
    assert np.all(I.Constant(2.5)((3,)) == 2.5)
    np.testing.assert_array_equal(I.Identity(2.0)((3, 3)), 2 * np.eye(3))


@pytest.mark.parametrize("shape", [(64, 256), (256, 64), (3, 4, 5)])
def test_orthogonal(shape):
    w = I.Orthogonal(seed=0)(shape, "float64").reshape(-1, shape[-1])
    small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(small, np.eye(len(small)), atol=1e-10)


def test_seeded_initializers_are_reproducible_and_global_seed_works():
    assert np.array_equal(I.HeNormal(seed=3)((5, 5)), I.HeNormal(seed=3)((5, 5)))
    config.set_random_seed(7)
    a = I.get("glorot_uniform")((4, 4))
    config.set_random_seed(7)
    assert np.array_equal(a, I.get("glorot_uniform")((4, 4)))


def test_serialization_round_trip():
    for init in [
        I.RandomNormal(0.5, 2.0, seed=4),
        I.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
        I.HeUniform(seed=9),
        I.Orthogonal(0.5, seed=2),
    ]:
        again = I.deserialize(I.serialize(init))
        assert type(again) is type(init) and again.get_config() == init.get_config()
        assert np.array_equal(again((6, 4)), init((6, 4)))


def test_bad_identifiers():
    with pytest.raises(ValueError, match="Unknown initializer: 'glorot'"):
        I.get("glorot")
    with pytest.raises(TypeError):
        I.get(3)
    with pytest.raises(ValueError, match="mode"):
        I.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="at least 2"):
        I.Orthogonal()((5,))
