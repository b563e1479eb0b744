"""Models: the functional ``Model`` and ``Sequential``."""
from ..saving import load_model, save_model
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model"]
