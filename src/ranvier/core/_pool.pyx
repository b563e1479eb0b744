"""Pooling kernels, channels-last (NHWC). 1-D pooling is 2-D with H = 1, global
pooling is a window the size of the image (the API reshapes, no copy).

Geometry arguments: ``ph, pw`` window, ``sh, sw`` strides, ``pt, pl`` padding
before the first row / column (Keras "same" pads asymmetrically; cells past the
input's end are padding too). Padding never wins a max and is left out of an
average's count, as in Keras. The output height and width come from ``out``
(or ``dy``).

Max pooling records in ``argmax`` the flat index ``(iy * w + ix) * c + ci``
of the winner within its image, which the backward pass scatters to.
"""
from cython.parallel cimport prange
from libc.string cimport memset

from ranvier.core._checks cimport ANY, check_optional, check_shape, value_error
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads
from ranvier.core._maxpool cimport index_t, max_pool_2x2_row, max_pool_row

# Elements read per thread before a second thread is worth starting.
cdef Py_ssize_t _GRAIN = 1 << 15


cdef int _check_pool(str op, str image_arg, const Py_ssize_t* image, str pooled_arg, const Py_ssize_t* pooled,
                     int ph, int pw, int sh, int sw, int pt, int pl) except -1:
    """The checks every pooling entry shares: geometry, pooled shape, image size."""
    if ph < 1 or pw < 1 or sh < 1 or sw < 1 or pt < 0 or pl < 0:
        raise value_error(op, "geometry", "have pool size and strides >= 1 and padding >= 0",
                          f"pool ({ph}, {pw}), strides ({sh}, {sw}), padding ({pt}, {pl})")
    check_shape(op, pooled_arg, pooled, 4, image[0], ANY, ANY, image[3])
    if image[1] * image[2] * image[3] >= 2 ** 31:
        raise value_error(op, image_arg, "have h * w * c < 2**31 (32-bit argmax indices)",
                          (image[0], image[1], image[2], image[3]))
    return 0


def max_pool2d_forward(const floating[:, :, :, ::1] x, int ph, int pw, int sh, int sw,
                       int pt, int pl, floating[:, :, :, ::1] out, index_t[:, :, :, ::1] argmax,
                       int n_threads):
    """Window maxima and where they are.

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    out : ndarray of shape (n, oh, ow, c). OUT.
    argmax : int32 ndarray of shape (n, oh, ow, c). OUT: flat index in the image, -1 if
        the window holds padding only.
    """
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t r, i, y, y0, y1
    cdef int t
    _check_pool("max_pool2d_forward", "x", x.shape, "out", out.shape, ph, pw, sh, sw, pt, pl)
    check_shape("max_pool2d_forward", "argmax", argmax.shape, 4, n, oh, ow, c)
    if n == 0 or c == 0:
        return
    # 2x2 windows, stride 2, every one inside the image ("valid"): the fixed-offset loop.
    cdef bint whole_2x2 = ph == pw == sh == sw == 2 and pt == pl == 0 and 2 * oh <= h and 2 * ow <= w
    t = effective_threads(n_threads, n * oh * ow * c * ph * pw, _GRAIN)
    with nogil:
        for r in prange(n * oh, schedule="static", num_threads=t):
            i = r // oh
            y = r % oh
            y0 = max(y * sh - pt, 0)
            y1 = min(y * sh - pt + ph, h)
            if whole_2x2:
                max_pool_2x2_row(&x[i, y0, 0, 0], w, c, ow, <index_t> (y0 * w * c), &out[i, y, 0, 0],
                                 &argmax[i, y, 0, 0])
            else:
                max_pool_row(&x[i, 0, 0, 0], w, c, y0, y1, ow, pw, sw, pl, &out[i, y, 0, 0],
                             &argmax[i, y, 0, 0])


def max_pool2d_backward(const floating[:, :, :, ::1] dy, const index_t[:, :, :, ::1] argmax,
                        const floating[:, :, :, ::1] gate, floating[:, :, :, ::1] dx, int n_threads):
    """dx[argmax] += dy per image (dx is overwritten first).

    With a ``gate``, this is also the gradient through a ReLU below the pool:
    the window max is the ReLU's output at the argmax, so ReLU' there is
    ``max > 0``, and a window whose max is not positive passes nothing. One
    pass instead of a ReLU backward re-reading the whole input-sized gradient.

    Parameters
    ----------
    dy : (n, oh, ow, c). IN.
    argmax : int32 (n, oh, ow, c), from ``max_pool2d_forward``. IN.
    gate : (n, oh, ow, c), the pool's output, or (0, 0, 0, 0) for none. IN.
    dx : (n, h, w, c). OUT.
    """
    cdef Py_ssize_t n = dx.shape[0], h = dx.shape[1], w = dx.shape[2], c = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[1], ow = dy.shape[2], per = oh * ow * c, size = h * w * c
    cdef Py_ssize_t i, j
    cdef index_t idx
    cdef floating* d
    cdef const floating* g
    cdef bint gated = gate.shape[0] != 0
    cdef int t
    _check_pool("max_pool2d_backward", "dx", dx.shape, "dy", dy.shape, 1, 1, 1, 1, 0, 0)
    check_shape("max_pool2d_backward", "argmax", argmax.shape, 4, n, oh, ow, c)
    check_optional("max_pool2d_backward", "gate", True, gate.shape, 4, n, oh, ow, c)
    if n == 0 or size == 0:
        return
    t = effective_threads(n_threads, n * (per + size), _GRAIN)
    with nogil:
        # Windows of one image may overlap, so threads split images.
        for i in prange(n, schedule="static", num_threads=t):
            d = &dx[i, 0, 0, 0]
            memset(d, 0, size * sizeof(floating))
            g = &gate[i, 0, 0, 0] if gated else NULL
            for j in range(per):
                idx = (&argmax[i, 0, 0, 0])[j]
                # An index outside the image can only come from a foreign argmax array: skip it.
                if 0 <= idx < size and (g == NULL or g[j] > 0):
                    d[idx] += (&dy[i, 0, 0, 0])[j]


def avg_pool2d_forward(const floating[:, :, :, ::1] x, int ph, int pw, int sh, int sw,
                       int pt, int pl, floating[:, :, :, ::1] out, int n_threads):
    """Window means over the cells inside the input (padding is not counted).

    Parameters
    ----------
    x : ndarray of shape (n, h, w, c). IN.
    out : ndarray of shape (n, oh, ow, c). OUT.
    """
    cdef Py_ssize_t n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3]
    cdef Py_ssize_t oh = out.shape[1], ow = out.shape[2]
    cdef Py_ssize_t r, i, y, xo, iy, ci, y0, y1, x0, x1
    cdef floating* o
    cdef floating scale
    cdef int t
    _check_pool("avg_pool2d_forward", "x", x.shape, "out", out.shape, ph, pw, sh, sw, pt, pl)
    if n == 0 or c == 0:
        return
    t = effective_threads(n_threads, n * oh * ow * c * ph * pw, _GRAIN)
    with nogil:
        for r in prange(n * oh, schedule="static", num_threads=t):
            i = r // oh
            y = r % oh
            y0 = max(y * sh - pt, 0)
            y1 = min(y * sh - pt + ph, h)
            for xo in range(ow):
                x0 = max(xo * sw - pl, 0)
                x1 = min(xo * sw - pl + pw, w)
                o = &out[i, y, xo, 0]
                for ci in range(c):
                    o[ci] = 0
                if y1 > y0 and x1 > x0:
                    # A window row is x1 - x0 contiguous cells: one vectorised call sums it.
                    for iy in range(y0, y1):
                        add_column_sums(&x[i, iy, x0, 0], x1 - x0, c, c, o)
                    scale = (<floating> 1.0) / ((y1 - y0) * (x1 - x0))
                    for ci in range(c):
                        o[ci] *= scale


def avg_pool2d_backward(const floating[:, :, :, ::1] dy, int ph, int pw, int sh, int sw,
                        int pt, int pl, floating[:, :, :, ::1] dx, int n_threads):
    """Spread each window's gradient evenly over its cells inside the input.

    Parameters
    ----------
    dy : (n, oh, ow, c). IN.
    dx : (n, h, w, c). OUT (overwritten).
    """
    cdef Py_ssize_t n = dx.shape[0], h = dx.shape[1], w = dx.shape[2], c = dx.shape[3]
    cdef Py_ssize_t oh = dy.shape[1], ow = dy.shape[2]
    cdef Py_ssize_t i, y, xo, iy, ix, ci, y0, y1, x0, x1
    cdef floating* d
    cdef const floating* g
    cdef floating scale
    cdef int t
    _check_pool("avg_pool2d_backward", "dx", dx.shape, "dy", dy.shape, ph, pw, sh, sw, pt, pl)
    if n == 0 or h * w * c == 0:
        return
    # Windows that tile the input (global pooling, pool == strides without padding or
    # remainder): every cell is in one window, so its gradient is stored, not added to.
    # The memset stays even then: it writes a cold dx without reading it first (rep stosb),
    # where plain stores fetch every line (in a W5 step 0.30 -> 0.42 ms without it).
    cdef bint tiles = (pt == 0 and pl == 0 and oh * ph == h and ow * pw == w
                       and (oh == 1 or sh == ph) and (ow == 1 or sw == pw))
    t = effective_threads(n_threads, n * oh * ow * c * ph * pw, _GRAIN)
    with nogil:
        for i in prange(n, schedule="static", num_threads=t):
            memset(&dx[i, 0, 0, 0], 0, h * w * c * sizeof(floating))
            if tiles:
                scale = (<floating> 1.0) / (ph * pw)
                for y in range(oh):
                    for xo in range(ow):
                        g = &dy[i, y, xo, 0]
                        for iy in range(y * ph, (y + 1) * ph):
                            for ix in range(xo * pw, (xo + 1) * pw):
                                d = &dx[i, iy, ix, 0]
                                for ci in range(c):
                                    d[ci] = scale * g[ci]
                continue
            for y in range(oh):
                y0 = max(y * sh - pt, 0)
                y1 = min(y * sh - pt + ph, h)
                for xo in range(ow):
                    x0 = max(xo * sw - pl, 0)
                    x1 = min(xo * sw - pl + pw, w)
                    if y1 <= y0 or x1 <= x0:
                        continue
                    scale = (<floating> 1.0) / ((y1 - y0) * (x1 - x0))
                    g = &dy[i, y, xo, 0]
                    for iy in range(y0, y1):
                        for ix in range(x0, x1):
                            d = &dx[i, iy, ix, 0]
                            for ci in range(c):
                                d[ci] += scale * g[ci]
