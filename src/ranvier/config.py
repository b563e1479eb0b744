"""Public alias of :mod:`ranvier.api.config` (Keras-style import path: ``ranvier.config``)."""

from .api.config import *  # noqa: F403
from .api.config import __all__  # noqa: F401
