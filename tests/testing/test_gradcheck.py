import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_gradients


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
