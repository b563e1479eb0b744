# Column sums added into a vector: the bias gradient of a layer whose rows are samples
# (or pixels). Shared by the recurrent and conv kernels, which add each block of rows
# while it is in cache rather than reading the whole gradient again.
from ranvier.core._types cimport floating

cdef extern from "rv_colsum.h":
    void rv_add_column_sums_f32(const float* a, Py_ssize_t rows, Py_ssize_t lda, Py_ssize_t n,
                                float* out) noexcept nogil
    void rv_add_column_sums_f64(const double* a, Py_ssize_t rows, Py_ssize_t lda, Py_ssize_t n,
                                double* out) noexcept nogil


cdef inline void add_column_sums(const floating* a, Py_ssize_t rows, Py_ssize_t lda, Py_ssize_t n,
                                 floating* out) noexcept nogil:
    """out[:n] += a.sum(axis=0) for a (rows x n, row stride lda), summed in row order.

    IN: a. IN/OUT: out.
    """
    if floating is float:
        rv_add_column_sums_f32(a, rows, lda, n, out)
    else:
        rv_add_column_sums_f64(a, rows, lda, n, out)
