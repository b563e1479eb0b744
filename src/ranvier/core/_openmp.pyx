"""What OpenMP this build has."""
from ranvier.core._openmp cimport RANVIER_OPENMP, omp_get_max_threads


def openmp_enabled():
    """True when the core was compiled with OpenMP."""
    return bool(RANVIER_OPENMP)


def max_threads():
    """OpenMP's default thread count (1 for a serial build)."""
    return omp_get_max_threads()
