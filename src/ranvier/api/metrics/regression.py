"""Regression metrics: per-sample errors averaged over an epoch, and the R2 score.

The per-sample functions are the losses module's, as in Keras 3
(``metrics.mean_absolute_error is losses.mean_absolute_error``); the metric
classes run them on float64 copies of the inputs. ``cosine_similarity`` (not a
Keras metric function) is minus the loss of that name.
"""

import math
import warnings

import numpy as np

from .. import losses
from ..losses import (
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from .base import MeanMetricWrapper, Metric, _check_axis, _check_int, _in_float64, _inputs_2d, _weights_like

__all__ = [
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "LogCoshError",
    "R2Score",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "cosine_similarity",
    "log_cosh",
    "huber",
]


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample ``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: minus the loss of that name.

    Returns
    -------
    ndarray of the shape of ``y_pred`` without ``axis``, float64
    """
    return -_in_float64(losses.cosine_similarity)(y_true, y_pred, axis=_check_axis(axis, "cosine_similarity"))


# ---------------------------------------------------------------- classes
class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of ``|y_true - y_pred|``."""

    direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_in_float64(mean_absolute_error), name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of ``(y_true - y_pred)**2``."""

    direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_in_float64(mean_squared_error), name=name, dtype=dtype)


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the running mean of ``(y_true - y_pred)**2``."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return math.sqrt(super().result())


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean of ``100 * |y_true - y_pred| / max(|y_true|, eps)``."""

    direction = "down"

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(_in_float64(mean_absolute_percentage_error), name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean of ``(log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps)))**2``."""

    direction = "down"

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(_in_float64(mean_squared_logarithmic_error), name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity of ``y_true`` and ``y_pred`` along ``axis``.

    Parameters
    ----------
    name : str, default "cosine_similarity"
    dtype : str, optional
    axis : int, default -1

    Notes
    -----
    The config holds ``axis`` (Keras 3 leaves it out, so its round trip loses it).
    """

    direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=_check_axis(axis, "CosineSimilarity"))


class LogCoshError(MeanMetricWrapper):
    """The mean of ``log(cosh(y_pred - y_true))`` (the losses module's ``log_cosh``)."""

    direction = "down"

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output, then aggregated.

    Sums of ``w y``, ``w y**2``, ``w (y - p)**2`` and ``w`` are kept per output,
    so the score over several batches is the score over their concatenation
    (scikit-learn's ``r2_score`` with ``sample_weight`` and ``multioutput``).

    Parameters
    ----------
    class_aggregation : {"uniform_average", "variance_weighted_average", None}
        Mean of the per-output scores, their mean weighted by ``SS_tot``, or
        the per-output scores (an ndarray of shape (K,)).
    num_regressors : int >= 0, default 0
        ``p`` of the adjusted score ``1 - (1 - R2) (n - 1) / (n - p - 1)``, with
        ``n`` the number of target entries seen (Keras' count). 0: the plain score.
        When ``p >= n - 1`` a warning is given and the plain score returned.
    name : str, default "r2_score"
    dtype : str, optional

    Notes
    -----
    ``update_state`` takes ``y_true``, ``y_pred`` of shape (N, K) (a (N,) ``y_true``
    against (N, 1) predictions is accepted) and ``sample_weight`` of shape (N,) or (N, K).
    An output whose targets are all equal has ``SS_tot = 0``: its score is 0 (Keras).
    """

    direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"R2Score: class_aggregation must be one of {list(_AGGREGATIONS)}, got {class_aggregation!r}"
            )
        self.class_aggregation = class_aggregation
        self.num_regressors = _check_int(num_regressors, "num_regressors", "R2Score", 0)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.num_samples = 0
        self._sums = None  # (sum w y, sum w y**2, sum w (y - p)**2, sum w), each of shape (K,)

    def update_state(self, y_true, y_pred, sample_weight=None):
        columns = None if self._sums is None else self._sums[0].shape[0]
        y_true, y_pred = _inputs_2d(y_true, y_pred, "R2Score", columns, "outputs")
        y, p = y_true.astype(np.float64), y_pred.astype(np.float64)
        w = _weights_like(sample_weight, y_pred)
        sums = (np.sum(w * y, 0), np.sum(w * y * y, 0), np.sum(w * np.square(y - p), 0), np.sum(w, 0))
        self._sums = sums if self._sums is None else tuple(a + b for a, b in zip(self._sums, sums))
        self.num_samples += y.size

    def result(self):
        if self._sums is None:
            return 0.0
        wy, wyy, residual, count = self._sums
        with np.errstate(divide="ignore", invalid="ignore"):
            total = wyy - wy * (wy / count)
            scores = 1.0 - residual / total
        scores = np.where(np.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            score = float(np.mean(scores))
        elif self.class_aggregation == "variance_weighted_average":
            score = float(np.sum(total * scores) / np.sum(total))
        else:
            score = scores
        n, p = self.num_samples, self.num_regressors
        if p == 0:
            return score
        if p >= n - 1:
            reason = "more regressors than samples" if p > n - 1 else "a division by zero"
            warnings.warn(f"R2Score: the adjusted score has {reason}; returning the plain R2 score", stacklevel=2)
            return score
        return 1.0 - (1.0 - score) * (n - 1) / (n - p - 1)

    def get_config(self):
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
