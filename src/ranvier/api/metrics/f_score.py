"""F-beta and F1 scores of thresholded (or argmax) multi-class / multi-label predictions."""

import math

import numpy as np

from .base import Metric, _inputs_2d, _weights_like
from .confusion import _divide_no_nan

__all__ = ["FBetaScore", "F1Score"]

_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """``(1 + b**2) * precision * recall / (b**2 * precision + recall)`` per class, then averaged.

    Counts are kept per class (last axis of ``y_true``/``y_pred``, both of shape
    (N, K), ``y_true`` 0/1); ``sample_weight`` has shape (N,) or (N, K).

    Parameters
    ----------
    average : {None, "micro", "macro", "weighted"}, default None
        None: the per-class scores (ndarray of shape (K,)); "micro": the score of
        the counts summed over classes; "macro": the mean of the class scores;
        "weighted": their mean weighted by each class's (weighted) support.
    beta : float > 0, default 1.0
        The weight of recall.
    threshold : float in (0, 1], optional
        ``y_pred > threshold`` is a positive; None: the largest score of each row
        (all tied maxima, and only if nonzero).
    name : str, default "fbeta_score"
    dtype : str, optional

    Notes
    -----
    Ratios with a zero denominator are 0 (scikit-learn's ``zero_division=0``);
    Keras adds 1e-7 to the denominators instead, which moves its results by
    about 1e-7 relative.
    """

    direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        cls = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(f"{cls}: average must be one of {list(_AVERAGES)}, got {average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"{cls}: beta must be a finite number > 0, got {beta!r}")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1
        ):
            raise ValueError(f"{cls}: threshold must be None or a number in (0, 1], got {threshold!r}")
        self.average, self.beta = average, float(beta)
        self.threshold = None if threshold is None else float(threshold)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self._counts = None  # tp, fp, fn, support: float64 arrays of shape (K,)

    def update_state(self, y_true, y_pred, sample_weight=None):
        columns = None if self._counts is None else self._counts[0].shape[0]
        y_true, y_pred = _inputs_2d(y_true, y_pred, type(self).__name__, columns, "classes")
        if self.threshold is None:
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        actual = y_true.astype(np.float64)
        predicted = predicted.astype(np.float64)
        w = _weights_like(sample_weight, y_pred)
        counts = [
            np.sum(w * predicted * actual, 0),
            np.sum(w * predicted * (1 - actual), 0),
            np.sum(w * (1 - predicted) * actual, 0),
            np.sum(w * actual, 0),
        ]
        self._counts = counts if self._counts is None else [a + b for a, b in zip(self._counts, counts)]

    def result(self):
        if self._counts is None:
            return 0.0 if self.average is not None else np.zeros(0)
        tp, fp, fn, support = self._counts
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        precision, recall = _divide_no_nan(tp, tp + fp), _divide_no_nan(tp, tp + fn)
        b2 = self.beta**2
        score = (1 + b2) * _divide_no_nan(precision * recall, b2 * precision + recall)
        if self.average is None:
            return score
        if self.average == "weighted":
            return float(np.sum(score * _divide_no_nan(support, support.sum())))
        return float(np.mean(score))

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The harmonic mean of precision and recall: :class:`FBetaScore` with ``beta=1``.

    Parameters
    ----------
    average, threshold, dtype
        As in :class:`FBetaScore`.
    name : str, default "f1_score"
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
