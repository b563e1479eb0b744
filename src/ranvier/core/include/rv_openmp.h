/* OpenMP guard: the core compiles with or without OpenMP. Without it these
   stand-ins make every parallel region run on one thread; rv_omp_barrier and the
   progress counters serve the recurrent kernels' parallel time loops. */
#ifndef RV_OPENMP_H
#define RV_OPENMP_H

#ifdef _OPENMP
#include <omp.h>
#define RANVIER_OPENMP 1
/* An orphaned barrier: it binds to the enclosing parallel region, which Cython's
   parallel() blocks cannot otherwise express. */
static void rv_omp_barrier(void) {
    _Pragma("omp barrier")
}
/* Progress counters: a thread publishes how far it got, another waits until every
   thread got as far as it needs. Lighter than a barrier when the reader lags the
   writers by a few steps, since it then rarely waits at all. */
#if defined(__GNUC__) || defined(__clang__)
static inline void rv_progress_set(int* p, int value) {
    __atomic_store_n(p, value, __ATOMIC_RELEASE);
}
static inline void rv_progress_wait(int* p, int n, int value) {
    for (int i = 0; i < n; i++)
        while (__atomic_load_n(p + i, __ATOMIC_ACQUIRE) < value) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
}
#else
static inline void rv_progress_set(int* p, int value) {
    #pragma omp flush
    *(volatile int*) p = value;
    #pragma omp flush
}
static inline void rv_progress_wait(int* p, int n, int value) {
    for (int i = 0; i < n; i++)
        for (;;) {
            #pragma omp flush
            if (*(volatile int*) (p + i) >= value) break;
        }
}
#endif
#else
#define RANVIER_OPENMP 0
static int omp_get_max_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
static void rv_omp_barrier(void) {}
static inline void rv_progress_set(int* p, int value) { *p = value; }
static inline void rv_progress_wait(int* p, int n, int value) {}
#endif

#endif /* RV_OPENMP_H */
