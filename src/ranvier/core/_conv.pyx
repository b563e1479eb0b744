"""Convolution kernels, channels-last (NHWC): the plain conv forward and backward.

A 1-D convolution is the 2-D one with H = 1 (the API reshapes, no copy). Geometry
arguments (``_convgeom.pxd``), shared by every function here:

    kh, kw   kernel height and width
    sh, sw   strides
    dh, dw   dilation rates
    pt, pl   zero padding before the first row / column (Keras "same" pads
             asymmetrically: the extra row/column goes after, and reads past
             the input's end are zeros, so the trailing padding needs no argument)

The output height and width are taken from the output array the caller
allocated with ``ranvier.api._conv_geometry``.

The conv runs as blocked products over the rows of a column matrix that is never
stored whole (``_convblocks.pyx``; the gather in ``_convgather.pxd``). Measured on
one core at W2's second conv (7744x288x64), against writing the whole column matrix
(9 MB, out of cache) and OpenBLAS for the kernel gradient: see docs/conv.md. A 1x1
stride-1 unpadded conv reads its input as the column matrix directly. The conv fused
with ReLU and 2x2 max pooling is ``_convpool``. ``conv2d_input_grad`` (the input gradient alone)
is the forward pass of a transposed convolution.
"""
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free

from ranvier.core._checks cimport ANY, check_shape
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._convblocks cimport (Pooled, alloc_scratch, block_forward, check_forward, check_grads, gradients,
                                       input_grad, is_pointwise)
from ranvier.core._convgeom cimport check_geometry
from ranvier.core._convtune cimport BLOCK_ROWS, PRODUCT_GRAIN
from ranvier.core._packed cimport pack, packed_alloc, packed_free
from ranvier.core._openmp cimport effective_threads
from ranvier.core._types cimport floating


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
    check_geometry("conv2d_forward", kh, kw, sh, sw, dh, dw, pt, pl)
    check_forward("conv2d_forward", kernel, bias, k)
    check_shape("conv2d_forward", "out", out.shape, 4, n, ANY, ANY, f)
    pointwise = is_pointwise(kh, kw, sh, sw, pt, pl, x.shape[1], x.shape[2], oh, ow)
    if n == 0 or f == 0:
        return
    cdef const floating* b = &bias[0] if bias.shape[0] else NULL
    t = effective_threads(n_threads, m * max(k, 1) * f, PRODUCT_GRAIN)
    cdef floating* packed = packed_alloc(k, f, 1, &out[0, 0, 0, 0])
    cdef floating* scratch = alloc_scratch(0 if pointwise else t * BLOCK_ROWS * k, &out[0, 0, 0, 0])
    with nogil:
        pack(False, k, f, 1, 0, f, &kernel[0, 0], f, packed)
        for blk in prange((m + BLOCK_ROWS - 1) // BLOCK_ROWS, schedule="static", num_threads=t):
            r0 = blk * BLOCK_ROWS
            block_forward(x, r0, min(BLOCK_ROWS, m - r0), kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise,
                          scratch + threadid() * BLOCK_ROWS * k, packed, f, b, apply_relu,
                          &out[0, 0, 0, 0] + r0 * f)
    free(scratch)
    packed_free(packed)


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
    check_geometry("conv2d_backward", kh, kw, sh, sw, dh, dw, pt, pl)
    check_grads("conv2d_backward", x, kernel, dkernel, dbias, dx, beta, need_dx, k)
    check_shape("conv2d_backward", "dz", dz.shape, 4, n, ANY, ANY, f)
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
    cdef Pooled none
    gradients(x, kernel, &dz[0, 0, 0, 0], none, dkernel, dbias, dx, beta, need_dx, kh, kw, sh, sw, dh, dw, pt, pl,
              oh, ow, n_threads)


def conv2d_input_grad(const floating[:, :, :, ::1] dz, const floating[:, ::1] kernel, floating[:, :, :, ::1] dx,
                      int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int n_threads):
    """dx = col2im(dz @ kernel.T): the input gradient of ``conv2d_forward`` without its kernel gradient.

    It is the forward pass of a transposed convolution (``Conv2DTranspose``), whose
    output is ``dx`` and whose input is ``dz``; ``conv2d_backward`` would also spend
    a product on a kernel gradient nobody asked for.

    Parameters
    ----------
    dz : ndarray of shape (n, oh, ow, filters). IN.
    kernel : ndarray of shape (kh * kw * c, filters). IN.
    dx : ndarray of shape (n, h, w, c). OUT (every element written).
    """
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[3], f = kernel.shape[1]
    cdef Py_ssize_t oh = dz.shape[1], ow = dz.shape[2], k = kh * kw * c
    cdef Pooled none
    check_geometry("conv2d_input_grad", kh, kw, sh, sw, dh, dw, pt, pl)
    check_shape("conv2d_input_grad", "kernel", kernel.shape, 2, k, f)
    check_shape("conv2d_input_grad", "dz", dz.shape, 4, n, ANY, ANY, f)
    if dx.size == 0:
        return
    if f == 0 or oh * ow == 0:
        dx[...] = 0
        return
    input_grad(&dz[0, 0, 0, 0], none, f, kernel, dx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow,
               is_pointwise(kh, kw, sh, sw, pt, pl, dx.shape[1], dx.shape[2], oh, ow), n_threads)
