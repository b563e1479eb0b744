"""Depthwise 2-D convolution kernels, channels-last (NHWC): direct loops, no im2col.

Every input channel c has its own ``depth_multiplier`` (m) filters; output
channel ``c * m + j`` is channel c correlated with filter ``kernel[:, :, c, j]``,
as in Keras/TensorFlow. The kernel has Keras' layout ``(kh, kw, channels, m)``,
so for one tap ``kernel[ky, kx]`` is a row of ``channels * m`` weights in output
channel order. Geometry arguments as in ``_conv`` (``_convgeom.pxd``); the output
height and width come from ``out`` (or ``dz``).

Every loop runs one kernel tap over a run of pixels of one row, with the
channels innermost and contiguous (a C loop built per vector width,
``include/rv_simd.h``). Forward: a ``prange`` over output rows, each output element
summed over taps in (ky, kx) order. Input gradient: a gather over input rows
(each ``dx`` element written by one thread, taps in (ky, kx) order). Kernel
gradient: partials over fixed blocks of output rows (``_BLOCK_PIXELS`` pixels),
summed in block order; the blocks never depend on the thread count, so every
result is bit-identical whatever ``n_threads``.
"""
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ranvier.core._checks cimport ANY, check_shape
from ranvier.core._convgeom cimport check_geometry, tap_range
from ranvier.core._openmp cimport effective_threads
from ranvier.core._types cimport floating

# Multiply-adds per thread before a second thread is worth starting.
cdef Py_ssize_t _GRAIN = 1 << 15
# Output pixels per kernel-gradient block: the partials cost (pixels / _BLOCK_PIXELS)
# kernel-sized rows, the sums over a block stay in cache.
cdef Py_ssize_t _BLOCK_PIXELS = 1024


# The tap loops are C, built per vector width (include/rv_depthwise.h).
cdef extern from "rv_depthwise.h":
    void rv_dw_expand_f32(float* acc, Py_ssize_t acc_step, const float* a, Py_ssize_t a_step,
                          const float* b, Py_ssize_t b_step, Py_ssize_t nx, Py_ssize_t c,
                          Py_ssize_t m) noexcept nogil
    void rv_dw_expand_f64(double* acc, Py_ssize_t acc_step, const double* a, Py_ssize_t a_step,
                          const double* b, Py_ssize_t b_step, Py_ssize_t nx, Py_ssize_t c,
                          Py_ssize_t m) noexcept nogil
    void rv_dw_contract_f32(float* acc, Py_ssize_t acc_step, const float* a, Py_ssize_t a_step,
                            const float* k, Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) noexcept nogil
    void rv_dw_contract_f64(double* acc, Py_ssize_t acc_step, const double* a, Py_ssize_t a_step,
                            const double* k, Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) noexcept nogil


cdef inline void _expand(floating* acc, Py_ssize_t acc_step, const floating* a, Py_ssize_t a_step,
                         const floating* b, Py_ssize_t b_step, Py_ssize_t nx, Py_ssize_t c,
                         Py_ssize_t m) noexcept nogil:
    if floating is float:
        rv_dw_expand_f32(acc, acc_step, a, a_step, b, b_step, nx, c, m)
    else:
        rv_dw_expand_f64(acc, acc_step, a, a_step, b, b_step, nx, c, m)


cdef inline void _contract(floating* acc, Py_ssize_t acc_step, const floating* a, Py_ssize_t a_step,
                           const floating* k, Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) noexcept nogil:
    if floating is float:
        rv_dw_contract_f32(acc, acc_step, a, a_step, k, nx, c, m)
    else:
        rv_dw_contract_f64(acc, acc_step, a, a_step, k, nx, c, m)


def depthwise_conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] kernel,
                             floating[:, :, :, ::1] out, int kh, int kw, int sh, int sw, int dh, int dw,
                             int pt, int pl, int n_threads):
    """out = depthwise_conv(x, kernel), no bias (the caller fuses bias and activation).

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    kernel : ndarray of shape (kh, kw, c, m), m the depth multiplier (Keras layout). IN.
    out : ndarray of shape (n, oh, ow, c * m); channel ``ci * m + j`` is input channel ci
        filtered by ``kernel[:, :, ci, j]``. OUT.
    kh, kw, sh, sw, dh, dw, pt, pl : int
        Geometry (``_convgeom.pxd``).
    n_threads : int
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3]
    cdef Py_ssize_t m = kernel.shape[3], cm = c * m, oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t r, i, y
    cdef int t
    check_geometry("depthwise_conv2d_forward", kh, kw, sh, sw, dh, dw, pt, pl)
    # Any depth multiplier m.
    check_shape("depthwise_conv2d_forward", "kernel", kernel.shape, 4, kh, kw, c, m)
    check_shape("depthwise_conv2d_forward", "out", out.shape, 4, n, ANY, ANY, cm)
    if n == 0 or cm == 0:
        return
    t = effective_threads(n_threads, n * oh * ow * cm * kh * kw, _GRAIN)
    with nogil:
        for r in prange(n * oh, schedule="static", num_threads=t):
            i = r // oh
            y = r % oh
            memset(&out[i, y, 0, 0], 0, ow * cm * sizeof(floating))
            _row_taps(x, i, y, kh, kw, sh, sw, dh, dw, pt, pl, ow, &out[i, y, 0, 0], &kernel[0, 0, 0, 0], m, True)


def depthwise_conv2d_backward(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] kernel,
                              const floating[:, :, :, ::1] dz, floating[:, :, :, ::1] dkernel,
                              floating[:, :, :, ::1] dx, double beta, bint need_dx,
                              int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                              int n_threads):
    """Gradients of ``depthwise_conv2d_forward`` given dz = dL/dout (the bias gradient is the caller's).

    Parameters
    ----------
    x : (n, h, w, c). IN.
    kernel : (kh, kw, c, m). IN.
    dz : (n, oh, ow, c * m). IN.
    dkernel : (kh, kw, c, m). IN/OUT: ``beta * dkernel + dL/dkernel``.
    dx : (n, h, w, c), ignored (may be empty) unless ``need_dx``. OUT.
    beta : 0.0 overwrites ``dkernel`` without reading it, 1.0 accumulates.
    need_dx : bool
    kh, kw, sh, sw, dh, dw, pt, pl : int
        Geometry (``_convgeom.pxd``).
    n_threads : int
    """
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t m = kernel.shape[3], cm = c * m, oh = dz.shape[1], ow = dz.shape[2]
    cdef Py_ssize_t ksize = kh * kw * cm, rows, n_blocks
    cdef floating* partials
    check_geometry("depthwise_conv2d_backward", kh, kw, sh, sw, dh, dw, pt, pl)
    # Any depth multiplier m.
    check_shape("depthwise_conv2d_backward", "kernel", kernel.shape, 4, kh, kw, c, m)
    check_shape("depthwise_conv2d_backward", "dkernel", dkernel.shape, 4, kh, kw, c, m)
    check_shape("depthwise_conv2d_backward", "dz", dz.shape, 4, n, ANY, ANY, cm)
    if need_dx:
        check_shape("depthwise_conv2d_backward", "dx", dx.shape, 4, n, h, w, c)
    if ksize == 0:
        return
    rows = max(1, (_BLOCK_PIXELS + ow - 1) // ow)
    n_blocks = (n * oh + rows - 1) // rows
    partials = <floating*> malloc(max(1, n_blocks * ksize) * sizeof(floating))
    if partials == NULL:
        raise MemoryError(f"depthwise_conv2d_backward: could not allocate {n_blocks} x {ksize} partial sums")
    try:
        with nogil:
            _kernel_grad(x, dz, kh, kw, sh, sw, dh, dw, pt, pl, rows, n_blocks, partials, n_threads)
            _combine(partials, n_blocks, ksize, <floating> beta, &dkernel[0, 0, 0, 0], n_threads)
            if need_dx and n * h * w * c > 0:
                _input_grad(kernel, dz, dx, kh, kw, sh, sw, dh, dw, pt, pl, n_threads)
    finally:
        free(partials)


cdef void _kernel_grad(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] dz,
                       int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                       Py_ssize_t rows, Py_ssize_t n_blocks, floating* partials,
                       int n_threads) noexcept nogil:
    """partials[b] = the kernel gradient of output rows b * rows .. (b + 1) * rows (of n * oh)."""
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3]
    cdef Py_ssize_t cm = dz.shape[3], m = cm // c, oh = dz.shape[1], ow = dz.shape[2]
    cdef Py_ssize_t ksize = kh * kw * cm
    cdef Py_ssize_t b, r, i, y
    cdef floating* part
    cdef int t = effective_threads(n_threads, n * oh * ow * ksize, _GRAIN)
    for b in prange(n_blocks, schedule="static", num_threads=t):
        part = partials + b * ksize
        memset(part, 0, ksize * sizeof(floating))
        for r in range(b * rows, min((b + 1) * rows, n * oh)):
            i = r // oh
            y = r % oh
            _row_taps(x, i, y, kh, kw, sh, sw, dh, dw, pt, pl, ow, part, &dz[i, y, 0, 0], m, False)


cdef void _row_taps(const floating[:, :, :, ::1] x, Py_ssize_t i, Py_ssize_t y,
                    int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t ow,
                    floating* acc, const floating* other, Py_ssize_t m, bint acc_is_row) noexcept nogil:
    """Every tap's products with the input pixels that output row (i, y) reads inside the image.

    The forward (``acc_is_row``): acc is the output row, other the kernel (kh, kw, c, m).
    The kernel gradient: acc is the per-tap accumulator (kh, kw, c, m), other dz's row.
    Either way one side steps c * m per pixel and the other c * m per tap.
    """
    cdef Py_ssize_t h = x.shape[1], w = x.shape[2], c = x.shape[3], cm = c * m
    cdef Py_ssize_t ky, kx, iy, tap, lo, hi
    for ky in range(kh):
        iy = y * sh - pt + ky * dh
        if iy < 0 or iy >= h:
            continue
        for kx in range(kw):
            tap_range(kx * dw - pl, sw, w, ow, &lo, &hi)
            if hi <= lo:
                continue
            tap = (ky * kw + kx) * cm
            if acc_is_row:
                _expand(acc + lo * cm, cm, &x[i, iy, lo * sw + kx * dw - pl, 0], sw * c, other + tap, 0,
                        hi - lo, c, m)
            else:
                _expand(acc + tap, 0, &x[i, iy, lo * sw + kx * dw - pl, 0], sw * c, other + lo * cm, cm,
                        hi - lo, c, m)


cdef void _combine(const floating* partials, Py_ssize_t n_blocks, Py_ssize_t size, floating beta,
                   floating* out, int n_threads) noexcept nogil:
    """out = beta * out + sum of the partials in block order (beta == 0: out is not read)."""
    cdef Py_ssize_t s, j, b, j0, j1, span = 256
    cdef floating acc
    cdef int t = effective_threads(n_threads, n_blocks * size, _GRAIN)
    for s in prange((size + span - 1) // span, schedule="static", num_threads=t):
        j0 = s * span
        j1 = min(j0 + span, size)
        for j in range(j0, j1):
            acc = 0
            for b in range(n_blocks):
                acc = acc + partials[b * size + j]
            out[j] = acc if beta == 0 else beta * out[j] + acc


cdef void _input_grad(const floating[:, :, :, ::1] kernel, const floating[:, :, :, ::1] dz,
                      floating[:, :, :, ::1] dx, int kh, int kw, int sh, int sw, int dh, int dw,
                      int pt, int pl, int n_threads) noexcept nogil:
    """dx gathered per input row: each element is written by one thread, taps in (ky, kx) order."""
    cdef Py_ssize_t n = dx.shape[0], h = dx.shape[1], w = dx.shape[2], c = dx.shape[3]
    cdef Py_ssize_t m = kernel.shape[3], cm = c * m, oh = dz.shape[1], ow = dz.shape[2]
    cdef Py_ssize_t r, i, iy, ky, kx, yy, y, lo, hi
    cdef int t = effective_threads(n_threads, n * oh * ow * cm * kh * kw, _GRAIN)
    for r in prange(n * h, schedule="static", num_threads=t):
        lo = hi = 0  # thread-private (tap_range writes through pointers)
        i = r // h
        iy = r % h
        memset(&dx[i, iy, 0, 0], 0, w * c * sizeof(floating))
        for ky in range(kh):
            # Output row y reads input row iy through tap ky when y * sh = iy + pt - ky * dh.
            yy = iy + pt - ky * dh
            if yy < 0 or yy % sh != 0 or yy // sh >= oh:
                continue
            y = yy // sh
            for kx in range(kw):
                tap_range(kx * dw - pl, sw, w, ow, &lo, &hi)
                if hi > lo:
                    _contract(&dx[i, iy, lo * sw + kx * dw - pl, 0], sw * c, &dz[i, y, lo, 0], cm,
                              &kernel[ky, kx, 0, 0], hi - lo, c, m)
