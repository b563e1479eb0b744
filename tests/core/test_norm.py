"""Normalisation kernels vs their NumPy twin, thread-count independence and bad input."""

import numpy as np
import pytest

from ranvier.core import _norm as K
from ranvier.reference import norm as R

DTYPES = [np.float32, np.float64]
# Row counts around the 32-row reduction block, a threaded size, and rows wider than every
# vector width with a remainder.
SHAPES = [(1, 3), (5, 1), (31, 4), (32, 7), (33, 5), (130, 17), (4096, 24), (70, 131)]


def _tol(dtype):
    return {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-11}


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, shape).astype(dtype)
    dy = rng.normal(size=shape).astype(dtype)
    gamma, beta = rng.normal(size=(2, shape[1])).astype(dtype)
    return x, dy, gamma, beta


def _bn_train(mod, x, dy, gamma, beta, grad_beta=0.0, n_threads=2):
    m, c = x.shape
    out, mean, var = np.empty_like(x), np.empty(c, x.dtype), np.empty(c, x.dtype)
    moving_mean, moving_var = np.linspace(-1, 1, c).astype(x.dtype), np.ones(c, x.dtype)
    mod.batch_norm_train_forward(x, gamma, beta, 1e-3, 0.9, out, mean, var, moving_mean, moving_var, n_threads)
    dgamma, dbeta, dx = np.ones(c, x.dtype), np.ones(c, x.dtype), np.empty_like(x)
    mod.batch_norm_backward(x, dy, mean, var, gamma, 1e-3, dgamma, dbeta, dx, grad_beta, True, True, n_threads)
    return out, mean, var, moving_mean, moving_var, dgamma, dbeta, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_matches_reference(dtype, shape):
    x, dy, gamma, beta = _data(shape, dtype)
    for got, want in zip(_bn_train(K, x, dy, gamma, beta, 1.0), _bn_train(R, x, dy, gamma, beta, 1.0)):
        np.testing.assert_allclose(got, want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_statistics_are_numpy_moments(dtype):
    x, dy, gamma, beta = _data((200, 6), dtype)
    out, mean, var, moving_mean, moving_var, *_ = _bn_train(K, x, dy, gamma, beta)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=0), **_tol(dtype))
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=0), **_tol(dtype))
    np.testing.assert_allclose(
        moving_mean, 0.9 * np.linspace(-1, 1, 6) + 0.1 * x.astype(np.float64).mean(axis=0), **_tol(dtype)
    )
    np.testing.assert_allclose(moving_var, 0.9 + 0.1 * x.astype(np.float64).var(axis=0), **_tol(dtype))
    np.testing.assert_allclose(out.astype(np.float64).mean(axis=0), beta, atol=1e-4)
    np.testing.assert_allclose(
        out.astype(np.float64).std(axis=0), np.abs(gamma) * np.sqrt(var / (var + 1e-3)), rtol=1e-4
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_inference_matches_reference(dtype, shape):
    x, dy, gamma, beta = _data(shape, dtype)
    rng = np.random.default_rng(1)
    mean, var = rng.normal(size=shape[1]).astype(dtype), rng.uniform(0.5, 2, shape[1]).astype(dtype)
    results = []
    for mod in (K, R):
        out, dx = np.empty_like(x), np.empty_like(x)
        dgamma, dbeta = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
        mod.batch_norm_inference_forward(x, mean, var, gamma, beta, 1e-3, out, 2)
        mod.batch_norm_backward(x, dy, mean, var, gamma, 1e-3, dgamma, dbeta, dx, 0.0, False, True, 2)
        results.append((out, dgamma, dbeta, dx))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, **_tol(dtype))


def _ln(mod, x, dy, gamma, beta, n_threads=2):
    m, d = x.shape
    out, mean, var = np.empty_like(x), np.empty(m, x.dtype), np.empty(m, x.dtype)
    mod.layer_norm_forward(x, gamma, beta, 1e-3, out, mean, var, n_threads)
    dgamma, dbeta, dx = np.ones(d, x.dtype), np.ones(d, x.dtype), np.empty_like(x)
    mod.layer_norm_backward(x, dy, mean, var, gamma, 1e-3, dgamma, dbeta, dx, 1.0, True, n_threads)
    return out, mean, var, dgamma, dbeta, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_norm_matches_reference(dtype, shape):
    x, dy, gamma, beta = _data(shape, dtype)
    for got, want in zip(_ln(K, x, dy, gamma, beta), _ln(R, x, dy, gamma, beta)):
        np.testing.assert_allclose(got, want, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_thread_count(dtype):
    x, dy, gamma, beta = _data((20_000, 16), dtype)  # large enough to run threaded
    for run in (_bn_train, _ln):
        ref = run(K, x, dy, gamma, beta, n_threads=1)
        for t in (2, 3):
            for got, want in zip(run(K, x, dy, gamma, beta, n_threads=t), ref):
                np.testing.assert_array_equal(got, want)


def test_skipped_weight_gradients_and_dx():
    x, dy, gamma, beta = _data((10, 3), np.float64)
    out, mean, var = np.empty_like(x), np.empty(3), np.empty(3)
    K.batch_norm_train_forward(x, gamma, beta, 1e-3, 0.99, out, mean, var, np.empty(0), np.empty(0), 1)
    dx, dx_full = np.empty_like(x), np.empty_like(x)
    K.batch_norm_backward(x, dy, mean, var, gamma, 1e-3, np.empty(0), np.empty(0), dx, 0.0, True, True, 1)
    K.batch_norm_backward(x, dy, mean, var, gamma, 1e-3, np.empty(3), np.empty(3), dx_full, 0.0, True, True, 1)
    np.testing.assert_array_equal(dx, dx_full)
    dgamma, dbeta = np.empty(3), np.empty(3)
    K.batch_norm_backward(x, dy, mean, var, gamma, 1e-3, dgamma, dbeta, np.empty((0, 0)), 0.0, True, False, 1)
    np.testing.assert_allclose(dbeta, dy.sum(axis=0))


def test_bad_input():
    x = np.ones((4, 3))
    c = np.ones(3)
    with pytest.raises(ValueError, match=r"x must have shape \(>= 1, 3\), got \(0, 3\)"):
        K.batch_norm_train_forward(
            np.ones((0, 3)), c, c, 1e-3, 0.9, np.ones((0, 3)), np.empty(3), np.empty(3), c.copy(), c.copy(), 1
        )
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        K.batch_norm_train_forward(x, c, c, 0.0, 0.9, np.empty_like(x), np.empty(3), np.empty(3), c.copy(), c.copy(), 1)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        K.batch_norm_train_forward(
            x, np.ones(2), c, 1e-3, 0.9, np.empty_like(x), np.empty(3), np.empty(3), c.copy(), c.copy(), 1
        )
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\], got 1.5"):
        K.batch_norm_train_forward(
            x, c, c, 1e-3, 1.5, np.empty_like(x), np.empty(3), np.empty(3), c.copy(), c.copy(), 1
        )
    with pytest.raises(ValueError, match=r"moving_var must have shape \(3,\) or \(0,\), got \(2,\)"):
        K.batch_norm_train_forward(
            x, c, c, 1e-3, 0.9, np.empty_like(x), np.empty(3), np.empty(3), c.copy(), np.ones(2), 1
        )
    with pytest.raises(ValueError, match="both be given or both be empty"):
        K.batch_norm_train_forward(
            x, c, c, 1e-3, 0.9, np.empty_like(x), np.empty(3), np.empty(3), c.copy(), np.empty(0), 1
        )
    with pytest.raises(ValueError, match=r"out must have shape \(4, 3\)"):
        K.batch_norm_inference_forward(x, c, c, c, c, 1e-3, np.empty((4, 2)), 1)
    with pytest.raises(ValueError, match=r"dy must have shape"):
        K.batch_norm_backward(
            x, np.ones((3, 3)), c, c, c, 1e-3, c.copy(), c.copy(), np.empty_like(x), 0.0, True, True, 1
        )
    with pytest.raises(ValueError, match=r"x must have shape \(2, >= 1\), got \(2, 0\)"):
        K.layer_norm_forward(
            np.ones((2, 0)), np.ones(0), np.ones(0), 1e-3, np.ones((2, 0)), np.empty(2), np.empty(2), 1
        )
    with pytest.raises(ValueError, match=r"mean must have shape \(4,\)"):
        K.layer_norm_forward(x, c, c, 1e-3, np.empty_like(x), np.empty(3), np.empty(4), 1)


def test_float32_statistics_survive_a_large_mean():
    # The shifted one-pass moments must not cancel catastrophically when mean >> std.
    rng = np.random.default_rng(0)
    x64 = 1000.0 + rng.normal(size=(4096, 3))
    x = x64.astype(np.float32)
    out, mean, var = np.empty_like(x), np.empty(3, np.float32), np.empty(3, np.float32)
    K.batch_norm_train_forward(
        x,
        np.ones(3, np.float32),
        np.zeros(3, np.float32),
        1e-3,
        0.99,
        out,
        mean,
        var,
        np.empty(0, np.float32),
        np.empty(0, np.float32),
        2,
    )
    xr = x.astype(np.float64)
    np.testing.assert_allclose(mean, xr.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(var, xr.var(axis=0), rtol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_beta_zero_overwrites_without_reading(dtype):
    # The gradient buffers may hold anything (np.empty): grad_beta = 0 must not read them (0 * NaN).
    x, dy, gamma, beta = _data((130, 17), dtype)
    c = x.shape[1]
    mean, var = x.mean(axis=0), x.var(axis=0)
    for mod in (K, R):
        grads = np.full((2, c), np.nan, dtype)
        mod.batch_norm_backward(x, dy, mean, var, gamma, 1e-3, grads[0], grads[1], np.empty_like(x), 0.0, True, True, 2)
        assert np.isfinite(grads).all()
        grads = np.full((2, c), np.nan, dtype)
        mod.layer_norm_backward(
            x, dy, x.mean(axis=1), x.var(axis=1), gamma, 1e-3, grads[0], grads[1], np.empty_like(x), 0.0, True, 2
        )
        assert np.isfinite(grads).all()


def test_layer_norm_float32_survives_a_large_mean():
    # One-pass row moments must not cancel when mean >> std, nor the centring lose the output's precision.
    rng = np.random.default_rng(0)
    x = (4000.0 + rng.normal(size=(64, 128))).astype(np.float32)
    dy, gamma, beta = _data(x.shape, np.float32, seed=1)[1:]
    for got, want in zip(_ln(K, x, dy, gamma, beta), _ln(R, x, dy, gamma, beta)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
