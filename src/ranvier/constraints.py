"""Public alias of :mod:`ranvier.api.constraints` (Keras-style import path: ``ranvier.constraints``)."""

from .api.constraints import *  # noqa: F403
from .api.constraints import __all__  # noqa: F401
