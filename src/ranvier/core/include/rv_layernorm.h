/* The row loops of layer normalisation, per vector width (``_norm.pyx``): Cython's loops
   with double temporaries ran at 1.5 ns per float32 element, scalar. Each call takes a
   block of rows; a row is read from memory once and swept again while in L1. "omp simd"
   states what restrict cannot: out may be x and dx may be dy, element for element. The
   weight-gradient partials add the block's rows in row order, so the vector width never
   changes them; the row sums are reductions over the vector lanes. */
#ifndef RV_LAYERNORM_H
#define RV_LAYERNORM_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include <math.h>
#include "rv_simd.h"

#define RV_DEFINE_LN_LOOPS(T, SFX)                                                          \
/* out = (x - mean) / sqrt(var + epsilon) * gamma + beta per row of d features, with the    \
   row's mean and biased variance written to mean[i], var[i]. */                           \
RV_SIMD_CLONES static void rv_ln_forward_##SFX(const T* x, const T* gamma, const T* beta,   \
        double epsilon, T* out, T* RV_RESTRICT mean, T* RV_RESTRICT var, Py_ssize_t rows,   \
        Py_ssize_t d) {                                                                     \
    for (Py_ssize_t i = 0; i < rows; i++) {                                                 \
        const T* xr = x + i * d;                                                            \
        T* o = out + i * d;                                                                 \
        /* Sums of x - c in double: with c near the mean they do not cancel. float32 takes    \
           c = x[0] (double holds x - c and its square with little or no rounding: one      \
           sweep); float64 the row's mean, a sweep more (with c = x[0] its finite           \
           differences were 5x noisier). */                                                 \
        double c = xr[0], s1 = 0, s2 = 0;                                                   \
        if (sizeof(T) == sizeof(double)) {                                                  \
            double s = 0;                                                                   \
            _Pragma("omp simd reduction(+:s)")                                              \
            for (Py_ssize_t j = 0; j < d; j++) s += xr[j];                                  \
            c = s / (double) d;                                                             \
        }                                                                                   \
        _Pragma("omp simd reduction(+:s1,s2)")                                              \
        for (Py_ssize_t j = 0; j < d; j++) {                                                \
            const double t = (double) xr[j] - c;                                            \
            s1 += t;                                                                        \
            s2 += t * t;                                                                    \
        }                                                                                   \
        double v = (s2 - s1 * s1 / (double) d) / (double) d;                               \
        v = v > 0 ? v : 0;                                                                  \
        const double mu = c + s1 / (double) d;                                              \
        mean[i] = (T) mu;                                                                   \
        var[i] = (T) v;                                                                     \
        /* The mean as a head and a tail in T: x - hi is exact for x near the mean, so a     \
           large mean does not cost the centred values their precision. */                  \
        const T hi = (T) mu, lo = (T) (mu - (double) hi), a = (T) (1.0 / sqrt(v + epsilon)); \
        _Pragma("omp simd")                                                                 \
        for (Py_ssize_t j = 0; j < d; j++) o[j] = ((xr[j] - hi) - lo) * a * gamma[j] + beta[j]; \
    }                                                                                       \
}                                                                                           \
/* Per row, with xhat = (x - mean) * inv, inv = 1 / sqrt(var + epsilon) and g = dy * gamma: \
   dx = inv * (g - mean(g) - xhat * mean(g * xhat)) unless dx is NULL; and the block's       \
   column sums pdy = sum(dy), pdyx = sum(dy * xhat), over its rows in row order. */          \
RV_SIMD_CLONES static void rv_ln_backward_##SFX(const T* x, const T* dy, const T* mean,      \
        const T* var, const T* gamma, double epsilon, T* dx, T* RV_RESTRICT pdy,             \
        T* RV_RESTRICT pdyx, Py_ssize_t rows, Py_ssize_t d) {                               \
    for (Py_ssize_t j = 0; j < d; j++) { pdy[j] = 0; pdyx[j] = 0; }                         \
    for (Py_ssize_t i = 0; i < rows; i++) {                                                 \
        const T* xr = x + i * d;                                                            \
        const T* dr = dy + i * d;                                                           \
        const T mu = mean[i], inv = (T) (1.0 / sqrt((double) var[i] + epsilon));            \
        T m1 = 0, m2 = 0;                                                                   \
        _Pragma("omp simd reduction(+:m1,m2)")                                              \
        for (Py_ssize_t j = 0; j < d; j++) {                                                \
            const T xh = (xr[j] - mu) * inv, g = dr[j] * gamma[j];                          \
            m1 += g;                                                                        \
            m2 += g * xh;                                                                   \
            pdy[j] += dr[j];                                                                \
            pdyx[j] += dr[j] * xh;                                                          \
        }                                                                                   \
        if (dx != NULL) {                                                                   \
            T* o = dx + i * d;                                                              \
            const T mean_g = m1 / (T) d, mean_gx = m2 / (T) d;                             \
            _Pragma("omp simd")                                                             \
            for (Py_ssize_t j = 0; j < d; j++)                                              \
                o[j] = inv * (dr[j] * gamma[j] - mean_g - (xr[j] - mu) * inv * mean_gx);    \
        }                                                                                   \
    }                                                                                       \
}
RV_DEFINE_LN_LOOPS(float, f32)
RV_DEFINE_LN_LOOPS(double, f64)

#endif /* RV_LAYERNORM_H */
