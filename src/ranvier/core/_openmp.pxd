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
    #else
    #define RANVIER_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    static int omp_get_num_threads(void) { return 1; }
    static void rv_omp_barrier(void) {}
    #endif
    """
    int RANVIER_OPENMP
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    void rv_omp_barrier() noexcept nogil


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
