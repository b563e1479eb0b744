"""Intersection-over-union metrics, read off a weighted (num_classes x num_classes) confusion matrix.

``IoU = tp / (tp + fp + fn)`` per class; a metric reports the mean over its
target classes that occur (in ``y_true`` or the predictions) with a nonzero
weight. The ratios are exact: Keras adds 1e-7 to their denominators, and
truncates float weights to integers in its default integer dtype (ranvier
keeps them as float64).
"""

import numpy as np

from .base import Metric, _as_array, _broadcast_weight, _check_axis, _check_int, _check_threshold

__all__ = ["IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU"]


def _class_ids(values, arg, num_classes, cls):
    """Flat int64 class ids, refusing values that are not integers in [0, num_classes)."""
    values = np.asarray(values).ravel()
    if values.dtype.kind == "f":
        bad = values[values != np.floor(values)]
        if bad.size:
            hint = f"pass scores with sparse_{arg}=False"
            raise ValueError(f"{cls}: {arg} must hold integer class ids ({hint}), got {bad[0].item()!r}")
    ids = values.astype(np.int64)
    out = ids[(ids < 0) | (ids >= num_classes)]
    if out.size:
        raise ValueError(f"{cls}: {arg} must hold class ids in [0, {num_classes}), got {out[0].item()!r}")
    return ids


class _IoUBase(Metric):
    """Accumulates the weighted confusion matrix ``total_cm[true, predicted]`` (float64).

    Parameters
    ----------
    num_classes : int >= 1
    name : str, optional
    dtype : str, optional
    ignore_class : int, optional
        Entries whose ``y_true`` is this id are left out (a "void" label, e.g. 255).
    sparse_y_true, sparse_y_pred : bool, default True
        Integer class ids; False: scores or one-hot vectors whose argmax along ``axis`` is the id.
    axis : int, default -1
        The class axis of the dense inputs.
    """

    direction = "up"

    def __init__(
        self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1
    ):
        cls = type(self).__name__
        self.num_classes = _check_int(num_classes, "num_classes", cls, 1)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer))
        ):
            raise ValueError(f"{cls}: ignore_class must be None or an integer, got {ignore_class!r}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.sparse_y_true, self.sparse_y_pred = bool(sparse_y_true), bool(sparse_y_pred)
        self.axis = _check_axis(axis, cls)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.total_cm = np.zeros((self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        cls = type(self).__name__
        y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
        if not self.sparse_y_true:
            y_true = np.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = np.argmax(y_pred, axis=self.axis)
        if y_true.size != y_pred.size:
            raise ValueError(
                f"{cls}: y_true and y_pred must hold as many class ids, got shapes {y_true.shape} and {y_pred.shape}"
            )
        weight = np.ones(y_true.size) if sample_weight is None else _broadcast_weight(sample_weight, y_true).ravel()
        keep = np.ones(y_true.size, bool) if self.ignore_class is None else y_true.ravel() != self.ignore_class
        true = _class_ids(y_true.ravel()[keep], "y_true", self.num_classes, cls)
        pred = _class_ids(y_pred.ravel()[keep], "y_pred", self.num_classes, cls)
        k = self.num_classes
        self.total_cm += np.bincount(true * k + pred, weights=weight[keep], minlength=k * k).reshape(k, k)

    def _ious(self):
        """(IoU per class, whether the class occurs) from the confusion matrix."""
        tp = np.diag(self.total_cm)
        den = self.total_cm.sum(0) + self.total_cm.sum(1) - tp
        valid = den > 1e-9
        return np.divide(tp, den, out=np.zeros_like(tp), where=valid), valid

    def result(self):
        iou, valid = self._ious()
        ids = self.target_class_ids
        return float(iou[ids].sum() / valid[ids].sum()) if valid[ids].any() else 0.0

    def _base_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


def _check_targets(target_class_ids, num_classes, cls):
    if not isinstance(target_class_ids, (list, tuple)) or not target_class_ids:
        raise ValueError(f"{cls}: target_class_ids must be a non-empty list of class ids, got {target_class_ids!r}")
    for c in target_class_ids:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < num_classes:
            raise ValueError(f"{cls}: target_class_ids must hold ids in [0, {num_classes}), got {target_class_ids!r}")
    return [int(c) for c in target_class_ids]


class IoU(_IoUBase):
    """The mean IoU of the classes ``target_class_ids`` (one id: that class's IoU).

    Parameters
    ----------
    num_classes : int >= 1
    target_class_ids : list of int
    name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis
        As in :class:`_IoUBase`.
    """

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)
        self.target_class_ids = _check_targets(target_class_ids, self.num_classes, type(self).__name__)

    def get_config(self):
        return {**self._base_config(), "target_class_ids": self.target_class_ids, "sparse_y_true": self.sparse_y_true}


class MeanIoU(_IoUBase):
    """The mean IoU over all classes that occur; parameters as :class:`IoU` without ``target_class_ids``."""

    def __init__(
        self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1
    ):
        super().__init__(num_classes, name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis)
        self.target_class_ids = list(range(self.num_classes))

    def get_config(self):
        return {**self._base_config(), "sparse_y_true": self.sparse_y_true}


class BinaryIoU(IoU):
    """IoU of the classes 0 and/or 1 after ``y_pred >= threshold`` gives class 1.

    Parameters
    ----------
    target_class_ids : list of int, default (0, 1)
    threshold : float, default 0.5
    name : str, optional
    dtype : str, optional
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name, dtype)
        self.threshold = _check_threshold(threshold, "BinaryIoU")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_array(y_pred, "y_pred") >= self.threshold
        super().update_state(y_true, y_pred.astype(np.int64), sample_weight)

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
        }


class OneHotIoU(IoU):
    """:class:`IoU` for one-hot ``y_true`` (and scores, or class ids with ``sparse_y_pred=True``)."""

    def __init__(
        self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1
    ):
        super().__init__(num_classes, target_class_ids, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        return {**self._base_config(), "target_class_ids": self.target_class_ids}


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` for one-hot ``y_true`` (and scores, or class ids with ``sparse_y_pred=True``)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name, dtype, ignore_class, False, sparse_y_pred, axis)

    def get_config(self):
        return self._base_config()
