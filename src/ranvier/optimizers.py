"""Public alias of :mod:`ranvier.api.optimizers` (Keras-style import path: ``ranvier.optimizers``)."""

from .api.optimizers import *  # noqa: F403
from .api.optimizers import __all__  # noqa: F401
