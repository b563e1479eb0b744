"""AUC: the area under the ROC or precision-recall curve traced by confusion counts at thresholds."""

import numpy as np

from .base import _as_array, _check_int, _weights_like
from .confusion import _confusion_counts, _ConfusionMetric, _divide_no_nan, _parse_thresholds, _rate

__all__ = ["AUC"]

_CURVES = ("ROC", "PR")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


def _choice(value, options, arg):
    """``value`` matched case-insensitively against ``options`` (Keras' from_str)."""
    for option in options:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise ValueError(f"AUC: {arg} must be one of {list(options)}, got {value!r}")


def _interpolated_pr_terms(tp, fp, fn):
    """Davis & Goadrich's interpolation of the PR curve between thresholds (Keras' formula):
    true positives are linear in the predicted positives between two thresholds."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _divide_no_nan(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
    return _divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))


class AUC(_ConfusionMetric):
    """Area under the ROC or PR curve, from confusion counts at ``num_thresholds`` thresholds (Keras).

    Thresholds are evenly spaced in [0, 1], plus one just below 0 and one just
    above 1 (``-1e-7``, ``1 + 1e-7``); a prediction is positive above a threshold.
    The area is a Riemann sum over the curve's points.

    Parameters
    ----------
    num_thresholds : int > 1, default 200
    curve : {"ROC", "PR"}, default "ROC"
        True positive rate against false positive rate, or precision against recall.
    summation_method : {"interpolation", "minoring", "majoring"}, default "interpolation"
        Trapezoids (for PR: Davis & Goadrich's interpolation), or the lower / upper
        of the two heights of each interval.
    name : str, default "auc"
    dtype : str, optional
    thresholds : list of floats, optional
        The inner thresholds (sorted; the two end points are added); replaces ``num_thresholds``.
    multi_label : bool, default False
        One curve per label (last axis of 2-D inputs) and the mean of their areas;
        False pools every entry into one curve.
    num_labels : int, optional
        The number of labels (``multi_label`` only; otherwise taken from the first batch).
    label_weights : list of floats >= 0, optional
        ``multi_label``: the weights of the mean of the areas; otherwise the weight of each
        label's entries in the pooled counts.
    from_logits : bool, default False
        ``y_pred`` holds logits: the sigmoid gives the probabilities.

    Notes
    -----
    Predictions (after the sigmoid) must lie in [0, 1].
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name="auc",
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        if thresholds is not None:
            _, inner = _parse_thresholds(list(thresholds), "AUC")
            inner = np.sort(inner)
            self.num_thresholds = len(inner) + 2
        else:
            self.num_thresholds = n = _check_int(num_thresholds, "num_thresholds", "AUC", 2)
            inner = np.array([(i + 1) * 1.0 / (n - 1) for i in range(n - 2)])
        self._init_thresholds = None if thresholds is None else inner.tolist()
        eps = 1e-7
        self._thresholds = np.concatenate([[-eps], inner, [1.0 + eps]])
        self.curve = _choice(curve, _CURVES, "curve")
        self.summation_method = _choice(summation_method, _SUMMATIONS, "summation_method")
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError(f"AUC: num_labels is only for multi_label=True, got num_labels={num_labels!r}")
        self.num_labels = None if num_labels is None else _check_int(num_labels, "num_labels", "AUC", 1)
        self._labels = self.num_labels  # known from the first batch when not given
        if label_weights is not None:
            lw = np.asarray(label_weights, dtype=np.float64).ravel()
            if not (np.isfinite(lw).all() and (lw >= 0).all()):
                raise ValueError(f"AUC: label_weights must be finite numbers >= 0, got {label_weights!r}")
            label_weights = lw.tolist()
        self.label_weights = label_weights
        self.from_logits = bool(from_logits)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        if self.multi_label and self._labels is None:
            self.true_positives = self.false_positives = self.true_negatives = self.false_negatives = None
            return
        shape = (self.num_thresholds, self._labels) if self.multi_label else (self.num_thresholds,)
        self.true_positives, self.false_positives = np.zeros(shape), np.zeros(shape)
        self.true_negatives, self.false_negatives = np.zeros(shape), np.zeros(shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_array(y_pred, "y_pred").astype(np.float64)
        if self.from_logits:
            y_pred = 0.5 * (1.0 + np.tanh(0.5 * y_pred))  # the sigmoid, without overflow
        if y_pred.size and not (np.min(y_pred) >= 0 and np.max(y_pred) <= 1):
            raise ValueError(
                f"AUC: y_pred must hold probabilities in [0, 1], got values in [{np.min(y_pred)}, {np.max(y_pred)}]"
            )
        labels = self._labels if self.multi_label else None
        if self.multi_label or self.label_weights is not None:
            if y_pred.ndim != 2 or (labels is not None and y_pred.shape[1] != labels):
                n = labels or (len(self.label_weights) if self.label_weights else "L")
                raise ValueError(f"AUC: y_pred must have shape (batch_size, {n}) with labels, got {y_pred.shape}")
        if self.label_weights is not None and len(self.label_weights) != y_pred.shape[1]:
            raise ValueError(
                f"AUC: label_weights must have one weight per label ({y_pred.shape[1]}), got {self.label_weights!r}"
            )
        if not self.multi_label:
            weight = sample_weight
            if self.label_weights is not None:
                weight = _weights_like(sample_weight, y_pred) * np.asarray(self.label_weights)
            return super().update_state(y_true, y_pred, weight)
        if self.true_positives is None:
            self._labels = y_pred.shape[1]
            self.reset_state()
        counts = [
            _confusion_counts(y_true, y_pred, sample_weight, self._thresholds, class_id=j, cls="AUC")
            for j in range(y_pred.shape[1])
        ]
        for k, attr in enumerate(("true_positives", "false_positives", "true_negatives", "false_negatives")):
            getattr(self, attr)[...] += np.stack([c[k] for c in counts], axis=1)

    def result(self):
        if self.true_positives is None:
            return 0.0
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            terms = _interpolated_pr_terms(tp, fp, fn)
        else:
            recall = _rate(tp, fn)
            x, y = (_rate(fp, tn), recall) if self.curve == "ROC" else (recall, _rate(tp, fp))
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = np.minimum(y[:-1], y[1:])
            else:
                heights = np.maximum(y[:-1], y[1:])
            terms = (x[:-1] - x[1:]) * heights
        by_label = terms.sum(axis=0)
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def get_config(self):
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }
        if self._init_thresholds is not None:
            config["thresholds"] = self._init_thresholds
        return config
