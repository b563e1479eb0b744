"""Fused optimizer updates over the flat parameter buffer.

One call updates every trainable parameter of a model in a single pass:
gradient scaling (norm clipping), value clipping, coupled L2 weight decay on
the first ``n_decay`` entries (kernels, never biases), and the optimizer's own
update, with the optimizer's slots (momentum, Adam moments, ...) flat too.

Conventions shared by every ``*_update`` kernel:

- ``w`` (n,) IN/OUT parameters; ``g`` (n,) IN gradient of the loss.
- Slots are (n,) IN/OUT; a slot the configuration does not use (velocity of
  SGD without momentum, ``vhat`` without amsgrad, ...) may be an empty array.
- The gradient used is ``clip(g * grad_scale[k], -clipvalue, clipvalue) +
  weight_decay * w`` for entries in ``[segments[k], segments[k + 1])``, the
  decay term only for entries below ``n_decay``. ``clipvalue = inf`` turns
  clipping off; ``segments = [0, n]`` with ``grad_scale = [s]`` scales all.
  ``weight_decay`` is the coupled L2 decay of the lecture notes and of
  ``torch.optim`` (Keras 3 optimizers decouple it; ``adamw_update`` does).
- Hyperparameters are doubles, applied in the arrays' precision.
"""
from cython.parallel cimport prange
from libc.math cimport fabs, fabsf, pow, powf, sqrt, sqrtf
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from ranvier.core._checks cimport ANY, check_optional, check_shape, value_error
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

__all__ = ["sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update",
           "adam_update", "adamw_update", "nadam_update", "adamax_update", "lion_update",
           "ftrl_update", "sum_squares"]

# Elements per parallel work unit: the slots of one chunk stay in L2.
cdef Py_ssize_t _CHUNK = 8192
# Below this many elements per thread, a thread costs more than it saves.
cdef Py_ssize_t _GRAIN = 32768
# Elements per block of the sum of squares. Blocks start at segment starts, so
# a block's sum does not depend on the thread count; blocks combine in order.
cdef Py_ssize_t _SS_BLOCK = 4096
# Independent accumulators within a block, so the sum vectorizes.
cdef enum:
    _LANES = 16

cdef enum _Kind:
    _SGD, _ADAGRAD, _RMSPROP, _ADADELTA, _ADAM, _NADAM, _ADAMAX, _LION, _FTRL

ctypedef struct _Hyper:
    double lr
    double momentum        # sgd, rmsprop
    double rho             # rmsprop, adadelta
    double beta_1
    double beta_2
    double epsilon
    double alpha           # adam step size lr*sqrt(1-b2^t)/(1-b1^t)
    double clipvalue
    double weight_decay    # coupled: added to the gradient
    double decoupled_decay  # adamw: w -= lr*wd*w
    bint flag              # nesterov / centered / amsgrad / ftrl: learning_rate_power == -0.5
    double coef_m          # nadam: weight of m in m_hat; adamax: lr / (1 - beta_1^t)
    double coef_g          # nadam: weight of g in m_hat
    double coef_v          # nadam: 1 / (1 - beta_2^t)
    double lr_power        # ftrl
    double l1              # ftrl
    double l2              # ftrl: l2 + beta / (2 lr)
    double shrinkage       # ftrl: 2 * l2_shrinkage


cdef inline floating _abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating _pow(floating x, floating p) noexcept nogil:
    if floating is float:
        return powf(x, p)
    else:
        return pow(x, p)


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _grad(floating g, floating w, floating scale, floating clip,
                           floating wd) noexcept nogil:
    g = g * scale
    # Written as two compares so a NaN gradient stays NaN (it is not clipped away).
    if g > clip:
        g = clip
    elif g < -clip:
        g = -clip
    return g + wd * w


cdef inline floating* _ptr(floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef void _sgd_span(floating* w, const floating* g, floating* vel, const _Hyper* h,
                    Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating lr = <floating> h.lr, mom = <floating> h.momentum
    cdef floating clip = <floating> h.clipvalue, gi, v
    cdef Py_ssize_t i
    if vel == NULL:
        for i in range(i0, i1):
            w[i] = w[i] - lr * _grad(g[i], w[i], scale, clip, wd)
    elif h.flag:
        for i in range(i0, i1):
            gi = _grad(g[i], w[i], scale, clip, wd)
            v = mom * vel[i] - lr * gi
            vel[i] = v
            w[i] = w[i] + (mom * v - lr * gi)
    else:
        for i in range(i0, i1):
            gi = _grad(g[i], w[i], scale, clip, wd)
            v = mom * vel[i] - lr * gi
            vel[i] = v
            w[i] = w[i] + v


cdef void _adagrad_span(floating* w, const floating* g, floating* acc, const _Hyper* h,
                        Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating lr = <floating> h.lr, eps = <floating> h.epsilon
    cdef floating clip = <floating> h.clipvalue, gi, a
    cdef Py_ssize_t i
    for i in range(i0, i1):
        gi = _grad(g[i], w[i], scale, clip, wd)
        a = acc[i] + gi * gi
        acc[i] = a
        w[i] = w[i] - lr * gi / _sqrt(a + eps)


cdef void _rmsprop_span(floating* w, const floating* g, floating* vel, floating* mom_buf,
                        floating* avg, const _Hyper* h,
                        Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating lr = <floating> h.lr, rho = <floating> h.rho, eps = <floating> h.epsilon
    cdef floating mom = <floating> h.momentum, one_m_rho = <floating> (1.0 - h.rho)
    cdef floating clip = <floating> h.clipvalue, gi, v, a, denom, inc
    cdef Py_ssize_t i
    for i in range(i0, i1):
        gi = _grad(g[i], w[i], scale, clip, wd)
        v = rho * vel[i] + one_m_rho * gi * gi
        vel[i] = v
        if avg != NULL:
            a = rho * avg[i] + one_m_rho * gi
            avg[i] = a
            denom = v - a * a + eps
        else:
            denom = v + eps
        inc = lr * gi / _sqrt(denom)
        if mom_buf != NULL:
            inc = mom * mom_buf[i] + inc
            mom_buf[i] = inc
        w[i] = w[i] - inc


cdef void _adadelta_span(floating* w, const floating* g, floating* acc_g, floating* acc_d,
                         const _Hyper* h,
                         Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating lr = <floating> h.lr, rho = <floating> h.rho, eps = <floating> h.epsilon
    cdef floating one_m_rho = <floating> (1.0 - h.rho)
    cdef floating clip = <floating> h.clipvalue, gi, ag, delta
    cdef Py_ssize_t i
    for i in range(i0, i1):
        gi = _grad(g[i], w[i], scale, clip, wd)
        ag = rho * acc_g[i] + one_m_rho * gi * gi
        acc_g[i] = ag
        delta = -_sqrt(acc_d[i] + eps) * gi / _sqrt(ag + eps)
        acc_d[i] = rho * acc_d[i] + one_m_rho * delta * delta
        w[i] = w[i] + lr * delta


cdef void _nadam_span(floating* w, const floating* g, floating* m, floating* v, const _Hyper* h,
                      Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating lr = <floating> h.lr, eps = <floating> h.epsilon
    cdef floating one_m_b1 = <floating> (1.0 - h.beta_1), one_m_b2 = <floating> (1.0 - h.beta_2)
    cdef floating cm = <floating> h.coef_m, cg = <floating> h.coef_g, cv = <floating> h.coef_v
    cdef floating clip = <floating> h.clipvalue, gi, mi, vi
    cdef Py_ssize_t i
    for i in range(i0, i1):
        gi = _grad(g[i], w[i], scale, clip, wd)
        mi = m[i] + (gi - m[i]) * one_m_b1
        vi = v[i] + (gi * gi - v[i]) * one_m_b2
        m[i] = mi
        v[i] = vi
        w[i] = w[i] - (cm * mi + cg * gi) * lr / (_sqrt(vi * cv) + eps)


cdef void _adamax_span(floating* w, const floating* g, floating* m, floating* u, const _Hyper* h,
                       Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating b2 = <floating> h.beta_2, eps = <floating> h.epsilon
    cdef floating one_m_b1 = <floating> (1.0 - h.beta_1), step = <floating> h.coef_m
    cdef floating clip = <floating> h.clipvalue, gi, mi, ui, a
    cdef Py_ssize_t i
    for i in range(i0, i1):
        gi = _grad(g[i], w[i], scale, clip, wd)
        mi = m[i] + (gi - m[i]) * one_m_b1
        ui = b2 * u[i]
        a = _abs(gi)
        # Written so that a NaN gradient makes u NaN, as max(beta_2 * u, |g|) does in Keras.
        if not ui >= a:
            ui = a
        m[i] = mi
        u[i] = ui
        w[i] = w[i] - step * mi / (ui + eps)


cdef void _lion_span(floating* w, const floating* g, floating* m, const _Hyper* h,
                     Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating lr = <floating> h.lr, b1 = <floating> h.beta_1, b2 = <floating> h.beta_2
    cdef floating one_m_b1 = <floating> (1.0 - h.beta_1), one_m_b2 = <floating> (1.0 - h.beta_2)
    cdef floating clip = <floating> h.clipvalue, gi, c, sc
    cdef Py_ssize_t i
    for i in range(i0, i1):
        gi = _grad(g[i], w[i], scale, clip, wd)
        c = m[i] * b1 + gi * one_m_b1
        # sign(c) without a data-dependent branch (random signs mispredict); NaN stays NaN.
        sc = <floating> (c > 0) - <floating> (c < 0)
        if c != c:
            sc = c
        w[i] = w[i] - lr * sc
        m[i] = m[i] * b2 + gi * one_m_b2


cdef inline void _ftrl_step(floating* w, floating* lin, Py_ssize_t i, floating gi, floating pa,
                            floating pa_new, floating inv_lr, floating l1, floating two_l2,
                            floating shrink) noexcept nogil:
    """One FTRL entry from the accumulator's powers before (pa) and after (pa_new) this step."""
    cdef floating li = lin[i] + (gi + shrink * w[i]) - (pa_new - pa) * inv_lr * w[i]
    cdef floating lc = li if li < l1 else l1
    lc = lc if lc > -l1 else -l1
    lin[i] = li
    w[i] = (lc - li) / (pa_new * inv_lr + two_l2)


cdef void _ftrl_span(floating* w, const floating* g, floating* acc, floating* lin, const _Hyper* h,
                     Py_ssize_t i0, Py_ssize_t i1, floating scale, floating wd) noexcept nogil:
    cdef floating inv_lr = <floating> (1.0 / h.lr), p = <floating> (-h.lr_power)
    cdef floating l1 = <floating> h.l1, two_l2 = <floating> (2.0 * h.l2)
    cdef floating shrink = <floating> h.shrinkage, clip = <floating> h.clipvalue
    cdef floating gi, a, a_new
    cdef Py_ssize_t i
    # Two loops so that the default power (-0.5: square roots) has no branch inside.
    if h.flag:
        for i in range(i0, i1):
            gi = _grad(g[i], w[i], scale, clip, wd)
            a = acc[i]
            a_new = a + gi * gi
            _ftrl_step(w, lin, i, gi, _sqrt(a), _sqrt(a_new), inv_lr, l1, two_l2, shrink)
            acc[i] = a_new
    else:
        for i in range(i0, i1):
            gi = _grad(g[i], w[i], scale, clip, wd)
            a = acc[i]
            a_new = a + gi * gi
            _ftrl_step(w, lin, i, gi, _pow(a, p), _pow(a_new, p), inv_lr, l1, two_l2, shrink)
            acc[i] = a_new


cdef extern from "rv_adam.h":
    void rv_adam_span_f32(float* w, const float* g, float* m, float* v, float* vhat, Py_ssize_t n,
                          float scale, float clip, float wd, float decay, float alpha, float eps,
                          float one_m_b1, float one_m_b2) noexcept nogil
    void rv_adam_span_f64(double* w, const double* g, double* m, double* v, double* vhat, Py_ssize_t n,
                          double scale, double clip, double wd, double decay, double alpha, double eps,
                          double one_m_b1, double one_m_b2) noexcept nogil


cdef void _adam_span(floating* w, const floating* g, floating* m, floating* v, floating* vhat,
                     const _Hyper* h, Py_ssize_t i0, Py_ssize_t i1, floating scale,
                     floating wd, floating decay) noexcept nogil:
    # decay: lr * decoupled weight decay of this span (AdamW), 0 elsewhere.
    if floating is float:
        rv_adam_span_f32(w + i0, g + i0, m + i0, v + i0, vhat + i0 if vhat != NULL else NULL, i1 - i0,
                         scale, <float> h.clipvalue, wd, decay, <float> h.alpha, <float> h.epsilon,
                         <float> (1.0 - h.beta_1), <float> (1.0 - h.beta_2))
    else:
        rv_adam_span_f64(w + i0, g + i0, m + i0, v + i0, vhat + i0 if vhat != NULL else NULL, i1 - i0,
                         scale, h.clipvalue, wd, decay, h.alpha, h.epsilon, 1.0 - h.beta_1, 1.0 - h.beta_2)


cdef void _span(_Kind kind, floating* w, const floating* g, floating* s0, floating* s1,
                floating* s2, const _Hyper* h, Py_ssize_t i0, Py_ssize_t i1,
                floating scale, bint decays) noexcept nogil:
    cdef floating wd = <floating> h.weight_decay if decays else 0
    cdef floating decay = <floating> (h.lr * h.decoupled_decay) if decays else 0
    if kind == _SGD:
        _sgd_span(w, g, s0, h, i0, i1, scale, wd)
    elif kind == _ADAGRAD:
        _adagrad_span(w, g, s0, h, i0, i1, scale, wd)
    elif kind == _RMSPROP:
        _rmsprop_span(w, g, s0, s1, s2, h, i0, i1, scale, wd)
    elif kind == _ADADELTA:
        _adadelta_span(w, g, s0, s1, h, i0, i1, scale, wd)
    elif kind == _NADAM:
        _nadam_span(w, g, s0, s1, h, i0, i1, scale, wd)
    elif kind == _ADAMAX:
        _adamax_span(w, g, s0, s1, h, i0, i1, scale, wd)
    elif kind == _LION:
        _lion_span(w, g, s0, h, i0, i1, scale, wd)
    elif kind == _FTRL:
        _ftrl_span(w, g, s0, s1, h, i0, i1, scale, wd)
    else:
        _adam_span(w, g, s0, s1, s2, h, i0, i1, scale, wd, decay)


cdef inline Py_ssize_t _segment_of(const Py_ssize_t* seg, Py_ssize_t n_seg,
                                   Py_ssize_t i) noexcept nogil:
    """The segment k with seg[k] <= i < seg[k + 1] (empty segments skipped)."""
    cdef Py_ssize_t lo = 0, hi = n_seg - 1, mid
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if seg[mid] <= i:
            lo = mid
        else:
            hi = mid - 1
    return lo


cdef void _drive(_Kind kind, floating* w, const floating* g, floating* s0, floating* s1,
                 floating* s2, const _Hyper* h, Py_ssize_t n, Py_ssize_t n_decay,
                 const double* scales, const Py_ssize_t* seg, Py_ssize_t n_seg,
                 int n_threads) noexcept nogil:
    """Run the update over [0, n) in chunks, each split at segment bounds and at n_decay."""
    cdef Py_ssize_t n_chunks = (n + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t c, i, i1, end, k
    cdef int t = effective_threads(n_threads, n, _GRAIN)
    for c in prange(n_chunks, schedule="static", num_threads=t):
        i = c * _CHUNK
        i1 = min(i + _CHUNK, n)
        k = _segment_of(seg, n_seg, i)
        while i < i1:
            end = min(i1, seg[k + 1])
            if i < n_decay < end:
                end = n_decay
            _span(kind, w, g, s0, s1, s2, h, i, end, <floating> scales[k], i < n_decay)
            i = end
            while k < n_seg - 1 and seg[k + 1] <= i:
                k = k + 1


cdef int _check_segments(str op, const Py_ssize_t[::1] segments, Py_ssize_t n) except -1:
    """Raise unless ``segments`` (one entry at least) runs from 0 to n and never decreases."""
    cdef Py_ssize_t k, last = segments.shape[0] - 1
    if segments[0] != 0 or segments[last] != n:
        raise value_error(op, "segments", f"run from 0 to {n}", f"{segments[0]} to {segments[last]}")
    for k in range(last):
        if segments[k + 1] < segments[k]:
            raise value_error(op, "segments", "be non-decreasing",
                              f"segments[{k + 1}] = {segments[k + 1]} < segments[{k}] = {segments[k]}")
    return 0


cdef int _check_update(str op, Py_ssize_t n, const Py_ssize_t* g_shape, Py_ssize_t n_decay,
                       const double[::1] grad_scale, const Py_ssize_t[::1] segments, double learning_rate,
                       double clipvalue) except -1:
    """The checks every update kernel shares besides its slots' shapes (cost: O(len(segments)))."""
    check_shape(op, "g", g_shape, 1, n)
    if not 0 <= n_decay <= n:
        raise value_error(op, "n_decay", f"be in [0, {n}]", n_decay)
    check_shape(op, "grad_scale", grad_scale.shape, 1, ANY)
    if segments.shape[0] != grad_scale.shape[0] + 1:
        raise value_error(op, "segments", f"have len(grad_scale) + 1 = {grad_scale.shape[0] + 1} entries",
                          segments.shape[0])
    _check_segments(op, segments, n)
    if not learning_rate >= 0:
        raise value_error(op, "learning_rate", "be >= 0", learning_rate)
    if not clipvalue > 0:
        raise value_error(op, "clipvalue", "be > 0 (inf for no clipping)", clipvalue)
    return 0


cdef int _check_betas(str op, double beta_1, double beta_2, bint closed) except -1:
    """beta_1 and beta_2 in [0, 1) (``closed``: [0, 1])."""
    if not (0 <= beta_1 and 0 <= beta_2 and (beta_1 <= 1 and beta_2 <= 1 if closed else beta_1 < 1 and beta_2 < 1)):
        raise value_error(op, "beta_1 and beta_2", "be in [0, 1]" if closed else "be in [0, 1)",
                          f"{beta_1} and {beta_2}")
    return 0


cdef int _check_moments(str op, Py_ssize_t n, const Py_ssize_t* g_shape, const Py_ssize_t* m_shape,
                        const Py_ssize_t* v_shape, Py_ssize_t n_decay, const double[::1] grad_scale,
                        const Py_ssize_t[::1] segments, double learning_rate, double clipvalue, Py_ssize_t step,
                        double beta_1, double beta_2, str v_name="v") except -1:
    """The checks of the Adam family (two moments, a step number, betas in [0, 1))."""
    _check_update(op, n, g_shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_shape(op, "m", m_shape, 1, n)
    check_shape(op, v_name, v_shape, 1, n)
    if step < 1:
        raise value_error(op, "step", "be >= 1 (the 1-based step number)", step)
    _check_betas(op, beta_1, beta_2, False)
    return 0


cdef inline _Hyper _hyper(double learning_rate, double clipvalue, double weight_decay,
                          double decoupled_decay) noexcept:
    """The hyperparameters every kernel sets; the others start at 0 for the caller to fill."""
    cdef _Hyper h
    memset(&h, 0, sizeof(_Hyper))
    h.lr, h.clipvalue, h.weight_decay, h.decoupled_decay = learning_rate, clipvalue, weight_decay, decoupled_decay
    return h


cdef void _run(_Kind kind, floating[::1] w, const floating[::1] g, floating* s0, floating* s1,
               floating* s2, const _Hyper* h, Py_ssize_t n_decay, const double[::1] grad_scale,
               const Py_ssize_t[::1] segments, int n_threads) noexcept:
    """``_drive`` over the checked arrays, without the GIL."""
    with nogil:
        _drive(kind, _ptr(w), &g[0] if g.shape[0] else NULL, s0, s1, s2, h, w.shape[0], n_decay,
               &grad_scale[0], &segments[0], grad_scale.shape[0], n_threads)


def sgd_update(floating[::1] w, const floating[::1] g, floating[::1] velocity,
               double learning_rate, double momentum, bint nesterov,
               double clipvalue, double weight_decay, Py_ssize_t n_decay,
               const double[::1] grad_scale, const Py_ssize_t[::1] segments, int n_threads):
    """SGD with optional (Nesterov) momentum, Keras formulation.

    ``v = momentum * v - lr * g; w += v`` (Nesterov: ``w += momentum * v - lr * g``);
    without momentum ``w -= lr * g``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    velocity : (n,) IN/OUT, or empty when ``momentum == 0``.
    learning_rate, momentum : float.
    nesterov : bool.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "sgd_update"
    _check_update(op, w.shape[0], g.shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_optional(op, "velocity", momentum == 0, velocity.shape, 1, w.shape[0])
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.momentum, h.flag = momentum, nesterov
    _run(_SGD, w, g, _ptr(velocity) if momentum != 0 else NULL, NULL, NULL, &h, n_decay, grad_scale, segments,
         n_threads)


def adagrad_update(floating[::1] w, const floating[::1] g, floating[::1] accumulator,
                   double learning_rate, double epsilon,
                   double clipvalue, double weight_decay, Py_ssize_t n_decay,
                   const double[::1] grad_scale, const Py_ssize_t[::1] segments, int n_threads):
    """Adagrad, Keras formulation: ``acc += g**2; w -= lr * g / sqrt(acc + epsilon)``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    accumulator : (n,) IN/OUT, starts at ``initial_accumulator_value``.
    learning_rate, epsilon : float.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "adagrad_update"
    _check_update(op, w.shape[0], g.shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_shape(op, "accumulator", accumulator.shape, 1, w.shape[0])
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.epsilon = epsilon
    _run(_ADAGRAD, w, g, _ptr(accumulator), NULL, NULL, &h, n_decay, grad_scale, segments, n_threads)


def rmsprop_update(floating[::1] w, const floating[::1] g, floating[::1] velocity,
                   floating[::1] momentum_buffer, floating[::1] average_gradient,
                   double learning_rate, double rho, double momentum, double epsilon,
                   bint centered, double clipvalue, double weight_decay, Py_ssize_t n_decay,
                   const double[::1] grad_scale, const Py_ssize_t[::1] segments, int n_threads):
    """RMSprop, Keras formulation.

    ``v = rho * v + (1 - rho) * g**2``; centered: ``a = rho * a + (1 - rho) * g``
    and ``denom = v - a**2 + epsilon``, else ``denom = v + epsilon``;
    ``inc = lr * g / sqrt(denom)``; with momentum ``buf = momentum * buf + inc``,
    ``w -= buf``, else ``w -= inc``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    velocity : (n,) IN/OUT.
    momentum_buffer : (n,) IN/OUT, or empty when ``momentum == 0``.
    average_gradient : (n,) IN/OUT, or empty when not ``centered``.
    learning_rate, rho, momentum, epsilon : float.
    centered : bool.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "rmsprop_update"
    _check_update(op, w.shape[0], g.shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_shape(op, "velocity", velocity.shape, 1, w.shape[0])
    check_optional(op, "momentum_buffer", momentum == 0, momentum_buffer.shape, 1, w.shape[0])
    check_optional(op, "average_gradient", not centered, average_gradient.shape, 1, w.shape[0])
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.rho, h.momentum, h.epsilon = rho, momentum, epsilon
    _run(_RMSPROP, w, g, _ptr(velocity), _ptr(momentum_buffer) if momentum != 0 else NULL,
         _ptr(average_gradient) if centered else NULL, &h, n_decay, grad_scale, segments, n_threads)


def adadelta_update(floating[::1] w, const floating[::1] g, floating[::1] accumulated_grad,
                    floating[::1] accumulated_delta, double learning_rate, double rho,
                    double epsilon, double clipvalue, double weight_decay, Py_ssize_t n_decay,
                    const double[::1] grad_scale, const Py_ssize_t[::1] segments, int n_threads):
    """Adadelta, Keras formulation (with a learning rate).

    ``A = rho * A + (1 - rho) * g**2; d = -sqrt(D + eps) / sqrt(A + eps) * g;
    D = rho * D + (1 - rho) * d**2; w += lr * d``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    accumulated_grad, accumulated_delta : (n,) IN/OUT (A and D above).
    learning_rate, rho, epsilon : float.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "adadelta_update"
    _check_update(op, w.shape[0], g.shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_shape(op, "accumulated_grad", accumulated_grad.shape, 1, w.shape[0])
    check_shape(op, "accumulated_delta", accumulated_delta.shape, 1, w.shape[0])
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.rho, h.epsilon = rho, epsilon
    _run(_ADADELTA, w, g, _ptr(accumulated_grad), _ptr(accumulated_delta), NULL, &h, n_decay, grad_scale,
         segments, n_threads)


cdef object _adam(str op, floating[::1] w, const floating[::1] g, floating[::1] m,
                  floating[::1] v, floating[::1] vhat, double learning_rate, double beta_1,
                  double beta_2, double epsilon, Py_ssize_t step, bint amsgrad,
                  double clipvalue, double coupled, double decoupled, Py_ssize_t n_decay,
                  const double[::1] grad_scale, const Py_ssize_t[::1] segments, int n_threads):
    _check_moments(op, w.shape[0], g.shape, m.shape, v.shape, n_decay, grad_scale, segments, learning_rate,
                   clipvalue, step, beta_1, beta_2)
    check_optional(op, "vhat", not amsgrad, vhat.shape, 1, w.shape[0])
    cdef _Hyper h = _hyper(learning_rate, clipvalue, coupled, decoupled)
    h.beta_1, h.beta_2, h.epsilon, h.flag = beta_1, beta_2, epsilon, amsgrad
    h.alpha = learning_rate * sqrt(1.0 - pow(beta_2, <double> step)) / (1.0 - pow(beta_1, <double> step))
    _run(_ADAM, w, g, _ptr(m), _ptr(v), _ptr(vhat) if amsgrad else NULL, &h, n_decay, grad_scale, segments,
         n_threads)


def adam_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                floating[::1] vhat, double learning_rate, double beta_1, double beta_2,
                double epsilon, Py_ssize_t step, bint amsgrad, double clipvalue,
                double weight_decay, Py_ssize_t n_decay, const double[::1] grad_scale,
                const Py_ssize_t[::1] segments, int n_threads):
    """Adam, Keras 3 formulation.

    ``alpha = lr * sqrt(1 - beta_2**step) / (1 - beta_1**step)``;
    ``m += (g - m) * (1 - beta_1); v += (g**2 - v) * (1 - beta_2)``;
    amsgrad: ``vhat = max(vhat, v)`` is used for v; ``w -= alpha * m / (sqrt(v) + epsilon)``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    m, v : (n,) IN/OUT first and second moments.
    vhat : (n,) IN/OUT, or empty when not ``amsgrad``.
    learning_rate, beta_1, beta_2, epsilon : float.
    step : int, the 1-based number of this step (bias correction).
    amsgrad : bool.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module
        docstring (``weight_decay`` is coupled L2; see ``adamw_update`` for decoupled).
    """
    _adam("adam_update", w, g, m, v, vhat, learning_rate, beta_1, beta_2, epsilon, step, amsgrad,
          clipvalue, weight_decay, 0.0, n_decay, grad_scale, segments, n_threads)


def adamw_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                 floating[::1] vhat, double learning_rate, double beta_1, double beta_2,
                 double epsilon, Py_ssize_t step, bint amsgrad, double clipvalue,
                 double weight_decay, Py_ssize_t n_decay, const double[::1] grad_scale,
                 const Py_ssize_t[::1] segments, int n_threads):
    """AdamW: Adam with decoupled weight decay (Keras 3 and torch.optim.AdamW).

    ``w -= lr * weight_decay * w`` on entries ``[0, n_decay)``, then the Adam
    update of ``adam_update`` with the undecayed gradient. Same parameters.
    """
    _adam("adamw_update", w, g, m, v, vhat, learning_rate, beta_1, beta_2, epsilon, step, amsgrad,
          clipvalue, 0.0, weight_decay, n_decay, grad_scale, segments, n_threads)


def nadam_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                 double learning_rate, double beta_1, double beta_2, double epsilon,
                 Py_ssize_t step, double u_product, double clipvalue, double weight_decay,
                 Py_ssize_t n_decay, const double[::1] grad_scale, const Py_ssize_t[::1] segments,
                 int n_threads):
    """Nadam, Keras 3 formulation (Dozat 2015; torch.optim.NAdam with ``momentum_decay=1``).

    With ``u_s = beta_1 * (1 - 0.5 * 0.96**s)`` and ``u_product = u_1 * ... * u_step``:
    ``m += (g - m) * (1 - beta_1); v += (g**2 - v) * (1 - beta_2)``;
    ``m_hat = u_{step+1} * m / (1 - u_product * u_{step+1}) + (1 - u_step) * g / (1 - u_product)``;
    ``w -= lr * m_hat / (sqrt(v / (1 - beta_2**step)) + epsilon)``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    m, v : (n,) IN/OUT first and second moments.
    learning_rate, beta_1, beta_2, epsilon : float.
    step : int, the 1-based number of this step.
    u_product : float in [0, 1), the product of the momentum schedule through ``step``.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "nadam_update"
    _check_moments(op, w.shape[0], g.shape, m.shape, v.shape, n_decay, grad_scale, segments, learning_rate,
                   clipvalue, step, beta_1, beta_2)
    if not 0 <= u_product < 1:
        raise value_error(op, "u_product", "be in [0, 1)", u_product)
    cdef double u_t = beta_1 * (1.0 - 0.5 * pow(0.96, <double> step))
    cdef double u_next = beta_1 * (1.0 - 0.5 * pow(0.96, <double> (step + 1)))
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.beta_1, h.beta_2, h.epsilon = beta_1, beta_2, epsilon
    h.coef_m = u_next / (1.0 - u_product * u_next)
    h.coef_g = (1.0 - u_t) / (1.0 - u_product)
    h.coef_v = 1.0 / (1.0 - pow(beta_2, <double> step))
    _run(_NADAM, w, g, _ptr(m), _ptr(v), NULL, &h, n_decay, grad_scale, segments, n_threads)


def adamax_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] u,
                  double learning_rate, double beta_1, double beta_2, double epsilon,
                  Py_ssize_t step, double clipvalue, double weight_decay, Py_ssize_t n_decay,
                  const double[::1] grad_scale, const Py_ssize_t[::1] segments, int n_threads):
    """Adamax, Keras 3 formulation (Kingma and Ba 2014, section 7.1).

    ``m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|)``;
    ``w -= lr / (1 - beta_1**step) * m / (u + epsilon)``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    m : (n,) IN/OUT first moment. u : (n,) IN/OUT weighted infinity norm.
    learning_rate, beta_1, beta_2, epsilon : float.
    step : int, the 1-based number of this step.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "adamax_update"
    _check_moments(op, w.shape[0], g.shape, m.shape, u.shape, n_decay, grad_scale, segments, learning_rate,
                   clipvalue, step, beta_1, beta_2, "u")
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.beta_1, h.beta_2, h.epsilon = beta_1, beta_2, epsilon
    h.coef_m = learning_rate / (1.0 - pow(beta_1, <double> step))
    _run(_ADAMAX, w, g, _ptr(m), _ptr(u), NULL, &h, n_decay, grad_scale, segments, n_threads)


def lion_update(floating[::1] w, const floating[::1] g, floating[::1] m, double learning_rate,
                double beta_1, double beta_2, double clipvalue, double weight_decay,
                Py_ssize_t n_decay, const double[::1] grad_scale, const Py_ssize_t[::1] segments,
                int n_threads):
    """Lion (Chen et al. 2023), Keras 3 formulation.

    ``w -= lr * sign(beta_1 * m + (1 - beta_1) * g); m = beta_2 * m + (1 - beta_2) * g``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    m : (n,) IN/OUT momentum.
    learning_rate, beta_1, beta_2 : float (betas in [0, 1]).
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "lion_update"
    _check_update(op, w.shape[0], g.shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_shape(op, "m", m.shape, 1, w.shape[0])
    _check_betas(op, beta_1, beta_2, True)
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.beta_1, h.beta_2 = beta_1, beta_2
    _run(_LION, w, g, _ptr(m), NULL, NULL, &h, n_decay, grad_scale, segments, n_threads)


def ftrl_update(floating[::1] w, const floating[::1] g, floating[::1] accumulator,
                floating[::1] linear, double learning_rate, double learning_rate_power,
                double l1_regularization_strength, double l2_regularization_strength,
                double l2_shrinkage_regularization_strength, double beta, double clipvalue,
                double weight_decay, Py_ssize_t n_decay, const double[::1] grad_scale,
                const Py_ssize_t[::1] segments, int n_threads):
    """FTRL-proximal (McMahan et al. 2013), Keras 3 formulation.

    With ``p = -learning_rate_power``, ``l2 = l2_regularization_strength + beta / (2 lr)``:
    ``a' = a + g**2; linear += g + 2 * l2_shrinkage * w - (a'**p - a**p) / lr * w``;
    ``w = (clip(linear, -l1, l1) - linear) / (a'**p / lr + 2 * l2); a = a'``.

    Parameters
    ----------
    w : (n,) IN/OUT. g : (n,) IN.
    accumulator : (n,) IN/OUT, starts at ``initial_accumulator_value``.
    linear : (n,) IN/OUT, starts at 0.
    learning_rate : float > 0.
    learning_rate_power : float <= 0.
    l1_regularization_strength, l2_regularization_strength,
    l2_shrinkage_regularization_strength, beta : float >= 0.
    clipvalue, weight_decay, n_decay, grad_scale, segments, n_threads : see the module docstring.
    """
    cdef str op = "ftrl_update"
    _check_update(op, w.shape[0], g.shape, n_decay, grad_scale, segments, learning_rate, clipvalue)
    check_shape(op, "accumulator", accumulator.shape, 1, w.shape[0])
    check_shape(op, "linear", linear.shape, 1, w.shape[0])
    if not learning_rate > 0:
        raise value_error(op, "learning_rate", "be > 0 (FTRL divides by it)", learning_rate)
    if not learning_rate_power <= 0:
        raise value_error(op, "learning_rate_power", "be <= 0", learning_rate_power)
    if not (l1_regularization_strength >= 0 and l2_regularization_strength >= 0
            and l2_shrinkage_regularization_strength >= 0 and beta >= 0):
        raise value_error(op, "the regularization strengths and beta", "be >= 0",
                          (l1_regularization_strength, l2_regularization_strength,
                           l2_shrinkage_regularization_strength, beta))
    cdef _Hyper h = _hyper(learning_rate, clipvalue, weight_decay, 0.0)
    h.lr_power, h.flag = learning_rate_power, learning_rate_power == -0.5
    h.l1 = l1_regularization_strength
    h.l2 = l2_regularization_strength + beta / (2.0 * learning_rate)
    h.shrinkage = 2.0 * l2_shrinkage_regularization_strength
    _run(_FTRL, w, g, _ptr(accumulator), _ptr(linear), NULL, &h, n_decay, grad_scale, segments, n_threads)


cdef double _block_sum_squares(const floating* x, Py_ssize_t size) noexcept nogil:
    cdef double acc[_LANES]
    cdef double total = 0
    cdef Py_ssize_t i, j, full = size - size % _LANES
    for j in range(_LANES):
        acc[j] = 0
    for i in range(full // _LANES):
        for j in range(_LANES):
            acc[j] += <double> x[i * _LANES + j] * <double> x[i * _LANES + j]
    for i in range(full, size):
        acc[i - full] += <double> x[i] * <double> x[i]
    for j in range(_LANES):
        total += acc[j]
    return total


def sum_squares(const floating[::1] x, const Py_ssize_t[::1] segments, double[::1] out,
                int n_threads):
    """Sum of squares of each segment, bit-identical whatever the thread count.

    Each segment is cut into fixed-size blocks from its start; block sums (in
    double) are combined in order.

    Parameters
    ----------
    x : (n,) IN.
    segments : (k + 1,) intp, non-decreasing from 0 to n. IN.
    out : (k,) float64. OUT: ``out[j] = sum(x[segments[j]:segments[j + 1]] ** 2)``.
    n_threads : int.
    """
    cdef Py_ssize_t n = x.shape[0], n_seg = out.shape[0], k, b, s, start, total = 0
    if segments.shape[0] != n_seg + 1:
        raise value_error("sum_squares", "segments", f"have len(out) + 1 = {n_seg + 1} entries", segments.shape[0])
    if n_seg == 0:
        return
    _check_segments("sum_squares", segments, n)
    cdef Py_ssize_t* first = <Py_ssize_t*> malloc((n_seg + 1) * sizeof(Py_ssize_t))
    if first == NULL:
        raise MemoryError()
    for k in range(n_seg):
        first[k] = total
        total += (segments[k + 1] - segments[k] + _SS_BLOCK - 1) // _SS_BLOCK
    first[n_seg] = total
    cdef double* partial = <double*> malloc((total + 1) * sizeof(double))
    if partial == NULL:
        free(first)
        raise MemoryError()
    cdef int t = effective_threads(n_threads, n, _GRAIN)
    try:
        with nogil:
            for b in prange(total, schedule="static", num_threads=t):
                s = _segment_of(first, n_seg, b)
                start = segments[s] + (b - first[s]) * _SS_BLOCK
                partial[b] = _block_sum_squares(&x[start], min(_SS_BLOCK, segments[s + 1] - start))
            for k in range(n_seg):
                out[k] = 0
                for b in range(first[k], first[k + 1]):
                    out[k] += partial[b]
    finally:
        free(partial)
        free(first)
