"""Public alias of :mod:`ranvier.api.ops` (Keras-style import path: ``ranvier.ops``, ``ranvier.ops.nn``)."""

from .api.ops import *  # noqa: F403
from .api.ops import __all__, core, math, nn, numpy  # noqa: F401
