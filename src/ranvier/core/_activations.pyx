"""Activation kernels: elementwise functions and row-wise softmax, forward and derivative.

Every array is viewed as 2-D, rows x last axis. The forward pass can add a
bias along the last axis into the pre-activation in the same pass (the fused
bias + activation of Dense); the backward pass computes ``dz = dy * f'(.)``
from the pre-activation ``z`` and/or the output ``y``. ``KINDS`` maps names
to kind codes; ``NEEDS_INPUT`` lists the kinds whose derivative reads ``z``
(the others read only ``y``, so a layer may compute them in place).

Maxout (max over ``pieces`` affine maps) lives here too: one GEMM and a
row-wise max that records the winning piece for the backward pass.
"""
from cython.parallel cimport prange
from libc.math cimport INFINITY, M_SQRT1_2

from ranvier.core._checks cimport ANY, check_shape, value_error
from ranvier.core._fastmath cimport fast_sigmoid as _sigmoid, fast_tanh as _tanh, rv_sigmoid_f32, rv_tanh_f32
from ranvier.core._libm cimport fabs_ as _abs, ferf as _erf, fexp as _exp, fexpm1 as _expm1
from ranvier.core._libm cimport flog as _log, flog1p as _log1p
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads
from ranvier.core._relu cimport add_bias, relu, relu_back

cdef enum:
    LINEAR = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    ELU = 4
    SELU = 5
    GELU = 6
    GELU_TANH = 7
    SOFTPLUS = 8
    SOFTSIGN = 9
    SWISH = 10
    HARD_SIGMOID = 11
    EXPONENTIAL = 12
    BINARY_STEP = 13
    SOFTMAX = 14
    LOG_SOFTMAX = 15
    MISH = 16
    HARD_SILU = 17
    LOG_SIGMOID = 18
    CELU = 19
    N_KINDS = 20

KINDS = {
    "linear": LINEAR, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU, "elu": ELU, "selu": SELU,
    "gelu": GELU, "gelu_tanh": GELU_TANH, "softplus": SOFTPLUS, "softsign": SOFTSIGN,
    "swish": SWISH, "hard_sigmoid": HARD_SIGMOID, "exponential": EXPONENTIAL,
    "binary_step": BINARY_STEP, "softmax": SOFTMAX, "log_softmax": LOG_SOFTMAX,
    "mish": MISH, "hard_silu": HARD_SILU, "log_sigmoid": LOG_SIGMOID, "celu": CELU,
}
NEEDS_INPUT = frozenset({ELU, SELU, GELU, GELU_TANH, SOFTPLUS, SOFTSIGN, SWISH, HARD_SIGMOID,
                         MISH, HARD_SILU, CELU})
ROWWISE = frozenset({SOFTMAX, LOG_SOFTMAX})

# Constants of SELU (Klambauer et al. 2017) and of the tanh approximation of GELU.
cdef double _SELU_ALPHA = 1.6732632423543772848170429916717
cdef double _SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = _SELU_ALPHA
SELU_SCALE = _SELU_SCALE
cdef double _SQRT_2_OVER_PI = 0.79788456080286535587989211986876
cdef double _INV_SQRT_2PI = 0.39894228040143267793994605993438
cdef double _GELU_C = 0.044715

# Elements per parallel block of an elementwise pass without bias (any shape
# then splits evenly); work per thread below which a pass stays serial.
cdef Py_ssize_t _BLOCK = 4096
cdef Py_ssize_t _GRAIN_CHEAP = 32768
cdef Py_ssize_t _GRAIN_TRANSCENDENTAL = 8192


cdef inline floating _relu(floating x, floating slope, floating top, floating threshold) noexcept nogil:
    # Keras: x > threshold -> clip(x, 0, max_value), else negative_slope * (x - threshold).
    if x > threshold:
        if x <= 0:
            return 0
        return x if x < top else top
    return slope * (x - threshold) if slope != 0 else 0


cdef inline floating _softplus(floating x) noexcept nogil:
    return (x if x > 0 else 0) + _log1p(_exp(-_abs(x)))


cdef inline floating _gelu_tanh(floating x) noexcept nogil:
    return <floating> 0.5 * x * (1 + _tanh(<floating> _SQRT_2_OVER_PI * (x + <floating> _GELU_C * x * x * x)))


cdef void _forward_span(int kind, floating* z, const floating* bias, floating* y, Py_ssize_t n,
                        Py_ssize_t cols, floating a, floating b, floating c) noexcept nogil:
    """y[:n] = f(z[:n] (+ bias)), whole rows of ``cols`` or one block; for softmax kinds, one row.

    a, b, c: relu (negative_slope, max_value, threshold); elu, celu (alpha).
    """
    cdef Py_ssize_t j
    cdef floating x, m, s
    if bias != NULL:
        add_bias(z, bias, n // cols, cols)
    if kind == LINEAR:
        if y != z:
            for j in range(n):
                y[j] = z[j]
    elif kind == RELU:
        if a == 0 and c == 0 and b == INFINITY:
            relu(z, y, n)
        else:
            for j in range(n):
                y[j] = _relu(z[j], a, b, c)
    elif kind == SIGMOID:
        if floating is float:
            rv_sigmoid_f32(z, y, n)
        else:
            for j in range(n):
                y[j] = _sigmoid(z[j])
    elif kind == TANH:
        if floating is float:
            rv_tanh_f32(z, y, n)
        else:
            for j in range(n):
                y[j] = _tanh(z[j])
    elif kind == ELU:
        for j in range(n):
            x = z[j]
            y[j] = x if x > 0 else a * _expm1(x)
    elif kind == SELU:
        for j in range(n):
            x = z[j]
            y[j] = <floating> _SELU_SCALE * (x if x > 0 else <floating> _SELU_ALPHA * _expm1(x))
    elif kind == GELU:
        for j in range(n):
            x = z[j]
            y[j] = <floating> 0.5 * x * (1 + _erf(x * <floating> M_SQRT1_2))
    elif kind == GELU_TANH:
        for j in range(n):
            y[j] = _gelu_tanh(z[j])
    elif kind == SOFTPLUS:
        for j in range(n):
            y[j] = _softplus(z[j])
    elif kind == SOFTSIGN:
        for j in range(n):
            x = z[j]
            y[j] = x / (1 + _abs(x))
    elif kind == SWISH:
        for j in range(n):
            x = z[j]
            y[j] = x * _sigmoid(x)
    elif kind == HARD_SIGMOID:
        for j in range(n):
            x = z[j] + 3
            y[j] = (0 if x <= 0 else (x if x < 6 else 6)) / <floating> 6
    elif kind == EXPONENTIAL:
        for j in range(n):
            y[j] = _exp(z[j])
    elif kind == BINARY_STEP:
        for j in range(n):
            y[j] = 1 if z[j] >= 0 else 0
    elif kind == MISH:
        for j in range(n):
            x = z[j]
            y[j] = x * _tanh(_softplus(x))
    elif kind == HARD_SILU:
        for j in range(n):
            x = z[j]
            m = x + 3
            y[j] = x * (0 if m <= 0 else (m if m < 6 else 6)) / <floating> 6
    elif kind == LOG_SIGMOID:
        for j in range(n):
            x = z[j]
            y[j] = (x if x < 0 else 0) - _log1p(_exp(-_abs(x)))
    elif kind == CELU:
        for j in range(n):
            x = z[j]
            y[j] = x if x > 0 else a * _expm1(x / a)
    elif kind == SOFTMAX or kind == LOG_SOFTMAX:
        m = z[0]
        for j in range(1, n):
            if z[j] > m:
                m = z[j]
        s = 0
        if kind == SOFTMAX:
            for j in range(n):
                y[j] = _exp(z[j] - m)
                s += y[j]
            s = 1 / s
            for j in range(n):
                y[j] *= s
        else:
            for j in range(n):
                s += _exp(z[j] - m)
            # (z - m) - log(s): adding m to log(s) first would round it away for huge m.
            s = _log(s)
            for j in range(n):
                y[j] = (z[j] - m) - s


cdef void _backward_span(int kind, const floating* dy, const floating* z, const floating* y,
                         floating* dz, Py_ssize_t n, floating a, floating b, floating c) noexcept nogil:
    """dz[:n] = dy * f'(.) from z and/or y (z is NULL for kinds outside NEEDS_INPUT)."""
    cdef Py_ssize_t j
    cdef floating x, v, s, t, u
    if kind == LINEAR:
        if dz != dy:
            for j in range(n):
                dz[j] = dy[j]
    elif kind == RELU:
        # Read from y: y in (0, max_value) is the identity part, y < 0 the negative
        # slope, y == 0 or y == max_value a flat part (or a kink).
        # Loads hoisted out of the selects so that the loops vectorise.
        if a == 0 and b == INFINITY:
            relu_back(dy, y, dz, n)
        else:
            for j in range(n):
                v = y[j]
                s = dy[j]
                t = s * a
                u = s if v < b else 0
                dz[j] = u if v > 0 else (t if v < 0 else 0)
    elif kind == SIGMOID:
        for j in range(n):
            dz[j] = dy[j] * y[j] * (1 - y[j])
    elif kind == TANH:
        for j in range(n):
            dz[j] = dy[j] * (1 - y[j] * y[j])
    elif kind == ELU:
        for j in range(n):
            dz[j] = dy[j] if z[j] > 0 else dy[j] * (y[j] + a)
    elif kind == SELU:
        for j in range(n):
            dz[j] = dy[j] * (<floating> _SELU_SCALE if z[j] > 0
                             else y[j] + <floating> (_SELU_SCALE * _SELU_ALPHA))
    elif kind == GELU:
        for j in range(n):
            x = z[j]
            dz[j] = dy[j] * (<floating> 0.5 * (1 + _erf(x * <floating> M_SQRT1_2))
                             + x * <floating> _INV_SQRT_2PI * _exp(<floating> -0.5 * x * x))
    elif kind == GELU_TANH:
        for j in range(n):
            x = z[j]
            t = _tanh(<floating> _SQRT_2_OVER_PI * (x + <floating> _GELU_C * x * x * x))
            u = <floating> _SQRT_2_OVER_PI * (1 + <floating> (3 * _GELU_C) * x * x)
            dz[j] = dy[j] * <floating> 0.5 * (1 + t + x * (1 - t * t) * u)
    elif kind == SOFTPLUS:
        for j in range(n):
            dz[j] = dy[j] * _sigmoid(z[j])
    elif kind == SOFTSIGN:
        for j in range(n):
            v = 1 + _abs(z[j])
            dz[j] = dy[j] / (v * v)
    elif kind == SWISH:
        for j in range(n):
            s = _sigmoid(z[j])
            dz[j] = dy[j] * (s + y[j] * (1 - s))
    elif kind == HARD_SIGMOID:
        for j in range(n):
            dz[j] = dy[j] / <floating> 6 if (z[j] > -3 and z[j] < 3) else 0
    elif kind == EXPONENTIAL:
        for j in range(n):
            dz[j] = dy[j] * y[j]
    elif kind == BINARY_STEP:
        for j in range(n):
            dz[j] = 0
    elif kind == MISH:
        for j in range(n):
            x = z[j]
            t = _tanh(_softplus(x))
            dz[j] = dy[j] * (t + x * (1 - t * t) * _sigmoid(x))
    elif kind == HARD_SILU:
        # torch's hardswish_backward: the kinks at -3 and 3 take the inner slope.
        for j in range(n):
            x = z[j]
            dz[j] = 0 if x < -3 else (dy[j] * (x / <floating> 3 + <floating> 0.5) if x <= 3 else dy[j])
    elif kind == LOG_SIGMOID:
        # f' = 1 - sigmoid(x) = 1 - exp(y), as -expm1(y) to keep it exact for y near 0.
        for j in range(n):
            dz[j] = -dy[j] * _expm1(y[j])
    elif kind == CELU:
        for j in range(n):
            dz[j] = dy[j] if z[j] > 0 else dy[j] * (y[j] / a + 1)
    elif kind == SOFTMAX:
        s = 0
        for j in range(n):
            s += dy[j] * y[j]
        for j in range(n):
            dz[j] = y[j] * (dy[j] - s)
    elif kind == LOG_SOFTMAX:
        s = 0
        for j in range(n):
            s += dy[j]
        for j in range(n):
            dz[j] = dy[j] - _exp(y[j]) * s


cdef inline Py_ssize_t _grain(int kind) noexcept nogil:
    if (kind == LINEAR or kind == RELU or kind == BINARY_STEP or kind == SOFTSIGN or kind == HARD_SIGMOID
            or kind == HARD_SILU):
        return _GRAIN_CHEAP
    return _GRAIN_TRANSCENDENTAL


cdef void _forward(int kind, floating* z, const floating* bias, floating* y, Py_ssize_t rows,
                   Py_ssize_t cols, floating a, floating b, floating c, int n_threads) noexcept nogil:
    # Row-wise kinds work row by row; with a bias, whole rows, about _BLOCK elements
    # at a time (a conv's rows are a few channels); else fixed blocks of the flat
    # array (so a (1, n) array parallelises too).
    cdef Py_ssize_t span = _BLOCK
    if kind == SOFTMAX or kind == LOG_SOFTMAX:
        span = cols
    elif bias != NULL:
        span = max(1, _BLOCK // cols) * cols if cols > 0 else 1
    cdef Py_ssize_t total = rows * cols
    cdef Py_ssize_t n_spans = (total + span - 1) // span
    cdef int t = effective_threads(n_threads, total, _grain(kind))
    cdef Py_ssize_t i, start
    if total == 0:
        return
    if t > 1:
        for i in prange(n_spans, schedule="static", num_threads=t):
            start = i * span
            _forward_span(kind, z + start, bias, y + start,
                          span if start + span <= total else total - start, cols, a, b, c)
    else:
        for i in range(n_spans):
            start = i * span
            _forward_span(kind, z + start, bias, y + start,
                          span if start + span <= total else total - start, cols, a, b, c)


cdef void _backward(int kind, const floating* dy, const floating* z, const floating* y, floating* dz,
                    Py_ssize_t rows, Py_ssize_t cols, floating a, floating b, floating c,
                    int n_threads) noexcept nogil:
    cdef Py_ssize_t span = cols if (kind == SOFTMAX or kind == LOG_SOFTMAX) else _BLOCK
    cdef Py_ssize_t total = rows * cols
    cdef Py_ssize_t n_spans = (total + span - 1) // span
    cdef int t = effective_threads(n_threads, total, _grain(kind))
    cdef Py_ssize_t i, start
    if total == 0:
        return
    if t > 1:
        for i in prange(n_spans, schedule="static", num_threads=t):
            start = i * span
            _backward_span(kind, dy + start, (z + start) if z != NULL else NULL,
                           (y + start) if y != NULL else NULL, dz + start,
                           span if start + span <= total else total - start, a, b, c)
    else:
        for i in range(n_spans):
            start = i * span
            _backward_span(kind, dy + start, (z + start) if z != NULL else NULL,
                           (y + start) if y != NULL else NULL, dz + start,
                           span if start + span <= total else total - start, a, b, c)


def activation_forward(int kind, const floating[:, ::1] z, double a, double b, double c,
                       floating[:, ::1] out, int n_threads):
    """out = f(z), elementwise or row-wise (softmax kinds).

    Parameters
    ----------
    kind : int
        A value of ``KINDS``.
    z : ndarray of shape (rows, cols). IN.
    a, b, c : float
        relu: negative_slope, max_value (``inf`` for none), threshold; elu: alpha.
    out : ndarray of shape (rows, cols). OUT; may be ``z``.
    n_threads : int
    """
    if kind < 0 or kind >= N_KINDS:
        raise value_error("activation_forward", "kind", f"be in [0, {N_KINDS})", kind)
    check_shape("activation_forward", "out", out.shape, 2, z.shape[0], z.shape[1])
    if kind == SOFTMAX or kind == LOG_SOFTMAX:
        # softmax normalises rows: an empty row has no distribution.
        check_shape("activation_forward", "z", z.shape, 2, z.shape[0], ANY)
    if z.shape[0] == 0 or z.shape[1] == 0:
        return
    with nogil:
        # z is only read when no bias is given.
        _forward(kind, <floating*> &z[0, 0], NULL, &out[0, 0], z.shape[0], z.shape[1],
                 <floating> a, <floating> b, <floating> c, n_threads)


def bias_activation_forward(int kind, floating[:, ::1] z, const floating[::1] bias,
                            double a, double b, double c, floating[:, ::1] out, int n_threads):
    """z += bias (along the last axis), then out = f(z), in one pass.

    Parameters
    ----------
    kind : int
        A value of ``KINDS``.
    z : ndarray of shape (rows, cols). IN/OUT: holds ``z + bias`` afterwards.
    bias : ndarray of shape (cols,). IN.
    a, b, c : float
        As in ``activation_forward``.
    out : ndarray of shape (rows, cols). OUT; may be ``z``.
    n_threads : int
    """
    if kind < 0 or kind >= N_KINDS:
        raise value_error("bias_activation_forward", "kind", f"be in [0, {N_KINDS})", kind)
    check_shape("bias_activation_forward", "out", out.shape, 2, z.shape[0], z.shape[1])
    check_shape("bias_activation_forward", "bias", bias.shape, 1, z.shape[1])
    if z.shape[0] == 0 or z.shape[1] == 0:
        return
    with nogil:
        _forward(kind, &z[0, 0], &bias[0], &out[0, 0], z.shape[0], z.shape[1],
                 <floating> a, <floating> b, <floating> c, n_threads)


def activation_backward(int kind, const floating[:, ::1] dy, const floating[:, ::1] z,
                        const floating[:, ::1] y, double a, double b, double c,
                        floating[:, ::1] out, int n_threads):
    """out = dy * f'(.): the gradient w.r.t. the pre-activation.

    Parameters
    ----------
    kind : int
        A value of ``KINDS``.
    dy : ndarray of shape (rows, cols). IN: gradient w.r.t. the output.
    z : ndarray of shape (rows, cols), or of shape (0, 0) when ``kind`` is not
        in ``NEEDS_INPUT``. IN: the pre-activation (bias included).
    y : ndarray of shape (rows, cols). IN: the output ``f(z)``.
    a, b, c : float
        As in ``activation_forward``.
    out : ndarray of shape (rows, cols). OUT; may be ``dy``.
    n_threads : int
    """
    cdef Py_ssize_t rows = dy.shape[0], cols = dy.shape[1]
    cdef bint use_z = kind in NEEDS_INPUT
    if kind < 0 or kind >= N_KINDS:
        raise value_error("activation_backward", "kind", f"be in [0, {N_KINDS})", kind)
    check_shape("activation_backward", "y", y.shape, 2, rows, cols)
    check_shape("activation_backward", "out", out.shape, 2, rows, cols)
    if use_z:
        check_shape("activation_backward", "z", z.shape, 2, rows, cols)
    if rows == 0 or cols == 0:
        return
    with nogil:
        _backward(kind, &dy[0, 0], &z[0, 0] if use_z else NULL, &y[0, 0], &out[0, 0], rows, cols,
                  <floating> a, <floating> b, <floating> c, n_threads)
