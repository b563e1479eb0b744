"""Public alias of :mod:`ranvier.api.regularizers` (Keras-style import path: ``ranvier.regularizers``)."""

from .api.regularizers import *  # noqa: F403
from .api.regularizers import __all__  # noqa: F401
