"""Public alias of :mod:`ranvier.api.initializers` (Keras-style import path: ``ranvier.initializers``)."""

from .api.initializers import *  # noqa: F403
from .api.initializers import __all__  # noqa: F401
