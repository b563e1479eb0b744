"""RepeatVector and Masking."""

import numpy as np
import pytest

from ranvier.api.layers.sequence import Masking, RepeatVector
from ranvier.testing import check_gradients


def test_repeat_vector(float64):
    x = np.random.default_rng(0).standard_normal((2, 3))
    layer = RepeatVector(4)
    y = layer(x)
    assert y.shape == (2, 4, 3)
    np.testing.assert_array_equal(y[:, 2], x)
    check_gradients(layer, x)
    assert layer.compute_output_shape((None, 3)) == (None, 4, 3)
    with pytest.raises(ValueError, match="positive integer"):
        RepeatVector(0)


def test_masking(float64):
    x = np.random.default_rng(1).standard_normal((2, 4, 3))
    x[0, 2:] = 0.0
    layer = Masking(0.0)
    np.testing.assert_array_equal(layer.compute_mask(x), [[1, 1, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(layer(x), x)
    x[1, 1] = 5.0
    np.testing.assert_array_equal(Masking(5.0)(x)[1, 1], 0)
    # The mask is piecewise constant (finite differences would flip it at masked steps): the
    # gradient passes through kept steps and is zero at masked ones.
    layer = Masking(5.0)
    y, cache = layer.call(x)
    dy = np.ones_like(x)
    expected = np.ones_like(x)
    expected[1, 1] = 0
    np.testing.assert_array_equal(layer.backward(dy, cache), expected)
