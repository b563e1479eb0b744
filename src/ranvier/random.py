"""Public alias of :mod:`ranvier.api.random` (Keras-style import path: ``ranvier.random``)."""

from .api.random import *  # noqa: F403
from .api.random import __all__  # noqa: F401
