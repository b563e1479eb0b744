/* The bias add and the plain ReLU, per vector width (``_relu.pxd``); "omp simd":
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
}
RV_DEFINE_RELU(float, f32)
RV_DEFINE_RELU(double, f64)

#endif /* RV_RELU_H */
