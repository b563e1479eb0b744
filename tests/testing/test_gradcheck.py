import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_gradients, numerical_gradient, relative_error


class _WrongBackward(rv.layers.Dense):
    """Dense whose input gradient is off by 1%: the check must catch it."""

    def backward(self, dy, cache, need_input_grad=True):
        return 1.01 * super().backward(dy, cache, need_input_grad)


def test_check_catches_a_wrong_gradient(float64):
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert check_gradients(rv.layers.Dense(2), x).passed
    with pytest.raises(AssertionError, match="input_0"):
        check_gradients(_WrongBackward(2), x)
    result = check_gradients(_WrongBackward(2), x, raise_on_failure=False)
    assert not result.passed and result.errors["input_0"] > 1e-3


def test_check_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        check_gradients(rv.layers.Dense(2), np.ones((2, 3), np.float32))


def test_max_checks_subsamples(float64):
    layer = rv.layers.Dense(30, activation="tanh")
    result = check_gradients(layer, np.random.default_rng(1).standard_normal((3, 40)), max_checks=20)
    assert result.passed and set(result.errors) == {layer.kernel.name, layer.bias.name, "input_0"}


def test_numerical_gradient_matches_a_known_derivative_and_restores_the_array():
    a = np.array([[0.5, -1.0], [2.0, 3.0]])
    before = a.copy()
    num = numerical_gradient(lambda: float(np.sum(np.sin(a) * a)), a)
    np.testing.assert_allclose(num, np.cos(before) * before + np.sin(before), rtol=1e-8)
    np.testing.assert_array_equal(a, before)
    assert relative_error(num, np.cos(a) * a + np.sin(a)) < 1e-8
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(2), -np.ones(2)) == 1.0


class _NearlyUnused(rv.layers.Layer):
    """A traced layer whose ``tiny`` weight moves the output by 1e-17 per unit: its true gradient is ~1e-17."""

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], 3), "glorot_uniform", name="kernel")
        self.tiny = self.add_weight((3,), "ones", name="tiny")

    def call(self, x):
        return rv.ops.matmul(x, self.kernel) * 30.0 + self.tiny * 1e-17


def test_a_gradient_of_1e_17_passes_on_the_absolute_tolerance(float64):
    x = np.random.default_rng(2).standard_normal((8, 5))
    layer = _NearlyUnused()
    result = check_gradients(layer, x)  # the default atol=1e-8
    assert result.passed and result.abs_errors[layer.tiny.name] < 1e-8
    # The relative test alone fails: a difference of 1e-17 in rounding is a relative error over tol.
    strict = check_gradients(layer, x, atol=0.0, raise_on_failure=False)
    assert strict.failed == [layer.tiny.name] and strict.errors[layer.tiny.name] > 1e-6
    assert strict.abs_errors[layer.tiny.name] < 1e-15
    with pytest.raises(AssertionError, match=r"atol 0\) for \['.*tiny'\]"):
        check_gradients(layer, x, atol=0.0)


def test_the_absolute_tolerance_does_not_hide_a_wrong_gradient_of_order_1(float64):
    x = np.random.default_rng(0).standard_normal((4, 3))
    result = check_gradients(_WrongBackward(2), x, atol=1e-8, raise_on_failure=False)
    assert result.failed == ["input_0"] and result.abs_errors["input_0"] > 1e-3


class _DenseThenBatchNorm(rv.layers.Layer):
    """A traced layer whose ``call`` takes no ``training``: its sublayers inherit the flag (Keras 3)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense, self.norm = rv.layers.Dense(4), rv.layers.BatchNormalization()

    def call(self, x):
        return self.norm(self.dense(x))


@pytest.mark.parametrize("training", [True, False])
def test_finite_differences_run_nested_layers_in_the_checked_mode(training, float64):
    # Batch statistics (training) or moving ones (inference): the finite differences' forward
    # passes must use the mode the recorded one did, or the check fails a correct layer.
    x = np.random.default_rng(0).standard_normal((8, 3))
    assert check_gradients(_DenseThenBatchNorm(), x, training=training).passed
