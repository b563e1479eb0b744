"""Layers (Keras names and arguments). Custom layers subclass :class:`Layer`."""
from .base import Layer
from .core import Dense, Flatten, Identity, Input, InputLayer, Reshape

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Flatten", "Reshape", "Identity"]
