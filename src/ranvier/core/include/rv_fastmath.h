/* Fast float32 exp, sigmoid and tanh (Cephes' polynomials), written so that GCC and
   clang vectorise the array loops; ``_fastmath.pxd`` gives the measurements and the
   typed wrappers. Shared by the activation and recurrent kernels. */
#ifndef RV_FASTMATH_H
#define RV_FASTMATH_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif
RV_INLINE float rv_expf(float x) {
    /* exp(x) = 2^n * exp(r), |r| <= ln(2) / 2. The clamps keep n in [-126, 128]:
       2^n is a normal float or, from x ~ 88.4, +inf (so sigmoid(-inf) is exactly 0
       and x * sigmoid(x) stays 0 for huge negative x). */
    union { float f; int i; } k;
    float n, r, y;
    x = x > 89.0f ? 89.0f : x;
    x = x < -87.0f ? -87.0f : x;
    k.f = x * 1.44269504088896341f + 12582912.0f;  /* round(x / ln 2) in the low mantissa bits */
    n = k.f - 12582912.0f;
    r = x - n * 0.693359375f + n * 2.12194440e-4f;
    y = ((((1.9875691500E-4f * r + 1.3981999507E-3f) * r + 8.3334519073E-3f) * r
          + 4.1665795894E-2f) * r + 1.6666665459E-1f) * r + 5.0000001201E-1f;
    y = y * r * r + r + 1.0f;
    k.i = (k.i - 0x4B400000 + 127) << 23;
    return y * k.f;
}
RV_INLINE float rv_sigmoidf(float x) {
    return 1.0f / (1.0f + rv_expf(-x));
}
RV_INLINE float rv_tanhf(float x) {
    /* An odd polynomial near 0 (where 1 - 2 / (e^2x + 1) would cancel), exp beyond. */
    float a = x < 0 ? -x : x;
    float z = x * x;
    float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z
                    + 1.33314422036E-1f) * z - 3.33332819422E-1f) * z * x + x;
    float big = 1.0f - 2.0f / (rv_expf(2.0f * a) + 1.0f);
    big = x < 0 ? -big : big;
    return a < 0.625f ? small : big;
}
/* y may be x (in place): "omp simd" asserts what restrict could not, that no
   element depends on another, so the in-place loops vectorise too. */
RV_SIMD_CLONES static void rv_sigmoid_f32(const float* x, float* y, Py_ssize_t n) {
    #pragma omp simd
    for (Py_ssize_t i = 0; i < n; i++) y[i] = rv_sigmoidf(x[i]);
}
RV_SIMD_CLONES static void rv_tanh_f32(const float* x, float* y, Py_ssize_t n) {
    #pragma omp simd
    for (Py_ssize_t i = 0; i < n; i++) y[i] = rv_tanhf(x[i]);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif /* RV_FASTMATH_H */
