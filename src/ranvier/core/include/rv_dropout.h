/* The counter-based random numbers of the dropout and noise kernels (``_dropout.pyx``):
   every draw is a pure function of (seed, counter), the splitmix64 finaliser; then the
   mask's compare and multiply loops, per vector width (with the SSE2 baseline they cost
   more than the vectorised hashing). "omp simd": out may be x. */
#ifndef RV_DROPOUT_H
#define RV_DROPOUT_H
#include <Python.h>  /* Py_ssize_t; Cython's C includes it first anyway */
#include "rv_simd.h"

#include <stdint.h>
static inline uint64_t rv_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline uint64_t rv_draw(uint64_t key, uint64_t counter) {
    return rv_mix64(key + (counter + 1ULL) * 0x9E3779B97F4A7C15ULL);
}
/* The four 16-bit uniforms of hashes j0 .. j0 + n_hashes - 1, in element order
   (low half-word first; the compiler merges the four stores into one). */
#define RV_FILL_U16_BODY \
    for (Py_ssize_t j = 0; j < n_hashes; j++) { \
        uint64_t h = rv_draw(key, j0 + (uint64_t) j); \
        u[4 * j] = (uint16_t) h; \
        u[4 * j + 1] = (uint16_t) (h >> 16); \
        u[4 * j + 2] = (uint16_t) (h >> 32); \
        u[4 * j + 3] = (uint16_t) (h >> 48); \
    }
/* Without 64-bit vector multiplies (AVX-512DQ) GCC's vectorised loop emulates them and
   runs 1.8x slower than the scalar one (measured), so the portable build stays scalar;
   on x86-64-v4 CPUs (picked at run time) the vectorised loop is 6x faster (measured:
   65536 elements in 3.7 instead of 21.9 us). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__AVX512DQ__)
__attribute__((optimize("no-tree-vectorize")))
#endif
static void rv_fill_u16_portable(uint64_t key, uint64_t j0, Py_ssize_t n_hashes, uint16_t *u) {
    RV_FILL_U16_BODY
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 \
    && !defined(__AVX512DQ__)
__attribute__((target("arch=x86-64-v4")))
static void rv_fill_u16_v4(uint64_t key, uint64_t j0, Py_ssize_t n_hashes, uint16_t *u) {
    RV_FILL_U16_BODY
}
static void rv_fill_u16(uint64_t key, uint64_t j0, Py_ssize_t n_hashes, uint16_t *u) {
    if (__builtin_cpu_supports("x86-64-v4"))
        rv_fill_u16_v4(key, j0, n_hashes, u);
    else
        rv_fill_u16_portable(key, j0, n_hashes, u);
}
#else
#define rv_fill_u16 rv_fill_u16_portable
#endif
RV_SIMD_CLONES static void rv_keep_u16(const uint16_t* u, int thr, uint8_t* mask, Py_ssize_t n) {
    _Pragma("omp simd")
    for (Py_ssize_t k = 0; k < n; k++) mask[k] = u[k] >= thr;
}
/* Multiply by 0 or scale rather than branch: a random branch mispredicts half the time. */
#define RV_DEFINE_APPLY_MASK(T, SFX)                                                        \
RV_SIMD_CLONES static void rv_apply_mask_##SFX(const T* x, const uint8_t* mask, T scale,    \
                                               T* out, Py_ssize_t n) {                      \
    _Pragma("omp simd")                                                                    \
    for (Py_ssize_t i = 0; i < n; i++) out[i] = x[i] * (scale * (T) mask[i]);              \
}
RV_DEFINE_APPLY_MASK(float, f32)
RV_DEFINE_APPLY_MASK(double, f64)

#endif /* RV_DROPOUT_H */
