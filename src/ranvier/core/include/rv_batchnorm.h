/* The row-block loops of batch normalisation, per vector width (``_norm.pyx``): with
   the SSE2 baseline alone they took most of a (128, 512) forward + backward. "omp simd"
   states what restrict cannot: out may be x and dx may be dy, element for element.
   Every column sums its rows in row order, so the vector width never changes a result. */
#ifndef RV_BATCHNORM_H
#define RV_BATCHNORM_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

#define RV_DEFINE_BN_LOOPS(T, SFX)                                                       \
/* s1, s2 = column sums over the rows of x - centre and of its square, or, with dy,     \
   of dy and of dy * (x - centre). */                                                   \
RV_SIMD_CLONES static void rv_bn_sums_##SFX(const T* x, const T* dy, const T* centre,    \
        T* RV_RESTRICT s1, T* RV_RESTRICT s2, Py_ssize_t rows, Py_ssize_t c) {             \
    Py_ssize_t i, j;                                                                    \
    for (j = 0; j < c; j++) { s1[j] = 0; s2[j] = 0; }                                   \
    for (i = 0; i < rows; i++) {                                                        \
        const T* xr = x + i * c;                                                        \
        if (dy == NULL) {                                                               \
            _Pragma("omp simd")                                                         \
            for (j = 0; j < c; j++) {                                                   \
                T d = xr[j] - centre[j];                                                \
                s1[j] += d;                                                             \
                s2[j] += d * d;                                                         \
            }                                                                           \
        } else {                                                                        \
            const T* dr = dy + i * c;                                                   \
            _Pragma("omp simd")                                                         \
            for (j = 0; j < c; j++) {                                                   \
                s1[j] += dr[j];                                                         \
                s2[j] += dr[j] * (xr[j] - centre[j]);                                   \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
/* out = x * a + s per column. */                                                       \
RV_SIMD_CLONES static void rv_bn_affine_##SFX(const T* x, const T* a, const T* s, T* out, \
                                              Py_ssize_t rows, Py_ssize_t c) {          \
    for (Py_ssize_t i = 0; i < rows; i++) {                                             \
        _Pragma("omp simd")                                                             \
        for (Py_ssize_t j = 0; j < c; j++) out[i * c + j] = x[i * c + j] * a[j] + s[j];  \
    }                                                                                   \
}                                                                                       \
/* dx = p * dy + q * (x - mean) + r per column. */                                      \
RV_SIMD_CLONES static void rv_bn_dx_##SFX(const T* x, const T* dy, const T* mean,        \
        const T* p, const T* q, const T* r, T* dx, Py_ssize_t rows, Py_ssize_t c) {      \
    for (Py_ssize_t i = 0; i < rows; i++) {                                             \
        const T* xr = x + i * c;                                                        \
        const T* dr = dy + i * c;                                                       \
        T* o = dx + i * c;                                                              \
        _Pragma("omp simd")                                                             \
        for (Py_ssize_t j = 0; j < c; j++) o[j] = p[j] * dr[j] + q[j] * (xr[j] - mean[j]) + r[j]; \
    }                                                                                   \
}
RV_DEFINE_BN_LOOPS(float, f32)
RV_DEFINE_BN_LOOPS(double, f64)

#endif /* RV_BATCHNORM_H */
