/* The kernel gradient of a conv followed by ReLU and a 2x2 max pool, straight from
   the pool's gradient (``_convpool.pyx``). Built per ISA like the packed micro-kernel,
   whose vector types, target attributes and rv_packed_isa it reuses. */
#ifndef RV_CONV_POOLED_DW_H
#define RV_CONV_POOLED_DW_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_packed.h"

/* The kernel gradient of a conv whose ReLU output goes through a 2x2 stride-2 max pool
   (``conv2d_maxpool_backward``), straight from the pool's dy, argmax and gate. Window by
   window, each cell's dz (dy where the cell is the window's argmax and the max is
   positive, else 0) is multiplied by the input values under a group of taps and summed
   in registers: no dz rebuilt, no columns gathered. For a first layer's few taps (W2:
   k = 9) the blocked path spent its time unpooling, gathering and storing tiles of a
   9-row product. float32 only; f must be a multiple of the vector group
   (rv_pooled_dw_cols). Overwrites dk (k x f) and db (f,) for n images, the windows
   summed in order. */
#define RV_POOLED_TAPS 10
#define RV_DEFINE_POOLED_DW(NAME, ATTR, VT, VTU, IT, ITU, VL, NV)                          \
ATTR static void NAME(const float* x, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w,            \
        Py_ssize_t c, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,       \
        Py_ssize_t ow, Py_ssize_t ph, Py_ssize_t pw, const float* dy, const int* am,        \
        const float* gate, Py_ssize_t f, float* dk, float* db) {                           \
    Py_ssize_t k = (Py_ssize_t) kh * kw * c;                                               \
    IT lane;                                                                               \
    for (int l = 0; l < VL; l++) lane[l] = l;                                              \
    for (Py_ssize_t t0 = 0; t0 < k; t0 += RV_POOLED_TAPS) {                                \
        int ty[RV_POOLED_TAPS], tx[RV_POOLED_TAPS], tc[RV_POOLED_TAPS];                    \
        for (int u = 0; u < RV_POOLED_TAPS; u++) {  /* past k: the last tap, not stored */ \
            Py_ssize_t t = t0 + u < k ? t0 + u : k - 1;                                    \
            ty[u] = (int) (t / (kw * c)) * dh;                                             \
            tx[u] = (int) (t / c % kw) * dw;                                               \
            tc[u] = (int) (t % c);                                                         \
        }                                                                                  \
        for (Py_ssize_t j = 0; j < f; j += NV * VL) {                                      \
            VT acc[RV_POOLED_TAPS][NV], bacc[NV];                                          \
            RV_UNROLL for (int v = 0; v < NV; v++) {                                       \
                bacc[v] = (VT) {0};                                                        \
                RV_UNROLL for (int u = 0; u < RV_POOLED_TAPS; u++) acc[u][v] = (VT) {0};    \
            }                                                                              \
            for (Py_ssize_t i = 0; i < n; i++) {                                           \
                const float* img = x + i * h * w * c;                                      \
                for (Py_ssize_t py = 0; py < ph; py++)                                     \
                    for (Py_ssize_t px = 0; px < pw; px++) {                               \
                        Py_ssize_t q = ((i * ph + py) * pw + px) * f + j;                  \
                        VT g[NV];                                                          \
                        IT a[NV], pos[NV];                                                 \
                        RV_UNROLL for (int v = 0; v < NV; v++) {                           \
                            g[v] = *(const VTU*) (dy + q + v * VL);                        \
                            a[v] = *(const ITU*) (am + q + v * VL);                        \
                            pos[v] = *(const VTU*) (gate + q + v * VL) > (VT) {0};         \
                        }                                                                  \
                        RV_UNROLL for (int cell = 0; cell < 4; cell++) {                   \
                            Py_ssize_t oy = 2 * py + cell / 2, ox = 2 * px + cell % 2;     \
                            Py_ssize_t y0 = oy * sh - pt, x0 = ox * sw - pl;               \
                            int base = (int) ((oy * ow + ox) * f + j);                     \
                            VT d[NV];                                                      \
                            RV_UNROLL for (int v = 0; v < NV; v++) {                       \
                                IT hit = (a[v] == base + v * VL + lane) & pos[v];          \
                                d[v] = (VT) (hit & (IT) g[v]);                             \
                                bacc[v] += d[v];                                           \
                            }                                                              \
                            RV_UNROLL for (int u = 0; u < RV_POOLED_TAPS; u++) {           \
                                Py_ssize_t iy = y0 + ty[u], ix = x0 + tx[u];               \
                                float xv = iy >= 0 && iy < h && ix >= 0 && ix < w          \
                                    ? img[(iy * w + ix) * c + tc[u]] : 0.0f;               \
                                RV_UNROLL for (int v = 0; v < NV; v++) acc[u][v] += xv * d[v]; \
                            }                                                              \
                        }                                                                  \
                    }                                                                      \
            }                                                                              \
            for (int u = 0; u < RV_POOLED_TAPS && t0 + u < k; u++)                         \
                RV_UNROLL for (int v = 0; v < NV; v++)                                     \
                    *(VTU*) (dk + (t0 + u) * f + j + v * VL) = acc[u][v];                  \
            if (t0 == 0)                                                                   \
                RV_UNROLL for (int v = 0; v < NV; v++) *(VTU*) (db + j + v * VL) = bacc[v]; \
        }                                                                                  \
    }                                                                                      \
}
#if defined(__GNUC__) || defined(__clang__)
typedef int rv_i32x4 __attribute__((vector_size(16)));
typedef int rv_i32x4u __attribute__((vector_size(16), aligned(4), may_alias));
RV_DEFINE_POOLED_DW(rv_pooled_dw_base, , rv_f32x4, rv_f32x4u, rv_i32x4, rv_i32x4u, 4, 1)
#if RV_PACKED_X86
typedef int rv_i32x8 __attribute__((vector_size(32)));
typedef int rv_i32x8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef int rv_i32x16 __attribute__((vector_size(64)));
typedef int rv_i32x16u __attribute__((vector_size(64), aligned(4), may_alias));
RV_DEFINE_POOLED_DW(rv_pooled_dw_v3, RV_TARGET_V3, rv_f32x8, rv_f32x8u, rv_i32x8, rv_i32x8u, 8, 1)
RV_DEFINE_POOLED_DW(rv_pooled_dw_v4, RV_TARGET_V4, rv_f32x16, rv_f32x16u, rv_i32x16, rv_i32x16u, 16, 2)
#endif
#endif
/* The multiple of f the kernel needs on this CPU, or 0 when it is not built. */
static Py_ssize_t rv_pooled_dw_cols(void) {
#if defined(__GNUC__) || defined(__clang__)
#if RV_PACKED_X86
    switch (rv_packed_isa()) {
        case 2: return 32;
        case 1: return 8;
    }
#endif
    return 4;
#else
    return 0;
#endif
}
static void rv_pooled_dw(const float* x, Py_ssize_t n, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
        int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t ow,
        Py_ssize_t ph, Py_ssize_t pw, const float* dy, const int* am, const float* gate,
        Py_ssize_t f, float* dk, float* db) {
#if defined(__GNUC__) || defined(__clang__)
#if RV_PACKED_X86
    switch (rv_packed_isa()) {
        case 2: rv_pooled_dw_v4(x, n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, ow, ph, pw, dy, am, gate,
                                f, dk, db); return;
        case 1: rv_pooled_dw_v3(x, n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, ow, ph, pw, dy, am, gate,
                                f, dk, db); return;
    }
#endif
    rv_pooled_dw_base(x, n, h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, ow, ph, pw, dy, am, gate, f, dk, db);
#endif
}

#endif /* RV_CONV_POOLED_DW_H */
