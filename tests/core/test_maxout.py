"""ranvier.core._maxout vs the NumPy reference."""

import numpy as np
import pytest

from ranvier.core import _maxout as core
from ranvier.reference import activations as ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxout_matches_reference(dtype):
    rng = np.random.default_rng(6)
    n, d, units, pieces = 13, 7, 5, 3
    x = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal((d, units * pieces)).astype(dtype)
    b = rng.standard_normal(units * pieces).astype(dtype)
    got = [np.empty((n, units * pieces), dtype), np.empty((n, units), dtype), np.empty((n, units), np.intp)]
    exp = [np.empty_like(a) for a in got]
    core.maxout_forward(x, w, b, *got, 2)
    ref.maxout_forward(x, w, b, *exp, 1)
    np.testing.assert_array_equal(got[2], exp[2])
    np.testing.assert_allclose(
        got[1],
        (x @ w + b).reshape(n, units, pieces).max(-1),
        rtol=1e-5 if dtype == np.float32 else 1e-12,
        atol=2e-6 if dtype == np.float32 else 1e-13,
    )
    dy = rng.standard_normal((n, units)).astype(dtype)
    grads = [np.empty((n, units * pieces), dtype), np.ones_like(w), np.ones_like(b), np.empty_like(x)]
    expected = [np.empty_like(grads[0]), np.ones_like(w), np.ones_like(b), np.empty_like(x)]
    core.maxout_backward(x, w, dy, got[2], 1.0, *grads, True, 2)
    ref.maxout_backward(x, w, dy, exp[2], 1.0, *expected, True, 1)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_maxout_shape_errors():
    x, w, b = np.zeros((2, 3)), np.zeros((3, 6)), np.zeros(6)
    scratch, out, arg = np.zeros((2, 6)), np.zeros((2, 4)), np.zeros((2, 4), np.intp)
    with pytest.raises(ValueError, match=r"kernel must have units \(4\) times pieces columns, got 6"):
        core.maxout_forward(x, w, b, scratch, out, arg, 1)
    with pytest.raises(ValueError, match=r"kernel must have shape \(3, 6\), got \(4, 6\)"):
        core.maxout_forward(x, np.zeros((4, 6)), b, scratch, np.zeros((2, 3)), np.zeros((2, 3), np.intp), 1)
