"""Public alias of :mod:`ranvier.api.losses` (Keras-style import path: ``ranvier.losses``)."""

from .api.losses import *  # noqa: F403
from .api.losses import __all__  # noqa: F401
