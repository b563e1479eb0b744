"""Convolution kernels, channels-last (NHWC): im2col / col2im and the conv as GEMM.

A 1-D convolution is the 2-D one with H = 1 (the API reshapes, no copy).
Geometry arguments, shared by every function here:

    kh, kw   kernel height and width
    sh, sw   strides
    dh, dw   dilation rates
    pt, pl   zero padding before the first row / column (Keras "same" pads
             asymmetrically: the extra row/column goes after, and reads past
             the input's end are zeros, so the trailing padding needs no argument)

The output height and width are taken from the output (or column) array the
caller allocated with ``ranvier.api.layers._conv_utils``.

Columns: row ``(n * oh + y) * ow + x`` of ``col`` holds the receptive field
of output pixel (n, y, x) in (ky, kx, c) order, which is the row order of a
Keras kernel (kh, kw, in, out) reshaped to (kh * kw * in, out). The image
loop runs in a ``prange``. The products against the kernel (forward, and the
column gradients) run on ``_packed.pxd`` with the kernel packed once per
call, in row blocks over a ``prange``: OpenBLAS repacked the whole column
matrix on every call and ran these shapes at half the speed (measured one
core, 7744x288x64: 2.5 vs 1.2 ms). The kernel gradient stays one GEMM per
chunk. ``col`` may hold fewer images than the batch: the work then goes chunk
by chunk, so memory stays bounded.
"""
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from ranvier.core._blas cimport gemm
from ranvier.core._packed cimport pack, packed_alloc, packed_free, packed_gemm
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# Elements copied per thread before a second thread is worth starting.
cdef Py_ssize_t _GRAIN = 1 << 15
# Channels from which one memcpy per kernel tap beats an element loop.
cdef Py_ssize_t _MEMCPY_CHANNELS = 8
# Rows of a packed product per parallel block.
cdef Py_ssize_t _PRODUCT_ROWS = 256
# Narrowest column gradient (kh * kw * channels) worth the packed product: below,
# most of each 16-wide tile is padding (measured 43264x32 @ 32x9: BLAS faster).
cdef Py_ssize_t _PACKED_MIN_COLS = 16


cdef void _packed_product(const floating* a, Py_ssize_t m, Py_ssize_t k, const floating* bp,
                          Py_ssize_t n, floating* c, int n_threads) noexcept nogil:
    """C (m x n) = A (m x k) @ op(B), op(B) packed in ``bp``: row blocks over a ``prange``."""
    cdef Py_ssize_t blk, r0
    cdef int t = effective_threads(n_threads, m * n * k, 1 << 17)
    for blk in prange((m + _PRODUCT_ROWS - 1) // _PRODUCT_ROWS, schedule="static", num_threads=t):
        r0 = blk * _PRODUCT_ROWS
        packed_gemm(False, min(_PRODUCT_ROWS, m - r0), 0, n, k, a + r0 * k, k, bp, c + r0 * n, n, False)


cdef void _check_geometry(int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl) except *:
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or dh < 1 or dw < 1 or pt < 0 or pl < 0:
        raise ValueError(f"conv geometry must have kernel, strides, dilation >= 1 and padding >= 0, "
                         f"got kernel ({kh}, {kw}), strides ({sh}, {sw}), dilation ({dh}, {dw}), "
                         f"padding ({pt}, {pl})")


cdef inline bint _pointwise(int kh, int kw, int sh, int sw, int pt, int pl) noexcept nogil:
    """A 1x1 stride-1 unpadded conv: the input already is its column matrix."""
    return kh == 1 and kw == 1 and sh == 1 and sw == 1 and pt == 0 and pl == 0


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
    _check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    if oh < 1 or ow < 1:
        raise ValueError(f"im2col: output size must be positive, got ({oh}, {ow})")
    if col.shape[0] != x.shape[0] * oh * ow or col.shape[1] != kh * kw * x.shape[3]:
        raise ValueError(f"im2col: col must have shape ({x.shape[0] * oh * ow}, {kh * kw * x.shape[3]}), "
                         f"got ({col.shape[0]}, {col.shape[1]})")
    if col.shape[0] == 0 or col.shape[1] == 0:
        return
    with nogil:
        _im2col(x, 0, x.shape[0], kh, kw, sh, sw, dh, dw, pt, pl, &col[0, 0], oh, ow, n_threads)


def col2im(const floating[:, ::1] col, int kh, int kw, int sh, int sw, int dh, int dw,
           int pt, int pl, floating[:, :, :, ::1] x, int oh, int ow, int n_threads):
    """Scatter-add columns back to the image: the adjoint of ``im2col``.

    Parameters
    ----------
    col : ndarray of shape (n * oh * ow, kh * kw * c). IN.
    x : ndarray of shape (n, h, w, c). OUT (overwritten, padding reads dropped).
    """
    _check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    if oh < 1 or ow < 1:
        raise ValueError(f"col2im: output size must be positive, got ({oh}, {ow})")
    if col.shape[0] != x.shape[0] * oh * ow or col.shape[1] != kh * kw * x.shape[3]:
        raise ValueError(f"col2im: col must have shape ({x.shape[0] * oh * ow}, {kh * kw * x.shape[3]}), "
                         f"got ({col.shape[0]}, {col.shape[1]})")
    if x.shape[0] == 0 or x.shape[1] * x.shape[2] * x.shape[3] == 0:
        return
    with nogil:
        _col2im(&col[0, 0], x, 0, x.shape[0], kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, n_threads)


def conv2d_forward(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                   floating[:, :, :, ::1] out, int kh, int kw, int sh, int sw, int dh, int dw,
                   int pt, int pl, floating[:, ::1] col, int n_threads):
    """out = conv(x, kernel), no bias (the caller fuses bias and activation).

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    kernel : ndarray of shape (kh * kw * c, filters): a Keras kernel reshaped. IN.
    out : ndarray of shape (n, oh, ow, filters). OUT.
    col : ndarray of shape (chunk * oh * ow, kh * kw * c), chunk >= 1 images. SCRATCH;
        when chunk == n it holds the whole batch's columns afterwards, which
        ``conv2d_backward(..., col_ready=True)`` reuses. Ignored (may be empty)
        for a 1x1 stride-1 unpadded conv.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = kernel.shape[1]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2], k = kh * kw * c
    cdef Py_ssize_t per = oh * ow, chunk, n0, nb
    cdef bint pointwise
    _check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    if kernel.shape[0] != k:
        raise ValueError(f"conv2d_forward: kernel must have {k} rows (kh * kw * channels), got {kernel.shape[0]}")
    if out.shape[0] != n or out.shape[3] != f or oh < 1 or ow < 1:
        raise ValueError(f"conv2d_forward: out must have shape ({n}, oh >= 1, ow >= 1, {f}), "
                         f"got ({out.shape[0]}, {oh}, {ow}, {out.shape[3]})")
    pointwise = _pointwise(kh, kw, sh, sw, pt, pl)
    chunk = _check_col(col, x.shape[1], x.shape[2], oh, ow, k, n, pointwise, "conv2d_forward")
    if n == 0 or f == 0:
        return
    if k == 0:
        out[...] = 0
        return
    cdef floating* packed = packed_alloc(k, f, 1, &out[0, 0, 0, 0])
    with nogil:
        pack(False, k, f, 1, 0, f, &kernel[0, 0], f, packed)
        if pointwise:
            _packed_product(&x[0, 0, 0, 0], n * per, k, packed, f, &out[0, 0, 0, 0], n_threads)
            n0 = n
        else:
            n0 = 0
        while n0 < n:
            nb = min(chunk, n - n0)
            _im2col(x, n0, nb, kh, kw, sh, sw, dh, dw, pt, pl, &col[0, 0], oh, ow, n_threads)
            _packed_product(&col[0, 0], nb * per, k, packed, f, &out[n0, 0, 0, 0], n_threads)
            n0 += nb
    packed_free(packed)


def conv2d_backward(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                    const floating[:, :, :, ::1] dz, floating[:, ::1] dkernel,
                    floating[:, :, :, ::1] dx, double beta, bint need_dx,
                    int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                    floating[:, ::1] col, bint col_ready, int n_threads):
    """Gradients of ``conv2d_forward`` given dz = dL/dout (the bias gradient is the caller's).

    Parameters
    ----------
    x : (n, h, w, c). IN.
    kernel : (kh * kw * c, filters). IN.
    dz : (n, oh, ow, filters). IN.
    dkernel : (kh * kw * c, filters). IN/OUT: ``beta * dkernel + col.T @ dz``.
    dx : (n, h, w, c), ignored unless ``need_dx``. OUT.
    beta : 0.0 to overwrite ``dkernel``, 1.0 to accumulate.
    col : (chunk * oh * ow, kh * kw * c). SCRATCH (overwritten).
    col_ready : the forward pass left the whole batch's columns in ``col`` (chunk == n).
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[3], f = kernel.shape[1]
    cdef Py_ssize_t oh = dz.shape[1], ow = dz.shape[2], k = kh * kw * c
    cdef Py_ssize_t per = oh * ow, chunk, n0, nb
    cdef floating b = <floating> beta
    cdef bint pointwise
    _check_geometry(kh, kw, sh, sw, dh, dw, pt, pl)
    if kernel.shape[0] != k or dkernel.shape[0] != k or dkernel.shape[1] != f:
        raise ValueError(f"conv2d_backward: kernel and dkernel must have shape ({k}, {f}), got "
                         f"({kernel.shape[0]}, {f}) and ({dkernel.shape[0]}, {dkernel.shape[1]})")
    if dz.shape[0] != n or dz.shape[3] != f or oh < 1 or ow < 1:
        raise ValueError(f"conv2d_backward: dz must have shape ({n}, oh >= 1, ow >= 1, {f}), "
                         f"got ({dz.shape[0]}, {oh}, {ow}, {dz.shape[3]})")
    if need_dx and (dx.shape[0] != n or dx.shape[1] != x.shape[1] or dx.shape[2] != x.shape[2]
                    or dx.shape[3] != c):
        raise ValueError(f"conv2d_backward: dx must have the shape of x {(n, x.shape[1], x.shape[2], c)}")
    pointwise = _pointwise(kh, kw, sh, sw, pt, pl)
    chunk = _check_col(col, x.shape[1], x.shape[2], oh, ow, k, n, pointwise, "conv2d_backward")
    if col_ready and not pointwise and chunk < n:
        raise ValueError(f"conv2d_backward: col_ready needs a col buffer for all {n} images, got {chunk}")
    if k == 0 or f == 0:
        return
    # The column gradients dz @ kernel.T against kernel.T packed once (when wide enough).
    cdef floating* packed = packed_alloc(f, k, 1, &dkernel[0, 0]) if need_dx and k >= _PACKED_MIN_COLS else NULL
    with nogil:
        if packed != NULL:
            pack(True, f, k, 1, 0, k, &kernel[0, 0], f, packed)
        n0 = 0
        if n == 0:
            _scale(&dkernel[0, 0], k * f, b)
        elif pointwise:
            gemm(True, False, k, f, n * per, <floating> 1.0, &x[0, 0, 0, 0], k, &dz[0, 0, 0, 0], f,
                 b, &dkernel[0, 0], f)
            if need_dx:
                _column_grads(&dz[0, 0, 0, 0], n * per, f, &kernel[0, 0], packed, k, &dx[0, 0, 0, 0],
                              n_threads)
            n0 = n
        while n0 < n:
            nb = min(chunk, n - n0)
            if not col_ready:
                _im2col(x, n0, nb, kh, kw, sh, sw, dh, dw, pt, pl, &col[0, 0], oh, ow, n_threads)
            gemm(True, False, k, f, nb * per, <floating> 1.0, &col[0, 0], k, &dz[n0, 0, 0, 0], f,
                 b, &dkernel[0, 0], f)
            b = 1.0
            if need_dx:
                # The columns are consumed: reuse the buffer for d(columns).
                _column_grads(&dz[n0, 0, 0, 0], nb * per, f, &kernel[0, 0], packed, k, &col[0, 0], n_threads)
                _col2im(&col[0, 0], dx, n0, nb, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, n_threads)
            n0 += nb
    packed_free(packed)


cdef void _column_grads(const floating* dz, Py_ssize_t m, Py_ssize_t f, const floating* kernel,
                        const floating* packed, Py_ssize_t k, floating* dcol, int n_threads) noexcept nogil:
    """dcol (m x k) = dz (m x f) @ kernel.T: packed when ``packed`` is given, else one GEMM."""
    if packed != NULL:
        _packed_product(dz, m, f, packed, k, dcol, n_threads)
    else:
        gemm(False, True, m, k, f, <floating> 1.0, dz, f, kernel, f, <floating> 0.0, dcol, k)


cdef Py_ssize_t _check_col(floating[:, ::1] col, Py_ssize_t h, Py_ssize_t w, Py_ssize_t oh, Py_ssize_t ow,
                           Py_ssize_t k, Py_ssize_t n, bint pointwise, str where) except -1:
    """Images per chunk that ``col`` holds (validated); a 1x1 conv needs none."""
    cdef Py_ssize_t per = oh * ow
    if pointwise:
        if oh != h or ow != w:
            raise ValueError(f"{where}: a 1x1 conv keeps the spatial size {(h, w)}, got {(oh, ow)}")
        return n
    if col.shape[1] != k or col.shape[0] < per or col.shape[0] % per != 0:
        raise ValueError(f"{where}: col must have shape (chunk * {per}, {k}) with chunk >= 1, "
                         f"got ({col.shape[0]}, {col.shape[1]})")
    return col.shape[0] // per


cdef void _scale(floating* a, Py_ssize_t size, floating beta) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(size):
        a[i] = beta * a[i] if beta != 0 else 0


cdef void _im2col(const floating[:, :, :, ::1] x, Py_ssize_t n0, Py_ssize_t nb,
                  int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                  floating* col, Py_ssize_t oh, Py_ssize_t ow, int n_threads) noexcept nogil:
    """Columns of images n0 .. n0 + nb into ``col`` (rows start at image n0)."""
    cdef Py_ssize_t h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t k = kh * kw * c
    cdef Py_ssize_t r, i, y, xo, ky, kx, iy, ix, ci
    cdef floating* dst
    cdef const floating* src
    cdef int t = effective_threads(n_threads, nb * oh * ow * k, _GRAIN)
    # One output row of one image per iteration: enough iterations to balance threads.
    for r in prange(nb * oh, schedule="static", num_threads=t):
        i = r // oh
        y = r % oh
        for ky in range(kh):
            iy = y * sh - pt + ky * dh
            for kx in range(kw):
                dst = col + (i * oh + y) * ow * k + (ky * kw + kx) * c
                if iy < 0 or iy >= h:
                    for xo in range(ow):
                        memset(dst + xo * k, 0, c * sizeof(floating))
                elif c >= _MEMCPY_CHANNELS:
                    for xo in range(ow):
                        ix = xo * sw - pl + kx * dw
                        if 0 <= ix < w:
                            memcpy(dst + xo * k, &x[n0 + i, iy, ix, 0], c * sizeof(floating))
                        else:
                            memset(dst + xo * k, 0, c * sizeof(floating))
                else:
                    # Few channels (a first layer): a library call per tap costs more than the copy.
                    src = &x[n0 + i, iy, 0, 0]
                    for xo in range(ow):
                        ix = xo * sw - pl + kx * dw
                        if 0 <= ix < w:
                            for ci in range(c):
                                dst[xo * k + ci] = src[ix * c + ci]
                        else:
                            for ci in range(c):
                                dst[xo * k + ci] = 0


cdef void _col2im(const floating* col, floating[:, :, :, ::1] x, Py_ssize_t n0, Py_ssize_t nb,
                  int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                  Py_ssize_t oh, Py_ssize_t ow, int n_threads) noexcept nogil:
    """Scatter-add the columns of images n0 .. n0 + nb into x (those images are overwritten)."""
    cdef Py_ssize_t h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t k = kh * kw * c
    cdef Py_ssize_t i, y, xo, ky, kx, iy, ix, ci
    cdef const floating* src
    cdef floating* dst
    cdef int t = effective_threads(n_threads, nb * oh * ow * k, _GRAIN)
    # Receptive fields of one image overlap, so threads split images, not rows.
    for i in prange(nb, schedule="static", num_threads=t):
        memset(&x[n0 + i, 0, 0, 0], 0, h * w * c * sizeof(floating))
        for y in range(oh):
            for xo in range(ow):
                for ky in range(kh):
                    iy = y * sh - pt + ky * dh
                    for kx in range(kw):
                        ix = xo * sw - pl + kx * dw
                        if 0 <= iy < h and 0 <= ix < w:
                            src = col + ((i * oh + y) * ow + xo) * k + (ky * kw + kx) * c
                            dst = &x[n0 + i, iy, ix, 0]
                            for ci in range(c):
                                dst[ci] += src[ci]
