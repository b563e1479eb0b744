"""Public alias of :mod:`ranvier.api.datasets` (Keras-style import path: ``ranvier.datasets``).

The submodules are registered under this name too, so ``import ranvier.datasets.mnist`` and
``from ranvier.datasets.mnist import load_data`` work as with Keras, with one module object each.
"""

import sys as _sys

from .api import datasets as _impl
from .api.datasets import *  # noqa: F403
from .api.datasets import __all__  # noqa: F401

for _name in _impl.SUBMODULES:
    _sys.modules[f"{__name__}.{_name}"] = getattr(_impl, _name)
