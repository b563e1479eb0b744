"""Convolution kernels, channels-last (NHWC): im2col / col2im and the conv as blocked products.

A 1-D convolution is the 2-D one with H = 1 (the API reshapes, no copy).
Geometry arguments, shared by every function here:

    kh, kw   kernel height and width
    sh, sw   strides
    dh, dw   dilation rates
    pt, pl   zero padding before the first row / column (Keras "same" pads
             asymmetrically: the extra row/column goes after, and reads past
             the input's end are zeros, so the trailing padding needs no argument)

The output height and width are taken from the output array the caller
allocated with ``ranvier.api.layers._conv_utils``.

Columns: row ``(n * oh + y) * ow + x`` of the column matrix holds the
receptive field of output pixel (n, y, x) in (ky, kx, c) order, which is the
row order of a Keras kernel (kh, kw, in, out) reshaped to (kh * kw * in, out).

The column matrix is never stored whole. Each thread gathers a block of a
few hundred of its rows into its own scratch (it stays in L2) and multiplies
it at once on the micro-kernel of ``_packed.pxd``:

- forward: row blocks over a ``prange``, against the kernel packed once,
  then the bias and a plain ReLU on the block while it is in cache;
- kernel gradient: each thread owns whole rows of dkernel (a range of the
  columns) and sums fixed row blocks in order, so the result does not depend
  on the thread count;
- input gradient: threads own whole images (receptive fields overlap only
  within an image); each block's column gradients (dz @ kernel.T) are
  scattered back while in cache.

Measured on one core at W2's second conv (7744x288x64), against writing the
whole column matrix (9 MB, out of cache) and OpenBLAS for the kernel gradient:
see docs/conv.md. A 1x1 stride-1 unpadded conv reads its input as the column
matrix directly.
"""
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ranvier.core._packed cimport pack, packed_alloc, packed_free, packed_gemm, packed_len, strided_gemm
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._convgeom cimport check_geometry, tap_range
from ranvier.core._maxpool cimport index_t, max_pool_2x2_bias_relu_row, unpool_span
from ranvier.core._relu cimport add_bias, relu
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

cdef extern from "rv_conv_pixels.h":
    void rv_copy_pixels_f32(float* dst, Py_ssize_t ldd, const float* src, Py_ssize_t lds,
                            Py_ssize_t n, Py_ssize_t c) noexcept nogil
    void rv_copy_pixels_f64(double* dst, Py_ssize_t ldd, const double* src, Py_ssize_t lds,
                            Py_ssize_t n, Py_ssize_t c) noexcept nogil
    void rv_add_pixels_f32(float* dst, Py_ssize_t ldd, const float* src, Py_ssize_t lds,
                           Py_ssize_t n, Py_ssize_t c) noexcept nogil
    void rv_add_pixels_f64(double* dst, Py_ssize_t ldd, const double* src, Py_ssize_t lds,
                           Py_ssize_t n, Py_ssize_t c) noexcept nogil

cdef extern from "rv_conv_pooled_dw.h":
    Py_ssize_t rv_pooled_dw_cols() noexcept nogil
    void rv_pooled_dw(const float* x, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                      int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t ow,
                      Py_ssize_t ph, Py_ssize_t pw, const float* dy, const int* am, const float* gate,
                      Py_ssize_t f, float* dk, float* db) noexcept nogil

# Elements moved per thread before a second thread is worth starting.
cdef Py_ssize_t _GRAIN = 1 << 15
# Multiply-adds per thread before a second thread is worth starting.
cdef Py_ssize_t _PRODUCT_GRAIN = 1 << 17
# Rows of a forward or input-gradient block: its columns (256 x k) stay in L2 between
# the gather and the product (W2's second conv: 256 x 288 floats, 288 KB).
cdef Py_ssize_t _BLOCK_ROWS = 256
# Rows of a kernel-gradient block: a tile's slices of the columns and of dz (8 and 32
# values per row) stay in L1 across the block (measured one core: 128 rows 1.33 ms,
# 256 rows 2.2 ms at 7744x288x64).
cdef Py_ssize_t _GRAD_ROWS = 128
# The rows of dkernel a thread owns are a multiple of the tallest micro-kernel tile.
cdef Py_ssize_t _TILE_ROWS = 8
# Fewer rows of dkernel than this, and the kernel gradient splits the column rows
# instead: W2's first conv (k = 9) split 8 + 1, each thread rebuilding every block of
# dz and the 1-row share padded to a whole tile, ran no faster on two threads than one.
cdef Py_ssize_t _SPLIT_K = 64
# Rows of such a split's chunks, and the most values all its partial sums may take.
cdef Py_ssize_t _CHUNK_ROWS = 8 * _GRAD_ROWS
cdef Py_ssize_t _PARTIALS_LEN = 1 << 20
# Most groups of whole images a backward cuts the batch into (``_images_per_group``).
cdef Py_ssize_t _IMAGE_CHUNKS = 16
# Values per thread work unit when the partial sums are added up.
cdef Py_ssize_t _ADD_BLOCK = 4096


cdef struct _Pooled:
    # The gradient source of ``conv2d_maxpool_backward``: dy, argmax and gate of a 2x2 max pool
    # (the pool's output gradient, argmax and output, float32 or float64 like the conv).
    const void* dy
    const index_t* argmax
    const void* gate


cdef inline bint _pointwise(int kh, int kw, int sh, int sw, int pt, int pl, Py_ssize_t h, Py_ssize_t w,
                            Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """A 1x1 stride-1 conv without padding: the input already is its column matrix."""
    return kh == 1 and kw == 1 and sh == 1 and sw == 1 and pt == 0 and pl == 0 and oh == h and ow == w


cdef inline floating* _scratch(Py_ssize_t n, floating* like) except NULL:
    """Uninitialised memory for ``n`` values (at least one), freed with ``free``."""
    cdef floating* p = <floating*> malloc(max(n, 1) * sizeof(floating))
    if p == NULL:
        raise MemoryError(f"cannot allocate {n} values of conv scratch")
    return p


def im2col(const floating[:, :, :, ::1] x, int kh, int kw, int sh, int sw, int dh, int dw,
           int pt, int pl, floating[:, ::1] col, int oh, int ow, int n_threads):
    """Gather receptive fields: col[(n*oh + y)*ow + x, (ky*kw + kx)*c + ci].

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    kh, kw, sh, sw, dh, dw, pt, pl : int
        Geometry (module docstring).
    col : ndarray of shape (n * oh * ow, kh * kw * c). OUT.
    oh, ow : int
        Output height and width.
    """
    cdef Py_ssize_t m = col.shape[0], k = col.shape[1], blk, r0
    cdef int t
    check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    if oh < 1 or ow < 1:
        raise ValueError(f"im2col: output size must be positive, got ({oh}, {ow})")
    if m != x.shape[0] * oh * ow or k != kh * kw * x.shape[3]:
        raise ValueError(f"im2col: col must have shape ({x.shape[0] * oh * ow}, {kh * kw * x.shape[3]}), "
                         f"got ({m}, {k})")
    if m == 0 or k == 0:
        return
    t = effective_threads(n_threads, m * k, _GRAIN)
    for blk in prange((m + _BLOCK_ROWS - 1) // _BLOCK_ROWS, schedule="static", num_threads=t, nogil=True):
        r0 = blk * _BLOCK_ROWS
        _move_rows(<floating*> &x[0, 0, 0, 0], x.shape[1], x.shape[2], x.shape[3], 0, r0,
                   min(m, r0 + _BLOCK_ROWS), 0, k, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
                   &col[r0, 0], False)


def col2im(const floating[:, ::1] col, int kh, int kw, int sh, int sw, int dh, int dw,
           int pt, int pl, floating[:, :, :, ::1] x, int oh, int ow, int n_threads):
    """Scatter-add columns back to the image: the adjoint of ``im2col``.

    Parameters
    ----------
    col : ndarray of shape (n * oh * ow, kh * kw * c). IN.
    x : ndarray of shape (n, h, w, c). OUT (overwritten, padding reads dropped).
    """
    cdef Py_ssize_t n = x.shape[0], per = oh * ow, k = col.shape[1], i
    cdef int t
    check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    if oh < 1 or ow < 1:
        raise ValueError(f"col2im: output size must be positive, got ({oh}, {ow})")
    if col.shape[0] != n * per or k != kh * kw * x.shape[3]:
        raise ValueError(f"col2im: col must have shape ({n * per}, {kh * kw * x.shape[3]}), "
                         f"got ({col.shape[0]}, {k})")
    if n == 0 or x.shape[1] * x.shape[2] * x.shape[3] == 0:
        return
    t = effective_threads(n_threads, n * per * k, _GRAIN)
    # Receptive fields of one image overlap, so threads split images.
    for i in prange(n, schedule="static", num_threads=t, nogil=True):
        memset(&x[i, 0, 0, 0], 0, x.shape[1] * x.shape[2] * x.shape[3] * sizeof(floating))
        _move_rows(&x[0, 0, 0, 0], x.shape[1], x.shape[2], x.shape[3], i, 0, per, 0, k,
                   kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, <floating*> &col[i * per, 0], True)


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel, const floating[::1] bias,
                   bint apply_relu, floating[:, :, :, ::1] out, int kh, int kw, int sh, int sw, int dh, int dw,
                   int pt, int pl, int n_threads):
    """out = conv(x, kernel) (+ bias) (then max(., 0)).

    The bias and the ReLU go on each block of output rows right after its
    product, while it is in cache, instead of in a pass of their own over the
    whole output (other activations are the caller's).

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    kernel : ndarray of shape (kh * kw * c, filters): a Keras kernel reshaped. IN.
    bias : ndarray of shape (filters,), or (0,) for none. IN.
    apply_relu : bool
        Apply the plain ReLU ``max(z, 0)`` after the bias.
    out : ndarray of shape (n, oh, ow, filters). OUT.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = kernel.shape[1]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], k = kh * kw * c
    cdef Py_ssize_t m = n * oh * ow, blk, r0
    cdef bint pointwise
    cdef int t
    check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    _check_forward("conv2d_forward", kernel, bias, k)
    if out.shape[0] != n or out.shape[3] != f or oh < 1 or ow < 1:
        raise ValueError(f"conv2d_forward: out must have shape ({n}, oh >= 1, ow >= 1, {f}), "
                         f"got ({out.shape[0]}, {oh}, {ow}, {out.shape[3]})")
    pointwise = _pointwise(kh, kw, sh, sw, pt, pl, x.shape[1], x.shape[2], oh, ow)
    if n == 0 or f == 0:
        return
    cdef const floating* b = &bias[0] if bias.shape[0] else NULL
    t = effective_threads(n_threads, m * max(k, 1) * f, _PRODUCT_GRAIN)
    cdef floating* packed = packed_alloc(k, f, 1, &out[0, 0, 0, 0])
    cdef floating* scratch = _scratch(0 if pointwise else t * _BLOCK_ROWS * k, &out[0, 0, 0, 0])
    with nogil:
        pack(False, k, f, 1, 0, f, &kernel[0, 0], f, packed)
        for blk in prange((m + _BLOCK_ROWS - 1) // _BLOCK_ROWS, schedule="static", num_threads=t):
            r0 = blk * _BLOCK_ROWS
            _block_forward(x, r0, min(_BLOCK_ROWS, m - r0), kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise,
                           scratch + threadid() * _BLOCK_ROWS * k, packed, f, b, apply_relu,
                           &out[0, 0, 0, 0] + r0 * f)
    free(scratch)
    packed_free(packed)


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
    check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    _check_forward("conv2d_relu_maxpool_forward", kernel, bias, k)
    if ph < 1 or pw < 1 or out.shape[0] != n or out.shape[1] != ph or out.shape[2] != pw or out.shape[3] != f:
        raise ValueError(f"conv2d_relu_maxpool_forward: out must have shape ({n}, {ph}, {pw}, {f}) with a conv "
                         f"output of ({oh}, {ow}), got ({out.shape[0]}, {out.shape[1]}, {out.shape[2]}, "
                         f"{out.shape[3]})")
    if argmax.shape[0] != n or argmax.shape[1] != ph or argmax.shape[2] != pw or argmax.shape[3] != f:
        raise ValueError(f"conv2d_relu_maxpool_forward: argmax must have shape {(n, ph, pw, f)}")
    if oh * ow * f >= 2 ** 31:
        raise ValueError(f"conv2d_relu_maxpool_forward: a conv output of {oh}x{ow}x{f} is too large for "
                         f"32-bit argmax indices")
    if n == 0 or f == 0 or k == 0:
        if k == 0 and n and f:
            raise ValueError("conv2d_relu_maxpool_forward: inputs need at least one channel")
        return
    # Blocks of whole pooled rows of one image: 2 conv rows each, at least one per block.
    per_block = max(1, min(ph, _BLOCK_ROWS // (2 * ow)))
    blocks = (ph + per_block - 1) // per_block
    t = effective_threads(n_threads, n * oh * ow * k * f, _PRODUCT_GRAIN)
    cdef Py_ssize_t block_rows = 2 * ow * per_block
    cdef const floating* b = &bias[0] if bias.shape[0] else NULL
    cdef floating* packed = packed_alloc(k, f, 1, &out[0, 0, 0, 0])
    cdef floating* scratch = _scratch(t * block_rows * (k + f), &out[0, 0, 0, 0])
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
            _block_forward(x, r0, rows, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, False, cols, packed, f, NULL,
                           False, z)
            for p in range(p0, p1):
                max_pool_2x2_bias_relu_row(z + 2 * (p - p0) * ow * f, ow, f, pw, <index_t> (2 * p * ow * f), b,
                                           &out[i, p, 0, 0], &argmax[i, p, 0, 0])
    free(scratch)
    packed_free(packed)


cdef void _check_forward(str where, const floating[:, ::1] kernel, const floating[::1] bias,
                         Py_ssize_t k) except *:
    """The checks both forward entries share: kernel rows and bias shape."""
    cdef Py_ssize_t f = kernel.shape[1]
    if kernel.shape[0] != k:
        raise ValueError(f"{where}: kernel must have {k} rows (kh * kw * channels), got {kernel.shape[0]}")
    if bias.shape[0] not in (0, f):
        raise ValueError(f"{where}: bias must have shape ({f},) or (0,), got ({bias.shape[0]},)")


cdef void _block_forward(const floating[:, :, :, ::1] x, Py_ssize_t r0, Py_ssize_t rows,
                         int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                         Py_ssize_t oh, Py_ssize_t ow, bint pointwise, floating* cols, const floating* packed,
                         Py_ssize_t f, const floating* bias, bint apply_relu, floating* z) noexcept nogil:
    """z (rows x f) = output rows r0 .. r0 + rows: their columns (gathered into ``cols`` unless
    pointwise) @ the packed kernel, then + bias (unless NULL) and the ReLU if asked."""
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c
    if k == 0:  # inputs without channels
        memset(z, 0, rows * f * sizeof(floating))
    else:
        if pointwise:
            cols = <floating*> &x[0, 0, 0, 0] + r0 * k
        else:
            _move_rows(<floating*> &x[0, 0, 0, 0], x.shape[1], x.shape[2], c, 0, r0, r0 + rows, 0, k,
                       kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cols, False)
        packed_gemm(False, rows, 0, f, k, cols, k, packed, z, f, False)
    if bias != NULL:
        add_bias(z, bias, rows, f)
    if apply_relu:
        relu(z, z, rows * f)


def conv2d_backward(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                    const floating[:, :, :, ::1] dz, floating[:, ::1] dkernel, floating[::1] dbias,
                    floating[:, :, :, ::1] dx, double beta, bint need_dx,
                    int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int n_threads):
    """Gradients of ``conv2d_forward`` (plus a bias) given dz = dL/dout.

    Parameters
    ----------
    x : (n, h, w, c). IN.
    kernel : (kh * kw * c, filters). IN.
    dz : (n, oh, ow, filters). IN.
    dkernel : (kh * kw * c, filters). IN/OUT: ``beta * dkernel + col.T @ dz``.
    dbias : (filters,), or (0,) for no bias. IN/OUT: ``beta * dbias + dz.sum((0, 1, 2))``.
    dx : (n, h, w, c), ignored unless ``need_dx``. OUT.
    beta : 0.0 to overwrite ``dkernel`` and ``dbias``, 1.0 to accumulate.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = kernel.shape[1]
    cdef Py_ssize_t oh = dz.shape[1], ow = dz.shape[2], k = kh * kw * c
    check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    _check_grads("conv2d_backward", x, kernel, dkernel, dbias, dx, beta, need_dx, k)
    if dz.shape[0] != n or dz.shape[3] != f or oh < 1 or ow < 1:
        raise ValueError(f"conv2d_backward: dz must have shape ({n}, oh >= 1, ow >= 1, {f}), "
                         f"got ({dz.shape[0]}, {oh}, {ow}, {dz.shape[3]})")
    if f == 0:
        return
    if n == 0 or k == 0:
        # No columns (an empty batch, or inputs without channels): dkernel gets nothing.
        if beta == 0.0:
            dkernel[...] = 0
            dbias[...] = 0
        if n and dbias.shape[0]:
            with nogil:
                add_column_sums(&dz[0, 0, 0, 0], n * oh * ow, f, f, &dbias[0])
        return
    cdef _Pooled none
    _gradients(x, kernel, &dz[0, 0, 0, 0], none, dkernel, dbias, dx, beta, need_dx, kh, kw, sh, sw, dh, dw, pt, pl,
               oh, ow, n_threads)


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
    cdef _Pooled pooled
    check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    _check_grads("conv2d_maxpool_backward", x, kernel, dkernel, dbias, dx, beta, need_dx, k)
    for name, a in (("dy", dy), ("gate", gate)):
        if a.shape[0] != n or a.shape[1] != ph or a.shape[2] != pw or a.shape[3] != f or ph < 1 or pw < 1:
            raise ValueError(f"conv2d_maxpool_backward: {name} must have shape ({n}, {ph}, {pw}, {f}) with a "
                             f"conv output of ({oh}, {ow}), got ({a.shape[0]}, {a.shape[1]}, {a.shape[2]}, "
                             f"{a.shape[3]})")
    if argmax.shape[0] != n or argmax.shape[1] != ph or argmax.shape[2] != pw or argmax.shape[3] != f:
        raise ValueError(f"conv2d_maxpool_backward: argmax must have shape {(n, ph, pw, f)}")
    if f == 0:
        return
    if n == 0 or k == 0:
        if n and k == 0:
            raise ValueError("conv2d_maxpool_backward: inputs need at least one channel")
        if beta == 0.0:
            dkernel[...] = 0
            dbias[...] = 0
        return
    pooled.dy = &dy[0, 0, 0, 0]
    pooled.argmax = &argmax[0, 0, 0, 0]
    pooled.gate = &gate[0, 0, 0, 0]
    _gradients(x, kernel, <const floating*> NULL, pooled, dkernel, dbias, dx, beta, need_dx, kh, kw, sh, sw, dh, dw,
               pt, pl, oh, ow, n_threads)


cdef void _gradients(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel, const floating* dz,
                     _Pooled pooled, floating[:, ::1] dkernel, floating[::1] dbias, floating[:, :, :, ::1] dx,
                     double beta, bint need_dx, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                     Py_ssize_t oh, Py_ssize_t ow, int n_threads) except *:
    """The work of both backward entries once their arguments are checked and there are columns:
    dkernel and dbias, then dx if asked, from ``dz`` or (``dz`` NULL) from ``pooled``."""
    cdef bint pointwise = _pointwise(kh, kw, sh, sw, pt, pl, x.shape[1], x.shape[2], oh, ow)
    cdef Py_ssize_t f = kernel.shape[1], k = kh * kw * x.shape[3], chunk_rows
    if beta == 0.0:
        dbias[...] = 0
    if floating is float:
        if dz == NULL and not need_dx and k < _SPLIT_K and rv_pooled_dw_cols() and f % rv_pooled_dw_cols() == 0:
            _pooled_kernel_grad(x, pooled, f, &dkernel[0, 0], &dbias[0] if dbias.shape[0] else NULL, beta != 0.0,
                                kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, n_threads)
            return
    chunk_rows = _chunk_rows(x.shape[0], oh * ow, k, f, need_dx)
    if chunk_rows:
        _chunked_grads(x, kernel, dz, pooled, f, &dkernel[0, 0], &dbias[0] if dbias.shape[0] else NULL, dx,
                       beta != 0.0, need_dx, chunk_rows, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise,
                       n_threads)
        return
    _kernel_grad(x, dz, pooled, f, &dkernel[0, 0], &dbias[0] if dbias.shape[0] else NULL, beta != 0.0,
                 kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, n_threads)
    if need_dx:
        _input_grad(dz, pooled, f, kernel, dx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, n_threads)


cdef void _pooled_kernel_grad(const float[:, :, :, ::1] x, _Pooled pooled, Py_ssize_t f, float* dkernel,
                              float* dbias, bint accumulate, int kh, int kw, int sh, int sw, int dh, int dw, int pt,
                              int pl, Py_ssize_t oh, Py_ssize_t ow, int n_threads) except *:
    """dkernel (+)= and dbias += (unless NULL) the kernel gradients of ``conv2d_maxpool_backward``
    by ``rv_pooled_dw``, per group of images fixed by the shapes (partial sums added in order)."""
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3], k = kh * kw * c
    cdef Py_ssize_t ph = oh // 2, pw = ow // 2, per_chunk, n_chunks, part_len = k * f + f, ch, i0, q
    per_chunk = _images_per_group(n, k, f)
    n_chunks = (n + per_chunk - 1) // per_chunk
    cdef int t = min(effective_threads(n_threads, n * oh * ow * k * f, _PRODUCT_GRAIN), <int> n_chunks)
    cdef float* parts = _scratch(n_chunks * part_len, dkernel)
    with nogil:
        for ch in prange(n_chunks, schedule="static", num_threads=t):
            i0 = ch * per_chunk
            q = i0 * ph * pw * f
            rv_pooled_dw(&x[i0, 0, 0, 0], min(n, i0 + per_chunk) - i0, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, ow,
                         ph, pw, <const float*> pooled.dy + q, pooled.argmax + q, <const float*> pooled.gate + q, f,
                         parts + ch * part_len, parts + ch * part_len + k * f)
        _add_partials(parts, n_chunks, part_len, k * f, f, dkernel, dbias, accumulate, t)
    free(parts)


cdef Py_ssize_t _chunk_rows(Py_ssize_t n, Py_ssize_t per, Py_ssize_t k, Py_ssize_t f, bint need_dx) noexcept nogil:
    """Rows of a chunk with its own partial dkernel and dbias, from the shapes alone (so that
    the sums never depend on the thread count), or 0 to split dkernel's rows between threads.

    With dx to compute, chunks are groups of whole images (receptive fields overlap only
    within an image), at most ``_IMAGE_CHUNKS``: one pass per block then makes dz, dkernel's
    share and dx's together, where split by dkernel rows every thread rebuilt every dz block
    (W2's second conv unpooled it three times). Without dx, only a dkernel of fewer than
    ``_SPLIT_K`` rows is chunked, by ``_CHUNK_ROWS``. Either way the partial sums may take at
    most ``_PARTIALS_LEN`` values.
    """
    cdef Py_ssize_t m = n * per, images, chunks, rows
    if need_dx:
        images = _images_per_group(n, k, f)
        return images * per if images < n else 0
    if k >= _SPLIT_K:
        return 0
    chunks = min((m + _CHUNK_ROWS - 1) // _CHUNK_ROWS, _partial_sets(k, f))
    rows = ((m + chunks - 1) // chunks + _GRAD_ROWS - 1) // _GRAD_ROWS * _GRAD_ROWS
    return rows if rows < m else 0


cdef Py_ssize_t _images_per_group(Py_ssize_t n, Py_ssize_t k, Py_ssize_t f) noexcept nogil:
    """Images per group when a backward cuts the batch into at most ``_IMAGE_CHUNKS`` groups of
    whole images, each with its own partial sums of k * f + f values (all within ``_PARTIALS_LEN``)."""
    cdef Py_ssize_t groups = min(n, _IMAGE_CHUNKS, _partial_sets(k, f))
    return (n + groups - 1) // groups


cdef inline Py_ssize_t _partial_sets(Py_ssize_t k, Py_ssize_t f) noexcept nogil:
    """How many partial sums of a (k x f) dkernel and its (f,) dbias fit in ``_PARTIALS_LEN`` (at least one)."""
    return max(1, _PARTIALS_LEN // (k * f + f))


cdef void _check_grads(str where, const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                       floating[:, ::1] dkernel, floating[::1] dbias, floating[:, :, :, ::1] dx, double beta,
                       bint need_dx, Py_ssize_t k) except *:
    """The checks every conv backward entry shares: beta, kernel and gradient shapes."""
    cdef Py_ssize_t f = kernel.shape[1]
    if beta != 0.0 and beta != 1.0:
        raise ValueError(f"{where}: beta must be 0.0 or 1.0, got {beta}")
    if kernel.shape[0] != k or dkernel.shape[0] != k or dkernel.shape[1] != f:
        raise ValueError(f"{where}: kernel and dkernel must have shape ({k}, {f}), got "
                         f"({kernel.shape[0]}, {f}) and ({dkernel.shape[0]}, {dkernel.shape[1]})")
    if dbias.shape[0] not in (0, f):
        raise ValueError(f"{where}: dbias must have shape ({f},) or (0,), got ({dbias.shape[0]},)")
    if need_dx and (dx.shape[0] != x.shape[0] or dx.shape[1] != x.shape[1] or dx.shape[2] != x.shape[2]
                    or dx.shape[3] != x.shape[3]):
        raise ValueError(f"{where}: dx must have the shape of x "
                         f"{(x.shape[0], x.shape[1], x.shape[2], x.shape[3])}")


cdef void _kernel_grad(const floating[:, :, :, ::1] x, const floating* dz, _Pooled pooled, Py_ssize_t f,
                       floating* dkernel, floating* dbias, bint accumulate, int kh, int kw, int sh, int sw,
                       int dh, int dw, int pt, int pl, Py_ssize_t oh, Py_ssize_t ow, bint pointwise,
                       int n_threads) except *:
    """dkernel (k x f) (+)= columns.T @ dz, and dbias (f,) += dz's column sums unless NULL.

    Thread i owns rows [k0, k1) of dkernel: it gathers those columns of each
    fixed block of rows and multiplies them by the block's dz, read in place when
    f is a multiple of 32, else packed into its own buffer. The thread owning the
    last rows (the fewest, when k is not a multiple of the share) adds each dz
    block to dbias while the block is in cache. With ``dz`` NULL, each thread
    unpools the blocks from ``pooled`` (``_dz_rows``).
    """
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c, m = x.shape[0] * oh * ow, share, k0, k1, i
    cdef int t = effective_threads(n_threads, m * k * f, _PRODUCT_GRAIN)
    cdef bint strided = f % 32 == 0
    cdef floating* buf
    share = (k + t * _TILE_ROWS - 1) // (t * _TILE_ROWS) * _TILE_ROWS
    # Per thread: its column block, dz's block when unpooled, and dz packed unless read in place.
    cdef Py_ssize_t cols_len = 0 if pointwise else _GRAD_ROWS * share
    cdef Py_ssize_t z_len = _GRAD_ROWS * f if dz == NULL else 0
    cdef Py_ssize_t per_thread = cols_len + z_len + (0 if strided else packed_len(_GRAD_ROWS, f, 1))
    cdef floating* scratch = _scratch(t * per_thread, dkernel)
    with nogil:
        for i in prange(t, schedule="static", num_threads=t):
            buf = scratch + i * per_thread
            k0 = i * share
            k1 = min(k, k0 + share)
            _grad_span(x, dz, pooled, f, k0, k1, 0, m, dkernel + k0 * f, dbias if k1 == k else NULL, accumulate,
                       kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, strided, buf, buf + cols_len,
                       buf + cols_len + z_len, NULL, NULL, NULL)
    free(scratch)


cdef void _chunked_grads(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel, const floating* dz,
                         _Pooled pooled, Py_ssize_t f, floating* dkernel, floating* dbias,
                         floating[:, :, :, ::1] dx, bint accumulate, bint need_dx, Py_ssize_t chunk_rows,
                         int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t oh,
                         Py_ssize_t ow, bint pointwise, int n_threads) except *:
    """dkernel (+)= columns.T @ dz, dbias += dz's column sums (unless NULL) and, with ``need_dx``,
    dx = col2im(dz @ kernel.T), by chunks of ``chunk_rows`` rows (``_chunk_rows``).

    Each chunk goes to its own partial dkernel and dbias, added in chunk order at the end;
    with dx, a chunk's images' dx are zeroed and then scattered into block by block.
    """
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c, m = x.shape[0] * oh * ow, per = oh * ow
    cdef Py_ssize_t n_chunks = (m + chunk_rows - 1) // chunk_rows, part_len = k * f + f, ch, r0, r1
    cdef int t = min(effective_threads(n_threads, m * k * f, _PRODUCT_GRAIN), <int> n_chunks)
    cdef bint strided = f % 32 == 0
    cdef floating* buf
    cdef floating* part
    # Per thread: the block's columns, its unpooled dz, dz packed unless read in place, and its
    # column gradients.
    cdef Py_ssize_t cols_len = 0 if pointwise else _GRAD_ROWS * k
    cdef Py_ssize_t z_len = _GRAD_ROWS * f if dz == NULL else 0
    cdef Py_ssize_t bp_len = 0 if strided else packed_len(_GRAD_ROWS, f, 1)
    cdef Py_ssize_t per_thread = cols_len + z_len + bp_len + (cols_len if need_dx else 0)
    cdef floating* packed_t = NULL
    cdef floating* parts = _scratch(n_chunks * part_len, dkernel)
    cdef floating* scratch = NULL
    try:
        scratch = _scratch(t * per_thread, dkernel)
        if need_dx:
            packed_t = packed_alloc(f, k, 1, dkernel)
            pack(True, f, k, 1, 0, k, &kernel[0, 0], f, packed_t)
        with nogil:
            for ch in prange(n_chunks, schedule="static", num_threads=t):
                buf = scratch + threadid() * per_thread
                part = parts + ch * part_len
                r0 = ch * chunk_rows
                r1 = min(m, r0 + chunk_rows)
                memset(part + k * f, 0, f * sizeof(floating))
                if need_dx and not pointwise:
                    memset(&dx[r0 // per, 0, 0, 0], 0, (r1 - r0) // per * dx.shape[1] * dx.shape[2] * c
                           * sizeof(floating))
                _grad_span(x, dz, pooled, f, 0, k, r0, r1, part, part + k * f if dbias != NULL else NULL, False,
                           kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, strided, buf, buf + cols_len,
                           buf + cols_len + z_len, packed_t, &dx[0, 0, 0, 0] if need_dx else NULL,
                           buf + cols_len + z_len + bp_len)
            _add_partials(parts, n_chunks, part_len, k * f, f, dkernel, dbias, accumulate, t)
    finally:
        free(parts)
        free(scratch)
        packed_free(packed_t)


cdef void _add_partials(const floating* parts, Py_ssize_t n_chunks, Py_ssize_t part_len, Py_ssize_t nk,
                        Py_ssize_t f, floating* dkernel, floating* dbias, bint accumulate, int t) noexcept nogil:
    """dkernel (+)= the chunks' partial dkernels (nk values each, ``part_len`` apart), in chunk
    order; dbias (unless NULL) += their partial dbias (the f values after each)."""
    cdef Py_ssize_t kb = (nk + _ADD_BLOCK - 1) // _ADD_BLOCK, blk, j, j0, j1, ch, off
    cdef floating* out
    for blk in prange(kb + (1 if dbias != NULL else 0), schedule="static", num_threads=t):
        if blk < kb:
            out = dkernel
            off = 0
            j0 = blk * _ADD_BLOCK
            j1 = min(nk, j0 + _ADD_BLOCK)
            if not accumulate:
                memset(dkernel + j0, 0, (j1 - j0) * sizeof(floating))
        else:
            out = dbias
            off = nk
            j0 = 0
            j1 = f
        for ch in range(n_chunks):
            for j in range(j0, j1):
                out[j] = out[j] + parts[ch * part_len + off + j]


cdef void _grad_span(const floating[:, :, :, ::1] x, const floating* dz, _Pooled pooled, Py_ssize_t f,
                     Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t r0, Py_ssize_t r1, floating* dk, floating* db,
                     bint accumulate, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                     Py_ssize_t oh, Py_ssize_t ow, bint pointwise, bint strided, floating* buf, floating* zb,
                     floating* bp, const floating* packed_t, floating* dx, floating* dcols) noexcept nogil:
    """dk (rows k0 .. k1 of dkernel, row stride f) (+)= columns[r0:r1, k0:k1].T @ dz[r0:r1] in blocks
    of ``_GRAD_ROWS``, and db (f,) += dz[r0:r1]'s column sums unless NULL. With ``packed_t`` (the
    kernel's transpose, packed), also each block's share of dx (``_dx_block``, into ``dcols``): dx has
    the shape of x.

    ``buf`` holds a block's columns, ``zb`` its unpooled dz, ``bp`` its packed dz.
    """
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c, r = r0, rows, ld
    cdef const floating* cols
    cdef const floating* d
    while k0 < k1 and r < r1:
        rows = min(_GRAD_ROWS, r1 - r)
        if pointwise:
            ld = k
            cols = &x[0, 0, 0, 0] + r * k + k0
        else:
            ld = k1 - k0
            _move_rows(<floating*> &x[0, 0, 0, 0], x.shape[1], x.shape[2], c, 0, r, r + rows, k0, k1,
                       kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, buf, False)
            cols = buf
        d = _dz_rows(dz, pooled, oh, ow, f, r, rows, zb)
        if strided:
            strided_gemm(True, k1 - k0, f, rows, cols, ld, d, f, dk, f, accumulate or r > r0)
        else:
            pack(False, rows, f, 1, 0, f, d, f, bp)
            packed_gemm(True, k1 - k0, 0, f, rows, cols, ld, bp, dk, f, accumulate or r > r0)
        if db != NULL:
            add_column_sums(d, rows, f, f, db)
        if packed_t != NULL:
            _dx_block(d, rows, r, f, packed_t, dx, x.shape[1], x.shape[2], c, dcols, kh, kw, sh, sw, dh, dw, pt,
                      pl, oh, ow, pointwise)
        r = r + rows


cdef void _dx_block(const floating* d, Py_ssize_t rows, Py_ssize_t r0, Py_ssize_t f, const floating* packed_t,
                    floating* dx, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, floating* dcols, int kh, int kw,
                    int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t oh, Py_ssize_t ow,
                    bint pointwise) noexcept nogil:
    """Rows r0 .. r0 + rows of dz (``d``) into dx (images of h x w x c): their column gradients
    d @ kernel.T (into ``dcols``, or a pointwise conv's dx rows themselves), scattered back (added)."""
    cdef Py_ssize_t k = kh * kw * c
    if pointwise:
        packed_gemm(False, rows, 0, k, f, d, f, packed_t, dx + r0 * k, k, False)
        return
    packed_gemm(False, rows, 0, k, f, d, f, packed_t, dcols, k, False)
    _move_rows(dx, h, w, c, 0, r0, r0 + rows, 0, k, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, dcols, True)


cdef const floating* _dz_rows(const floating* dz, _Pooled pooled, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t f,
                              Py_ssize_t r0, Py_ssize_t rows, floating* tmp) noexcept nogil:
    """Rows r0 .. r0 + rows of dz: in place, or with ``dz`` NULL unpooled into ``tmp`` from the
    gradient of a gated 2x2 max pool over the conv output (``conv2d_maxpool_backward``)."""
    cdef Py_ssize_t ph = oh // 2, pw = ow // 2, r = r0, r1 = r0 + rows, i, y, x0, x1, q
    if dz != NULL:
        return dz + r0 * f
    while r < r1:
        i = r // (oh * ow)
        y = r // ow % oh
        x0 = r % ow
        x1 = min(ow, x0 + r1 - r)
        if y // 2 >= ph:
            memset(tmp + (r - r0) * f, 0, (x1 - x0) * f * sizeof(floating))
        else:
            q = (i * ph + y // 2) * pw * f
            unpool_span(tmp + (r - r0) * f, <const floating*> pooled.dy + q, pooled.argmax + q,
                        <const floating*> pooled.gate + q, y * ow * f, x0, x1, pw, f)
        r += x1 - x0
    return tmp


cdef void _input_grad(const floating* dz, _Pooled pooled, Py_ssize_t f, const floating[:, ::1] kernel,
                      floating[:, :, :, ::1] dx, int kh, int kw, int sh, int sw, int dh, int dw,
                      int pt, int pl, Py_ssize_t oh, Py_ssize_t ow, bint pointwise, int n_threads) except *:
    """dx = col2im(dz @ kernel.T), kernel.T packed once.

    Threads take groups of whole images (receptive fields overlap only within an
    image) and go through a group in blocks of rows: each block's column
    gradients are scattered back while in cache (``_dx_block``). With ``dz`` NULL,
    the blocks are unpooled from ``pooled`` (``_dz_rows``).
    """
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[3], k = kh * kw * c, per = oh * ow
    cdef Py_ssize_t images = max(1, _BLOCK_ROWS // per), g, i0, i1, r0, r1, rows
    cdef Py_ssize_t hwc = dx.shape[1] * dx.shape[2] * c
    cdef Py_ssize_t cols_len = 0 if pointwise else _BLOCK_ROWS * k
    cdef Py_ssize_t per_thread = cols_len + (_BLOCK_ROWS * f if dz == NULL else 0)
    cdef floating* buf
    cdef int t = effective_threads(n_threads, n * per * k * f, _PRODUCT_GRAIN)
    cdef floating* packed = packed_alloc(f, k, 1, &dx[0, 0, 0, 0])
    cdef floating* scratch = _scratch(t * per_thread, &dx[0, 0, 0, 0])
    with nogil:
        pack(True, f, k, 1, 0, k, &kernel[0, 0], f, packed)
        for g in prange((n + images - 1) // images, schedule="static", num_threads=t):
            i0 = g * images
            i1 = min(n, i0 + images)
            r0 = i0 * per
            r1 = i1 * per
            buf = scratch + threadid() * per_thread
            if not pointwise:
                memset(&dx[i0, 0, 0, 0], 0, (i1 - i0) * hwc * sizeof(floating))
            while r0 < r1:
                rows = min(_BLOCK_ROWS, r1 - r0)
                _dx_block(_dz_rows(dz, pooled, oh, ow, f, r0, rows, buf + cols_len), rows, r0, f, packed,
                          &dx[0, 0, 0, 0], dx.shape[1], dx.shape[2], c, buf, kh, kw, sh, sw, dh, dw, pt, pl, oh,
                          ow, pointwise)
                r0 = r0 + rows
    free(scratch)
    packed_free(packed)


cdef void _move_rows(floating* x, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, Py_ssize_t n0,
                     Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k0, Py_ssize_t k1,
                     int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                     Py_ssize_t oh, Py_ssize_t ow, floating* col, bint scatter) noexcept nogil:
    """Gather columns [k0, k1) of column rows [r0, r1) from x into ``col``, or scatter-add them back.

    Rows count from image n0's first output pixel; ``col`` holds row r0 first,
    with row stride k1 - k0. Gathering writes zeros where a tap reads padding;
    scattering (``scatter``) adds into x and drops those.
    """
    cdef Py_ssize_t ld = k1 - k0, per = oh * ow
    cdef Py_ssize_t r = r0, i, y, x0, x1, ia, ib, lo, hi, ky, iy, ta, tb, tap, c0, c1
    cdef floating* row
    cdef floating* xrow
    while r < r1:
        # The span of one output row of one image inside [r0, r1); ``row`` is where its pixel 0 would go.
        i = n0 + r // per
        y = r // ow % oh
        x0 = r % ow
        x1 = min(ow, x0 + r1 - r)
        row = col + (r - r0 - x0) * ld
        for ky in range(kh):
            # This kernel row's taps that hold columns in [k0, k1).
            ta = max(ky * kw, k0 // c)
            tb = min((ky + 1) * kw, (k1 + c - 1) // c)
            if ta >= tb:
                continue
            iy = y * sh - pt + ky * dh
            xrow = x + (i * h + iy) * w * c
            ia = ib = x0
            if 0 <= iy < h and dw == 1:
                # Pixels whose taps ta .. tb - 1 all read inside the row read one run of
                # (tb - ta) * c values, moved by one call.
                tap_range(ta % kw - pl, sw, w, ow, &ia, &hi)
                tap_range((tb - 1) % kw - pl, sw, w, ow, &lo, &ib)
                ia = min(max(ia, x0), x1)
                ib = max(ia, min(ib, x1))
                c0 = max(k0, ta * c)
                c1 = min(k1, tb * c)
                _move_pixels(xrow + (ia * sw + ta % kw - pl) * c + c0 - ta * c, sw * c,
                             row + c0 - k0, ld, ia, ib, c1 - c0, scatter)
            for tap in range(ta, tb):
                c0 = max(k0 - tap * c, 0)
                c1 = min(k1 - tap * c, c)
                _move_tap(xrow, iy, h, w, c, (tap % kw) * dw - pl, sw, row + tap * c + c0 - k0, ld,
                          x0, ia, c0, c1, scatter)
                _move_tap(xrow, iy, h, w, c, (tap % kw) * dw - pl, sw, row + tap * c + c0 - k0, ld,
                          ib, x1, c0, c1, scatter)
        r += x1 - x0


cdef inline void _move_tap(floating* xrow, Py_ssize_t iy, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                           Py_ssize_t off, int sw, floating* d, Py_ssize_t ld, Py_ssize_t p0, Py_ssize_t p1,
                           Py_ssize_t c0, Py_ssize_t c1, bint scatter) noexcept nogil:
    """Channels [c0, c1) of one tap for output pixels [p0, p1): pixel p reads input column p * sw + off."""
    cdef Py_ssize_t xa, xb, xo
    if p1 <= p0:
        return
    if iy < 0 or iy >= h:
        xa = xb = p1
    else:
        tap_range(off, sw, w, p1, &xa, &xb)
        xa = min(max(xa, p0), p1)
        xb = max(xa, min(xb, p1))
    _move_pixels(xrow + (xa * sw + off) * c + c0, sw * c, d, ld, xa, xb, c1 - c0, scatter)
    if not scatter:
        for xo in range(p0, xa):
            memset(d + xo * ld, 0, (c1 - c0) * sizeof(floating))
        for xo in range(xb, p1):
            memset(d + xo * ld, 0, (c1 - c0) * sizeof(floating))


cdef inline void _move_pixels(floating* src, Py_ssize_t lds, floating* d, Py_ssize_t ld, Py_ssize_t xa,
                              Py_ssize_t xb, Py_ssize_t width, bint scatter) noexcept nogil:
    """Pixels [xa, xb) of a row: ``width`` values from src (pixel xa first) to d + xo * ld, or added back."""
    if xb <= xa or width <= 0:
        return
    if scatter:
        if floating is float:
            rv_add_pixels_f32(src, lds, d + xa * ld, ld, xb - xa, width)
        else:
            rv_add_pixels_f64(src, lds, d + xa * ld, ld, xb - xa, width)
    elif floating is float:
        rv_copy_pixels_f32(d + xa * ld, ld, src, lds, xb - xa, width)
    else:
        rv_copy_pixels_f64(d + xa * ld, ld, src, lds, xb - xa, width)
