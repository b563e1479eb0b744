"""Batch and layer normalisation kernels (forward and backward), on 2-D views.

Batch normalisation sees its input as ``(m, c)``: every row is one position
(sample, or sample x pixel after a convolution in NHWC), every column one
channel. Layer normalisation sees it as ``(m, d)``: every row is normalised
over its ``d`` features.

Sums over rows run in fixed blocks of ``_ROW_BLOCK`` rows, summed in the
compute dtype (vectorised; 32 terms); the block sums are combined in block
order in double precision, so the results are bit-identical whatever the
thread count. A layer-normalisation row is one block of work's unit: its
statistics and its output never depend on other rows.
"""
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc

from ranvier.core._checks cimport ANY, check_optional, check_shape, value_error
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

cdef Py_ssize_t _ROW_BLOCK = 32
# Elements per thread worth a thread start.
cdef Py_ssize_t _GRAIN = 1 << 15


cdef inline Py_ssize_t _n_blocks(Py_ssize_t m) noexcept nogil:
    return (m + _ROW_BLOCK - 1) // _ROW_BLOCK


cdef void* _workspace(size_t n_bytes) except NULL:
    """Scratch memory (freed by the caller): a malloc is cheaper than an ndarray per temporary."""
    cdef void* p = malloc(n_bytes if n_bytes else 1)
    if p == NULL:
        raise MemoryError(f"could not allocate {n_bytes} bytes of scratch memory")
    return p


cdef void _combine(const floating* part, Py_ssize_t n_blocks, Py_ssize_t c, double* out,
                   double scale) noexcept nogil:
    """out[j] = scale * sum_b part[b * c + j], summed in block order in double precision."""
    cdef Py_ssize_t b, j
    for j in range(c):
        out[j] = 0
    for b in range(n_blocks):
        for j in range(c):
            out[j] += part[b * c + j]
    for j in range(c):
        out[j] *= scale


# The row-block loops of batch normalisation, in C so that they can be built per vector
# width (include/rv_batchnorm.h says why and what they assume).
cdef extern from "rv_batchnorm.h":
    void rv_bn_sums_f32(const float* x, const float* dy, const float* centre, float* s1, float* s2,
                        Py_ssize_t rows, Py_ssize_t c) noexcept nogil
    void rv_bn_sums_f64(const double* x, const double* dy, const double* centre, double* s1, double* s2,
                        Py_ssize_t rows, Py_ssize_t c) noexcept nogil
    void rv_bn_affine_f32(const float* x, const float* a, const float* s, float* out,
                          Py_ssize_t rows, Py_ssize_t c) noexcept nogil
    void rv_bn_affine_f64(const double* x, const double* a, const double* s, double* out,
                          Py_ssize_t rows, Py_ssize_t c) noexcept nogil
    void rv_bn_dx_f32(const float* x, const float* dy, const float* mean, const float* p, const float* q,
                      const float* r, float* dx, Py_ssize_t rows, Py_ssize_t c) noexcept nogil
    void rv_bn_dx_f64(const double* x, const double* dy, const double* mean, const double* p,
                      const double* q, const double* r, double* dx, Py_ssize_t rows, Py_ssize_t c) noexcept nogil


# The row loops of layer normalisation (include/rv_layernorm.h).
cdef extern from "rv_layernorm.h":
    void rv_ln_forward_f32(const float* x, const float* gamma, const float* beta, double epsilon, float* out,
                           float* mean, float* var, Py_ssize_t rows, Py_ssize_t d) noexcept nogil
    void rv_ln_forward_f64(const double* x, const double* gamma, const double* beta, double epsilon,
                           double* out, double* mean, double* var, Py_ssize_t rows, Py_ssize_t d) noexcept nogil
    void rv_ln_backward_f32(const float* x, const float* dy, const float* mean, const float* var,
                            const float* gamma, double epsilon, float* dx, float* pdy, float* pdyx,
                            Py_ssize_t rows, Py_ssize_t d) noexcept nogil
    void rv_ln_backward_f64(const double* x, const double* dy, const double* mean, const double* var,
                            const double* gamma, double epsilon, double* dx, double* pdy, double* pdyx,
                            Py_ssize_t rows, Py_ssize_t d) noexcept nogil


cdef inline Py_ssize_t _block_rows(Py_ssize_t b, Py_ssize_t m) noexcept nogil:
    return min(m, (b + 1) * _ROW_BLOCK) - b * _ROW_BLOCK


cdef void _column_sums(const floating* x, const floating* dy, Py_ssize_t m, Py_ssize_t c,
                       const floating* centre, floating* part, double* s1, double* s2, double scale,
                       int t) noexcept nogil:
    """Column sums over the ``m`` rows of (m, c) arrays, scaled by ``scale``: with ``dy`` NULL,
    ``s1 = sum(x - centre)`` and ``s2 = sum((x - centre)**2)``; otherwise ``s1 = sum(dy)`` and
    ``s2 = sum(dy * (x - centre))``. Per-block partials (``part``: 2 * n_blocks * c) are
    combined in block order."""
    cdef Py_ssize_t b, nb = _n_blocks(m), off
    for b in prange(nb, schedule="static", num_threads=t):
        off = b * _ROW_BLOCK * c
        if floating is float:
            rv_bn_sums_f32(x + off, dy + off if dy != NULL else NULL, centre, part + b * c,
                           part + (nb + b) * c, _block_rows(b, m), c)
        else:
            rv_bn_sums_f64(x + off, dy + off if dy != NULL else NULL, centre, part + b * c,
                           part + (nb + b) * c, _block_rows(b, m), c)
    _combine(part, nb, c, s1, scale)
    _combine(part + nb * c, nb, c, s2, scale)


cdef void _channel_affine(const floating* x, Py_ssize_t m, Py_ssize_t c, const floating* a,
                          const floating* s, floating* out, int t) noexcept nogil:
    """out = x * a + s, per column."""
    cdef Py_ssize_t b, off
    for b in prange(_n_blocks(m), schedule="static", num_threads=t):
        off = b * _ROW_BLOCK * c
        if floating is float:
            rv_bn_affine_f32(x + off, a, s, out + off, _block_rows(b, m), c)
        else:
            rv_bn_affine_f64(x + off, a, s, out + off, _block_rows(b, m), c)


cdef void _channel_dx(const floating* x, const floating* dy, const floating* mean, const floating* coef,
                      floating* dx, Py_ssize_t m, Py_ssize_t c, int t) noexcept nogil:
    """dx = p * dy + q * (x - mean) + r per column, with (p, q, r) = coef[:c], coef[c:2c], coef[2c:]."""
    cdef Py_ssize_t b, off
    for b in prange(_n_blocks(m), schedule="static", num_threads=t):
        off = b * _ROW_BLOCK * c
        if floating is float:
            rv_bn_dx_f32(x + off, dy + off, mean, coef, coef + c, coef + 2 * c, dx + off, _block_rows(b, m), c)
        else:
            rv_bn_dx_f64(x + off, dy + off, mean, coef, coef + c, coef + 2 * c, dx + off, _block_rows(b, m), c)


cdef void _affine_coefficients(const double* mean, const double* var, const floating* gamma,
                               const floating* beta, double epsilon, Py_ssize_t c,
                               floating* a, floating* s) noexcept nogil:
    """a = gamma / sqrt(var + eps), s = beta - mean * a (so out = x * a + s)."""
    cdef Py_ssize_t j
    cdef double g
    for j in range(c):
        g = gamma[j] / sqrt(var[j] + epsilon)
        a[j] = <floating> g
        s[j] = <floating> (beta[j] - mean[j] * g)


def batch_norm_train_forward(const floating[:, ::1] x, const floating[::1] gamma,
                             const floating[::1] beta, double epsilon, double momentum,
                             floating[:, ::1] out, floating[::1] mean, floating[::1] var,
                             floating[::1] moving_mean, floating[::1] moving_var, int n_threads):
    """Batch normalisation with the batch statistics (training mode), and the moving-average update.

    ``out = (x - mean) / sqrt(var + epsilon) * gamma + beta``, with the mean
    and the biased variance of every column over the rows; then
    ``moving = momentum * moving + (1 - momentum) * batch`` for both
    statistics (computed in double). Two passes over ``x``: the statistics
    (fixed row blocks, sums of ``d = x - x[0]`` held in registers: the
    first row is a sample of each column, so ``mean(d**2) - mean(d)**2``
    does not suffer the cancellation of the unshifted formula when the mean
    is large), then one multiply-add per element.

    Parameters
    ----------
    x : ndarray of shape (m, c), m >= 1. IN.
    gamma, beta : ndarrays of shape (c,). IN.
    epsilon : float > 0. IN.
    momentum : float in [0, 1]. IN.
    out : ndarray of shape (m, c). OUT (may be ``x``).
    mean, var : ndarrays of shape (c,). OUT: batch mean and biased variance.
    moving_mean, moving_var : ndarrays of shape (c,), or (0,) to skip the update. IN/OUT.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], j
    cdef str name = "batch_norm_train_forward"
    # The batch statistics need at least one row.
    check_shape(name, "x", x.shape, 2, ANY, c)
    if not epsilon > 0:
        raise value_error(name, "epsilon", "be > 0", epsilon)
    if not 0.0 <= momentum <= 1.0:
        raise value_error(name, "momentum", "be in [0, 1]", momentum)
    check_shape(name, "out", out.shape, 2, m, c)
    check_shape(name, "gamma", gamma.shape, 1, c)
    check_shape(name, "beta", beta.shape, 1, c)
    check_shape(name, "mean", mean.shape, 1, c)
    check_shape(name, "var", var.shape, 1, c)
    check_optional(name, "moving_mean", True, moving_mean.shape, 1, c)
    check_optional(name, "moving_var", True, moving_var.shape, 1, c)
    if (moving_mean.shape[0] == 0) != (moving_var.shape[0] == 0):
        raise value_error(name, "moving_mean and moving_var", "both be given or both be empty",
                          f"shapes ({moving_mean.shape[0]},) and ({moving_var.shape[0]},)")
    cdef Py_ssize_t nb = _n_blocks(m)
    # Mean and variance in double (2 * c), partial sums (2 * nb * c), affine coefficients (2 * c).
    cdef double* mu = <double*> _workspace(2 * c * sizeof(double) + (2 * nb + 2) * c * sizeof(floating))
    cdef double* v = mu + c
    cdef floating* work = <floating*> (mu + 2 * c)
    cdef int t = effective_threads(n_threads, m * c, _GRAIN)
    try:
        with nogil:
            _column_sums(&x[0, 0], NULL, m, c, &x[0, 0], work, mu, v, 1.0 / m, t)
            for j in range(c):
                v[j] = max(v[j] - mu[j] * mu[j], 0.0)
                mu[j] += x[0, j]
                mean[j] = <floating> mu[j]
                var[j] = <floating> v[j]
            if moving_mean.shape[0] > 0:
                for j in range(c):
                    moving_mean[j] = <floating> (momentum * moving_mean[j] + (1.0 - momentum) * mu[j])
                    moving_var[j] = <floating> (momentum * moving_var[j] + (1.0 - momentum) * v[j])
            _affine_coefficients(mu, v, &gamma[0], &beta[0], epsilon, c, work, work + c)
            _channel_affine(&x[0, 0], m, c, work, work + c, &out[0, 0], t)
    finally:
        free(mu)


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
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], j
    cdef str name = "batch_norm_inference_forward"
    if not epsilon > 0:
        raise value_error(name, "epsilon", "be > 0", epsilon)
    check_shape(name, "out", out.shape, 2, m, c)
    check_shape(name, "mean", mean.shape, 1, c)
    check_shape(name, "var", var.shape, 1, c)
    check_shape(name, "gamma", gamma.shape, 1, c)
    check_shape(name, "beta", beta.shape, 1, c)
    if c == 0:
        return
    cdef double* stats = <double*> _workspace(2 * c * (sizeof(double) + sizeof(floating)))
    cdef floating* coef = <floating*> (stats + 2 * c)
    cdef int t = effective_threads(n_threads, m * c, _GRAIN)
    try:
        with nogil:
            for j in range(c):
                stats[j] = mean[j]
                stats[c + j] = var[j]
            _affine_coefficients(stats, stats + c, &gamma[0], &beta[0], epsilon, c, coef, coef + c)
            if m > 0:
                _channel_affine(&x[0, 0], m, c, coef, coef + c, &out[0, 0], t)
    finally:
        free(stats)


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
    Two passes: the column sums (fixed row blocks, in registers), then ``dx``.

    Parameters
    ----------
    x, dy : ndarrays of shape (m, c). IN.
    mean, var : ndarrays of shape (c,). IN: the statistics the forward used.
    gamma : ndarray of shape (c,). IN (ones when the layer has no scale).
    epsilon : float > 0. IN.
    dgamma, dbeta : ndarrays of shape (c,), or (0,) to skip. IN/OUT:
        ``grad = grad_beta * grad + new`` (0.0 overwrites: the old values are never read).
    dx : ndarray of shape (m, c), ignored unless ``need_dx``. OUT (may be ``dy``).
    grad_beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    batch_stats : bool. IN.
    need_dx : bool. IN.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], c = x.shape[1], j
    cdef str name = "batch_norm_backward"
    if not epsilon > 0:
        raise value_error(name, "epsilon", "be > 0", epsilon)
    check_shape(name, "dy", dy.shape, 2, m, c)
    if need_dx:
        check_shape(name, "dx", dx.shape, 2, m, c)
    check_shape(name, "mean", mean.shape, 1, c)
    check_shape(name, "var", var.shape, 1, c)
    check_shape(name, "gamma", gamma.shape, 1, c)
    check_optional(name, "dgamma", True, dgamma.shape, 1, c)
    check_optional(name, "dbeta", True, dbeta.shape, 1, c)
    if batch_stats:
        # The batch statistics need at least one row.
        check_shape(name, "x", x.shape, 2, ANY, c)
    if c == 0:
        return
    cdef Py_ssize_t nb = _n_blocks(m)
    # Column sums in double (2 * c), partial sums (2 * nb * c), then dx = p * dy + q * (x - mean) + r
    # per column (3 * c; q = r = 0 with constant statistics).
    cdef double* sums = <double*> _workspace(2 * c * sizeof(double) + (2 * nb + 3) * c * sizeof(floating))
    cdef floating* work = <floating*> (sums + 2 * c)
    cdef floating* coef = work + 2 * nb * c
    cdef double inv, p, sum_dyx
    cdef int t = effective_threads(n_threads, m * c, _GRAIN)
    try:
        with nogil:
            for j in range(c):
                sums[j] = 0
                sums[c + j] = 0
            if m > 0:
                _column_sums(&x[0, 0], &dy[0, 0], m, c, &mean[0], work, sums, sums + c, 1.0, t)
            for j in range(c):
                inv = 1.0 / sqrt(var[j] + epsilon)
                sum_dyx = sums[c + j] * inv  # sum(dy * xhat)
                if dgamma.shape[0] > 0:
                    dgamma[j] = <floating> ((grad_beta * dgamma[j] if grad_beta != 0 else 0) + sum_dyx)
                if dbeta.shape[0] > 0:
                    dbeta[j] = <floating> ((grad_beta * dbeta[j] if grad_beta != 0 else 0) + sums[j])
                p = gamma[j] * inv
                coef[j] = <floating> p
                coef[c + j] = <floating> (-p * inv * sum_dyx / m) if batch_stats else 0
                coef[2 * c + j] = <floating> (-p * sums[j] / m) if batch_stats else 0
            if need_dx and m > 0:
                _channel_dx(&x[0, 0], &dy[0, 0], &mean[0], coef, &dx[0, 0], m, c, t)
    finally:
        free(sums)


def layer_norm_forward(const floating[:, ::1] x, const floating[::1] gamma,
                       const floating[::1] beta, double epsilon, floating[:, ::1] out,
                       floating[::1] mean, floating[::1] var, int n_threads):
    """Layer normalisation: every row normalised over its features.

    ``out[i] = (x[i] - mean[i]) / sqrt(var[i] + epsilon) * gamma + beta``.
    A row is read from memory once: its statistics are sums of ``x - c`` in
    double (``c = x[i, 0]`` for float32, the row's mean for float64), so a
    mean large against the spread does not cancel; a second sweep, while the
    row is in cache, writes the output. Threads split blocks of rows.

    Parameters
    ----------
    x : ndarray of shape (m, d), d >= 1. IN.
    gamma, beta : ndarrays of shape (d,). IN.
    epsilon : float > 0. IN.
    out : ndarray of shape (m, d). OUT (may be ``x``).
    mean, var : ndarrays of shape (m,). OUT: row mean and biased variance.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1]
    cdef str name = "layer_norm_forward"
    # Rows need at least one feature.
    check_shape(name, "x", x.shape, 2, m, ANY)
    if not epsilon > 0:
        raise value_error(name, "epsilon", "be > 0", epsilon)
    check_shape(name, "out", out.shape, 2, m, d)
    check_shape(name, "gamma", gamma.shape, 1, d)
    check_shape(name, "beta", beta.shape, 1, d)
    check_shape(name, "mean", mean.shape, 1, m)
    check_shape(name, "var", var.shape, 1, m)
    cdef Py_ssize_t b, off
    cdef int t = effective_threads(n_threads, m * d, _GRAIN)
    with nogil:
        for b in prange(_n_blocks(m), schedule="static", num_threads=t):
            off = b * _ROW_BLOCK
            if floating is float:
                rv_ln_forward_f32(&x[0, 0] + off * d, &gamma[0], &beta[0], epsilon, &out[0, 0] + off * d,
                                  &mean[0] + off, &var[0] + off, _block_rows(b, m), d)
            else:
                rv_ln_forward_f64(&x[0, 0] + off * d, &gamma[0], &beta[0], epsilon, &out[0, 0] + off * d,
                                  &mean[0] + off, &var[0] + off, _block_rows(b, m), d)


def layer_norm_backward(const floating[:, ::1] x, const floating[:, ::1] dy,
                        const floating[::1] mean, const floating[::1] var,
                        const floating[::1] gamma, double epsilon,
                        floating[::1] dgamma, floating[::1] dbeta, floating[:, ::1] dx,
                        double grad_beta, bint need_dx, int n_threads):
    """Gradients of layer normalisation given ``dy = dL/dout``.

    With ``xhat = (x - mean) / sqrt(var + eps)`` per row and ``g = dy * gamma``:
    ``dx = (g - mean_features(g) - xhat * mean_features(g * xhat)) / sqrt(var + eps)``,
    ``dgamma = sum_rows(dy * xhat)``, ``dbeta = sum_rows(dy)``.
    One pass over ``x`` and ``dy`` (a row's two sums, then its ``dx`` while
    it is in cache); the weight-gradient sums are partial per block of rows,
    combined in block order.

    Parameters
    ----------
    x, dy : ndarrays of shape (m, d). IN.
    mean, var : ndarrays of shape (m,). IN: from ``layer_norm_forward``.
    gamma : ndarray of shape (d,). IN (ones when the layer has no scale).
    epsilon : float > 0. IN.
    dgamma, dbeta : ndarrays of shape (d,), or (0,) to skip. IN/OUT:
        ``grad = grad_beta * grad + new`` (0.0 overwrites: the old values are never read).
    dx : ndarray of shape (m, d), ignored unless ``need_dx``. OUT (may be ``dy``).
    grad_beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    need_dx : bool. IN.
    n_threads : int
    """
    cdef Py_ssize_t m = x.shape[0], d = x.shape[1], b, j
    cdef str name = "layer_norm_backward"
    if not epsilon > 0:
        raise value_error(name, "epsilon", "be > 0", epsilon)
    check_shape(name, "dy", dy.shape, 2, m, d)
    if need_dx:
        check_shape(name, "dx", dx.shape, 2, m, d)
    check_shape(name, "gamma", gamma.shape, 1, d)
    check_shape(name, "mean", mean.shape, 1, m)
    check_shape(name, "var", var.shape, 1, m)
    check_optional(name, "dgamma", True, dgamma.shape, 1, d)
    check_optional(name, "dbeta", True, dbeta.shape, 1, d)
    cdef Py_ssize_t nb = _n_blocks(m)
    # Column sums of dy and dy * xhat in double (2 * d), their per-block partials (2 * nb * d).
    cdef double* sums = <double*> _workspace(2 * d * sizeof(double) + 2 * nb * d * sizeof(floating))
    cdef floating* part = <floating*> (sums + 2 * d)
    cdef floating* dx_rows
    cdef Py_ssize_t off
    cdef int t = effective_threads(n_threads, m * d, _GRAIN)
    try:
        with nogil:
            for j in range(2 * d):
                sums[j] = 0
            if m > 0 and d > 0:
                for b in prange(nb, schedule="static", num_threads=t):
                    off = b * _ROW_BLOCK * d
                    dx_rows = &dx[0, 0] + off if need_dx else NULL
                    if floating is float:
                        rv_ln_backward_f32(&x[0, 0] + off, &dy[0, 0] + off, &mean[0] + b * _ROW_BLOCK,
                                           &var[0] + b * _ROW_BLOCK, &gamma[0], epsilon, dx_rows, part + b * d,
                                           part + (nb + b) * d, _block_rows(b, m), d)
                    else:
                        rv_ln_backward_f64(&x[0, 0] + off, &dy[0, 0] + off, &mean[0] + b * _ROW_BLOCK,
                                           &var[0] + b * _ROW_BLOCK, &gamma[0], epsilon, dx_rows, part + b * d,
                                           part + (nb + b) * d, _block_rows(b, m), d)
                _combine(part, nb, d, sums, 1.0)
                _combine(part + nb * d, nb, d, sums + d, 1.0)
            for j in range(d):
                if dgamma.shape[0] > 0:
                    dgamma[j] = <floating> ((grad_beta * dgamma[j] if grad_beta != 0 else 0) + sums[d + j])
                if dbeta.shape[0] > 0:
                    dbeta[j] = <floating> ((grad_beta * dbeta[j] if grad_beta != 0 else 0) + sums[j])
    finally:
        free(sums)
