"""The metric protocol (``update_state`` / ``result`` / ``reset_state``), the reducing metrics
``Mean``, ``Sum`` and ``MeanMetricWrapper``, and the input checks every metric shares.

A metric accumulates totals over the batches of an epoch in float64, so its
result does not depend on the batch size. Its ``name`` is the key it gets in
the training logs and in ``History.history`` (``"accuracy"``, ``"val_mae"``).
"""

import math

import numpy as np

from .. import serialization

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper"]


# ----------------------------------------------------------------- helpers
def _as_array(value, arg):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{arg} must be numeric, got an array of dtype {arr.dtype}")
    return arr


def _inputs(y_true, y_pred):
    """Both as numeric arrays, ``y_true`` squeezed or expanded to the rank of ``y_pred``."""
    y_true, y_pred = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    return _same_rank(y_true, y_pred), y_pred


def _inputs_2d(y_true, y_pred, cls, columns, what):
    """``_inputs`` of shape (batch_size, ``what``), keeping ``columns`` (None at the first batch) between batches."""
    y_true, y_pred = _inputs(y_true, y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"{cls}: y_true and y_pred must have shape (batch_size, {what}), got {y_pred.shape}")
    if columns is not None and columns != y_pred.shape[1]:
        raise ValueError(f"{cls}: y_pred must keep its {columns} {what} between batches, got shape {y_pred.shape}")
    return y_true, y_pred


def _in_float64(loss):
    """``loss`` on float64 copies of its inputs: a metric's per-sample values keep float64 precision."""

    def fn(y_true, y_pred, **kwargs):
        y_true, y_pred = _inputs(y_true, y_pred)
        return loss(y_true.astype(np.float64, copy=False), y_pred.astype(np.float64, copy=False), **kwargs)

    fn.__name__ = fn.__qualname__ = loss.__name__
    return fn


def _same_rank(y_true, y_pred):
    """Squeeze or expand a trailing axis of size 1 so both have the same rank (Keras' rule)."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    return y_true


def _broadcast_weight(sample_weight, y_pred):
    """Per-sample (or per-element) weights broadcast to the shape of y_pred, float64."""
    weight = _as_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
    if weight.ndim == y_pred.ndim + 1 and weight.shape[-1] == 1:
        weight = weight[..., 0]
    if weight.ndim > y_pred.ndim or weight.shape != y_pred.shape[: weight.ndim]:
        raise ValueError(
            "sample_weight must be a scalar or have the leading shape of y_pred "
            f"{y_pred.shape}, got shape {weight.shape}"
        )
    return np.broadcast_to(weight.reshape(weight.shape + (1,) * (y_pred.ndim - weight.ndim)), y_pred.shape)


def _weights_like(sample_weight, y_pred):
    """``_broadcast_weight``, or ones when there are no weights."""
    return np.ones(y_pred.shape) if sample_weight is None else _broadcast_weight(sample_weight, y_pred)


def _check_int(value, arg, cls, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer > {minimum - 1}")
        raise ValueError(f"{cls}: {arg} must be {kind}, got {value!r}")
    return int(value)


def _check_class_id(class_id, cls):
    return None if class_id is None else _check_int(class_id, "class_id", cls, 0)


def _check_unit(value, arg, cls):
    """A number in [0, 1] (a rate, a threshold)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 <= value <= 1:
        raise ValueError(f"{cls}: {arg} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_threshold(value, cls):
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{cls}: threshold must be a finite number, got {value!r}")
    return value


def _check_axis(axis, cls):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{cls}: axis must be an integer, got {axis!r}")
    return int(axis)


def _check_dtype(dtype, cls):
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind not in "iuf":
        raise ValueError(f"{cls}: dtype must be None or a numeric dtype name, got {dtype!r}")
    return dt.name


# ------------------------------------------------------------------- base
class Metric:
    """Base class: accumulate with ``update_state``, read with ``result``, clear with ``reset_state``.

    Parameters
    ----------
    name : str, optional
        The key of the metric in the training logs; the class default if omitted.
    dtype : str, optional
        Keras' result dtype. Kept in the config for Keras compatibility; ranvier
        accumulates in float64 and returns float64 results whatever it says.
    """

    #: "up" if larger is better, "down" if smaller is better, None if unknown
    #: (read by EarlyStopping, ModelCheckpoint and ReduceLROnPlateau in mode="auto").
    direction = None

    def __init__(self, name=None, dtype=None):
        name = serialization.snake_case(type(self).__name__) if name is None else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name
        self.dtype = _check_dtype(dtype, type(self).__name__)
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
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        result = np.asarray(self.result())
        shown = f"{float(result):.6g}" if result.ndim == 0 else np.array2string(result, precision=6)
        return f"<{type(self).__name__} name={self.name!r} result={shown}>"


def _per_sample_weight(values, sample_weight):
    """float64 values reduced to the rank of the float64 weights (Keras' reduction rule)."""
    values = _as_array(values, "values").astype(np.float64, copy=False)
    weight = _as_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
    if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
        weight = weight[..., 0]
    if weight.ndim > values.ndim or weight.shape != values.shape[: weight.ndim]:
        raise ValueError(
            f"sample_weight must be a scalar or have the leading shape of the values {values.shape}, "
            f"got shape {weight.shape}"
        )
    if values.ndim > weight.ndim:
        values = np.mean(values, axis=tuple(range(weight.ndim, values.ndim)))
    return values, weight


class Mean(Metric):
    """The (weighted) running mean of the values it is given: ``sum(w * v) / sum(w)``.

    ``update_state(values, sample_weight=None)``: ``values`` of shape (N, ...)
    are first averaged to one value per sample; ``sample_weight`` is a scalar,
    shape (N,) or the shape of ``values``. The model tracks its loss with
    ``Mean(name="loss").update_state(batch_loss, sample_weight=batch_size)``.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

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
        if sample_weight is None:
            # Each sample weighs 1 (the metrics' use, every step): multiplying by ones and
            # summing them would change nothing.
            values = _as_array(values, "values").astype(np.float64, copy=False)
            if values.ndim > 1:
                values = np.mean(values, axis=tuple(range(1, values.ndim)))
            self.total += float(np.sum(values))
            self.count += float(values.shape[0]) if values.ndim else 1.0
            return
        values, weight = _per_sample_weight(values, sample_weight)
        self.total += float(np.sum(values * weight))
        self.count += float(np.sum(weight))

    def result(self):
        return self.total / self.count if self.count != 0 else 0.0


class Sum(Metric):
    """The (weighted) running sum of every value it is given: ``sum(w * v)``.

    ``update_state(values, sample_weight=None)``: ``sample_weight`` is a scalar,
    shape (N,) or the shape of ``values`` (broadcast over the trailing axes).
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        values = _as_array(values, "values").astype(np.float64, copy=False)
        if sample_weight is not None:
            values = values * _broadcast_weight(sample_weight, values)
        self.total += float(np.sum(values))

    def result(self):
        return self.total


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)``, a function giving one value per sample.

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred, **kwargs) -> ndarray`` of shape (N,) or (N, ...).
    name : str, optional
        Defaults to ``fn.__name__``.
    dtype : str, optional
        See :class:`Metric`.
    **kwargs
        Passed to ``fn``; they are the config of the subclasses.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        self._fn = fn
        self._fn_kwargs = kwargs
        Metric.__init__(self, name=name or getattr(fn, "__name__", None), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}
