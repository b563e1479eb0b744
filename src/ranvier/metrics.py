"""Public alias of :mod:`ranvier.api.metrics` (Keras-style import path: ``ranvier.metrics``)."""

from .api.metrics import *  # noqa: F403
from .api.metrics import __all__  # noqa: F401
