/* Row loops of scaled dot-product attention (``_attention.pyx``): the masked, scaled,
   numerically stable softmax of a block of score rows in one pass over each row, and its
   derivative. float32 uses rv_expf, whose clamp at -87 would leave masked keys 1.6e-38: those
   are flushed to 0, as expf gives. Built per vector width (RV_SIMD_CLONES): each call gets a whole (b, h) block
   of rows, so the indirect call of a clone is paid once per block. */
#ifndef RV_ATTENTION_H
#define RV_ATTENTION_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include <math.h>
#include <stdint.h>
#include "rv_simd.h"
#include "rv_fastmath.h"

/* Keras' masked softmax adds (1 - mask) * -1e9 to the scores: a partly masked row gives
   its masked keys exactly 0, a fully masked one (nearly) uniform weights. */
#define RV_ATTN_MASKED (-1e9)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif
/* s (rows x n, row stride ld) <- softmax(scale * s + masked * -1e9) row by row, where key j
   of row i is masked when mask (row stride ldm, 0 to broadcast one row; NULL: none) holds 0
   there or, if causal, when j > row0 + i (row0: the block's first query row). */
#define RV_DEFINE_ATTN_SOFTMAX(T, SFX, EXP, FLUSH)                                                    \
RV_SIMD_CLONES static void rv_attn_softmax_##SFX(T* s, Py_ssize_t rows, Py_ssize_t n,          \
                                                 Py_ssize_t ld, const uint8_t* mask,          \
                                                 Py_ssize_t ldm, int causal, Py_ssize_t row0, \
                                                 T scale) {                                    \
    for (Py_ssize_t i = 0; i < rows; i++) {                                                    \
        T* r = s + i * ld;                                                                     \
        const uint8_t* m = mask ? mask + i * ldm : NULL;                                       \
        Py_ssize_t last = causal ? row0 + i : n - 1;                                           \
        T mx = -INFINITY, sum = 0;                                                             \
        if (m) {                                                                               \
            _Pragma("omp simd reduction(max:mx)")                                              \
            for (Py_ssize_t j = 0; j < n; j++) {                                               \
                T x = r[j] * scale + ((m[j] != 0) & (j <= last) ? (T) 0 : (T) RV_ATTN_MASKED); \
                r[j] = x;                                                                      \
                mx = x > mx ? x : mx;                                                          \
            }                                                                                  \
        } else {                                                                               \
            _Pragma("omp simd reduction(max:mx)")                                              \
            for (Py_ssize_t j = 0; j < n; j++) {                                               \
                T x = r[j] * scale + (j <= last ? (T) 0 : (T) RV_ATTN_MASKED);                 \
                r[j] = x;                                                                      \
                mx = x > mx ? x : mx;                                                          \
            }                                                                                  \
        }                                                                                      \
        _Pragma("omp simd reduction(+:sum)")                                                   \
        for (Py_ssize_t j = 0; j < n; j++) {                                                   \
            T z = r[j] - mx;                                                                   \
            T e = z < (FLUSH) ? (T) 0 : EXP(z);                                                \
            r[j] = e;                                                                          \
            sum += e;                                                                          \
        }                                                                                      \
        T inv = (T) 1 / sum;                                                                   \
        _Pragma("omp simd")                                                                    \
        for (Py_ssize_t j = 0; j < n; j++) r[j] *= inv;                                        \
    }                                                                                          \
}
RV_DEFINE_ATTN_SOFTMAX(float, f32, rv_expf, -87.0f)
RV_DEFINE_ATTN_SOFTMAX(double, f64, exp, -INFINITY)

/* ds (rows x n, row stride ld; holds dL/dP on entry) <- scale * p * (ds - rowsum(ds * p)):
   the gradient with respect to the scores before scaling. */
#define RV_DEFINE_ATTN_DSOFTMAX(T, SFX)                                                        \
RV_SIMD_CLONES static void rv_attn_dsoftmax_##SFX(const T* p, T* ds, Py_ssize_t rows,          \
                                                  Py_ssize_t n, Py_ssize_t ld, T scale) {      \
    for (Py_ssize_t i = 0; i < rows; i++) {                                                    \
        const T* pr = p + i * ld;                                                              \
        T* d = ds + i * ld;                                                                    \
        T dot = 0;                                                                             \
        _Pragma("omp simd reduction(+:dot)")                                                   \
        for (Py_ssize_t j = 0; j < n; j++) dot += d[j] * pr[j];                                \
        _Pragma("omp simd")                                                                    \
        for (Py_ssize_t j = 0; j < n; j++) d[j] = scale * pr[j] * (d[j] - dot);                \
    }                                                                                          \
}
RV_DEFINE_ATTN_DSOFTMAX(float, f32)
RV_DEFINE_ATTN_DSOFTMAX(double, f64)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* RV_ATTENTION_H */
