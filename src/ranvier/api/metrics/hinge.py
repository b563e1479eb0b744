"""Hinge metrics: the mean of the losses module's per-sample hinge losses.

Labels in {0, 1} are read as {-1, 1} (when a batch holds only 0s and 1s), as in Keras.
"""

from ..losses import categorical_hinge, hinge, squared_hinge
from .base import MeanMetricWrapper

__all__ = ["Hinge", "SquaredHinge", "CategoricalHinge", "hinge", "squared_hinge", "categorical_hinge"]


class Hinge(MeanMetricWrapper):
    """The mean of ``mean(max(1 - y * p, 0), axis=-1)``."""

    direction = "down"

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """The mean of ``mean(max(1 - y * p, 0)**2, axis=-1)``."""

    direction = "down"

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """The mean of ``max(max((1 - y) * p) - sum(y * p) + 1, 0)`` for one-hot ``y``."""

    direction = "down"

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)
