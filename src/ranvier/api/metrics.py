"""Stateful metrics with the Keras interface: ``update_state``, ``result``, ``reset_state``.

A metric accumulates totals over the batches of an epoch in float64, so its
result does not depend on the batch size. Its ``name`` is the key it gets in
the training logs and in ``History.history`` (``"accuracy"``, ``"val_mae"``).

``get("accuracy", loss_name, output_shape)`` picks binary, categorical or
sparse categorical accuracy as Keras does; other strings are Keras' metric
names and aliases, and the metric is named after the string it came from
(``metrics=["mae"]`` gives the history key ``"mae"``), as in Keras 3.
"""

import math

import numpy as np

from . import serialization

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "Precision",
    "Recall",
    "AUC",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "mean_absolute_error",
    "mean_squared_error",
    "get",
    "serialize",
    "deserialize",
]


# ----------------------------------------------------------------- helpers
def _as_array(value, arg):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{arg} must be numeric, got an array of dtype {arr.dtype}")
    return arr


def _same_rank(y_true, y_pred):
    """Squeeze or expand a trailing axis of size 1 so both have the same rank (Keras' rule)."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    return y_true


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


def _broadcast_weight(sample_weight, y_pred):
    """Per-sample (or per-element) weights broadcast to the shape of y_pred."""
    weight = _as_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
    if weight.ndim > y_pred.ndim or weight.shape != y_pred.shape[: weight.ndim]:
        raise ValueError(
            "sample_weight must be a scalar or have the leading shape of y_pred "
            f"{y_pred.shape}, got shape {weight.shape}"
        )
    return np.broadcast_to(weight.reshape(weight.shape + (1,) * (y_pred.ndim - weight.ndim)), y_pred.shape)


def _check_k(k, cls):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{cls}: k must be a positive integer, got {k!r}")
    return int(k)


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


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of ``|y_true - y_pred|`` over the last axis."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    y_true = _same_rank(y_true, y_pred)
    return np.mean(np.abs(y_pred.astype(np.float64) - y_true), axis=-1)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of ``(y_true - y_pred)**2`` over the last axis."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    y_true = _same_rank(y_true, y_pred)
    return np.mean(np.square(y_pred.astype(np.float64) - y_true), axis=-1)


# ------------------------------------------------------------------- base
class Metric:
    """Base class: accumulate with ``update_state``, read with ``result``, clear with ``reset_state``.

    Parameters
    ----------
    name : str, optional
        The key of the metric in the training logs; the class default if omitted.
    """

    #: "up" if larger is better, "down" if smaller is better, None if unknown
    #: (read by EarlyStopping, ModelCheckpoint and ReduceLROnPlateau in mode="auto").
    direction = None

    def __init__(self, name=None):
        name = serialization.snake_case(type(self).__name__) if name is None else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        """Update the state, then return the result (as Keras 3 does)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.6g}>"


class Mean(Metric):
    """The (weighted) running mean of the values it is given: ``sum(w * v) / sum(w)``.

    ``update_state(values, sample_weight=None)``: ``values`` of shape (N, ...)
    are first averaged to one value per sample; ``sample_weight`` is a scalar,
    shape (N,) or the shape of ``values``. The model tracks its loss with
    ``Mean(name="loss").update_state(batch_loss, sample_weight=batch_size)``.
    """

    def __init__(self, name="mean"):
        super().__init__(name=name)

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        if isinstance(values, float) and (sample_weight is None or isinstance(sample_weight, float)):
            # One float and its weight (the model's loss tracker, every step): the float64
            # product and sums below, without building arrays.
            weight = 1.0 if sample_weight is None else float(sample_weight)
            self.total += float(values) * weight
            self.count += weight
            return
        values = _as_array(values, "values").astype(np.float64, copy=False)
        if sample_weight is None:
            # Each sample weighs 1 (the metrics' use, every step): multiplying by ones and
            # summing them would change nothing.
            if values.ndim > 1:
                values = np.mean(values, axis=tuple(range(1, values.ndim)))
            self.total += float(np.sum(values))
            self.count += float(values.shape[0]) if values.ndim else 1.0
            return
        weight = _as_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
        if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
            weight = weight[..., 0]
        if weight.ndim > values.ndim or weight.shape != values.shape[: weight.ndim]:
            raise ValueError(
                "sample_weight must be a scalar or have the leading shape of the values "
                f"{values.shape}, got shape {weight.shape}"
            )
        if values.ndim > weight.ndim:
            values = np.mean(values, axis=tuple(range(weight.ndim, values.ndim)))
        self.total += float(np.sum(values * weight))
        self.count += float(np.sum(weight))

    def result(self):
        return self.total / self.count if self.count != 0 else 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)``, a function giving one value per sample.

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred, **kwargs) -> ndarray`` of shape (N,) or (N, ...).
    name : str, optional
        Defaults to ``fn.__name__``.
    """

    def __init__(self, fn, name=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        self._fn = fn
        self._fn_kwargs = kwargs
        Metric.__init__(self, name=name or getattr(fn, "__name__", None))

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {"name": self.name, **self._fn_kwargs}


def _check_threshold(value, cls):
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{cls}: threshold must be a finite number, got {value!r}")
    return value


class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly (labels compared with labels)."""

    direction = "up"

    def __init__(self, name="accuracy"):
        super().__init__(accuracy, name=name)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 ``y_true``."""

    direction = "up"

    def __init__(self, name="binary_accuracy", threshold=0.5):
        self.threshold = _check_threshold(threshold, "BinaryAccuracy")
        super().__init__(binary_accuracy, name=name, threshold=self.threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` is the class of the one-hot ``y_true``."""

    direction = "up"

    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` is the integer label ``y_true`` (shape (N,) or (N, 1))."""

    direction = "up"

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name=name)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the class of the one-hot ``y_true`` is among the ``k`` largest scores."""

    direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        self.k = _check_k(k, "TopKCategoricalAccuracy")
        super().__init__(top_k_categorical_accuracy, name=name, k=self.k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label ``y_true`` is among the ``k`` largest scores."""

    direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy"):
        self.k = _check_k(k, "SparseTopKCategoricalAccuracy")
        super().__init__(sparse_top_k_categorical_accuracy, name=name, k=self.k)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of ``|y_true - y_pred|``."""

    direction = "down"

    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name=name)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of ``(y_true - y_pred)**2``."""

    direction = "down"

    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name=name)


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the running mean of ``(y_true - y_pred)**2``."""

    def __init__(self, name="root_mean_squared_error"):
        super().__init__(name=name)

    def result(self):
        return math.sqrt(super().result())


class _ConfusionMetric(Metric):
    """Counts of true/false positives and false negatives of ``y_pred > thresholds``.

    Parameters
    ----------
    thresholds : float, default 0.5
    class_id : int, optional
        Only this column of ``y_true``/``y_pred`` counts (one-vs-rest).
    name : str, optional
    """

    direction = "up"

    def __init__(self, thresholds=None, class_id=None, name=None):
        self.thresholds = 0.5 if thresholds is None else _check_threshold(thresholds, type(self).__name__)
        if class_id is not None and (
            isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) or class_id < 0
        ):
            raise ValueError(f"{type(self).__name__}: class_id must be a non-negative integer, got {class_id!r}")
        self.class_id = None if class_id is None else int(class_id)
        super().__init__(name=name)

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
        y_true = _same_rank(y_true, y_pred)
        if self.class_id is not None:
            if y_pred.ndim < 1 or self.class_id >= y_pred.shape[-1]:
                raise ValueError(
                    f"{type(self).__name__}: class_id={self.class_id} is out of range for y_pred shape {y_pred.shape}"
                )
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
        actual, predicted = y_true.astype(bool), y_pred > self.thresholds
        weight = np.ones(y_pred.shape) if sample_weight is None else _broadcast_weight(sample_weight, y_pred)
        self.true_positives += float(weight[actual & predicted].sum())
        self.false_positives += float(weight[~actual & predicted].sum())
        self.false_negatives += float(weight[actual & ~predicted].sum())

    def get_config(self):
        return {"thresholds": self.thresholds, "class_id": self.class_id, "name": self.name}


class Precision(_ConfusionMetric):
    """``tp / (tp + fp)`` of ``y_pred > thresholds`` (0 when nothing is predicted positive)."""

    def __init__(self, thresholds=None, class_id=None, name="precision"):
        super().__init__(thresholds=thresholds, class_id=class_id, name=name)

    def result(self):
        denom = self.true_positives + self.false_positives
        return self.true_positives / denom if denom else 0.0


class Recall(_ConfusionMetric):
    """``tp / (tp + fn)`` of ``y_pred > thresholds`` (0 when there are no positives)."""

    def __init__(self, thresholds=None, class_id=None, name="recall"):
        super().__init__(thresholds=thresholds, class_id=class_id, name=name)

    def result(self):
        denom = self.true_positives + self.false_negatives
        return self.true_positives / denom if denom else 0.0


class AUC(Metric):
    """Area under the ROC curve, from confusion counts at ``num_thresholds`` thresholds (as Keras).

    Thresholds are evenly spaced in [0, 1] (plus one just below 0 and one just
    above 1); the area is the trapezoidal sum over the (false positive rate,
    true positive rate) points. Predictions must be probabilities in [0, 1];
    all outputs are pooled (Keras' ``multi_label=False``).

    Parameters
    ----------
    num_thresholds : int > 1, default 200
    name : str, default "auc"
    """

    direction = "up"

    def __init__(self, num_thresholds=200, name="auc"):
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds < 2:
            raise ValueError(f"AUC: num_thresholds must be an integer > 1, got {num_thresholds!r}")
        self.num_thresholds = int(num_thresholds)
        eps = 1e-7
        self._thresholds = np.concatenate(
            [[-eps], np.arange(1, num_thresholds - 1) / (num_thresholds - 1), [1.0 + eps]]
        )
        super().__init__(name=name)

    def reset_state(self):
        self.true_positives = np.zeros(self.num_thresholds)
        self.false_positives = np.zeros(self.num_thresholds)
        self.positives = self.negatives = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
        y_true = _same_rank(y_true, y_pred)
        if y_pred.size and not (np.min(y_pred) >= 0 and np.max(y_pred) <= 1):
            raise ValueError(
                f"AUC: y_pred must hold probabilities in [0, 1], got values in [{np.min(y_pred)}, {np.max(y_pred)}]"
            )
        weight = np.ones(y_pred.shape) if sample_weight is None else _broadcast_weight(sample_weight, y_pred)
        actual = y_true.astype(bool).ravel()
        weight = weight.ravel()
        # A prediction p counts as positive at every threshold below it: thresholds[:idx].
        idx = np.searchsorted(self._thresholds, y_pred.ravel(), side="left")
        for counts, mask in ((self.true_positives, actual), (self.false_positives, ~actual)):
            per_idx = np.bincount(idx[mask], weights=weight[mask], minlength=self.num_thresholds + 1)
            counts += np.cumsum(per_idx[::-1])[::-1][1:]
        self.positives += float(weight[actual].sum())
        self.negatives += float(weight[~actual].sum())

    def result(self):
        tpr = self.true_positives / self.positives if self.positives else np.zeros(self.num_thresholds)
        fpr = self.false_positives / self.negatives if self.negatives else np.zeros(self.num_thresholds)
        return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))

    def get_config(self):
        return {"num_thresholds": self.num_thresholds, "name": self.name}


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


# ------------------------------------------------------------------ lookup
_CLASSES = (
    Mean,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
    Precision,
    Recall,
    AUC,
)
# A plain function fn(y_true, y_pred) giving per-sample values is a metric too.
serialization.register_family(
    "metric",
    Metric,
    _CLASSES,
    {"mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mse": MeanSquaredError, "MSE": MeanSquaredError},
    snake_names=True,
    coerce=MeanMetricWrapper,
)
# Keras' convenience: "accuracy" follows the loss / the output.
_ACCURACY_BY_LOSS = {
    "sparsecategoricalcrossentropy": SparseCategoricalAccuracy,
    "categoricalcrossentropy": CategoricalAccuracy,
    "binarycrossentropy": BinaryAccuracy,
}


def _accuracy_for(name, loss_name, output_shape):
    key = str(getattr(loss_name, "name", loss_name) or "").replace("_", "").lower()
    cls = _ACCURACY_BY_LOSS.get(key)
    if cls is None and output_shape is not None and len(output_shape) and output_shape[-1] == 1:
        cls = BinaryAccuracy
    return cls(name=name) if cls is not None else _AutoAccuracy(name=name)


def serialize(metric):
    """``{"class_name": ..., "config": ...}`` of a metric, or Keras 3's function form for a metric
    function (JSON-able)."""
    return serialization.serialize(metric, "metric")


def deserialize(config, custom_objects=None):
    """The metric (or metric function) a :func:`serialize` dict or a name describes."""
    return serialization.deserialize(config, "metric", custom_objects)


def get(identifier, loss_name=None, output_shape=None):
    """A metric from a name, a config dict, a class, a function or an instance.

    Parameters
    ----------
    identifier : str, dict, Metric, type or callable
        ``"accuracy"``/``"acc"`` resolve from the loss and the output shape:
        sparse_categorical_crossentropy gives SparseCategoricalAccuracy,
        categorical_crossentropy CategoricalAccuracy, binary_crossentropy or an
        output with last dimension 1 BinaryAccuracy; otherwise the choice is
        made from the first batch, as Keras does. Other names: Keras' class
        names, their snake_case forms and ``"mae"``/``"mse"``. A function
        ``fn(y_true, y_pred)`` giving per-sample values is wrapped in
        :class:`MeanMetricWrapper`.
    loss_name : str or Loss, optional
        The compiled loss (its name).
    output_shape : tuple, optional
        The model's output shape (batch dimension included or not).

    Returns
    -------
    Metric
        Named after the string it came from (the Keras 3 history key).
    """
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _accuracy_for(identifier, loss_name, output_shape)
        cls = serialization.lookup(identifier, "metric")
        if cls in _CLASSES:
            return cls(name=identifier)
    return serialization.get(identifier, "metric")
