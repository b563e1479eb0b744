"""One thread team per ranvier call: BLAS held at one thread, GEMMs split by OpenMP.

Inside fit / evaluate / large predict, scipy's BLAS (the one the core calls)
runs single-threaded and ``ranvier.core._blas`` splits each large GEMM into
row blocks over an OpenMP ``prange``. Every thread then belongs to one OpenMP
team: OpenBLAS's own workers no longer spin against OpenMP's on a 2-core
machine, and no multi-threaded BLAS call ever runs inside a parallel region.
Outside the scope (small predict, direct ``layer.call``) kernels run serial
(``config.kernel_threads()`` is 1) and BLAS keeps its own threads, so the two
pools never meet.

``train_on_batch`` enters the scope at every step, right after kernels that
have evicted the interpreter's working set from the caches, where every line
of Python runs cold: entering threadpoolctl's ``limit()`` cost ~45 us there
(9 us back to back). The scope makes the library calls ``limit()`` makes
(read each library's thread count, set 1, set it back, and the
thread-ownership count threadpoolctl keeps for OpenBLAS) without building its
``info()`` dictionaries: ~15 us in W3's loop (leaving, ~40 us, is those same
calls). It falls back to ``limit()`` with a threadpoolctl that keeps no such
count where this one expects it.
"""
from . import config

__all__ = ["compute_scope"]

_CONTROLLER = None
_OWNERSHIP = None


def _blas_libraries():
    global _CONTROLLER, _OWNERSHIP
    if _CONTROLLER is None:
        import threadpoolctl  # late: keeps `import ranvier` fast

        from ..core import _blas

        _blas.get_gemm_threads()  # loads scipy's BLAS, so threadpoolctl sees it
        _OWNERSHIP = getattr(threadpoolctl, "CONTROLLING_THREAD_OWNERSHIP", None)
        if not (hasattr(_OWNERSHIP, "increment") and hasattr(_OWNERSHIP, "decrement")):
            _OWNERSHIP = None
        _CONTROLLER = threadpoolctl.ThreadpoolController().select(user_api="blas")
    return _CONTROLLER


class compute_scope:
    """Hold BLAS at one thread and let the core split GEMMs over ``get_num_threads()``.

    A context manager: ``with compute_scope(): ...``.
    """

    __slots__ = ("_previous", "_blas_threads", "_limiter")

    def __enter__(self):
        from ..core import _blas

        controller = _blas_libraries()
        n = config.get_num_threads()
        self._previous = _blas.get_gemm_threads(), _blas.get_gemm_deterministic(), config._KERNEL_THREADS
        if _OWNERSHIP is None:
            self._limiter = controller.limit(limits=1)
            self._limiter.__enter__()
        else:
            # What threadpoolctl's limit(limits=1) does, in its order.
            libs = controller.lib_controllers
            self._blas_threads = [lib.get_num_threads() for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
            _OWNERSHIP.increment()
        _blas.set_gemm_threads(n, config.is_deterministic())
        config._KERNEL_THREADS = n
        return self

    def __exit__(self, exc_type, exc, tb):
        from ..core import _blas

        gemm_threads, deterministic, config._KERNEL_THREADS = self._previous
        _blas.set_gemm_threads(gemm_threads, deterministic)
        if _OWNERSHIP is None:
            self._limiter.__exit__(exc_type, exc, tb)
        else:
            for lib, n in zip(_CONTROLLER.lib_controllers, self._blas_threads):
                lib.set_num_threads(n)
            _OWNERSHIP.decrement()
        return False
