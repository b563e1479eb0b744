"""Dropout/noise kernels vs their NumPy twin (bit for bit), statistics vs scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from ranvier.core import _dropout as K
from ranvier.reference import dropout as R

DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 2, 7, 1001, 2049, 300_001]  # sizes not a multiple of 4 use part of the last hash; 300k runs threaded


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_dropout_forward_matches_reference_bitwise(dtype, n):
    x = np.random.default_rng(n).normal(size=n).astype(dtype)
    out_k, out_r = np.empty_like(x), np.empty_like(x)
    mask_k, mask_r = np.empty(n, np.uint8), np.empty(n, np.uint8)
    K.dropout_forward(x, 2**64 - 3, 0.3, out_k, mask_k, 2)
    R.dropout_forward(x, 2**64 - 3, 0.3, out_r, mask_r)
    np.testing.assert_array_equal(mask_k, mask_r)
    np.testing.assert_array_equal(out_k, out_r)
    np.testing.assert_array_equal(out_k, x * mask_k * dtype(1 / 0.7))


@pytest.mark.parametrize("n", SIZES)
def test_keep_mask_is_the_dropout_mask(n):
    mask, ref = np.empty(n, np.uint8), np.empty(n, np.uint8)
    K.keep_mask(11, 0.6, mask, 2)
    R.keep_mask(11, 0.6, ref)
    np.testing.assert_array_equal(mask, ref)
    drop_mask, x = np.empty(n, np.uint8), np.ones(n)
    K.dropout_forward(x, 11, 0.6, np.empty(n), drop_mask, 1)
    np.testing.assert_array_equal(mask, drop_mask)


def test_masks_do_not_depend_on_thread_count():
    x = np.ones(300_001, np.float32)
    results = []
    for t in (1, 2, 4):
        out, mask = np.empty_like(x), np.empty(x.size, np.uint8)
        K.dropout_forward(x, 5, 0.5, out, mask, t)
        noise = np.empty_like(x)
        K.normal_fill(5, 0.0, 1.0, noise, t)
        results.append((out, mask, noise))
    for out, mask, noise in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(mask, results[0][1])
        np.testing.assert_array_equal(noise, results[0][2])


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_keep_frequency_is_binomial(rate):
    n = 200_000
    mask = np.empty(n, np.uint8)
    K.keep_mask(123, rate, mask, 2)
    kept = int(mask.sum())
    if rate == 0.0:
        assert kept == n
    else:
        assert stats.binomtest(kept, n, 1 - rate).pvalue > 1e-4


def test_drop_rate_is_resolved_to_two_to_the_minus_16():
    # Element i keeps when its 16-bit uniform >= round(rate * 2**16): with uniforms that are
    # exactly the threshold and one below, a rate half a step off rounds to the same mask.
    n = 4000
    u = R._uniform16(3, n).astype(np.int64)
    mask = np.empty(n, np.uint8)
    for rate in (0.1, 0.25, 1 / 3):
        thr = int(rate * 65536 + 0.5)
        K.keep_mask(3, rate, mask, 1)
        np.testing.assert_array_equal(mask, u >= thr)
        K.keep_mask(3, (thr - 0.49) / 65536, mask, 1)
        np.testing.assert_array_equal(mask, u >= thr)


def test_masks_of_neighbouring_seeds_are_independent():
    n = 100_000
    a, b = np.empty(n, np.uint8), np.empty(n, np.uint8)
    K.keep_mask(0, 0.5, a, 1)
    K.keep_mask(1, 0.5, b, 1)
    assert not np.array_equal(a, b)
    # Agreement of two independent fair coins is Binomial(n, 1/2).
    assert stats.binomtest(int((a == b).sum()), n, 0.5).pvalue > 1e-4
    # Neighbouring elements of one mask are independent too.
    assert stats.binomtest(int((a[1:] == a[:-1]).sum()), n - 1, 0.5).pvalue > 1e-4


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_backward_uses_the_mask(dtype):
    rng = np.random.default_rng(0)
    x, dy = rng.normal(size=(2, 5001)).astype(dtype)
    out, mask = np.empty_like(x), np.empty(x.size, np.uint8)
    K.dropout_forward(x, 9, 0.25, out, mask, 2)
    dx, dx_ref = np.empty_like(dy), np.empty_like(dy)
    K.dropout_backward(dy, mask, 0.25, dx, 2)
    R.dropout_backward(dy, mask, 0.25, dx_ref)
    np.testing.assert_array_equal(dx, dx_ref)
    # The forward is linear in x with the mask fixed: out = J x, and dx = J^T dy = dy * out / x.
    np.testing.assert_allclose(dx, dy * out / x, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_fill_matches_reference_and_is_normal(dtype):
    n = 50_000
    out, ref = np.empty(n, dtype), np.empty(n, dtype)
    K.normal_fill(3, 1.5, 2.0, out, 2)
    R.normal_fill(3, 1.5, 2.0, ref)
    np.testing.assert_allclose(out, ref, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)
    assert stats.kstest((out.astype(np.float64) - 1.5) / 2.0, "norm").pvalue > 1e-4


def test_bad_arguments():
    x = np.ones(4)
    for rate in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="rate must be in"):
            K.dropout_forward(x, 0, rate, np.empty(4), np.empty(4, np.uint8), 1)
        with pytest.raises(ValueError, match="rate must be in"):
            R.dropout_forward(x, 0, rate, np.empty(4), np.empty(4, np.uint8))
    with pytest.raises(ValueError, match=r"dropout_forward: out must have shape \(4,\), got \(3,\)"):
        K.dropout_forward(x, 0, 0.5, np.empty(3), np.empty(4, np.uint8), 1)
    with pytest.raises(ValueError, match=r"dropout_backward: mask must have shape \(4,\), got \(3,\)"):
        K.dropout_backward(x, np.empty(3, np.uint8), 0.5, np.empty(4), 1)
    with pytest.raises(ValueError, match="stddev"):
        K.normal_fill(0, 0.0, -1.0, np.empty(4), 1)
    with pytest.raises((TypeError, ValueError)):
        K.dropout_forward(x, 0, 0.5, np.empty(4, np.float32), np.empty(4, np.uint8), 1)
