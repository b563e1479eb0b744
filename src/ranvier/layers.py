"""Public alias of :mod:`ranvier.api.layers` (Keras-style import path: ``ranvier.layers``)."""

from .api.layers import *  # noqa: F403
from .api.layers import __all__  # noqa: F401
