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

Every thread setting (``rv.set_num_threads``, determinism, the scope's kernel
thread count) lives in one ``ThreadSettings`` object, ``settings``, read and
written through ``config``'s functions and this scope only.
"""

import os

__all__ = ["ThreadSettings", "settings", "compute_scope"]


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ThreadSettings:
    """Every thread setting ranvier has, in one place, each with one writer.

    Attributes
    ----------
    num_threads : int
        Threads a compute scope hands the kernels; written by ``config.set_num_threads``.
        Default ``OMP_NUM_THREADS`` or the CPU count.
    deterministic : bool
        GEMM splits that keep the unsplit product's rounding; written by
        ``config.enable_determinism`` / ``disable_determinism``.
    kernel_threads : int
        Threads the kernels may use right now: ``num_threads`` inside ``compute_scope``,
        1 outside it. Written only by ``compute_scope``, which keeps the core's GEMM split
        (``ranvier.core._blas.set_gemm_threads``) equal to it. This is the one piece of
        state that belongs to a scope, not to the process.
    """

    __slots__ = ("num_threads", "deterministic", "kernel_threads")

    def __init__(self, num_threads):
        self.num_threads = num_threads
        self.deterministic = False
        self.kernel_threads = 1

    def __repr__(self):
        return (
            f"ThreadSettings(num_threads={self.num_threads}, deterministic={self.deterministic}, "
            f"kernel_threads={self.kernel_threads})"
        )


settings = ThreadSettings(_default_threads())

_BLAS = None
_CONTROLLER = None
_OWNERSHIP = None


def _blas_libraries():
    global _BLAS, _CONTROLLER, _OWNERSHIP
    if _CONTROLLER is None:
        import threadpoolctl  # late: keeps `import ranvier` fast

        from ..core import _blas

        _blas.get_gemm_threads()  # loads scipy's BLAS, so threadpoolctl sees it
        _OWNERSHIP = getattr(threadpoolctl, "CONTROLLING_THREAD_OWNERSHIP", None)
        if not (hasattr(_OWNERSHIP, "increment") and hasattr(_OWNERSHIP, "decrement")):
            _OWNERSHIP = None
        _CONTROLLER = threadpoolctl.ThreadpoolController().select(user_api="blas")
        _BLAS = _blas
    return _CONTROLLER


class compute_scope:
    """Hold BLAS at one thread and let the core split GEMMs over ``settings.num_threads``.

    A context manager: ``with compute_scope(): ...``. Scopes nest; leaving one restores
    ``settings.kernel_threads`` and the core's GEMM split as they were on entry.
    """

    __slots__ = ("_previous", "_blas_threads", "_limiter")

    def __enter__(self):
        controller = _blas_libraries()
        self._previous = settings.kernel_threads, _BLAS.get_gemm_deterministic()
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
        n = settings.num_threads
        _BLAS.set_gemm_threads(n, settings.deterministic)
        settings.kernel_threads = n
        return self

    def __exit__(self, exc_type, exc, tb):
        kernel_threads, deterministic = self._previous
        settings.kernel_threads = kernel_threads
        _BLAS.set_gemm_threads(kernel_threads, deterministic)
        if _OWNERSHIP is None:
            self._limiter.__exit__(exc_type, exc, tb)
        else:
            for lib, n in zip(_CONTROLLER.lib_controllers, self._blas_threads):
                lib.set_num_threads(n)
            _OWNERSHIP.decrement()
        return False
