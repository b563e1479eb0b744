"""Convolution fused with ReLU and 2x2 stride-2 max pooling, channels-last (NHWC).

``conv2d_relu_maxpool_forward`` pools each block of conv output rows in thread scratch,
so the conv output is never stored; ``conv2d_maxpool_backward`` rebuilds each block of
its gradient from the pool's dy, argmax and gate when it needs it. Results and argmax
are exactly those of ``_conv`` then ``_pool`` (same sums, same tie rule). Geometry
arguments as in ``_conv``.
"""
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free

from ranvier.core._checks cimport ANY, check_shape, value_error
from ranvier.core._convblocks cimport (Pooled, add_partials, alloc_scratch, block_forward, check_forward, check_grads,
                                       gradients, images_per_group)
from ranvier.core._convgeom cimport check_geometry
from ranvier.core._convtune cimport BLOCK_ROWS, PRODUCT_GRAIN, SPLIT_K
from ranvier.core._packed cimport pack, packed_alloc, packed_free
from ranvier.core._maxpool cimport index_t, max_pool_2x2_bias_relu_row
from ranvier.core._openmp cimport effective_threads
from ranvier.core._types cimport floating

cdef extern from "rv_conv_pooled_dw.h":
    Py_ssize_t rv_pooled_dw_cols() noexcept nogil
    void rv_pooled_dw(const float* x, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                      int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t ow,
                      Py_ssize_t ph, Py_ssize_t pw, const float* dy, const int* am, const float* gate,
                      Py_ssize_t f, float* dk, float* db) noexcept nogil


cdef int _check_pooled(str op, str arg, const Py_ssize_t* pooled, const Py_ssize_t* argmax, Py_ssize_t n,
                       Py_ssize_t f, int oh, int ow) except -1:
    """The checks both entries share: a conv output of at least one 2x2 window, the pooled and argmax shapes."""
    if oh < 2 or ow < 2:
        raise value_error(op, "oh, ow", "be >= 2 (one 2x2 pooling window)", f"{oh}, {ow}")
    check_shape(op, arg, pooled, 4, n, oh // 2, ow // 2, f)
    check_shape(op, "argmax", argmax, 4, n, oh // 2, ow // 2, f)
    return 0


def conv2d_relu_maxpool_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                                const floating[::1] bias, floating[:, :, :, ::1] out,
                                index_t[:, :, :, ::1] argmax, int kh, int kw, int sh, int sw, int dh, int dw,
                                int pt, int pl, int oh, int ow, int n_threads):
    """out = 2x2 max pooling (stride 2, "valid") of max(conv(x, kernel) + bias, 0).

    The conv output is never stored: each block of whole pooled rows gathers and
    multiplies in thread scratch, then pools with the bias and ReLU applied on the way. Results
    and argmax are exactly those of ``conv2d_forward`` then ``max_pool2d_forward``
    (same sums, same tie rule).

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    kernel : ndarray of shape (kh * kw * c, filters). IN.
    bias : ndarray of shape (filters,), or (0,) for none. IN.
    out : ndarray of shape (n, oh // 2, ow // 2, filters). OUT.
    argmax : int32 ndarray of the shape of ``out``. OUT: flat index ``(y * ow + x) * filters + f``
        of each window's max in the (unstored) conv output image.
    oh, ow : int
        The conv output size.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = kernel.shape[1], k = kh * kw * c
    cdef Py_ssize_t ph = oh // 2, pw = ow // 2, per_block, blocks, item, i, p0, p1, p, r0, rows
    cdef floating* cols
    cdef floating* z
    cdef int t
    cdef str op = "conv2d_relu_maxpool_forward"
    check_geometry(op, kh, kw, sh, sw, dh, dw, pt, pl)
    check_forward(op, kernel, bias, k)
    _check_pooled(op, "out", out.shape, argmax.shape, n, f, oh, ow)
    if oh * ow * f >= 2 ** 31:
        raise value_error(op, "oh * ow * filters", "be < 2**31 (32-bit argmax indices)", oh * ow * f)
    if n == 0 or f == 0 or k == 0:
        if n and f:
            check_shape(op, "x", x.shape, 4, n, x.shape[1], x.shape[2], ANY)
        return
    # Blocks of whole pooled rows of one image: 2 conv rows each, at least one per block.
    per_block = max(1, min(ph, BLOCK_ROWS // (2 * ow)))
    blocks = (ph + per_block - 1) // per_block
    t = effective_threads(n_threads, n * oh * ow * k * f, PRODUCT_GRAIN)
    cdef Py_ssize_t block_rows = 2 * ow * per_block
    cdef const floating* b = &bias[0] if bias.shape[0] else NULL
    cdef floating* packed = packed_alloc(k, f, 1, &out[0, 0, 0, 0])
    cdef floating* scratch = alloc_scratch(t * block_rows * (k + f), &out[0, 0, 0, 0])
    with nogil:
        pack(False, k, f, 1, 0, f, &kernel[0, 0], f, packed)
        for item in prange(n * blocks, schedule="static", num_threads=t):
            i = item // blocks
            p0 = item % blocks * per_block
            p1 = min(ph, p0 + per_block)
            cols = scratch + threadid() * block_rows * (k + f)
            z = cols + block_rows * k
            r0 = (i * oh + 2 * p0) * ow
            rows = 2 * (p1 - p0) * ow
            block_forward(x, r0, rows, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, False, cols, packed, f, NULL,
                          False, z)
            for p in range(p0, p1):
                max_pool_2x2_bias_relu_row(z + 2 * (p - p0) * ow * f, ow, f, pw, <index_t> (2 * p * ow * f), b,
                                           &out[i, p, 0, 0], &argmax[i, p, 0, 0])
    free(scratch)
    packed_free(packed)


def conv2d_maxpool_backward(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                            const floating[:, :, :, ::1] dy, const index_t[:, :, :, ::1] argmax,
                            const floating[:, :, :, ::1] gate, floating[:, ::1] dkernel, floating[::1] dbias,
                            floating[:, :, :, ::1] dx, double beta, bint need_dx,
                            int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int oh, int ow,
                            int n_threads):
    """Gradients of ``conv2d_relu_maxpool_forward`` given dy = dL/dout (the pooled output).

    The same as ``max_pool2d_backward`` with the gate, then ``conv2d_backward``,
    but the conv output's gradient is never stored: each block of its rows is
    rebuilt from dy, argmax and gate in scratch when it is needed.

    Parameters
    ----------
    x, kernel : as in ``conv2d_backward``. IN.
    dy : (n, oh // 2, ow // 2, filters). IN.
    argmax : int32, the shape of dy, from ``conv2d_relu_maxpool_forward``. IN.
    gate : the pooled output, the shape of dy. IN.
    dkernel, dbias, dx, beta, need_dx : as in ``conv2d_backward``.
    oh, ow : int
        The conv output size.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = kernel.shape[1], k = kh * kw * c
    cdef Py_ssize_t ph = oh // 2, pw = ow // 2
    cdef Pooled pooled
    cdef str op = "conv2d_maxpool_backward"
    check_geometry(op, kh, kw, sh, sw, dh, dw, pt, pl)
    check_grads(op, x, kernel, dkernel, dbias, dx, beta, need_dx, k)
    _check_pooled(op, "dy", dy.shape, argmax.shape, n, f, oh, ow)
    check_shape(op, "gate", gate.shape, 4, n, ph, pw, f)
    if f == 0:
        return
    if n == 0 or k == 0:
        if n:
            check_shape(op, "x", x.shape, 4, n, x.shape[1], x.shape[2], ANY)
        if beta == 0.0:
            dkernel[...] = 0
            dbias[...] = 0
        return
    pooled.dy = &dy[0, 0, 0, 0]
    pooled.argmax = &argmax[0, 0, 0, 0]
    pooled.gate = &gate[0, 0, 0, 0]
    if floating is float:
        if not need_dx and k < SPLIT_K and rv_pooled_dw_cols() and f % rv_pooled_dw_cols() == 0:
            if beta == 0.0:
                dbias[...] = 0
            _pooled_kernel_grad(x, pooled, f, &dkernel[0, 0], &dbias[0] if dbias.shape[0] else NULL, beta != 0.0,
                                kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, n_threads)
            return
    gradients(x, kernel, <const floating*> NULL, pooled, dkernel, dbias, dx, beta, need_dx, kh, kw, sh, sw, dh, dw,
              pt, pl, oh, ow, n_threads)


cdef void _pooled_kernel_grad(const float[:, :, :, ::1] x, Pooled pooled, Py_ssize_t f, float* dkernel,
                              float* dbias, bint accumulate, int kh, int kw, int sh, int sw, int dh, int dw, int pt,
                              int pl, Py_ssize_t oh, Py_ssize_t ow, int n_threads) except *:
    """dkernel (+)= and dbias += (unless NULL) the kernel gradients of ``conv2d_maxpool_backward``
    by ``rv_pooled_dw``, per group of images fixed by the shapes (partial sums added in order)."""
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3], k = kh * kw * c
    cdef Py_ssize_t ph = oh // 2, pw = ow // 2, per_chunk, n_chunks, part_len = k * f + f, ch, i0, q
    per_chunk = images_per_group(n, k, f)
    n_chunks = (n + per_chunk - 1) // per_chunk
    cdef int t = min(effective_threads(n_threads, n * oh * ow * k * f, PRODUCT_GRAIN), <int> n_chunks)
    cdef float* parts = alloc_scratch(n_chunks * part_len, dkernel)
    with nogil:
        for ch in prange(n_chunks, schedule="static", num_threads=t):
            i0 = ch * per_chunk
            q = i0 * ph * pw * f
            rv_pooled_dw(&x[i0, 0, 0, 0], min(n, i0 + per_chunk) - i0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, ow,
                         ph, pw, <const float*> pooled.dy + q, pooled.argmax + q, <const float*> pooled.gate + q, f,
                         parts + ch * part_len, parts + ch * part_len + k * f)
        add_partials(parts, n_chunks, part_len, k * f, f, dkernel, dbias, accumulate, t)
    free(parts)
