"""Metrics read off weighted confusion counts at one or more thresholds.

One mechanism serves them all: :func:`_confusion_counts` gives the weighted
true/false positives and negatives of ``y_pred > t`` for every threshold ``t``
in one sorted pass (a prediction is positive at every threshold below it).
``TruePositives`` ... ``FalseNegatives`` report a count, ``Precision`` and
``Recall`` a ratio, the ``*At*`` family a best rate under a constraint over
200 thresholds; ``AUC`` (its own module) the area under the curve they trace.
"""

import numpy as np

from .base import Metric, _check_class_id, _check_int, _check_threshold, _check_unit, _inputs, _weights_like

__all__ = [
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "Precision",
    "Recall",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
]


def _keep_top_k(y_pred, k):
    """``y_pred`` with all but the k largest entries of its last axis set to -inf (ties: lower index)."""
    top = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    kept = np.full(y_pred.shape, -np.inf)
    np.put_along_axis(kept, top, np.take_along_axis(y_pred, top, axis=-1), axis=-1)
    return kept


def _confusion_counts(y_true, y_pred, sample_weight, thresholds, class_id=None, top_k=None, cls=""):
    """Weighted confusion counts of ``y_pred > t`` for each threshold ``t``.

    Parameters
    ----------
    y_true : array-like, any shape; nonzero means positive
        Same shape as ``y_pred`` (or with a trailing axis of size 1 more or less).
    y_pred : array-like of the same shape
    sample_weight : None, scalar, or an array of the leading shape of ``y_pred``
    thresholds : ndarray of shape (T,), float64, any order
    class_id : int, optional
        Only column ``class_id`` of the last axis counts.
    top_k : int, optional
        Only the ``top_k`` largest predictions of the last axis can be positive.
    cls : str
        The metric's name, for messages.

    Returns
    -------
    tp, fp, tn, fn : ndarrays of shape (T,), float64
    """
    y_true, y_pred = _inputs(y_true, y_pred)
    weight = _weights_like(sample_weight, y_pred)
    y_pred = y_pred.astype(np.float64, copy=False)
    if np.isnan(y_pred).any():
        raise ValueError(f"{cls}: y_pred must not contain NaN, got {np.isnan(y_pred).sum()} NaN values")
    if top_k is not None:
        y_pred = _keep_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 1 or class_id >= y_pred.shape[-1]:
            raise ValueError(
                f"{cls}: class_id must index the last axis of y_pred shape {y_pred.shape}, got {class_id!r}"
            )
        y_true, y_pred, weight = y_true[..., class_id], y_pred[..., class_id], weight[..., class_id]
    actual, weight = y_true.astype(bool).ravel(), weight.ravel()
    order = np.argsort(thresholds, kind="stable")
    # How many thresholds each prediction exceeds: it is positive at sorted thresholds [0, idx).
    idx = np.searchsorted(thresholds[order], y_pred.ravel(), side="left")
    n = len(thresholds)
    counts = []
    for mask in (actual, ~actual):
        per_idx = np.bincount(idx[mask], weights=weight[mask], minlength=n + 1)
        above, below = np.empty(n), np.empty(n)
        above[order] = np.cumsum(per_idx[::-1])[::-1][1:]
        below[order] = np.cumsum(per_idx)[:n]
        counts.append((above, below))
    (tp, fn), (fp, tn) = counts
    return tp, fp, tn, fn


def _divide_no_nan(num, den):
    """``num / den``, 0 where ``den`` is 0 (Keras' divide_no_nan)."""
    num, den = np.broadcast_arrays(np.asarray(num, np.float64), np.asarray(den, np.float64))
    return np.divide(num, den, out=np.zeros(num.shape), where=den != 0)


def _rate(num, other):
    """``num / (num + other)``, 0 where the denominator is 0."""
    return _divide_no_nan(num, num + other)


def _parse_thresholds(thresholds, cls):
    """A float or a list of floats -> (the config value, float64 array)."""
    if thresholds is None:
        return None, np.array([0.5])
    if isinstance(thresholds, (list, tuple, np.ndarray)):
        values = [_check_threshold(t, cls) for t in np.asarray(thresholds, dtype=object).ravel()]
        if not values:
            raise ValueError(f"{cls}: thresholds must be a number or a non-empty list of numbers, got {thresholds!r}")
        return values, np.array(values)
    value = _check_threshold(thresholds, cls)
    return value, np.array([value])


class _ConfusionMetric(Metric):
    """Accumulates tp/fp/tn/fn (float64 arrays, one entry per threshold) of ``y_pred > thresholds``.

    Subclasses set ``self._thresholds`` (and ``class_id``, ``top_k``) before calling
    ``Metric.__init__`` and implement ``result``.
    """

    direction = "up"
    class_id = None
    top_k = None

    @property
    def thresholds(self):
        """The thresholds, a list of floats (Keras' attribute)."""
        return self._thresholds.tolist()

    def reset_state(self):
        n = len(self._thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = _confusion_counts(
            y_true, y_pred, sample_weight, self._thresholds, self.class_id, self.top_k, type(self).__name__
        )
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _per_threshold(self, values):
        """One float for one threshold (Keras: also for a list of one), else the array."""
        return float(values[0]) if len(values) == 1 else values


# ------------------------------------------------------------------ counts
class _ConfusionCount(_ConfusionMetric):
    """The weighted count of one confusion-matrix cell at ``y_pred > thresholds``.

    Parameters
    ----------
    thresholds : float or list of floats, default 0.5
        One result per threshold: a float for a float (or a list of one), an
        ndarray of shape (len(thresholds),) otherwise.
    name : str, optional
    dtype : str, optional
    """

    direction = None
    _cell = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        self.init_thresholds, self._thresholds = _parse_thresholds(thresholds, type(self).__name__)
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return self._per_threshold(getattr(self, self._cell).copy())

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) number of true positives: ``y_true`` nonzero and ``y_pred > thresholds``."""

    _cell = "true_positives"


class FalsePositives(_ConfusionCount):
    """The (weighted) number of false positives: ``y_true`` zero and ``y_pred > thresholds``."""

    _cell = "false_positives"


class TrueNegatives(_ConfusionCount):
    """The (weighted) number of true negatives: ``y_true`` zero and ``y_pred <= thresholds``."""

    _cell = "true_negatives"


class FalseNegatives(_ConfusionCount):
    """The (weighted) number of false negatives: ``y_true`` nonzero and ``y_pred <= thresholds``."""

    _cell = "false_negatives"


# ------------------------------------------------------------------ ratios
class _PrecisionRecall(_ConfusionMetric):
    """Shared constructor of Precision and Recall (Keras' signature)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        cls = type(self).__name__
        self.top_k = None if top_k is None else _check_int(top_k, "top_k", cls, 1)
        self.class_id = _check_class_id(class_id, cls)
        self.init_thresholds, self._thresholds = _parse_thresholds(thresholds, cls)
        if thresholds is None and top_k is not None:
            self._thresholds = np.array([-np.inf])  # every top-k prediction counts as positive
        super().__init__(name=name, dtype=dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` of ``y_pred > thresholds`` (0 when nothing is predicted positive).

    Parameters
    ----------
    thresholds : float or list of floats, optional
        Default 0.5, or every top-k prediction when ``top_k`` is set. A list gives one
        precision per threshold (an ndarray).
    top_k : int, optional
        Only the ``top_k`` largest scores of each sample (last axis) can be positive.
    class_id : int, optional
        Only this column of ``y_true``/``y_pred`` counts (one-vs-rest).
    name : str, default "precision"
    dtype : str, optional
    """

    def result(self):
        return self._per_threshold(_rate(self.true_positives, self.false_positives))


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` of ``y_pred > thresholds`` (0 when there are no positives).

    Parameters are those of :class:`Precision`; the default name is "recall".
    """

    def result(self):
        return self._per_threshold(_rate(self.true_positives, self.false_negatives))


# ------------------------------------------------- best rate under a bound
class _AtConstraint(_ConfusionMetric):
    """The best of one rate over the thresholds where another rate is >= ``value``.

    ``num_thresholds`` thresholds: 0, 1/(n-1), ..., 1 (0.5 alone for n = 1), as
    in Keras. The result is 0 when no threshold meets the constraint.
    """

    _value_arg = None

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        cls = type(self).__name__
        self.value = _check_unit(value, self._value_arg, cls)
        setattr(self, self._value_arg, self.value)
        self.num_thresholds = _check_int(num_thresholds, "num_thresholds", cls, 1)
        self.class_id = _check_class_id(class_id, cls)
        n = self.num_thresholds
        inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
        self._thresholds = np.array([0.5] if n == 1 else [0.0] + inner + [1.0])
        super().__init__(name=name, dtype=dtype)

    def _rates(self):
        """(constrained, dependent) rates per threshold."""
        raise NotImplementedError

    def result(self):
        constrained, dependent = self._rates()
        feasible = constrained >= self.value
        return float(dependent[feasible].max()) if feasible.any() else 0.0

    def get_config(self):
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self._value_arg: self.value,
        }


def _sensitivity(m):
    return _rate(m.true_positives, m.false_negatives)


def _specificity(m):
    return _rate(m.true_negatives, m.false_positives)


def _precision(m):
    return _rate(m.true_positives, m.false_positives)


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity ``tp / (tp + fn)`` where specificity ``tn / (tn + fp)`` >= ``specificity``.

    Parameters
    ----------
    specificity : float in [0, 1]
    num_thresholds : int >= 1, default 200
    class_id : int, optional
        Only this column of ``y_true``/``y_pred`` counts.
    name : str, default "sensitivity_at_specificity"
    dtype : str, optional
    """

    _value_arg = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def _rates(self):
        return _specificity(self), _sensitivity(self)


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity where sensitivity >= ``sensitivity``; see :class:`SensitivityAtSpecificity`."""

    _value_arg = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def _rates(self):
        return _sensitivity(self), _specificity(self)


class PrecisionAtRecall(_AtConstraint):
    """The best precision where recall >= ``recall``; see :class:`SensitivityAtSpecificity`."""

    _value_arg = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def _rates(self):
        return _sensitivity(self), _precision(self)


class RecallAtPrecision(_AtConstraint):
    """The best recall where precision >= ``precision``; see :class:`SensitivityAtSpecificity`."""

    _value_arg = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def _rates(self):
        return _precision(self), _sensitivity(self)
