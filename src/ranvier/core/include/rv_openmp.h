/* OpenMP guard: the core compiles with or without OpenMP. Without it these
   stand-ins make every parallel region run on one thread; rv_omp_barrier and the
   progress counters serve the recurrent kernels' parallel time loops. */
#ifndef RV_OPENMP_H
#define RV_OPENMP_H

/* Per-thread state (the GEMM split of the thread's compute scope). */
#if defined(_MSC_VER)
#define RV_THREAD_LOCAL __declspec(thread)
#else
#define RV_THREAD_LOCAL __thread
#endif

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
/* Stops the calling thread's idle OpenMP thread pool (joins its workers); the
   next parallel region starts a new one. Run before fork(): libgomp has no fork
   handling, and a child whose forking thread had a pool waits forever at its
   first parallel region for workers that were not copied. OpenMP 5.0's
   omp_pause_resource_all, which GCC has had since 9 (GCC 12 still reports 4.5
   in _OPENMP). Returns 0 when released, nonzero when not possible here. */
#if _OPENMP >= 201811 || (defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9)
static inline int rv_omp_release_threads(void) { return omp_pause_resource_all(omp_pause_soft); }
#else
static inline int rv_omp_release_threads(void) { return -1; }
#endif
#else
#define RANVIER_OPENMP 0
static inline int rv_omp_release_threads(void) { return 0; }
static int omp_get_max_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
static void rv_omp_barrier(void) {}
static inline void rv_progress_set(int* p, int value) { *p = value; }
static inline void rv_progress_wait(int* p, int n, int value) {}
#endif

#endif /* RV_OPENMP_H */
