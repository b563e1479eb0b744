/* One output row of max pooling, per vector width, and the gradient under a gated
   2x2 pool (``_maxpool.pxd``). Shared by the pooling kernels and by the fused conv
   kernels, which pool their ReLU output without storing it. */
#ifndef RV_MAXPOOL_H
#define RV_MAXPOOL_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

/* Windows of rows [y0, y1) of img (w pixels of c values per row), columns from xo * sw - pl,
   pw wide, clipped to the image. The argmax select is a bit mask: GCC if-converts a float
   select but not an int select on a float compare. */
#define RV_DEFINE_MAX_POOL_ROW(T, SFX)                                                      \
RV_SIMD_CLONES static void rv_max_pool_row_##SFX(const T* img, Py_ssize_t w, Py_ssize_t c,  \
        Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t ow, int pw, int sw,                        \
        int pl, T* RV_RESTRICT o, int* RV_RESTRICT a) {                                     \
    for (Py_ssize_t xo = 0; xo < ow; xo++, o += c, a += c) {                                \
        Py_ssize_t x0 = xo * sw - pl, x1 = x0 + pw;                                         \
        if (x0 < 0) x0 = 0;                                                                 \
        if (x1 > w) x1 = w;                                                                 \
        if (y1 <= y0 || x1 <= x0) {                                                         \
            for (Py_ssize_t ci = 0; ci < c; ci++) { o[ci] = 0; a[ci] = -1; }                \
            continue;                                                                       \
        }                                                                                   \
        /* The window's first cell starts the running max; later cells win only if larger. */ \
        int first = 1;                                                                      \
        for (Py_ssize_t iy = y0; iy < y1; iy++)                                             \
            for (Py_ssize_t ix = x0; ix < x1; ix++) {                                       \
                const T* src = img + (iy * w + ix) * c;                                     \
                int base = (int) ((iy * w + ix) * c);                                       \
                if (first) {                                                                \
                    for (Py_ssize_t ci = 0; ci < c; ci++) {                                 \
                        o[ci] = src[ci];                                                    \
                        a[ci] = base + (int) ci;                                            \
                    }                                                                       \
                    first = 0;                                                              \
                    continue;                                                               \
                }                                                                           \
                for (Py_ssize_t ci = 0; ci < c; ci++) {                                     \
                    T v = src[ci], cur = o[ci];                                             \
                    int m = -(int) (v > cur);                                               \
                    o[ci] = v > cur ? v : cur;                                              \
                    a[ci] = (a[ci] & ~m) | ((base + (int) ci) & m);                         \
                }                                                                           \
            }                                                                               \
    }                                                                                       \
}
RV_DEFINE_MAX_POOL_ROW(float, f32)
RV_DEFINE_MAX_POOL_ROW(double, f64)
/* The common 2x2 stride-2 window, all four cells inside: fixed offsets and 32-bit index
   lanes (the general loop above spent most of a fused conv's forward on its bounds, first
   flag and 64-bit index arithmetic). Same cell order and tie rule as the general loop.
   z: the window row pair's top row (w pixels of c values); base: the flat index of z[0].
   The _bias_relu twin pools max(z + bias, 0) (bias NULL: none) for the conv kernel, so that
   the bias and ReLU are never applied to the whole conv output: the max is taken over
   z + bias and rectified after (the same values, rounding being monotone), and a window
   whose max is not positive gets its first cell as argmax, as pooling the ReLU's zeros would. */
#define RV_DEFINE_MAX_POOL_2X2(T, SFX, NAME, BIAS_RELU)                                    \
RV_SIMD_CLONES static void NAME##_##SFX(const T* z, Py_ssize_t w, Py_ssize_t c,            \
        Py_ssize_t ow, int base, const T* RV_RESTRICT bias, T* RV_RESTRICT o,               \
        int* RV_RESTRICT a) {                                                               \
    for (Py_ssize_t xo = 0; xo < ow; xo++, o += c, a += c) {                                \
        /* One pointer per cell: indexed through 32-bit offsets, GCC gathered lane by lane. */ \
        const T* p0 = z + 2 * xo * c;                                                       \
        const T* p1 = p0 + c;                                                               \
        const T* p2 = p0 + w * c;                                                           \
        const T* p3 = p2 + c;                                                               \
        int i0 = base + (int) (2 * xo * c), i1 = i0 + (int) c;                              \
        int i2 = i0 + (int) (w * c), i3 = i2 + (int) c;                                     \
        for (Py_ssize_t ci = 0; ci < c; ci++) {                                             \
            int cc = (int) ci, id = i0 + cc, k;                                             \
            T b = BIAS_RELU && bias != NULL ? bias[ci] : (T) 0;                             \
            T m = BIAS_RELU ? p0[ci] + b : p0[ci], v;                                       \
            v = BIAS_RELU ? p1[ci] + b : p1[ci];                                            \
            k = -(int) (v > m); m = v > m ? v : m; id = (id & ~k) | ((i1 + cc) & k);        \
            v = BIAS_RELU ? p2[ci] + b : p2[ci];                                            \
            k = -(int) (v > m); m = v > m ? v : m; id = (id & ~k) | ((i2 + cc) & k);        \
            v = BIAS_RELU ? p3[ci] + b : p3[ci];                                            \
            k = -(int) (v > m); m = v > m ? v : m; id = (id & ~k) | ((i3 + cc) & k);        \
            if (BIAS_RELU) {                                                                \
                k = -(int) (m > 0);                                                         \
                m = m > 0 ? m : (T) 0;                                                      \
                id = (id & k) | ((i0 + cc) & ~k);                                           \
            }                                                                               \
            o[ci] = m;                                                                      \
            a[ci] = id;                                                                     \
        }                                                                                   \
    }                                                                                       \
}
RV_DEFINE_MAX_POOL_2X2(float, f32, rv_max_pool_2x2_row, 0)
RV_DEFINE_MAX_POOL_2X2(double, f64, rv_max_pool_2x2_row, 0)
RV_DEFINE_MAX_POOL_2X2(float, f32, rv_max_pool_2x2_bias_relu_row, 1)
RV_DEFINE_MAX_POOL_2X2(double, f64, rv_max_pool_2x2_bias_relu_row, 1)
/* The input gradient of 2x2 stride-2 max pooling behind a ReLU, for pixels [x0, x1) of one
   input row: pixel x gets its window's dy where it is the window's argmax and the max (the
   gate) is positive, else 0. dy, a and gate point at the row's pooled windows; base is the
   flat index of the row's first pixel; pixels past the last whole window get 0. */
#define RV_DEFINE_UNPOOL_SPAN(T, SFX)                                                       \
RV_SIMD_CLONES static void rv_unpool_span_##SFX(T* RV_RESTRICT d, const T* dy, const int* a,  \
        const T* gate, Py_ssize_t base, Py_ssize_t x0, Py_ssize_t x1, Py_ssize_t pw,        \
        Py_ssize_t c) {                                                                     \
    for (Py_ssize_t x = x0; x < x1; x++, d += c) {                                          \
        Py_ssize_t px = x / 2;                                                              \
        if (px >= pw) {                                                                     \
            for (Py_ssize_t ci = 0; ci < c; ci++) d[ci] = 0;                                \
            continue;                                                                       \
        }                                                                                   \
        const T* g = dy + px * c;                                                           \
        const T* m = gate + px * c;                                                         \
        const int* w = a + px * c;                                                          \
        int idx = (int) (base + x * c);                                                     \
        for (Py_ssize_t ci = 0; ci < c; ci++)                                               \
            d[ci] = (w[ci] == idx + (int) ci && m[ci] > 0) ? g[ci] : (T) 0;                 \
    }                                                                                       \
}
RV_DEFINE_UNPOOL_SPAN(float, f32)
RV_DEFINE_UNPOOL_SPAN(double, f64)

#endif /* RV_MAXPOOL_H */
