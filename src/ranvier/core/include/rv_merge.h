/* Row loops of the merge kernels (``_merge.pyx``): one row of every input folded into one
   output row, in input order. "omp simd" and restrict let the loops vectorise (Cython's
   loops did not: the fold of three inputs ran slower than NumPy's two binary calls). The
   winner's index is blended with bit masks: GCC 12 leaves a uint8 select on a float compare
   scalar (and branchy: 4 ns per element on random data), the masks vectorise.
   Self-contained: it needs only Python.h for Py_ssize_t. */
#ifndef RV_MERGE_H
#define RV_MERGE_H
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define RV_MERGE_RESTRICT __restrict__
#else
#define RV_MERGE_RESTRICT __restrict
#endif

/* Values per block: a few KB, so a block of every input and output stays in L1. */
#define RV_MERGE_BLOCK 512

enum { RV_MERGE_SUM = 0, RV_MERGE_MEAN = 1, RV_MERGE_PROD = 2, RV_MERGE_MAX = 3, RV_MERGE_MIN = 4 };

#define RV_DEFINE_MERGE(T, U, SFX)                                                                 \
/* out = xs[0] op xs[1] op ... over ``cols`` values from offset ``off``; for MAX/MIN,          \
   index[j] = the input holding out[j] (the earliest on ties). */                              \
static inline void rv_merge_fold_block_##SFX(const T* const* xs, Py_ssize_t n, Py_ssize_t off,               \
                                Py_ssize_t cols, int op, T* RV_MERGE_RESTRICT out,              \
                                uint8_t* RV_MERGE_RESTRICT index) {                             \
    const T* RV_MERGE_RESTRICT x0 = xs[0] + off;                                                \
    if (op == RV_MERGE_MAX || op == RV_MERGE_MIN) {                                             \
        memcpy(out, x0, (size_t) cols * sizeof(T));                                             \
        memset(index, 0, (size_t) cols);                                                        \
        for (Py_ssize_t k = 1; k < n; k++) {                                                    \
            const T* RV_MERGE_RESTRICT x = xs[k] + off;                                         \
            const uint8_t kk = (uint8_t) k;                                                     \
            if (op == RV_MERGE_MAX) {                                                           \
                _Pragma("omp simd")                                                            \
                for (Py_ssize_t j = 0; j < cols; j++) {                                         \
                    uint8_t won = x[j] > out[j];                                                \
                    index[j] = (uint8_t) ((index[j] & (uint8_t) (won - 1)) | (kk & (uint8_t) -won)); \
                }                                                                               \
                for (Py_ssize_t j = 0; j < cols; j++) out[j] = x[j] > out[j] ? x[j] : out[j];   \
            } else {                                                                            \
                _Pragma("omp simd")                                                            \
                for (Py_ssize_t j = 0; j < cols; j++) {                                         \
                    uint8_t won = x[j] < out[j];                                                \
                    index[j] = (uint8_t) ((index[j] & (uint8_t) (won - 1)) | (kk & (uint8_t) -won)); \
                }                                                                               \
                for (Py_ssize_t j = 0; j < cols; j++) out[j] = x[j] < out[j] ? x[j] : out[j];   \
            }                                                                                   \
        }                                                                                       \
        return;                                                                                 \
    }                                                                                           \
    if (n == 1) {                                                                               \
        _Pragma("omp simd")                                                                    \
        for (Py_ssize_t j = 0; j < cols; j++) out[j] = x0[j];                                   \
    } else {                                                                                    \
        /* The first two inputs in one loop: the same sums as out = x0, then out += x1. */     \
        const T* RV_MERGE_RESTRICT x1 = xs[1] + off;                                            \
        if (op == RV_MERGE_PROD) {                                                              \
            _Pragma("omp simd")                                                                \
            for (Py_ssize_t j = 0; j < cols; j++) out[j] = x0[j] * x1[j];                       \
        } else {                                                                                \
            _Pragma("omp simd")                                                                \
            for (Py_ssize_t j = 0; j < cols; j++) out[j] = x0[j] + x1[j];                       \
        }                                                                                       \
    }                                                                                           \
    for (Py_ssize_t k = 2; k < n; k++) {                                                        \
        const T* RV_MERGE_RESTRICT x = xs[k] + off;                                             \
        if (op == RV_MERGE_PROD) {                                                              \
            _Pragma("omp simd")                                                                \
            for (Py_ssize_t j = 0; j < cols; j++) out[j] *= x[j];                               \
        } else {                                                                                \
            _Pragma("omp simd")                                                                \
            for (Py_ssize_t j = 0; j < cols; j++) out[j] += x[j];                               \
        }                                                                                       \
    }                                                                                           \
    if (op == RV_MERGE_MEAN) {                                                                  \
        const T div = (T) n;                                                                    \
        _Pragma("omp simd")                                                                    \
        for (Py_ssize_t j = 0; j < cols; j++) out[j] /= div;                                    \
    }                                                                                           \
}                                                                                               \
/* dxs[k] = dy where index == k, else +0, for every input k (dy's bits and-ed with a mask:   \
   the float select on a uint8 compare does not vectorise). */                                  \
static inline void rv_merge_select_back_block_##SFX(const T* RV_MERGE_RESTRICT dy,                           \
                                       const uint8_t* RV_MERGE_RESTRICT index, T* const* dxs,   \
                                       Py_ssize_t n, Py_ssize_t off, Py_ssize_t cols) {         \
    for (Py_ssize_t k = 0; k < n; k++) {                                                        \
        T* RV_MERGE_RESTRICT dx = dxs[k] + off;                                                 \
        const uint8_t kk = (uint8_t) k;                                                         \
        for (Py_ssize_t j = 0; j < cols; j++) {                                                 \
            U bits;                                                                             \
            memcpy(&bits, dy + j, sizeof(T));                                                   \
            bits &= (U) 0 - (U) (index[j] == kk);                                               \
            memcpy(dx + j, &bits, sizeof(T));                                                   \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
/* dxs[i] = dy * xs[0] * ... (every input but i, in order): no division, zeros are exact. */    \
static inline void rv_merge_product_back_block_##SFX(const T* RV_MERGE_RESTRICT dy, const T* const* xs,      \
                                        T* const* dxs, Py_ssize_t n, Py_ssize_t off,            \
                                        Py_ssize_t cols) {                                      \
    for (Py_ssize_t i = 0; i < n; i++) {                                                        \
        T* RV_MERGE_RESTRICT dx = dxs[i] + off;                                                 \
        _Pragma("omp simd")                                                                    \
        for (Py_ssize_t j = 0; j < cols; j++) dx[j] = dy[j];                                    \
        for (Py_ssize_t k = 0; k < n; k++) {                                                    \
            if (k == i) continue;                                                               \
            const T* RV_MERGE_RESTRICT x = xs[k] + off;                                         \
            _Pragma("omp simd")                                                                \
            for (Py_ssize_t j = 0; j < cols; j++) dx[j] *= x[j];                                \
        }                                                                                       \
    }                                                                                           \
}                                                                                               \
/* The row functions walk a row in blocks of RV_MERGE_BLOCK values so every input and output \
   streams along together (one input after another over a whole row ran 1.8x slower: the      \
   hardware prefetcher restarts each short stream); elementwise, so the blocks change no value. */ \
static void rv_merge_fold_##SFX(const T* const* xs, Py_ssize_t n, Py_ssize_t off,               \
                                Py_ssize_t cols, int op, T* out, uint8_t* index) {              \
    for (Py_ssize_t j = 0; j < cols; j += RV_MERGE_BLOCK) {                                     \
        Py_ssize_t m = cols - j < RV_MERGE_BLOCK ? cols - j : RV_MERGE_BLOCK;                   \
        rv_merge_fold_block_##SFX(xs, n, off + j, m, op, out + j, index ? index + j : NULL);    \
    }                                                                                           \
}                                                                                               \
static void rv_merge_select_back_##SFX(const T* dy, const uint8_t* index, T* const* dxs,        \
                                       Py_ssize_t n, Py_ssize_t off, Py_ssize_t cols) {         \
    for (Py_ssize_t j = 0; j < cols; j += RV_MERGE_BLOCK) {                                     \
        Py_ssize_t m = cols - j < RV_MERGE_BLOCK ? cols - j : RV_MERGE_BLOCK;                   \
        rv_merge_select_back_block_##SFX(dy + j, index + j, dxs, n, off + j, m);                \
    }                                                                                           \
}                                                                                               \
static void rv_merge_product_back_##SFX(const T* dy, const T* const* xs, T* const* dxs,         \
                                        Py_ssize_t n, Py_ssize_t off, Py_ssize_t cols) {        \
    for (Py_ssize_t j = 0; j < cols; j += RV_MERGE_BLOCK) {                                     \
        Py_ssize_t m = cols - j < RV_MERGE_BLOCK ? cols - j : RV_MERGE_BLOCK;                   \
        rv_merge_product_back_block_##SFX(dy + j, xs, dxs, n, off + j, m);                      \
    }                                                                                           \
}
RV_DEFINE_MERGE(float, uint32_t, f32)
RV_DEFINE_MERGE(double, uint64_t, f64)

#endif /* RV_MERGE_H */
