"""Correlation metrics (Keras 3): PearsonCorrelation and ConcordanceCorrelation.

As Keras: one coefficient per sample along ``axis``, then the running mean of
those over every batch of the epoch (a ``MeanMetricWrapper``), in float64.
"""

import numpy as np

from .. import config
from .base import MeanMetricWrapper, _inputs

__all__ = ["PearsonCorrelation", "ConcordanceCorrelation", "pearson_correlation", "concordance_correlation"]


def _axis(axis, cls):
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise ValueError(f"{cls}: axis must be an integer or a tuple of integers, got {axis!r}")
    return tuple(int(a) for a in axes) if isinstance(axis, (tuple, list)) else int(axis)


def _float64_pair(y_true, y_pred, axis):
    y_true, y_pred = _inputs(y_true, y_pred)
    t, p = y_true.astype(np.float64), y_pred.astype(np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}")
    axes = axis if isinstance(axis, tuple) else (axis,)
    if any(not -p.ndim <= a < p.ndim for a in axes):
        raise ValueError(f"axis {axis!r} is out of range for y_pred of shape {p.shape}")
    return t, p


def pearson_correlation(y_true, y_pred, axis=-1):
    """Per-sample Pearson correlation along ``axis``: ``mean(z(y_true) * z(y_pred))`` with population
    standard scores, as Keras (a constant sample gives NaN).

    Returns
    -------
    ndarray of the shape of ``y_pred`` without ``axis``, float64
    """
    t, p = _float64_pair(y_true, y_pred, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        tn = t - t.mean(axis=axis, keepdims=True)
        pn = p - p.mean(axis=axis, keepdims=True)
        tn = tn / tn.std(axis=axis, keepdims=True)
        pn = pn / pn.std(axis=axis, keepdims=True)
    return np.mean(tn * pn, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Per-sample concordance correlation along ``axis``, Keras 3's formula exactly:
    ``mean(2 (y_true - mean(y_pred)) (y_pred - mean(y_pred)) / (var(y_true) + var(y_pred)
    + (mean(y_true) - mean(y_pred))**2 + epsilon))``.

    Keras centres ``y_true`` on the mean of ``y_pred`` in the covariance; the
    mean over the axis makes it Lin's coefficient all the same (the cross term
    vanishes), up to the ``epsilon`` in the denominator.

    Returns
    -------
    ndarray of the shape of ``y_pred`` without ``axis``, float64
    """
    t, p = _float64_pair(y_true, y_pred, axis)
    tm, pm = t.mean(axis=axis, keepdims=True), p.mean(axis=axis, keepdims=True)
    norm = t.var(axis=axis, keepdims=True) + p.var(axis=axis, keepdims=True) + (tm - pm) ** 2
    return np.mean(2 * (t - pm) * (p - pm) / (norm + config.epsilon()), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """The mean over samples of the Pearson correlation of ``y_true`` and ``y_pred`` along ``axis`` (Keras 3).

    Parameters
    ----------
    name : str, default "pearson_correlation"
    dtype : str, optional
    axis : int or tuple of int, default -1
    """

    direction = "up"

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=_axis(axis, "PearsonCorrelation"))
        self.axis = self._fn_kwargs["axis"]


class ConcordanceCorrelation(MeanMetricWrapper):
    """The mean over samples of the concordance correlation along ``axis`` (Keras 3's formula).

    Parameters
    ----------
    name : str, default "concordance_correlation"
    dtype : str, optional
    axis : int or tuple of int, default -1
    """

    direction = "up"

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=_axis(axis, "ConcordanceCorrelation"))
        self.axis = self._fn_kwargs["axis"]
