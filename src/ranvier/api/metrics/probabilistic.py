"""Probabilistic metrics: the mean crossentropies, Kullback-Leibler divergence and Poisson loss.

The crossentropies and the divergence are the losses module's per-sample
functions (compiled kernels, Keras' clipping); the metric averages them over
the epoch in float64. ``axis`` moves the class axis last before the loss runs.
"""

import numpy as np

from ..losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from .base import MeanMetricWrapper, _check_axis, _check_unit, _in_float64

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "kl_divergence",
    "poisson",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
]


def _class_axis_last(y_pred, axis):
    return np.moveaxis(np.asarray(y_pred), axis, -1) if axis not in (-1, np.ndim(y_pred) - 1) else y_pred


def _categorical(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _class_axis_last(y_true, axis), _class_axis_last(y_pred, axis)
    return categorical_crossentropy(y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing)


def _sparse_categorical(y_true, y_pred, from_logits=False, axis=-1):
    return sparse_categorical_crossentropy(y_true, _class_axis_last(y_pred, axis), from_logits=from_logits)


class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary crossentropy (the mean over the last axis, per sample).

    Parameters
    ----------
    name : str, default "binary_crossentropy"
    dtype : str, optional
    from_logits : bool, default False
        ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float in [0, 1], default 0
        Targets become ``y * (1 - ls) + 0.5 * ls``.
    """

    direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(
            binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=bool(from_logits),
            label_smoothing=_check_unit(label_smoothing, "label_smoothing", "BinaryCrossentropy"),
        )


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean categorical crossentropy of one-hot (or soft) targets.

    Parameters
    ----------
    name : str, default "categorical_crossentropy"
    dtype : str, optional
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0
        Targets become ``y * (1 - ls) + ls / K``.
    axis : int, default -1
        The class axis of ``y_true`` and ``y_pred``.
    """

    direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0, axis=-1):
        super().__init__(
            _categorical,
            name=name,
            dtype=dtype,
            from_logits=bool(from_logits),
            label_smoothing=_check_unit(label_smoothing, "label_smoothing", "CategoricalCrossentropy"),
            axis=_check_axis(axis, "CategoricalCrossentropy"),
        )


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean crossentropy of integer class labels.

    Parameters
    ----------
    name : str, default "sparse_categorical_crossentropy"
    dtype : str, optional
    from_logits : bool, default False
    axis : int, default -1
        The class axis of ``y_pred``; ``y_true`` has the shape of ``y_pred`` without
        it once it is moved last (a trailing axis of size 1 is accepted).
    """

    direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(
            _sparse_categorical,
            name=name,
            dtype=dtype,
            from_logits=bool(from_logits),
            axis=_check_axis(axis, "SparseCategoricalCrossentropy"),
        )


class KLDivergence(MeanMetricWrapper):
    """The mean of ``sum(y * log(y / p), axis=-1)``, y and p clipped to [eps, 1] (Keras)."""

    direction = "down"

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """The mean of ``y_pred - y_true * log(y_pred + eps)`` (see :func:`poisson`)."""

    direction = "down"

    def __init__(self, name="poisson", dtype=None):
        super().__init__(_in_float64(poisson), name=name, dtype=dtype)
