"""Models: the functional ``Model`` and ``Sequential``."""
from .. import serialization
from ..saving import load_model, save_model
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model"]

# "Functional" is what Keras 3 writes for a functional model.
serialization.register_family("model", Model, [Model, Sequential], {"Functional": Model})
