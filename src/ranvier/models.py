"""Public alias of :mod:`ranvier.api.models` (Keras-style import path: ``ranvier.models``)."""

from .api.models import *  # noqa: F403
from .api.models import __all__  # noqa: F401
