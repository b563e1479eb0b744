"""Public alias of :mod:`ranvier.api.datasets` (Keras-style import path: ``ranvier.datasets``)."""
from .api.datasets import *  # noqa: F401,F403
from .api.datasets import __all__  # noqa: F401
