# Column sums added into a vector: the bias gradient of a layer whose rows are samples
# (or pixels). Shared by the recurrent and conv kernels, which add each block of rows
# while it is in cache rather than reading the whole gradient again.
from ranvier.core._simd cimport RV_SIMD_CLONED
from ranvier.core._types cimport floating

cdef extern from *:
    """
    #ifndef RV_COLSUM_DEFINED
    #define RV_COLSUM_DEFINED
    /* out[:n] += the column sums of a (rows x n, row stride lda), row by row. */
    #define RV_DEFINE_ADD_COLUMN_SUMS(T, SFX)                                                   \\
    RV_SIMD_CLONES static void rv_add_column_sums_##SFX(const T* RV_RESTRICT a, Py_ssize_t rows, \\
                                                        Py_ssize_t lda, Py_ssize_t n,           \\
                                                        T* RV_RESTRICT out) {                   \\
        for (Py_ssize_t i = 0; i < rows; i++)                                                   \\
            for (Py_ssize_t j = 0; j < n; j++) out[j] += a[i * lda + j];                        \\
    }
    RV_DEFINE_ADD_COLUMN_SUMS(float, f32)
    RV_DEFINE_ADD_COLUMN_SUMS(double, f64)
    #endif
    """
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
