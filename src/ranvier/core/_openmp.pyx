"""What OpenMP this build has; releasing its idle threads before fork."""
from ranvier.core._openmp cimport RANVIER_OPENMP, omp_get_max_threads, rv_omp_release_threads


def openmp_enabled():
    """True when the core was compiled with OpenMP."""
    return bool(RANVIER_OPENMP)


def max_threads():
    """OpenMP's default thread count (1 for a serial build)."""
    return omp_get_max_threads()


def release_threads():
    """Stop the calling thread's idle OpenMP workers; the next parallel region starts new ones.

    Called before ``fork()`` (``api/_threading.py``): libgomp has no fork handling, so a
    child forked by a thread that had a team would wait forever for workers it does not
    have. True when released (or nothing to release), False when this OpenMP cannot
    (then the child must run serial).
    """
    return rv_omp_release_threads() == 0
