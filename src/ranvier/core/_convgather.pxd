# Gather and scatter of receptive fields for the conv kernels: the pixel-copy loops.
#
# Columns: row ``(n * oh + y) * ow + x`` of the column matrix holds the receptive field of
# output pixel (n, y, x) in (ky, kx, c) order, the row order of a Keras kernel (kh, kw, in,
# out) reshaped to (kh * kw * in, out). ``move_rows`` gathers a block of those rows (or
# scatter-adds it back); whole runs of pixels go to the C loops of include/rv_conv_pixels.h.
# Geometry arguments as in ``_convgeom.pxd``.
from libc.string cimport memset

from ranvier.core._convgeom cimport tap_range
from ranvier.core._types cimport floating

cdef extern from "rv_conv_pixels.h":
    void rv_copy_pixels_f32(float* dst, Py_ssize_t ldd, const float* src, Py_ssize_t lds,
                            Py_ssize_t n, Py_ssize_t c) noexcept nogil
    void rv_copy_pixels_f64(double* dst, Py_ssize_t ldd, const double* src, Py_ssize_t lds,
                            Py_ssize_t n, Py_ssize_t c) noexcept nogil
    void rv_add_pixels_f32(float* dst, Py_ssize_t ldd, const float* src, Py_ssize_t lds,
                           Py_ssize_t n, Py_ssize_t c) noexcept nogil
    void rv_add_pixels_f64(double* dst, Py_ssize_t ldd, const double* src, Py_ssize_t lds,
                           Py_ssize_t n, Py_ssize_t c) noexcept nogil


cdef inline void move_rows(floating* x, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, Py_ssize_t n0,
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
