"""Public alias of :mod:`ranvier.api.activations` (Keras-style import path: ``ranvier.activations``)."""

from .api.activations import *  # noqa: F403
from .api.activations import __all__  # noqa: F401
