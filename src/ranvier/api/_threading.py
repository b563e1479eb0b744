"""One thread team per ranvier call: BLAS held at one thread, GEMMs split by OpenMP.

Inside fit / evaluate / large predict, scipy's BLAS (the one the core calls)
runs single-threaded and ``ranvier.core._blas`` splits each large GEMM into
row blocks over an OpenMP ``prange``. Every thread then belongs to one OpenMP
team: OpenBLAS's own workers no longer spin against OpenMP's on a 2-core
machine, and no multi-threaded BLAS call ever runs inside a parallel region.
Outside the scope (small predict, direct ``layer.call``) kernels run serial
(``config.kernel_threads()`` is 1) and BLAS keeps its own threads, so the two
pools never meet. Entering the scope costs ~11 us (threadpoolctl), so it
happens once per call, never per step.
"""
import contextlib

from . import config

_CONTROLLER = None


def _blas_libraries():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController  # late: keeps `import ranvier` fast

        from ..core import _blas

        _blas.get_gemm_threads()  # loads scipy's BLAS, so threadpoolctl sees it
        _CONTROLLER = ThreadpoolController().select(user_api="blas")
    return _CONTROLLER


@contextlib.contextmanager
def compute_scope():
    """Hold BLAS at one thread and let the core split GEMMs over ``get_num_threads()``."""
    from ..core import _blas

    n = config.get_num_threads()
    previous = _blas.get_gemm_threads(), _blas.get_gemm_deterministic(), config._KERNEL_THREADS
    with _blas_libraries().limit(limits=1):
        _blas.set_gemm_threads(n, config.is_deterministic())
        config._KERNEL_THREADS = n
        try:
            yield
        finally:
            _blas.set_gemm_threads(previous[0], previous[1])
            config._KERNEL_THREADS = previous[2]
