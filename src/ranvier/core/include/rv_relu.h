/* The bias add and the plain ReLU, and the ReLU gate fused with the bias gradient,
   per vector width (``_relu.pxd``); "omp simd":
   y may be z and dz may be dy, element for element. */
#ifndef RV_RELU_H
#define RV_RELU_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

#define RV_DEFINE_RELU(T, SFX)                                                              \
RV_SIMD_CLONES static void rv_add_bias_##SFX(T* z, const T* RV_RESTRICT bias,              \
                                             Py_ssize_t rows, Py_ssize_t cols) {           \
    for (Py_ssize_t i = 0; i < rows; i++) {                                                \
        T* zr = z + i * cols;                                                              \
        _Pragma("omp simd")                                                                \
        for (Py_ssize_t j = 0; j < cols; j++) zr[j] += bias[j];                            \
    }                                                                                      \
}                                                                                          \
RV_SIMD_CLONES static void rv_relu_##SFX(const T* z, T* y, Py_ssize_t n) {                 \
    _Pragma("omp simd")                                                                    \
    for (Py_ssize_t j = 0; j < n; j++) y[j] = z[j] > 0 ? z[j] : (T) 0;                     \
}                                                                                          \
RV_SIMD_CLONES static void rv_relu_back_##SFX(const T* dy, const T* y, T* dz, Py_ssize_t n) { \
    _Pragma("omp simd")                                                                    \
    for (Py_ssize_t j = 0; j < n; j++) dz[j] = y[j] > 0 ? dy[j] : (T) 0;                   \
}                                                                                          \
/* dz = dy where y > 0, else 0, and (sums not NULL) sums += dz's column sums in row        \
   order, in one pass over rows x cols blocks (dz may be dy). */                           \
RV_SIMD_CLONES static void rv_relu_back_sum_##SFX(const T* dy, const T* y, T* dz,          \
                                                  Py_ssize_t rows, Py_ssize_t cols,        \
                                                  T* RV_RESTRICT sums) {                   \
    for (Py_ssize_t i = 0; i < rows; i++) {                                                \
        const T* dyr = dy + i * cols;                                                      \
        const T* yr = y + i * cols;                                                        \
        T* dzr = dz + i * cols;                                                            \
        if (sums) {                                                                        \
            _Pragma("omp simd")                                                            \
            for (Py_ssize_t j = 0; j < cols; j++) {                                        \
                T d = yr[j] > 0 ? dyr[j] : (T) 0;                                          \
                dzr[j] = d;                                                                \
                sums[j] += d;                                                              \
            }                                                                              \
        } else {                                                                           \
            _Pragma("omp simd")                                                            \
            for (Py_ssize_t j = 0; j < cols; j++) dzr[j] = yr[j] > 0 ? dyr[j] : (T) 0;     \
        }                                                                                  \
    }                                                                                      \
}
RV_DEFINE_RELU(float, f32)
RV_DEFINE_RELU(double, f64)

#endif /* RV_RELU_H */
