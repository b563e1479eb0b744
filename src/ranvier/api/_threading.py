"""BLAS thread limits scoped to ranvier's own calls.

Entering a threadpoolctl limit costs ~12 us, so fit/evaluate/large predict
enter it once per call, and only when the requested thread count differs from
what the BLAS libraries run with by default.
"""
import contextlib

from . import config

_CONTROLLER = None
_DEFAULT = config.get_num_threads()


def blas_threads():
    """Context limiting BLAS to ``config.get_num_threads()`` threads (no-op at the default)."""
    global _CONTROLLER
    n = config.get_num_threads()
    if n == _DEFAULT:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController  # late: keeps `import ranvier` fast

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=n, user_api="blas")
