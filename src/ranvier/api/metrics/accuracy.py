"""Accuracy metrics: how often the prediction (thresholded, argmax, or top k) is the label."""

import numpy as np

from .base import MeanMetricWrapper, Metric, _as_array, _check_int, _check_threshold, _same_rank

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
]


def _labels(y_true, y_pred):
    """Integer class labels of shape ``y_pred.shape[:-1]`` from labels of that shape or with a trailing 1."""
    if y_pred.ndim < 1:
        raise ValueError(f"y_pred must have a class axis, got shape {y_pred.shape}")
    if y_true.shape == y_pred.shape[:-1] + (1,):
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            "y_true must hold class labels of shape y_pred.shape[:-1] (or with a trailing 1), "
            f"got y_true shape {y_true.shape} for y_pred shape {y_pred.shape}"
        )
    return y_true


def _one_hot_labels(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "y_true must be one-hot with the shape of y_pred (use the sparse_ variant for "
            f"integer labels), got y_true shape {y_true.shape} for y_pred shape {y_pred.shape}"
        )
    return np.argmax(y_true, axis=-1)


def _in_top_k(labels, y_pred, k):
    """Whether the label's score is among the k largest; ties at the boundary count as in (as in TF)."""
    n_classes = y_pred.shape[-1]
    lab = labels.astype(np.int64, copy=False)
    valid = (labels == lab) & (lab >= 0) & (lab < n_classes)
    score = np.take_along_axis(y_pred, np.where(valid, lab, 0)[..., None], axis=-1)
    rank = np.sum(y_pred > score, axis=-1)
    return valid & (rank < k) & np.isfinite(score[..., 0])


# ---------------------------------------------------- per-sample functions
def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred``, per element."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    return (_same_rank(y_true, y_pred) == y_pred).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample share of elements where ``y_pred > threshold`` matches the 0/1 ``y_true``."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    y_true = _same_rank(y_true, y_pred)
    return np.mean(y_true == (y_pred > threshold), axis=-1, dtype=np.float64)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the argmax of the one-hot ``y_true`` is the argmax of ``y_pred``."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    return (_one_hot_labels(y_true, y_pred) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label ``y_true`` is the argmax of ``y_pred``."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    return (_labels(y_true, y_pred) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of the one-hot ``y_true`` is among the ``k`` largest scores."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    return _in_top_k(_one_hot_labels(y_true, y_pred), y_pred, k).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label ``y_true`` is among the ``k`` largest scores."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    return _in_top_k(_labels(y_true, y_pred), y_pred, k).astype(np.float64)


# ---------------------------------------------------------------- classes
class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly (labels compared with labels)."""

    direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 ``y_true``."""

    direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = _check_threshold(threshold, "BinaryAccuracy")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=self.threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` is the class of the one-hot ``y_true``."""

    direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` is the integer label ``y_true`` (shape (N,) or (N, 1))."""

    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the class of the one-hot ``y_true`` is among the ``k`` largest scores."""

    direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = _check_int(k, "k", "TopKCategoricalAccuracy", 1)
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=self.k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label ``y_true`` is among the ``k`` largest scores."""

    direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        self.k = _check_int(k, "k", "SparseTopKCategoricalAccuracy", 1)
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=self.k)


class _AutoAccuracy(Metric):
    """``"accuracy"`` when neither the loss nor the output shape decides: resolved from the
    first batch by Keras' rule (binary if y_pred has last dim 1, sparse if y_true has
    a lower rank or a trailing 1, else categorical)."""

    direction = "up"

    def __init__(self, name="accuracy"):
        self._metric = None
        super().__init__(name=name)

    def reset_state(self):
        if self._metric is not None:
            self._metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._metric is None:
            t, p = np.shape(y_true), np.shape(y_pred)
            if p and p[-1] == 1:
                cls = BinaryAccuracy
            elif len(t) < len(p) or (t and t[-1] == 1):
                cls = SparseCategoricalAccuracy
            else:
                cls = CategoricalAccuracy
            self._metric = cls(name=self.name)
        self._metric.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self._metric.result() if self._metric is not None else 0.0
