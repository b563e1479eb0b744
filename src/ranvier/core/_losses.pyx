"""Loss kernels: per-sample losses and their gradient in one pass.

Predictions are viewed as 2-D, rows x last axis (one row per per-sample loss
entry, e.g. N or N*T rows). Each kernel writes the weighted per-row losses
``losses[i] = w[i] * l[i]`` and, when asked, the gradient
``grad[i, :] = scale * w[i] * dl[i]/dpred[i, :]``, and returns
``sum_i losses[i]`` accumulated in double in row order, so the result does
not depend on the thread count.

Kinds ending in ``_FUSED`` take probabilities (the output of a sigmoid or
softmax) and give the gradient w.r.t. the pre-activation, ``p - y``; the
loss value is the same as for the probability kind.
"""
from cython.parallel cimport prange
from libc.math cimport M_LN2

from ranvier.core._checks cimport ANY, check_optional, check_shape, value_error
from ranvier.core._libm cimport fabs_ as _abs, fexp as _exp, flog as _log, flog1p as _log1p, ftanh as _tanh
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

cdef enum:
    MSE = 0
    MAE = 1
    HALF_SE = 2
    BCE = 3
    BCE_LOGITS = 4
    BCE_FUSED = 5
    HINGE = 6
    SQUARED_HINGE = 7
    HUBER = 8
    LOG_COSH = 9
    KLD = 10
    N_ELEMENTWISE = 11
    CCE = 0
    CCE_LOGITS = 1
    CCE_FUSED = 2
    CATEGORICAL_HINGE = 3
    N_CATEGORICAL = 4
    SCCE = 0
    SCCE_LOGITS = 1
    SCCE_FUSED = 2
    N_SPARSE = 3

ELEMENTWISE = {
    "mean_squared_error": MSE, "mean_absolute_error": MAE, "half_squared_error": HALF_SE,
    "binary_crossentropy": BCE, "binary_crossentropy_logits": BCE_LOGITS,
    "binary_crossentropy_fused": BCE_FUSED, "hinge": HINGE, "squared_hinge": SQUARED_HINGE,
    "huber": HUBER, "log_cosh": LOG_COSH, "kl_divergence": KLD,
}
CATEGORICAL = {
    "categorical_crossentropy": CCE, "categorical_crossentropy_logits": CCE_LOGITS,
    "categorical_crossentropy_fused": CCE_FUSED, "categorical_hinge": CATEGORICAL_HINGE,
}
SPARSE = {
    "sparse_categorical_crossentropy": SCCE, "sparse_categorical_crossentropy_logits": SCCE_LOGITS,
    "sparse_categorical_crossentropy_fused": SCCE_FUSED,
}

# Elements per thread below which a pass stays serial.
cdef Py_ssize_t _GRAIN = 8192


cdef inline floating _clip(floating x, floating lo, floating hi) noexcept nogil:
    return lo if x < lo else (hi if x > hi else x)


cdef inline floating _elem(int kind, floating t, floating p, floating c, floating* d) noexcept nogil:
    """The loss of one element; writes its derivative w.r.t. p into d.

    c: the clipping epsilon (crossentropies, KL) or delta (Huber).
    """
    cdef floating e, q, m
    if kind == MSE:
        e = p - t
        d[0] = 2 * e
        return e * e
    if kind == MAE:
        e = p - t
        d[0] = 1 if e > 0 else (-1 if e < 0 else 0)
        return _abs(e)
    if kind == HALF_SE:
        e = p - t
        d[0] = e
        return <floating> 0.5 * e * e
    if kind == BCE or kind == BCE_FUSED:
        # Keras clips the probability; the clipped part has zero gradient.
        q = _clip(p, c, 1 - c)
        if kind == BCE_FUSED:
            d[0] = p - t
        else:
            d[0] = (q - t) / (q * (1 - q)) if q == p else 0
        return -(t * _log(q) + (1 - t) * _log(1 - q))
    if kind == BCE_LOGITS:
        # log(1 + exp(-|x|)) never overflows.
        e = _exp(-_abs(p))
        q = 1 / (1 + e)
        d[0] = (q if p >= 0 else e * q) - t
        return (p if p > 0 else 0) - p * t + _log1p(e)
    if kind == HINGE:
        m = 1 - t * p
        d[0] = -t if m > 0 else 0
        return m if m > 0 else 0
    if kind == SQUARED_HINGE:
        m = 1 - t * p
        m = m if m > 0 else 0
        d[0] = -2 * t * m
        return m * m
    if kind == HUBER:
        e = p - t
        if _abs(e) <= c:
            d[0] = e
            return <floating> 0.5 * e * e
        d[0] = c if e > 0 else -c
        return c * (_abs(e) - <floating> 0.5 * c)
    if kind == LOG_COSH:
        e = p - t
        d[0] = _tanh(e)
        return _abs(e) + _log1p(_exp(-2 * _abs(e))) - <floating> M_LN2
    # KLD, Keras: sum(t * log(t / p)) with both clipped to [eps, 1].
    q = _clip(p, c, 1)
    e = _clip(t, c, 1)
    d[0] = -e / q if q == p else 0
    return e * _log(e / q)


cdef void _elementwise_row(int kind, const floating* t, const floating* p, Py_ssize_t k,
                           floating c, floating w, floating scale, floating* loss, floating* g,
                           bint need_grad) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating s = 0, d, norm
    # Keras averages over the last axis, except for KL divergence (a sum) and our E.
    norm = 1 if (kind == KLD or kind == HALF_SE) else (<floating> 1) / k
    if need_grad:
        for j in range(k):
            s += _elem(kind, t[j], p[j], c, &d)
            g[j] = scale * w * norm * d
    else:
        for j in range(k):
            s += _elem(kind, t[j], p[j], c, &d)
    loss[0] = w * norm * s


cdef void _categorical_row(int kind, const floating* t, const floating* p, Py_ssize_t k,
                           floating c, floating w, floating scale, floating* loss, floating* g,
                           bint need_grad) noexcept nogil:
    cdef Py_ssize_t j, top = 0
    cdef floating s = 0, tsum = 0, mt = 0, row_loss = 0, x, q, m, pos = 0, neg
    cdef floating f = scale * w
    if kind == CCE_LOGITS:
        m = p[0]
        for j in range(1, k):
            if p[j] > m:
                m = p[j]
        for j in range(k):
            s += _exp(p[j] - m)
            tsum += t[j]
            row_loss -= t[j] * (p[j] - m)
        s = _log(s)
        row_loss += tsum * s
        if need_grad:
            for j in range(k):
                g[j] = f * (tsum * _exp((p[j] - m) - s) - t[j])
    elif kind == CATEGORICAL_HINGE:
        neg = (1 - t[0]) * p[0]
        for j in range(k):
            pos += t[j] * p[j]
            x = (1 - t[j]) * p[j]
            if x > neg:
                neg = x
                top = j
        row_loss = neg - pos + 1
        if row_loss < 0:
            row_loss = 0
        if need_grad:
            for j in range(k):
                g[j] = f * (-t[j] + (1 - t[j] if j == top else 0)) if row_loss > 0 else 0
    else:
        # Keras normalises the probabilities to sum to 1, then clips them.
        for j in range(k):
            s += p[j]
        s = (<floating> 1) / s if s > 0 else 1
        for j in range(k):
            q = _clip(p[j] * s, c, 1 - c)
            row_loss -= t[j] * _log(q)
            tsum += t[j]
            if q == p[j] * s:
                mt += t[j]
        if need_grad:
            for j in range(k):
                if kind == CCE_FUSED:
                    g[j] = f * (tsum * p[j] - t[j])
                else:
                    q = p[j] * s
                    g[j] = f * s * (mt - (t[j] / q if _clip(q, c, 1 - c) == q else 0))
    loss[0] = w * row_loss


cdef void _sparse_row(int kind, Py_ssize_t label, const floating* p, Py_ssize_t k, floating c,
                      floating w, floating scale, floating* loss, floating* g,
                      bint need_grad) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating s = 0, m, q, inside
    cdef floating f = scale * w
    if kind == SCCE_LOGITS:
        m = p[0]
        for j in range(1, k):
            if p[j] > m:
                m = p[j]
        for j in range(k):
            s += _exp(p[j] - m)
        s = _log(s)
        # (m - p[label]) + log(s): m + log(s) first would round log(s) away for huge m.
        loss[0] = w * ((m - p[label]) + s)
        if need_grad:
            for j in range(k):
                g[j] = f * _exp((p[j] - m) - s)
            g[label] -= f
        return
    for j in range(k):
        s += p[j]
    s = (<floating> 1) / s if s > 0 else 1
    q = p[label] * s
    inside = 1 if _clip(q, c, 1 - c) == q else 0
    loss[0] = -w * _log(_clip(q, c, 1 - c))
    if need_grad:
        if kind == SCCE_FUSED:
            for j in range(k):
                g[j] = f * p[j]
            g[label] -= f
        else:
            for j in range(k):
                g[j] = f * s * inside
            g[label] -= f * s * inside / q if inside else 0


cdef int _check_rest(str op, const Py_ssize_t* y_pred, const Py_ssize_t* sample_weight, const Py_ssize_t* losses,
                     const Py_ssize_t* grad, bint need_grad) except -1:
    """The checks every loss kernel shares, after its own on ``kind`` and the targets."""
    cdef Py_ssize_t rows = y_pred[0], k = y_pred[1]
    check_shape(op, "y_pred", y_pred, 2, rows, ANY)
    check_optional(op, "sample_weight", True, sample_weight, 1, rows)
    check_shape(op, "losses", losses, 1, rows)
    if need_grad:
        check_shape(op, "grad", grad, 2, rows, k)
    return 0


cdef double _sum(const floating[::1] losses) noexcept nogil:
    cdef double total = 0
    cdef Py_ssize_t i
    for i in range(losses.shape[0]):
        total += losses[i]
    return total


def elementwise_loss(int kind, const floating[:, ::1] y_true, const floating[:, ::1] y_pred,
                     const floating[::1] sample_weight, double c, double scale,
                     floating[::1] losses, floating[:, ::1] grad, bint need_grad, int n_threads):
    """Losses averaged over the last axis (summed for KL divergence and half squared error).

    Parameters
    ----------
    kind : int
        A value of ``ELEMENTWISE``.
    y_true : ndarray of shape (rows, k). IN.
    y_pred : ndarray of shape (rows, k). IN: predictions, probabilities or logits.
    sample_weight : ndarray of shape (rows,), or (0,) for none. IN.
    c : float
        Clipping epsilon (crossentropy, KL divergence) or delta (Huber).
    scale : float
        Factor of the gradient (the reduction: 1 / rows for a mean).
    losses : ndarray of shape (rows,). OUT: weighted per-row losses.
    grad : ndarray of shape (rows, k). OUT when ``need_grad``.
    need_grad : bool
    n_threads : int

    Returns
    -------
    float
        The sum of ``losses``.
    """
    cdef Py_ssize_t rows = y_pred.shape[0], k = y_pred.shape[1], i
    cdef int t
    cdef double total
    if kind < 0 or kind >= N_ELEMENTWISE:
        raise value_error("elementwise_loss", "kind", f"be in [0, {N_ELEMENTWISE})", kind)
    check_shape("elementwise_loss", "y_true", y_true.shape, 2, rows, k)
    _check_rest("elementwise_loss", y_pred.shape, sample_weight.shape, losses.shape, grad.shape, need_grad)
    if rows == 0:
        return 0.0
    t = effective_threads(n_threads, rows * k, _GRAIN)
    with nogil:
        for i in prange(rows, schedule="static", num_threads=t):
            _elementwise_row(kind, &y_true[i, 0], &y_pred[i, 0], k, <floating> c,
                             sample_weight[i] if sample_weight.shape[0] else 1, <floating> scale,
                             &losses[i], &grad[i, 0] if need_grad else NULL, need_grad)
        total = _sum(losses)
    return total


def categorical_loss(int kind, const floating[:, ::1] y_true, const floating[:, ::1] y_pred,
                     const floating[::1] sample_weight, double eps, double scale,
                     floating[::1] losses, floating[:, ::1] grad, bint need_grad, int n_threads):
    """Losses over the last axis as a distribution: crossentropy, categorical hinge.

    Parameters are those of ``elementwise_loss``; ``kind`` is a value of
    ``CATEGORICAL`` and ``eps`` the probability clipping epsilon.
    """
    cdef Py_ssize_t rows = y_pred.shape[0], k = y_pred.shape[1], i
    cdef int t
    cdef double total
    if kind < 0 or kind >= N_CATEGORICAL:
        raise value_error("categorical_loss", "kind", f"be in [0, {N_CATEGORICAL})", kind)
    check_shape("categorical_loss", "y_true", y_true.shape, 2, rows, k)
    _check_rest("categorical_loss", y_pred.shape, sample_weight.shape, losses.shape, grad.shape, need_grad)
    if rows == 0:
        return 0.0
    t = effective_threads(n_threads, rows * k, _GRAIN)
    with nogil:
        for i in prange(rows, schedule="static", num_threads=t):
            _categorical_row(kind, &y_true[i, 0], &y_pred[i, 0], k, <floating> eps,
                             sample_weight[i] if sample_weight.shape[0] else 1, <floating> scale,
                             &losses[i], &grad[i, 0] if need_grad else NULL, need_grad)
        total = _sum(losses)
    return total


def sparse_categorical_loss(int kind, const Py_ssize_t[::1] labels, const floating[:, ::1] y_pred,
                            const floating[::1] sample_weight, double eps, double scale,
                            floating[::1] losses, floating[:, ::1] grad, bint need_grad,
                            int n_threads):
    """Crossentropy with integer class labels.

    Parameters are those of ``categorical_loss``, except ``labels``: intp
    ndarray of shape (rows,), IN, each in ``[0, k)`` (checked).
    """
    cdef Py_ssize_t rows = y_pred.shape[0], k = y_pred.shape[1], i
    cdef int t
    cdef double total
    if kind < 0 or kind >= N_SPARSE:
        raise value_error("sparse_categorical_loss", "kind", f"be in [0, {N_SPARSE})", kind)
    check_shape("sparse_categorical_loss", "labels", labels.shape, 1, rows)
    _check_rest("sparse_categorical_loss", y_pred.shape, sample_weight.shape, losses.shape, grad.shape, need_grad)
    for i in range(rows):
        if labels[i] < 0 or labels[i] >= k:
            raise value_error("sparse_categorical_loss", f"labels[{i}]", f"be in [0, {k})", labels[i])
    if rows == 0:
        return 0.0
    t = effective_threads(n_threads, rows * k, _GRAIN)
    with nogil:
        for i in prange(rows, schedule="static", num_threads=t):
            _sparse_row(kind, labels[i], &y_pred[i, 0], k, <floating> eps,
                        sample_weight[i] if sample_weight.shape[0] else 1, <floating> scale,
                        &losses[i], &grad[i, 0] if need_grad else NULL, need_grad)
        total = _sum(losses)
    return total
