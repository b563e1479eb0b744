"""Compiled kernels: compute only, no Python objects (see docs/architecture.md).

Kernels that multiply matrices link scipy's BLAS through ``_blas``, and loading
it imports ``scipy.linalg`` (~200 ms). They load on first use instead, so that
``import ranvier`` stays fast: ``from ranvier.core import _dense`` gives a proxy
that imports the real module when one of its functions is first looked up.
"""

import importlib

_BLAS_BOUND = frozenset({"_blas", "_dense", "_conv", "_maxout", "_recurrent"})


class _LazyKernels:
    """Stands in for a kernel module until its first attribute lookup."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        module = importlib.import_module(f"{__name__}.{self._name}")
        # Copy the module's names onto the proxy: later lookups are plain attribute hits.
        self.__dict__.update(module.__dict__)
        return getattr(module, attr)

    def __repr__(self):
        return f"<lazy kernel module {__name__}.{self._name}>"


def __getattr__(name):
    if name in _BLAS_BOUND:
        return _LazyKernels(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
