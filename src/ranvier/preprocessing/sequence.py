"""``keras.preprocessing.sequence``: ``pad_sequences`` (the one in ``ranvier.utils``)."""

from ..api.utils import pad_sequences

__all__ = ["pad_sequences"]
