"""Batch and layer normalisation kernels (forward and backward), on 2-D views.

Batch normalisation sees its input as ``(m, c)``: every row is one position
(sample, or sample x pixel after a convolution in NHWC), every column one
channel. Layer normalisation sees it as ``(m, d)``: every row is normalised
over its ``d`` features.

Sums over rows run in fixed blocks of ``_ROW_BLOCK`` rows whose partial sums
(double precision) are combined in block order, so the results are
bit-identical whatever the thread count.
"""
import numpy as np

from cython.parallel cimport prange
from libc.math cimport sqrt

from ranvier.core._blas cimport floating
from ranvier.core._openmp cimport effective_threads

cdef Py_ssize_t _ROW_BLOCK = 32
# Elements per thread worth a thread start.
cdef Py_ssize_t _GRAIN = 1 << 15


def _check_2d(name, arg, a, Py_ssize_t m, Py_ssize_t c):
    if a.shape[0] != m or a.shape[1] != c:
        raise ValueError(f"{name}: {arg} must have shape ({m}, {c}), got ({a.shape[0]}, {a.shape[1]})")


def _check_1d(name, arg, a, Py_ssize_t c, bint optional=False):
    if a.shape[0] != c and not (optional and a.shape[0] == 0):
        expected = f"({c},) or (0,)" if optional else f"({c},)"
        raise ValueError(f"{name}: {arg} must have shape {expected}, got ({a.shape[0]},)")


def _check_epsilon(name, double epsilon):
    if not epsilon > 0:
        raise ValueError(f"{name}: epsilon must be > 0, got {epsilon!r}")


cdef inline Py_ssize_t _n_blocks(Py_ssize_t m) noexcept nogil:
    return (m + _ROW_BLOCK - 1) // _ROW_BLOCK


cdef inline void _zero(double[:, ::1] part, Py_ssize_t b) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(part.shape[1]):
        part[b, j] = 0


cdef void _combine(const double[:, ::1] part, double* out, double scale) noexcept nogil:
    """out[j] = scale * sum_b part[b, j], summed in block order."""
    cdef Py_ssize_t b, j
    for j in range(part.shape[1]):
        out[j] = 0
    for b in range(part.shape[0]):
        for j in range(part.shape[1]):
            out[j] += part[b, j]
    for j in range(part.shape[1]):
        out[j] *= scale


def _partials(Py_ssize_t m, Py_ssize_t c):
    """Per-block partial sums, in double precision."""
    return np.empty((_n_blocks(m), c))


cdef void _channel_moments(const floating[:, ::1] x, double[::1] mean, double[::1] var,
                           double[:, ::1] part_s, double[:, ::1] part_q, int t) noexcept nogil:
    """Per-column mean and biased variance in one pass.

    Sums are of ``d = x - x[0]`` (shifted data): the first row is a sample of
    each column, so ``mean(d**2) - mean(d)**2`` does not suffer the
    cancellation the unshifted formula has when the mean is large.
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], b, i, j
    cdef double d
    for b in prange(part_s.shape[0], schedule="static", num_threads=t):
        _zero(part_s, b)
        _zero(part_q, b)
        for i in range(b * _ROW_BLOCK, min(m, (b + 1) * _ROW_BLOCK)):
            for j in range(c):
                d = x[i, j] - x[0, j]
                part_s[b, j] += d
                part_q[b, j] += d * d
    _combine(part_s, &mean[0], 1.0 / m)
    _combine(part_q, &var[0], 1.0 / m)
    for j in range(c):
        var[j] = max(var[j] - mean[j] * mean[j], 0.0)
        mean[j] += x[0, j]


cdef void _channel_affine(const floating[:, ::1] x, const floating[::1] a, const floating[::1] s,
                          floating[:, ::1] out, int t) noexcept nogil:
    """out = x * a + s, per column."""
    cdef Py_ssize_t i, j
    for i in prange(x.shape[0], schedule="static", num_threads=t):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] * a[j] + s[j]


def _affine_coefficients(mean, var, gamma, beta, double epsilon, dtype):
    """a = gamma / sqrt(var + eps), s = beta - mean * a, in the compute dtype."""
    a = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(var, dtype=np.float64) + epsilon)
    s = np.asarray(beta, dtype=np.float64) - np.asarray(mean, dtype=np.float64) * a
    return a.astype(dtype), s.astype(dtype)


def batch_norm_train_forward(const floating[:, ::1] x, const floating[::1] gamma,
                             const floating[::1] beta, double epsilon, floating[:, ::1] out,
                             floating[::1] mean, floating[::1] var, int n_threads):
    """Batch normalisation with the batch statistics (training mode).

    ``out = (x - mean) / sqrt(var + epsilon) * gamma + beta``, with the mean
    and the biased variance of every column over the rows.

    Parameters
    ----------
    x : ndarray of shape (m, c), m >= 1. IN.
    gamma, beta : ndarrays of shape (c,). IN.
    epsilon : float > 0. IN.
    out : ndarray of shape (m, c). OUT (may be ``x``).
    mean, var : ndarrays of shape (c,). OUT: batch mean and biased variance.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1]
    name = "batch_norm_train_forward"
    if m == 0:
        raise ValueError(f"{name}: the batch statistics need at least one row, got x of shape (0, {c})")
    _check_epsilon(name, epsilon)
    _check_2d(name, "out", out, m, c)
    for arg, a in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
        _check_1d(name, arg, a, c)
    cdef double[::1] mean_d = np.empty(c), var_d = np.empty(c)
    cdef double[:, ::1] part_s = _partials(m, c), part_q = _partials(m, c)
    cdef int t = effective_threads(n_threads, m * c, _GRAIN)
    with nogil:
        _channel_moments(x, mean_d, var_d, part_s, part_q, t)
    np.asarray(mean)[:] = mean_d
    np.asarray(var)[:] = var_d
    a, s = _affine_coefficients(mean_d, var_d, gamma, beta, epsilon, np.asarray(out).dtype)
    cdef const floating[::1] a_v = a, s_v = s
    with nogil:
        _channel_affine(x, a_v, s_v, out, t)


def batch_norm_inference_forward(const floating[:, ::1] x, const floating[::1] mean,
                                 const floating[::1] var, const floating[::1] gamma,
                                 const floating[::1] beta, double epsilon, floating[:, ::1] out,
                                 int n_threads):
    """Batch normalisation with given (moving) statistics: one fused multiply-add per element.

    Parameters
    ----------
    x : ndarray of shape (m, c). IN.
    mean, var : ndarrays of shape (c,). IN: moving mean and variance.
    gamma, beta : ndarrays of shape (c,). IN.
    epsilon : float > 0. IN.
    out : ndarray of shape (m, c). OUT (may be ``x``).
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1]
    name = "batch_norm_inference_forward"
    _check_epsilon(name, epsilon)
    _check_2d(name, "out", out, m, c)
    for arg, v in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
        _check_1d(name, arg, v, c)
    a, s = _affine_coefficients(mean, var, gamma, beta, epsilon, np.asarray(out).dtype)
    cdef const floating[::1] a_v = a, s_v = s
    cdef int t = effective_threads(n_threads, m * c, _GRAIN)
    with nogil:
        _channel_affine(x, a_v, s_v, out, t)


def batch_norm_backward(const floating[:, ::1] x, const floating[:, ::1] dy,
                        const floating[::1] mean, const floating[::1] var,
                        const floating[::1] gamma, double epsilon,
                        floating[::1] dgamma, floating[::1] dbeta, floating[:, ::1] dx,
                        double grad_beta, bint batch_stats, bint need_dx, int n_threads):
    """Gradients of batch normalisation given ``dy = dL/dout``.

    With ``xhat = (x - mean) / sqrt(var + eps)``: ``dgamma = sum(dy * xhat)``,
    ``dbeta = sum(dy)`` over rows. ``batch_stats=True`` (training mode) goes
    through the batch statistics:
    ``dx = gamma / sqrt(var + eps) * (dy - mean_rows(dy) - xhat * mean_rows(dy * xhat))``;
    otherwise the statistics are constants and ``dx = dy * gamma / sqrt(var + eps)``.

    Parameters
    ----------
    x, dy : ndarrays of shape (m, c). IN.
    mean, var : ndarrays of shape (c,). IN: the statistics the forward used.
    gamma : ndarray of shape (c,). IN (ones when the layer has no scale).
    epsilon : float > 0. IN.
    dgamma, dbeta : ndarrays of shape (c,), or (0,) to skip. IN/OUT:
        ``grad = grad_beta * grad + new``.
    dx : ndarray of shape (m, c), ignored unless ``need_dx``. OUT (may be ``dy``).
    grad_beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    batch_stats : bool. IN.
    need_dx : bool. IN.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], b, i, j
    name = "batch_norm_backward"
    _check_epsilon(name, epsilon)
    _check_2d(name, "dy", dy, m, c)
    if need_dx:
        _check_2d(name, "dx", dx, m, c)
    for arg, v in (("mean", mean), ("var", var), ("gamma", gamma)):
        _check_1d(name, arg, v, c)
    _check_1d(name, "dgamma", dgamma, c, optional=True)
    _check_1d(name, "dbeta", dbeta, c, optional=True)
    if batch_stats and m == 0:
        raise ValueError(f"{name}: the batch statistics need at least one row, got x of shape (0, {c})")
    cdef double[::1] invstd = 1.0 / np.sqrt(np.asarray(var, dtype=np.float64) + epsilon)
    cdef double[::1] sum_dy = np.zeros(c), sum_dyx = np.zeros(c)
    cdef double[:, ::1] part_dy = _partials(m, c), part_dyx = _partials(m, c)
    cdef int t = effective_threads(n_threads, m * c, _GRAIN)
    with nogil:
        for b in prange(part_dy.shape[0], schedule="static", num_threads=t):
            _zero(part_dy, b)
            _zero(part_dyx, b)
            for i in range(b * _ROW_BLOCK, min(m, (b + 1) * _ROW_BLOCK)):
                for j in range(c):
                    part_dy[b, j] += dy[i, j]
                    part_dyx[b, j] += dy[i, j] * (x[i, j] - mean[j])
        _combine(part_dy, &sum_dy[0], 1.0)
        _combine(part_dyx, &sum_dyx[0], 1.0)
        for j in range(c):
            sum_dyx[j] *= invstd[j]  # now sum(dy * xhat)
            if dgamma.shape[0] > 0:
                dgamma[j] = <floating> (grad_beta * dgamma[j] + sum_dyx[j])
            if dbeta.shape[0] > 0:
                dbeta[j] = <floating> (grad_beta * dbeta[j] + sum_dy[j])
    if not need_dx or m == 0:
        return
    dtype = np.asarray(dx).dtype
    scale_np = np.asarray(gamma, dtype=np.float64) * np.asarray(invstd)
    # Training: dx = scale * (dy - k1 - (x - mean) * k2), k1 = mean(dy), k2 = invstd * mean(dy * xhat).
    # Inference: dx = scale * dy (k1 = k2 = 0).
    k1_np = np.asarray(sum_dy) / m if batch_stats else np.zeros(c)
    k2_np = np.asarray(invstd) * np.asarray(sum_dyx) / m if batch_stats else np.zeros(c)
    cdef const floating[::1] scale = scale_np.astype(dtype), k1 = k1_np.astype(dtype)
    cdef const floating[::1] k2 = k2_np.astype(dtype)
    with nogil:
        for i in prange(m, schedule="static", num_threads=t):
            for j in range(c):
                dx[i, j] = scale[j] * (dy[i, j] - k1[j] - (x[i, j] - mean[j]) * k2[j])


def layer_norm_forward(const floating[:, ::1] x, const floating[::1] gamma,
                       const floating[::1] beta, double epsilon, floating[:, ::1] out,
                       floating[::1] mean, floating[::1] var, int n_threads):
    """Layer normalisation: every row normalised over its features.

    ``out[i] = (x[i] - mean[i]) / sqrt(var[i] + epsilon) * gamma + beta``.

    Parameters
    ----------
    x : ndarray of shape (m, d), d >= 1. IN.
    gamma, beta : ndarrays of shape (d,). IN.
    epsilon : float > 0. IN.
    out : ndarray of shape (m, d). OUT (may be ``x``).
    mean, var : ndarrays of shape (m,). OUT: row mean and biased variance.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], i, j
    name = "layer_norm_forward"
    if d == 0:
        raise ValueError(f"{name}: rows must have at least one feature, got x of shape ({m}, 0)")
    _check_epsilon(name, epsilon)
    _check_2d(name, "out", out, m, d)
    _check_1d(name, "gamma", gamma, d)
    _check_1d(name, "beta", beta, d)
    _check_1d(name, "mean", mean, m)
    _check_1d(name, "var", var, m)
    cdef double mu, v, inv
    cdef int t = effective_threads(n_threads, m * d, _GRAIN)
    with nogil:
        for i in prange(m, schedule="static", num_threads=t):
            mu = 0
            for j in range(d):
                mu = mu + x[i, j]
            mu = mu / d
            v = 0
            for j in range(d):
                v = v + (x[i, j] - mu) * (x[i, j] - mu)
            v = v / d
            mean[i] = <floating> mu
            var[i] = <floating> v
            inv = 1.0 / sqrt(v + epsilon)
            for j in range(d):
                out[i, j] = <floating> ((x[i, j] - mu) * inv) * gamma[j] + beta[j]


def layer_norm_backward(const floating[:, ::1] x, const floating[:, ::1] dy,
                        const floating[::1] mean, const floating[::1] var,
                        const floating[::1] gamma, double epsilon,
                        floating[::1] dgamma, floating[::1] dbeta, floating[:, ::1] dx,
                        double grad_beta, bint need_dx, int n_threads):
    """Gradients of layer normalisation given ``dy = dL/dout``.

    With ``xhat = (x - mean) / sqrt(var + eps)`` per row and ``g = dy * gamma``:
    ``dx = (g - mean_features(g) - xhat * mean_features(g * xhat)) / sqrt(var + eps)``,
    ``dgamma = sum_rows(dy * xhat)``, ``dbeta = sum_rows(dy)``.

    Parameters
    ----------
    x, dy : ndarrays of shape (m, d). IN.
    mean, var : ndarrays of shape (m,). IN: from ``layer_norm_forward``.
    gamma : ndarray of shape (d,). IN (ones when the layer has no scale).
    epsilon : float > 0. IN.
    dgamma, dbeta : ndarrays of shape (d,), or (0,) to skip. IN/OUT:
        ``grad = grad_beta * grad + new``.
    dx : ndarray of shape (m, d), ignored unless ``need_dx``. OUT (may be ``dy``).
    grad_beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    need_dx : bool. IN.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], b, i, j
    name = "layer_norm_backward"
    _check_epsilon(name, epsilon)
    _check_2d(name, "dy", dy, m, d)
    if need_dx:
        _check_2d(name, "dx", dx, m, d)
    _check_1d(name, "gamma", gamma, d)
    _check_1d(name, "mean", mean, m)
    _check_1d(name, "var", var, m)
    _check_1d(name, "dgamma", dgamma, d, optional=True)
    _check_1d(name, "dbeta", dbeta, d, optional=True)
    cdef double[:, ::1] part_dy = _partials(m, d), part_dyx = _partials(m, d)
    cdef double[::1] sum_dy = np.zeros(d), sum_dyx = np.zeros(d)
    cdef double mu, inv, g, xh, m1, m2
    cdef int t = effective_threads(n_threads, m * d, _GRAIN)
    with nogil:
        # Row blocks: each row's dx is independent; the weight-gradient sums are
        # partial per block and combined in block order.
        for b in prange(part_dy.shape[0], schedule="static", num_threads=t):
            _zero(part_dy, b)
            _zero(part_dyx, b)
            for i in range(b * _ROW_BLOCK, min(m, (b + 1) * _ROW_BLOCK)):
                mu = mean[i]
                inv = 1.0 / sqrt(var[i] + epsilon)
                m1 = 0
                m2 = 0
                for j in range(d):
                    xh = (x[i, j] - mu) * inv
                    g = dy[i, j] * gamma[j]
                    m1 = m1 + g
                    m2 = m2 + g * xh
                    part_dy[b, j] += dy[i, j]
                    part_dyx[b, j] += dy[i, j] * xh
                m1 = m1 / d
                m2 = m2 / d
                if need_dx:
                    for j in range(d):
                        xh = (x[i, j] - mu) * inv
                        dx[i, j] = <floating> (inv * (dy[i, j] * gamma[j] - m1 - xh * m2))
        _combine(part_dy, &sum_dy[0], 1.0)
        _combine(part_dyx, &sum_dyx[0], 1.0)
        for j in range(d):
            if dgamma.shape[0] > 0:
                dgamma[j] = <floating> (grad_beta * dgamma[j] + sum_dyx[j])
            if dbeta.shape[0] > 0:
                dbeta[j] = <floating> (grad_beta * dbeta[j] + sum_dy[j])
