import numpy as np
import pytest

from ranvier.core import _blas


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (3, 5, 4), (17, 9, 33), (64, 1, 7), (1, 13, 6), (1, 1, 9)])
def test_gemm_matches_matmul(dtype, tol, trans_a, trans_b, m, n, k):
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    expected = 1.5 * (a.T if trans_a else a) @ (b.T if trans_b else b) - 0.5 * c
    _blas.gemm_py(trans_a, trans_b, 1.5, a, b, -0.5, c)
    np.testing.assert_allclose(c, expected, rtol=tol, atol=tol * k)


def test_gemm_zero_inner_dimension_scales_c():
    a, b = np.empty((3, 0)), np.empty((0, 2))
    c = np.ones((3, 2))
    _blas.gemm_py(False, False, 1.0, a, b, 0.25, c)
    np.testing.assert_array_equal(c, 0.25)


def test_gemm_rejects_mismatched_shapes():
    a, b, c = np.ones((3, 4)), np.ones((5, 2)), np.ones((3, 2))
    with pytest.raises(ValueError, match=r"gemm: b must have shape \(4, 2\), got \(5, 2\)"):
        _blas.gemm_py(False, False, 1.0, a, b, 0.0, c)
    with pytest.raises(ValueError, match="c must have shape"):
        _blas.gemm_py(False, False, 1.0, np.ones((3, 5)), b, 0.0, np.ones((2, 2)))


def test_gemm_rejects_mixed_dtypes():
    with pytest.raises((ValueError, TypeError)):
        _blas.gemm_py(False, False, 1.0, np.ones((2, 2), np.float32), np.ones((2, 2)), 0.0, np.ones((2, 2)))


@pytest.mark.parametrize(
    "trans_a, trans_b, m, k, n",
    [
        (False, False, 256, 784, 512),
        (True, False, 784, 128, 512),
        (False, True, 200, 512, 300),
        (False, False, 64, 128, 512),
    ],
)
def test_deterministic_split_is_bit_identical_to_one_call(trans_a, trans_b, m, k, n):
    from ranvier.api._threading import _blas_libraries

    rng = np.random.default_rng(m + n)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    whole, split = np.zeros((m, n), np.float32), np.zeros((m, n), np.float32)
    with _blas_libraries().limit(limits=1):
        try:
            _blas.set_gemm_threads(1)
            _blas.gemm_py(trans_a, trans_b, 1.0, a, b, 0.0, whole)
            _blas.set_gemm_threads(2, True)
            _blas.gemm_py(trans_a, trans_b, 1.0, a, b, 0.0, split)
        finally:
            _blas.set_gemm_threads(1)
    assert np.array_equal(whole, split)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("m, n, k", [(24, 40, 4099), (64, 16, 1024), (3, 5, 60000)])
def test_split_sums_match_matmul_and_repeat_exactly(dtype, tol, trans_a, trans_b, threads, m, n, k):
    """Products with k >= 4 * max(m, n) split their sums over the threads (weight gradients)."""
    from ranvier.api._threading import _blas_libraries

    rng = np.random.default_rng(m * n + k)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    expected = 1.5 * (a.T if trans_a else a) @ (b.T if trans_b else b) - 0.5 * c0
    results = []
    with _blas_libraries().limit(limits=1):
        try:
            _blas.set_gemm_threads(threads)
            for _ in range(2):
                c = c0.copy()
                _blas.gemm_py(trans_a, trans_b, 1.5, a, b, -0.5, c)
                results.append(c)
        finally:
            _blas.set_gemm_threads(1)
    np.testing.assert_allclose(results[0], expected, rtol=tol, atol=tol * np.sqrt(k) * 4)
    assert np.array_equal(results[0], results[1])
