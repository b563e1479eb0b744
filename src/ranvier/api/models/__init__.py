"""Models: the functional ``Model`` and ``Sequential``."""

from .. import serialization
from ..saving import load_model, save_model
from ._nested import NestedModel
from .cloning import clone_model, model_from_json
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]

# "Functional" is what Keras 3 writes for a functional model.
serialization.register_family("model", Model, [Model, Sequential], {"Functional": Model})
serialization.register_builtin("layer", NestedModel)
