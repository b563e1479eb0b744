# OpenMP guard: the core compiles with or without OpenMP. Without it these
# stand-ins make every parallel region run on one thread.
cdef extern from *:
    """
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
    """
    int RANVIER_OPENMP
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    void rv_omp_barrier() noexcept nogil
    void rv_progress_set(int* p, int value) noexcept nogil
    void rv_progress_wait(int* p, int n, int value) noexcept nogil


cdef inline int effective_threads(int n_threads, Py_ssize_t work, Py_ssize_t grain) noexcept nogil:
    """Threads worth starting for ``work`` units: one per ``grain`` units, at most n_threads.

    Starting a thread costs more than it saves on small work, so small work runs serial.
    """
    cdef Py_ssize_t t = work // grain
    if t < 1:
        return 1
    if t > n_threads:
        return n_threads if n_threads > 0 else 1
    return <int> t
