# The bias add and the plain ReLU (the common Dense/Conv case), per vector width
# (``include/rv_simd.h``); "omp simd": y may be z and dz may be dy, element for element.
# Shared by the activation kernels and by the conv and fused Dense kernels, which apply
# them to each block of their output (or gradient) while the block is still in cache.
from ranvier.core._types cimport floating

cdef extern from "rv_relu.h":
    void rv_add_bias_f32(float* z, const float* bias, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil
    void rv_add_bias_f64(double* z, const double* bias, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil
    void rv_relu_f32(const float* z, float* y, Py_ssize_t n) noexcept nogil
    void rv_relu_f64(const double* z, double* y, Py_ssize_t n) noexcept nogil
    void rv_relu_back_f32(const float* dy, const float* y, float* dz, Py_ssize_t n) noexcept nogil
    void rv_relu_back_f64(const double* dy, const double* y, double* dz, Py_ssize_t n) noexcept nogil
    void rv_relu_back_sum_f32(const float* dy, const float* y, float* dz, Py_ssize_t rows, Py_ssize_t cols,
                              float* sums) noexcept nogil
    void rv_relu_back_sum_f64(const double* dy, const double* y, double* dz, Py_ssize_t rows,
                              Py_ssize_t cols, double* sums) noexcept nogil


cdef inline void add_bias(floating* z, const floating* bias, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """z[i, :] += bias for each of ``rows`` rows of ``cols`` values. IN/OUT: z."""
    if floating is float:
        rv_add_bias_f32(z, bias, rows, cols)
    else:
        rv_add_bias_f64(z, bias, rows, cols)


cdef inline void relu(const floating* z, floating* y, Py_ssize_t n) noexcept nogil:
    """y[:n] = max(z, 0); y may be z. OUT: y."""
    if floating is float:
        rv_relu_f32(z, y, n)
    else:
        rv_relu_f64(z, y, n)


cdef inline void relu_back(const floating* dy, const floating* y, floating* dz, Py_ssize_t n) noexcept nogil:
    """dz[:n] = dy where y > 0, else 0; dz may be dy. OUT: dz."""
    if floating is float:
        rv_relu_back_f32(dy, y, dz, n)
    else:
        rv_relu_back_f64(dy, y, dz, n)


cdef inline void relu_back_sum(const floating* dy, const floating* y, floating* dz, Py_ssize_t rows,
                               Py_ssize_t cols, floating* sums) noexcept nogil:
    """dz = dy where y > 0, else 0, over rows x cols; sums[:cols] += dz.sum(0) unless NULL.

    OUT: dz (may be dy). IN/OUT: sums.
    """
    if floating is float:
        rv_relu_back_sum_f32(dy, y, dz, rows, cols, sums)
    else:
        rv_relu_back_sum_f64(dy, y, dz, rows, cols, sums)
