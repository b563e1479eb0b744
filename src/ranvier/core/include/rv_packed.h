/* Small matrix products against a right operand packed once and reused
   (``_packed.pxd`` explains why and gives the typed wrappers; ``_matmul.pxd`` says which
   kernels use it).

   Layout: op(B) (k x n) is stored as panels of 16 columns, each panel k rows of 16
   contiguous values, zero-padded to whole 32-column tiles, with one more zero panel at
   the end, so a tile (at most 32 columns wide) never reads past the buffer. n_blocks
   packs that many side-by-side column blocks of width n separately (an LSTM kernel's
   four gates), so a caller can take units [j0, j1) of every gate with j0 a multiple
   of 16.

   The micro-kernel is built three times on x86-64 with GCC or clang (AVX-512, AVX2 +
   FMA, and the portable baseline) and picked per call from the CPU's features
   (rv_packed_isa, which RANVIER_ISA narrows), so wheels stay portable. Every element is
   computed by one fixed sequence of fused multiply-adds over k, whatever the tile or
   thread it falls in: splitting the columns over threads never changes a result.
   Also defines RV_UNROLL, the GCC vector types and RV_TARGET_V3 / RV_TARGET_V4, which
   rv_conv_pooled_dw.h reuses. */
#ifndef RV_PACKED_H
#define RV_PACKED_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */

#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#define RV_PANEL 16
#define RV_STR(x) #x
#define RV_PRAGMA(x) _Pragma(RV_STR(x))
#if defined(__clang__)
#define RV_UNROLL RV_PRAGMA(unroll)
#elif defined(__GNUC__)
#define RV_UNROLL RV_PRAGMA(GCC unroll 16)
#else
#define RV_UNROLL
#endif
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define RV_PACKED_X86 1
#else
#define RV_PACKED_X86 0
#endif

/* Blocks are padded to whole 32-column tiles, so a tile that starts on a multiple
   of 32 never reads another block's panels (which another thread may be packing). */
static Py_ssize_t rv_packed_width(Py_ssize_t n) {
    return (n + 2 * RV_PANEL - 1) / (2 * RV_PANEL) * (2 * RV_PANEL);
}

/* Elements of a packed buffer for n_blocks blocks of op(B) (k x n), plus one zero
   panel at the end: a 32-column tile that starts on the last panel of the last
   block reads it (and only ever stores the columns that exist). */
static Py_ssize_t rv_packed_len(Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks) {
    return (n_blocks * rv_packed_width(n) + RV_PANEL) * k;
}

/* 64-byte aligned memory (the micro-kernels load whole vectors of a panel);
   the offset to malloc's pointer sits just before the aligned block. */
static void* rv_aligned_malloc(size_t bytes) {
    unsigned char* raw = (unsigned char*) malloc(bytes + 64);
    unsigned char* p;
    if (raw == NULL) return NULL;
    p = raw + 64 - ((uintptr_t) raw & 63);
    p[-1] = (unsigned char) (p - raw);
    return p;
}
static void rv_aligned_free(void* p) {
    if (p != NULL) free((unsigned char*) p - ((unsigned char*) p)[-1]);
}

/* bp <- the panels of op(B) that hold columns [col0, col1) of every block (col0 a
   multiple of 32, col1 = n for the whole width); block blk covers columns
   [blk * n, (blk + 1) * n) of op(B), which is B (k x n_blocks * n, row stride ldb) or,
   if trans, the transpose of B (n_blocks * n x k). Threads may pack disjoint ranges
   of one buffer. */
#define RV_DEFINE_PACK(NAME, T)                                                          \
static void NAME(int trans, Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks,             \
                 Py_ssize_t col0, Py_ssize_t col1, const T* b, Py_ssize_t ldb, T* bp) {  \
    Py_ssize_t w = rv_packed_width(n);                                                   \
    Py_ssize_t end = col1 >= n ? w : col1;                                               \
    for (Py_ssize_t blk = 0; blk < n_blocks; blk++)                                      \
        for (Py_ssize_t j0 = col0; j0 < end; j0 += RV_PANEL) {                           \
            T* dst = bp + (blk * w + j0) * k;                                            \
            const T* src = b + (trans ? (blk * n + j0) * ldb : blk * n + j0);            \
            if (!trans && j0 + RV_PANEL <= n) {  /* whole rows of 16: a vector copy */   \
                for (Py_ssize_t kk = 0; kk < k; kk++)                                    \
                    memcpy(dst + kk * RV_PANEL, src + kk * ldb, RV_PANEL * sizeof(T));   \
                continue;                                                                \
            }                                                                            \
            for (Py_ssize_t kk = 0; kk < k; kk++)                                        \
                for (Py_ssize_t j = 0; j < RV_PANEL; j++)                                \
                    dst[kk * RV_PANEL + j] = j0 + j >= n ? (T) 0                         \
                        : trans ? src[j * ldb + kk] : src[kk * ldb + j];                 \
        }                                                                                \
    if (col1 >= n)                                                                       \
        memset(bp + n_blocks * w * k, 0, RV_PANEL * k * sizeof(T));                      \
}

/* C[:, col0:col1] (+)= op(A) @ op(B)[:, col0:col1], op(B) packed in bp (one block),
   col0 a multiple of 16; op(A) (m x k) is A, row stride lda, or with TA the transpose
   of A (k x m, row stride lda). With ldb > 0, bp is op(B) itself, row-major with row
   stride ldb and col1 a multiple of 32 (whole tiles, nothing to pad). Tiles of MR
   rows x NV vectors of VL lanes; a short last tile repeats its last row of op(A) and
   stores only its rows. */
#define RV_DEFINE_PACKED_GEMM(NAME, TA, T, ATTR, VT, VTU, VL, NV, MR)                    \
ATTR static void NAME(Py_ssize_t m, Py_ssize_t col0, Py_ssize_t col1, Py_ssize_t k,     \
                      const T* a, Py_ssize_t lda, const T* bp, Py_ssize_t ldb, T* c,     \
                      Py_ssize_t ldc, int accumulate) {                                  \
    Py_ssize_t rs = ldb > 0 ? ldb : RV_PANEL;                                            \
    for (Py_ssize_t j = col0; j < col1; j += NV * VL) {                                  \
        const T* bv[NV];                                                                 \
        Py_ssize_t nj = col1 - j < NV * VL ? col1 - j : NV * VL;                         \
        RV_UNROLL for (int v = 0; v < NV; v++) {                                         \
            Py_ssize_t col = j + v * VL;                                                 \
            bv[v] = ldb > 0 ? bp + col : bp + (col - col % RV_PANEL) * k + col % RV_PANEL; \
        }                                                                                \
        for (Py_ssize_t i = 0; i < m; i += MR) {                                         \
            Py_ssize_t mi = m - i < MR ? m - i : MR;                                     \
            Py_ssize_t ro[MR];                                                           \
            VT acc[MR][NV];                                                              \
            RV_UNROLL for (int r = 0; r < MR; r++) {                                     \
                ro[r] = (i + (r < mi ? r : mi - 1)) * (TA ? 1 : lda);                    \
                RV_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = (VT) {0};             \
            }                                                                            \
            for (Py_ssize_t kk = 0; kk < k; kk++) {                                      \
                const T* ak = a + kk * (TA ? lda : 1);                                   \
                VT bk[NV];                                                               \
                RV_UNROLL for (int v = 0; v < NV; v++)                                   \
                    bk[v] = *(const VTU*) (bv[v] + kk * rs);                             \
                RV_UNROLL for (int r = 0; r < MR; r++) {                                 \
                    T s = ak[ro[r]];                                                     \
                    RV_UNROLL for (int v = 0; v < NV; v++) acc[r][v] += s * bk[v];       \
                }                                                                        \
            }                                                                            \
            for (Py_ssize_t r = 0; r < mi; r++) {                                        \
                T* cr = c + (i + r) * ldc + j;                                           \
                if (nj == NV * VL) {                                                     \
                    RV_UNROLL for (int v = 0; v < NV; v++) {                             \
                        VTU* p = (VTU*) (cr + v * VL);                                   \
                        if (accumulate) *p += acc[r][v]; else *p = acc[r][v];            \
                    }                                                                    \
                } else {                                                                 \
                    T tail[NV * VL];                                                     \
                    memcpy(tail, acc[r], sizeof(tail));                                  \
                    for (Py_ssize_t q = 0; q < nj; q++)                                  \
                        cr[q] = accumulate ? cr[q] + tail[q] : tail[q];                  \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}

RV_DEFINE_PACK(rv_pack_f32, float)
RV_DEFINE_PACK(rv_pack_f64, double)

#if defined(__GNUC__) || defined(__clang__)
typedef float rv_f32x4 __attribute__((vector_size(16)));
typedef float rv_f32x4u __attribute__((vector_size(16), aligned(4), may_alias));
typedef double rv_f64x2 __attribute__((vector_size(16)));
typedef double rv_f64x2u __attribute__((vector_size(16), aligned(8), may_alias));
RV_DEFINE_PACKED_GEMM(rv_pgemm_f32_base, 0, float, , rv_f32x4, rv_f32x4u, 4, 2, 4)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f32_base, 1, float, , rv_f32x4, rv_f32x4u, 4, 2, 4)
RV_DEFINE_PACKED_GEMM(rv_pgemm_f64_base, 0, double, , rv_f64x2, rv_f64x2u, 2, 2, 4)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f64_base, 1, double, , rv_f64x2, rv_f64x2u, 2, 2, 4)
#else
RV_DEFINE_PACKED_GEMM(rv_pgemm_f32_base, 0, float, , float, float, 1, 4, 4)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f32_base, 1, float, , float, float, 1, 4, 4)
RV_DEFINE_PACKED_GEMM(rv_pgemm_f64_base, 0, double, , double, double, 1, 4, 4)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f64_base, 1, double, , double, double, 1, 4, 4)
#endif

#if RV_PACKED_X86
#define RV_TARGET_V4 __attribute__((target("avx512f,avx512vl,fma")))
#define RV_TARGET_V3 __attribute__((target("avx2,fma")))
typedef float rv_f32x16 __attribute__((vector_size(64)));
typedef float rv_f32x16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float rv_f32x8 __attribute__((vector_size(32)));
typedef float rv_f32x8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef double rv_f64x8 __attribute__((vector_size(64)));
typedef double rv_f64x8u __attribute__((vector_size(64), aligned(8), may_alias));
typedef double rv_f64x4 __attribute__((vector_size(32)));
typedef double rv_f64x4u __attribute__((vector_size(32), aligned(8), may_alias));
RV_DEFINE_PACKED_GEMM(rv_pgemm_f32_v4, 0, float, RV_TARGET_V4, rv_f32x16, rv_f32x16u, 16, 2, 8)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f32_v4, 1, float, RV_TARGET_V4, rv_f32x16, rv_f32x16u, 16, 2, 8)
RV_DEFINE_PACKED_GEMM(rv_pgemm_f32_v3, 0, float, RV_TARGET_V3, rv_f32x8, rv_f32x8u, 8, 2, 6)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f32_v3, 1, float, RV_TARGET_V3, rv_f32x8, rv_f32x8u, 8, 2, 6)
RV_DEFINE_PACKED_GEMM(rv_pgemm_f64_v4, 0, double, RV_TARGET_V4, rv_f64x8, rv_f64x8u, 8, 2, 8)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f64_v4, 1, double, RV_TARGET_V4, rv_f64x8, rv_f64x8u, 8, 2, 8)
RV_DEFINE_PACKED_GEMM(rv_pgemm_f64_v3, 0, double, RV_TARGET_V3, rv_f64x4, rv_f64x4u, 4, 2, 6)
RV_DEFINE_PACKED_GEMM(rv_pgemm_ta_f64_v3, 1, double, RV_TARGET_V3, rv_f64x4, rv_f64x4u, 4, 2, 6)
/* 2 = AVX-512, 1 = AVX2 + FMA, 0 = baseline; a cached feature test. The environment
   variable RANVIER_ISA=avx2 or baseline picks a narrower build, so that tests can check
   every variant a machine can run. */
static int rv_packed_isa(void) {
    static int isa = -1;
    if (isa < 0) {
        const char* want = getenv("RANVIER_ISA");
        int found;
        __builtin_cpu_init();
        found = (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) ? 2
            : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
        if (want != NULL && strcmp(want, "baseline") == 0)
            found = 0;
        else if (want != NULL && strcmp(want, "avx2") == 0 && found > 1)
            found = 1;
        isa = found;
    }
    return isa;
}
#define RV_DISPATCH(PREFIX, ARGS)                                                        \
    switch (rv_packed_isa()) {                                                           \
        case 2: PREFIX##_v4 ARGS; return;                                                \
        case 1: PREFIX##_v3 ARGS; return;                                                \
        default: PREFIX##_base ARGS; return;                                             \
    }
#define RV_PACKED_ISA() rv_packed_isa()
#else
#define RV_DISPATCH(PREFIX, ARGS) PREFIX##_base ARGS; return;
#define RV_PACKED_ISA() 0
#endif

#define RV_DEFINE_PACKED_ENTRY(T, SFX)                                                   \
static void rv_packed_gemm_##SFX(int trans_a, Py_ssize_t m, Py_ssize_t col0, Py_ssize_t col1, \
                                 Py_ssize_t k, const T* a, Py_ssize_t lda, const T* bp,  \
                                 Py_ssize_t ldb, T* c, Py_ssize_t ldc, int accumulate) { \
    if (trans_a) {                                                                       \
        RV_DISPATCH(rv_pgemm_ta_##SFX, (m, col0, col1, k, a, lda, bp, ldb, c, ldc, accumulate)) \
    }                                                                                    \
    RV_DISPATCH(rv_pgemm_##SFX, (m, col0, col1, k, a, lda, bp, ldb, c, ldc, accumulate)) \
}
RV_DEFINE_PACKED_ENTRY(float, f32)
RV_DEFINE_PACKED_ENTRY(double, f64)

#endif /* RV_PACKED_H */
