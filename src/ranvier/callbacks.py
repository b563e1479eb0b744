"""Public alias of :mod:`ranvier.api.callbacks` (Keras-style import path: ``ranvier.callbacks``)."""

from .api.callbacks import *  # noqa: F403
from .api.callbacks import __all__  # noqa: F401
