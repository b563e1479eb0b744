/* The depthwise conv's tap loops, per vector width (``_depthwise.pyx``). They run
   with m (the depth multiplier) a compile-time constant for m <= 4: with a run-time m,
   the inner loop over m (2 to 4 iterations) ran scalar, 4-6x slower per multiply-add
   than m == 1 (measured one thread, 16x28x28x64 outputs). */
#ifndef RV_DEPTHWISE_H
#define RV_DEPTHWISE_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

#define RV_DEFINE_DEPTHWISE_LOOPS(T, SFX)                                                  \
/* acc[p * acc_step + c * m + j] += a[p * a_step + c] * b[p * b_step + c * m + j]        \
   for the nx pixels p: the forward taps (acc = out, a = x, b = kernel, b_step 0) and     \
   the kernel gradient (acc = dkernel, acc_step 0, a = x, b = dz). */                     \
RV_INLINE void rv_dw_expand_m_##SFX(T* RV_RESTRICT acc, Py_ssize_t acc_step,              \
        const T* RV_RESTRICT a, Py_ssize_t a_step, const T* RV_RESTRICT b,                \
        Py_ssize_t b_step, Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) {                  \
    for (Py_ssize_t p = 0; p < nx; p++) {                                               \
        T* o = acc + p * acc_step;                                                      \
        const T* u = a + p * a_step;                                                    \
        const T* v = b + p * b_step;                                                    \
        _Pragma("omp simd")                                                             \
        for (Py_ssize_t ci = 0; ci < c; ci++)                                           \
            for (Py_ssize_t j = 0; j < m; j++) o[ci * m + j] += u[ci] * v[ci * m + j];   \
    }                                                                                   \
}                                                                                       \
RV_SIMD_CLONES static void rv_dw_expand_##SFX(T* RV_RESTRICT acc, Py_ssize_t acc_step,    \
        const T* RV_RESTRICT a, Py_ssize_t a_step, const T* RV_RESTRICT b,                \
        Py_ssize_t b_step, Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) {                  \
    switch (m) {                                                                        \
    case 1: rv_dw_expand_m_##SFX(acc, acc_step, a, a_step, b, b_step, nx, c, 1); break;  \
    case 2: rv_dw_expand_m_##SFX(acc, acc_step, a, a_step, b, b_step, nx, c, 2); break;  \
    case 3: rv_dw_expand_m_##SFX(acc, acc_step, a, a_step, b, b_step, nx, c, 3); break;  \
    case 4: rv_dw_expand_m_##SFX(acc, acc_step, a, a_step, b, b_step, nx, c, 4); break;  \
    default: rv_dw_expand_m_##SFX(acc, acc_step, a, a_step, b, b_step, nx, c, m);        \
    }                                                                                   \
}                                                                                       \
/* acc[p * acc_step + c] += sum_j a[p * a_step + c * m + j] * k[c * m + j]: the input    \
   gradient's taps (acc = dx, a = dz). */                                               \
RV_INLINE void rv_dw_contract_m_##SFX(T* RV_RESTRICT acc, Py_ssize_t acc_step,            \
        const T* RV_RESTRICT a, Py_ssize_t a_step, const T* RV_RESTRICT k,                \
        Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) {                                      \
    for (Py_ssize_t p = 0; p < nx; p++) {                                               \
        T* o = acc + p * acc_step;                                                      \
        const T* u = a + p * a_step;                                                    \
        _Pragma("omp simd")                                                             \
        for (Py_ssize_t ci = 0; ci < c; ci++) {                                         \
            T s = 0;                                                                    \
            for (Py_ssize_t j = 0; j < m; j++) s += u[ci * m + j] * k[ci * m + j];       \
            o[ci] += s;                                                                 \
        }                                                                               \
    }                                                                                   \
}                                                                                       \
RV_SIMD_CLONES static void rv_dw_contract_##SFX(T* RV_RESTRICT acc, Py_ssize_t acc_step,  \
        const T* RV_RESTRICT a, Py_ssize_t a_step, const T* RV_RESTRICT k,                \
        Py_ssize_t nx, Py_ssize_t c, Py_ssize_t m) {                                      \
    switch (m) {                                                                        \
    case 1: rv_dw_contract_m_##SFX(acc, acc_step, a, a_step, k, nx, c, 1); break;        \
    case 2: rv_dw_contract_m_##SFX(acc, acc_step, a, a_step, k, nx, c, 2); break;        \
    case 3: rv_dw_contract_m_##SFX(acc, acc_step, a, a_step, k, nx, c, 3); break;        \
    case 4: rv_dw_contract_m_##SFX(acc, acc_step, a, a_step, k, nx, c, 4); break;        \
    default: rv_dw_contract_m_##SFX(acc, acc_step, a, a_step, k, nx, c, m);              \
    }                                                                                   \
}
RV_DEFINE_DEPTHWISE_LOOPS(float, f32)
RV_DEFINE_DEPTHWISE_LOOPS(double, f64)

#endif /* RV_DEPTHWISE_H */
