"""Constraints: Keras formulas, in-place projection, axis handling, use in training."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import constraints

EPS = 1e-7  # Keras' backend epsilon in the denominators


def _col_norms(w, axis=0):
    return np.sqrt(np.sum(w**2, axis=axis, keepdims=True))


def test_max_norm_rescales_only_long_columns():
    w = np.array([[3.0, 0.3], [4.0, 0.4]])  # column norms 5 and 0.5
    out = constraints.MaxNorm(2.0)(w)
    assert out is w
    np.testing.assert_allclose(_col_norms(w)[0], [2.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(w[:, 1], [0.3, 0.4], rtol=1e-6)


def test_max_norm_on_conv_kernel_axes():
    w = np.random.default_rng(0).normal(size=(3, 3, 4, 5)) * 3
    constraints.MaxNorm(1.5, axis=[0, 1, 2])(w)
    assert np.all(_col_norms(w, (0, 1, 2)) <= 1.5 + 1e-6)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unit_norm(axis):
    w = np.random.default_rng(1).normal(size=(4, 6))
    constraints.UnitNorm(axis=axis)(w)
    np.testing.assert_allclose(_col_norms(w, axis), 1.0, rtol=1e-6)


def test_min_max_norm_formula():
    w = np.random.default_rng(2).normal(size=(5, 4)) * np.array([0.01, 0.2, 1.0, 10.0])
    norms = _col_norms(w)
    rate, lo, hi = 0.5, 0.5, 2.0
    desired = rate * np.clip(norms, lo, hi) + (1 - rate) * norms
    expected = w * desired / (EPS + norms)
    constraints.MinMaxNorm(lo, hi, rate)(w)
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_non_neg_and_float32_in_place():
    w = np.array([[-1.0, 2.0]], np.float32)
    constraints.NonNeg()(w)
    np.testing.assert_array_equal(w, [[0.0, 2.0]])
    w = np.full((3, 2), 4.0, np.float32)
    constraints.MaxNorm(1.0)(w)
    assert w.dtype == np.float32
    np.testing.assert_allclose(_col_norms(w), 1.0, rtol=1e-6)


def test_defaults_names_and_round_trip():
    assert constraints.MaxNorm().get_config() == {"max_value": 2.0, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    for name, cls in [
        ("max_norm", constraints.MaxNorm),
        ("unit_norm", constraints.UnitNorm),
        ("min_max_norm", constraints.MinMaxNorm),
        ("non_neg", constraints.NonNeg),
        ("MaxNorm", constraints.MaxNorm),
    ]:
        assert isinstance(constraints.get(name), cls)
    for c in (
        constraints.MaxNorm(3, axis=[0, 1]),
        constraints.MinMaxNorm(0.1, 0.9, 0.5, axis=1),
        constraints.UnitNorm(axis=-1),
        constraints.NonNeg(),
    ):
        clone = constraints.deserialize(constraints.serialize(c))
        assert type(clone) is type(c) and clone.get_config() == c.get_config()


def test_constraint_holds_after_training_steps():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype(np.float32) * 10, rng.normal(size=(32, 3)).astype(np.float32) * 10
    model = rv.Sequential(
        [
            rv.layers.Input((4,)),
            rv.layers.Dense(3, kernel_constraint=constraints.MaxNorm(0.5), bias_constraint=constraints.NonNeg()),
        ]
    )
    model.compile(optimizer=rv.optimizers.SGD(0.5), loss="mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    assert np.all(_col_norms(model.layers[-1].kernel.value) <= 0.5 + 1e-6)
    assert np.all(model.layers[-1].bias.value >= 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_value must be a finite number >= 0"):
        constraints.MaxNorm(-1)
    with pytest.raises(ValueError, match="max_value must be a finite number >= 0.5"):
        constraints.MinMaxNorm(min_value=0.5, max_value=0.1)
    with pytest.raises(ValueError, match="rate must be in"):
        constraints.MinMaxNorm(rate=2.0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        constraints.UnitNorm(axis="rows")
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        constraints.UnitNorm(axis=2)(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("positive")
