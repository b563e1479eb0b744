/* Build macros for the C loops that are compiled once per vector width.

   Wheels target the x86-64 baseline (SSE2), so a plain loop runs 4 float32 lanes
   even on AVX-512 machines. Functions marked RV_SIMD_CLONES are built three times
   on x86-64 Linux with GCC >= 11 (AVX-512, AVX2 + FMA, baseline) and glibc's ifunc
   picks one at load time; other compilers build the baseline only. A clone is a
   call through the PLT, never inlined: give it a whole row block of work. */
#ifndef RV_SIMD_H
#define RV_SIMD_H

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define RV_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RV_SIMD_CLONES
#endif
#if defined(__GNUC__) || defined(__clang__)
#define RV_INLINE static inline __attribute__((always_inline))
#define RV_RESTRICT __restrict__
#else
#define RV_INLINE static __inline
#define RV_RESTRICT __restrict
#endif

#endif /* RV_SIMD_H */
