"""Merge kernels vs their NumPy twin (bit for bit), whatever the thread count."""

import numpy as np
import pytest

from ranvier.core import _merge as K
from ranvier.reference import merge as R

DTYPES = [np.float32, np.float64]
# (rows, cols): empty, one element, odd sizes, and one large enough to run threaded.
SHAPES = [(0, 5), (3, 0), (1, 1), (7, 13), (300, 1001)]
FOLDS = ["add", "average", "multiply"]
SELECTS = ["maximum", "minimum"]


def _inputs(shape, n, dtype, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(shape).astype(dtype) for _ in range(n)]
    if ties and xs[0].size:
        xs[-1].reshape(-1)[::3] = xs[0].reshape(-1)[::3]  # equal entries: the earliest input must win
    return xs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("op", FOLDS)
def test_folds_match_reference_bitwise(op, n, shape, dtype):
    xs = _inputs(shape, n, dtype, seed=n)
    ref = np.empty(shape, dtype)
    getattr(R, op)(xs, ref)
    for threads in (1, 2, 4):
        out = np.full(shape, np.nan, dtype)
        getattr(K, op)(xs, out, threads)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("op", SELECTS)
def test_selects_and_their_backward_match_reference(op, n, shape, dtype):
    xs = _inputs(shape, n, dtype, seed=n, ties=True)
    ref, ref_index = np.empty(shape, dtype), np.empty(shape, np.uint8)
    getattr(R, op)(xs, ref, ref_index)
    np.testing.assert_array_equal(ref, getattr(np, op).reduce(xs))
    dy = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    ref_dxs = [np.empty(shape, dtype) for _ in xs]
    R.select_backward(dy, ref_index, ref_dxs)
    for threads in (1, 2):
        out, index = np.empty(shape, dtype), np.full(shape, 7, np.uint8)
        getattr(K, op)(xs, out, index, threads)
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(index, ref_index)
        dxs = [np.full(shape, np.nan, dtype) for _ in xs]
        K.select_backward(dy, index, dxs, threads)
        for got, want in zip(dxs, ref_dxs):
            np.testing.assert_array_equal(got, want)
    if n > 1 and xs[0].size:
        # Ties go to the earliest input, and every output entry's gradient goes to exactly one input.
        assert not np.any(ref_index.reshape(-1)[::3] == n - 1)
        np.testing.assert_array_equal(sum(ref_dxs), dy)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_multiply_backward_matches_reference(n, shape, dtype):
    xs = _inputs(shape, n, dtype, seed=n)
    if xs[0].size:
        xs[0].reshape(-1)[0] = 0.0  # no division by the input: zeros are exact
    dy = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    ref = [np.empty(shape, dtype) for _ in xs]
    R.multiply_backward(dy, xs, ref)
    for threads in (1, 2):
        dxs = [np.full(shape, np.nan, dtype) for _ in xs]
        K.multiply_backward(dy, xs, dxs, threads)
        for got, want in zip(dxs, ref):
            np.testing.assert_array_equal(got, want)
    if n == 2 and xs[0].size:
        np.testing.assert_array_equal(ref[0], dy * xs[1])
        np.testing.assert_array_equal(ref[1], dy * xs[0])


def test_shape_and_count_errors():
    xs = _inputs((4, 5), 2, np.float32)
    out = np.empty((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"add: xs\[1\] must have shape \(4, 5\), got \(4, 3\)"):
        K.add([xs[0], np.zeros((4, 3), np.float32)], out, 1)
    with pytest.raises(ValueError, match="at least one array, got an empty list"):
        K.multiply([], out, 1)
    with pytest.raises(ValueError, match=r"maximum: index must have shape \(4, 5\), got \(4, 4\)"):
        K.maximum(xs, out, np.empty((4, 4), np.uint8), 1)
    with pytest.raises(ValueError, match="1 to 255 arrays, got 256"):
        K.minimum([xs[0]] * 256, out, np.empty((4, 5), np.uint8), 1)
    with pytest.raises(ValueError, match=r"select_backward: dxs\[0\] must have shape"):
        K.select_backward(out, np.zeros((4, 5), np.uint8), [np.empty((5, 4), np.float32)], 1)
    with pytest.raises(ValueError, match="one array per input"):
        K.multiply_backward(out, xs, [out], 1)
    with pytest.raises(ValueError, match="dtype mismatch"):
        K.add([xs[0].astype(np.float64)], out, 1)
    with pytest.raises(ValueError, match="read-only"):
        frozen = np.empty((4, 5), np.float32)
        frozen.flags.writeable = False
        K.select_backward(out, np.zeros((4, 5), np.uint8), [frozen], 1)
