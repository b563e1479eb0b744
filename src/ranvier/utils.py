"""Public alias of :mod:`ranvier.api.utils` (Keras-style import path: ``ranvier.utils``)."""

from .api.utils import *  # noqa: F403
from .api.utils import __all__  # noqa: F401
