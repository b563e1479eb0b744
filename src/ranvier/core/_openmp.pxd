# OpenMP guard: the core compiles with or without OpenMP. Without it these
# stand-ins make every parallel region run on one thread.
cdef extern from "rv_openmp.h":
    int RANVIER_OPENMP
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    void rv_omp_barrier() noexcept nogil
    void rv_progress_set(int* p, int value) noexcept nogil
    void rv_progress_wait(int* p, int n, int value) noexcept nogil
    int rv_omp_release_threads() noexcept nogil


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
