# One output row of max pooling, per vector width (``include/rv_simd.h``): the baseline build
# ran the running max and its argmax 4 lanes at a time. Shared by the pooling kernels
# and by the conv kernel that pools its ReLU output without storing it.
from ranvier.core._types cimport floating

ctypedef int index_t

cdef extern from "rv_maxpool.h":
    void rv_max_pool_row_f32(const float* img, Py_ssize_t w, Py_ssize_t c, Py_ssize_t y0, Py_ssize_t y1,
                             Py_ssize_t ow, int pw, int sw, int pl, float* o, int* a) noexcept nogil
    void rv_max_pool_row_f64(const double* img, Py_ssize_t w, Py_ssize_t c, Py_ssize_t y0, Py_ssize_t y1,
                             Py_ssize_t ow, int pw, int sw, int pl, double* o, int* a) noexcept nogil
    void rv_max_pool_2x2_row_f32(const float* z, Py_ssize_t w, Py_ssize_t c, Py_ssize_t ow, int base,
                                 const float* bias, float* o, int* a) noexcept nogil
    void rv_max_pool_2x2_row_f64(const double* z, Py_ssize_t w, Py_ssize_t c, Py_ssize_t ow, int base,
                                 const double* bias, double* o, int* a) noexcept nogil
    void rv_max_pool_2x2_bias_relu_row_f32(const float* z, Py_ssize_t w, Py_ssize_t c, Py_ssize_t ow, int base,
                                           const float* bias, float* o, int* a) noexcept nogil
    void rv_max_pool_2x2_bias_relu_row_f64(const double* z, Py_ssize_t w, Py_ssize_t c, Py_ssize_t ow,
                                           int base, const double* bias, double* o, int* a) noexcept nogil
    void rv_unpool_span_f32(float* d, const float* dy, const int* a, const float* gate, Py_ssize_t base,
                            Py_ssize_t x0, Py_ssize_t x1, Py_ssize_t pw, Py_ssize_t c) noexcept nogil
    void rv_unpool_span_f64(double* d, const double* dy, const int* a, const double* gate, Py_ssize_t base,
                            Py_ssize_t x0, Py_ssize_t x1, Py_ssize_t pw, Py_ssize_t c) noexcept nogil


cdef inline void max_pool_row(const floating* img, Py_ssize_t w, Py_ssize_t c, Py_ssize_t y0, Py_ssize_t y1,
                              Py_ssize_t ow, int pw, int sw, int pl, floating* o, index_t* a) noexcept nogil:
    """One row of pooled outputs (ow pixels of c values) and their argmax (flat index
    ``(y * w + x) * c + ci`` in the image).

    IN: img (the image, w pixels per row; the window rows are y0 .. y1). OUT: o, a.
    """
    if floating is float:
        rv_max_pool_row_f32(img, w, c, y0, y1, ow, pw, sw, pl, o, a)
    else:
        rv_max_pool_row_f64(img, w, c, y0, y1, ow, pw, sw, pl, o, a)


cdef inline void max_pool_2x2_row(const floating* z, Py_ssize_t w, Py_ssize_t c, Py_ssize_t ow, index_t base,
                                  floating* o, index_t* a) noexcept nogil:
    """``max_pool_row`` for 2x2 windows, stride 2, inside the image: rows z and z + w * c.

    IN: z (the top row of the pair, w pixels of c values); base: the flat index of
    z[0] in the image. OUT: o, a (ow pooled pixels).
    """
    if floating is float:
        rv_max_pool_2x2_row_f32(z, w, c, ow, base, NULL, o, a)
    else:
        rv_max_pool_2x2_row_f64(z, w, c, ow, base, NULL, o, a)


cdef inline void max_pool_2x2_bias_relu_row(const floating* z, Py_ssize_t w, Py_ssize_t c, Py_ssize_t ow,
                                            index_t base, const floating* bias, floating* o,
                                            index_t* a) noexcept nogil:
    """``max_pool_2x2_row`` of max(z + bias, 0), z unchanged: the same outputs and argmax as
    pooling the biased, rectified rows. IN: bias (c,) or NULL for none."""
    if floating is float:
        rv_max_pool_2x2_bias_relu_row_f32(z, w, c, ow, base, bias, o, a)
    else:
        rv_max_pool_2x2_bias_relu_row_f64(z, w, c, ow, base, bias, o, a)


cdef inline void unpool_span(floating* d, const floating* dy, const index_t* a, const floating* gate,
                             Py_ssize_t base, Py_ssize_t x0, Py_ssize_t x1, Py_ssize_t pw,
                             Py_ssize_t c) noexcept nogil:
    """The gradient under a gated 2x2 stride-2 max pool for pixels [x0, x1) of one input row.

    IN: dy, a (argmax), gate (the pool's output): the row's pooled windows. OUT: d,
    pixel x at d + (x - x0) * c. ``base`` is the flat index of the row's first pixel.
    """
    if floating is float:
        rv_unpool_span_f32(d, dy, a, gate, base, x0, x1, pw, c)
    else:
        rv_unpool_span_f64(d, dy, a, gate, base, x0, x1, pw, c)
