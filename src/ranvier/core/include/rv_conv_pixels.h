/* The pixel-copy loops under the conv kernels' gather and scatter of receptive
   fields (``_convgather.pxd``). */
#ifndef RV_CONV_PIXELS_H
#define RV_CONV_PIXELS_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

/* n pixels of c values, pixel p at src + p * lds, copied to (or added to) dst + p * ldd:
   one kernel row's run of taps along an output row. Built per vector width, as the
   baseline build copied a 32-channel pixel in 16-byte pieces and a memcpy per pixel
   cost more than the copy (GCC turns the copy loop back into that memcpy unless told
   not to); runs of 1 to 4 values (a first layer's few channels) get unrolled loops. */
#if defined(__GNUC__) && !defined(__clang__)
#define RV_NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define RV_NO_MEMCPY_IDIOM
#endif
#define RV_PIXEL_LOOP(OP, W)                                                             \
    for (Py_ssize_t p = 0; p < n; p++)                                                   \
        for (Py_ssize_t q = 0; q < (W); q++) dst[p * ldd + q] OP src[p * lds + q];
#define RV_PIXEL_SWITCH(OP)                                                              \
    switch (c) {                                                                         \
        case 1: RV_PIXEL_LOOP(OP, 1) return;                                             \
        case 2: RV_PIXEL_LOOP(OP, 2) return;                                             \
        case 3: RV_PIXEL_LOOP(OP, 3) return;                                             \
        case 4: RV_PIXEL_LOOP(OP, 4) return;                                             \
        default: RV_PIXEL_LOOP(OP, c) return;                                            \
    }
#define RV_DEFINE_PIXEL_LOOPS(SFX, T)                                                    \
RV_SIMD_CLONES RV_NO_MEMCPY_IDIOM static void rv_copy_pixels_##SFX(T* RV_RESTRICT dst,     \
        Py_ssize_t ldd, const T* RV_RESTRICT src, Py_ssize_t lds, Py_ssize_t n, Py_ssize_t c) { \
    RV_PIXEL_SWITCH(=)                                                                   \
}                                                                                        \
RV_SIMD_CLONES static void rv_add_pixels_##SFX(T* RV_RESTRICT dst, Py_ssize_t ldd,         \
        const T* RV_RESTRICT src, Py_ssize_t lds, Py_ssize_t n, Py_ssize_t c) {           \
    RV_PIXEL_SWITCH(+=)                                                                  \
}
RV_DEFINE_PIXEL_LOOPS(f32, float)
RV_DEFINE_PIXEL_LOOPS(f64, double)

#endif /* RV_CONV_PIXELS_H */
