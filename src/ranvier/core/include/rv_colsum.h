/* Column sums added into a vector: the bias gradient of a layer whose rows are
   samples (or pixels). Shared by the recurrent and conv kernels (``_colsum.pxd``). */
#ifndef RV_COLSUM_H
#define RV_COLSUM_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

/* out[:n] += the column sums of a (rows x n, row stride lda), row by row. */
#define RV_DEFINE_ADD_COLUMN_SUMS(T, SFX)                                                   \
RV_SIMD_CLONES static void rv_add_column_sums_##SFX(const T* RV_RESTRICT a, Py_ssize_t rows, \
                                                    Py_ssize_t lda, Py_ssize_t n,           \
                                                    T* RV_RESTRICT out) {                   \
    for (Py_ssize_t i = 0; i < rows; i++)                                                   \
        for (Py_ssize_t j = 0; j < n; j++) out[j] += a[i * lda + j];                        \
}
RV_DEFINE_ADD_COLUMN_SUMS(float, f32)
RV_DEFINE_ADD_COLUMN_SUMS(double, f64)

#endif /* RV_COLSUM_H */
