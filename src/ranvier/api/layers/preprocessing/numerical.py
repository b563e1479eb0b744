"""Numerical preprocessing: Rescaling, Normalization (with adapt), Discretization (with adapt)."""

import numpy as np

from ... import config
from ..._errors import UnsupportedArgument
from ._base import (
    DataLayer,
    FloatPreprocessing,
    adapt_batches,
    categorical_shape,
    check_choice,
    check_positive_int,
    encode_categorical,
)

__all__ = ["Rescaling", "Normalization", "Discretization"]

_CATEGORICAL_MODES = ("int", "one_hot", "multi_hot", "count")


def _check_number(value, arg, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {arg} must be a number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{owner}: {arg} must be finite, got {value!r}")
    return float(value)


class Rescaling(FloatPreprocessing):
    """Multiply the inputs by ``scale`` and add ``offset``: ``y = x * scale + offset``.

    Parameters
    ----------
    scale : float
        E.g. ``1 / 255`` to map ``[0, 255]`` to ``[0, 1]``.
    offset : float, default 0.0

    Notes
    -----
    Input and output: float, any shape ``(batch, ...)``. Keras also takes a
    per-channel tensor for ``scale``; ranvier takes numbers only.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _check_number(scale, "scale", "Rescaling")
        self.offset = _check_number(offset, "offset", "Rescaling")

    def call(self, inputs, training=False):
        dt = inputs.dtype.type
        return inputs * dt(self.scale) + dt(self.offset), None

    def backward(self, dy, cache, need_input_grad=True):
        return dy * dy.dtype.type(self.scale) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(FloatPreprocessing):
    """Standardise features: ``(x - mean) / max(sqrt(variance), epsilon)``.

    ``mean`` and ``variance`` are given, or learnt by :meth:`adapt` (then kept
    as Keras' non-trainable weights ``mean``, ``variance`` and ``count``, so
    they save and load with the model's weights).

    Parameters
    ----------
    axis : int, tuple of int or None, default -1
        Axes that keep separate statistics (the feature axes); the others are
        reduced. None: one mean and variance for all values.
    mean, variance : float or array-like, optional
        Given statistics (both or neither), broadcast against the kept axes.
    invert : bool, default False
        Undo the normalization instead: ``mean + x * max(sqrt(variance), epsilon)``.

    Notes
    -----
    Input and output: float, ``(batch, ...)``; epsilon is ``config.epsilon()``
    (1e-7, Keras' ``backend.epsilon()``). The variance is the population one
    (``np.var``), as Keras computes it.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            self.axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(isinstance(a, (int, np.integer)) for a in axis):
            self.axis = tuple(int(a) for a in axis)
        else:
            raise ValueError(f"Normalization: axis must be an integer, a tuple of integers or None, got {axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization: give both mean and variance or neither, got mean={mean!r} and variance={variance!r}"
            )
        self.input_mean = None if mean is None else np.asarray(mean, np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, np.float64)
        if self.input_variance is not None and not (
            np.isfinite(self.input_variance).all() and (self.input_variance >= 0).all()
        ):
            raise ValueError(f"Normalization: variance must be finite and >= 0, got {variance!r}")
        if self.input_mean is not None and not np.isfinite(self.input_mean).all():
            raise ValueError(f"Normalization: mean must be finite, got {mean!r}")
        self.invert = bool(invert)
        self._axis_arg = axis if not isinstance(axis, list) else tuple(axis)

    def _keep_axes(self, ndim):
        keep = []
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"Normalization: axis must lie in [-{ndim}, {ndim}) for inputs of rank {ndim}, got {a!r}"
                )
            keep.append(a % ndim)
        return tuple(sorted(keep))

    def build(self, input_shape):
        ndim = len(input_shape)
        self._keep = self._keep_axes(ndim)
        if 0 in self._keep:
            raise ValueError(f"Normalization: axis must not include the batch axis 0, got {self._axis_arg!r}")
        if any(input_shape[d] is None for d in self._keep):
            raise ValueError(
                f"Normalization: the kept axes {self._keep} must have known sizes, got input shape {input_shape}"
            )
        self._broadcast = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        shape = tuple(input_shape[d] for d in self._keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=shape, initializer="zeros", name="mean", trainable=False)
            self.adapt_variance = self.add_weight(shape=shape, initializer="ones", name="variance", trainable=False)
            self.count = self.add_weight(shape=(), initializer="zeros", name="count", dtype="int64", trainable=False)
        else:
            try:
                kept = np.broadcast_to(self.input_mean, shape), np.broadcast_to(self.input_variance, shape)
            except ValueError:
                raise ValueError(
                    f"Normalization: mean and variance must broadcast to the kept axes' shape {shape}, "
                    f"got shapes {self.input_mean.shape} and {self.input_variance.shape}"
                ) from None
            self._given = tuple(np.ascontiguousarray(k).reshape(self._broadcast) for k in kept)
        self.built = True

    def _statistics(self, dtype):
        if self.input_mean is None:
            mean, variance = self.adapt_mean.value, self.adapt_variance.value
        else:
            mean, variance = self._given
        mean = np.asarray(mean, dtype).reshape(self._broadcast)
        scale = np.maximum(np.sqrt(np.asarray(variance, dtype)), dtype.type(config.epsilon())).reshape(self._broadcast)
        return mean, scale

    def adapt(self, data, batch_size=None, steps=None):
        """Learn ``mean`` and ``variance`` over the reduced axes of ``data`` (an array or an iterable of batches).

        Batches are merged exactly (Chan et al.'s pairwise update), in float64.
        """
        if self.input_mean is not None:
            raise ValueError("Normalization.adapt: the layer was given mean and variance, got a call to adapt")
        total, mean, m2 = 0, None, None
        for batch in adapt_batches(data, batch_size, steps, "Normalization"):
            x = np.asarray(batch, np.float64)
            if not np.isfinite(x).all():
                raise ValueError("Normalization.adapt: data must be finite, got NaN or inf")
            if not self.built:
                self._build_once((None,) + x.shape[1:])
            reduce = tuple(d for d in range(x.ndim) if d not in self._keep)
            n = int(np.prod([x.shape[d] for d in reduce]))
            if n == 0:
                continue
            b_mean = x.mean(axis=reduce).reshape(-1)
            b_m2 = ((x - x.mean(axis=reduce, keepdims=True)) ** 2).sum(axis=reduce).reshape(-1)
            if mean is None:
                total, mean, m2 = n, b_mean, b_m2
                continue
            delta = b_mean - mean
            new_total = total + n
            mean = mean + delta * (n / new_total)
            m2 = m2 + b_m2 + delta**2 * (total * n / new_total)
            total = new_total
        if mean is None:
            raise ValueError("Normalization.adapt: data must hold at least one sample, got none")
        shape = self.adapt_mean.shape
        self.adapt_mean.assign(mean.reshape(shape))
        self.adapt_variance.assign((m2 / total).reshape(shape))
        self.count.assign(np.asarray(total, np.int64))

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, inputs, training=False):
        mean, scale = self._statistics(inputs.dtype)
        if self.invert:
            return mean + inputs * scale, scale
        return (inputs - mean) / scale, scale

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        return dy * cache if self.invert else dy / cache

    def get_config(self):
        cfg = {**super().get_config(), "axis": self._axis_arg, "invert": self.invert}
        cfg["mean"] = None if self.input_mean is None else self.input_mean.tolist()
        cfg["variance"] = None if self.input_variance is None else self.input_variance.tolist()
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)


class Discretization(DataLayer):
    """Bucket float values by boundaries: ``i`` such that ``bin_boundaries[i-1] <= x < bin_boundaries[i]``.

    Parameters
    ----------
    bin_boundaries : list of float, optional
        Increasing boundaries; ``len(bin_boundaries) + 1`` buckets.
    num_bins : int, optional
        Number of buckets whose boundaries :meth:`adapt` learns (quantiles).
    epsilon : float, default 0.01
        Error tolerance of adapt's quantile summary (Keras' algorithm: data
        summarised in about ``1 / epsilon`` weighted points, boundaries
        interpolated on their cumulative weights; with fewer than ``1 / epsilon``
        values it is exact, ``np.quantile(method="interpolated_inverted_cdf")``).
        The rank error is about ``epsilon`` for one batch and grows with each
        further batch merged, as in Keras; the summary is float64 (Keras: float32).
    output_mode : {"int", "one_hot", "multi_hot", "count"}, default "int"

    Notes
    -----
    Input: float ``(batch, ...)``. Output: int64 bucket indices of the same
    shape (as Keras 3), or float counts (see ``CategoryEncoding``). The
    boundaries live in the config (as in Keras), so they save with the model.
    """

    _input_dtype = None

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse:
            raise UnsupportedArgument(f"Discretization: sparse outputs are not supported, got sparse={sparse!r}")
        self.output_mode = check_choice(output_mode, "output_mode", _CATEGORICAL_MODES, "Discretization")
        if (bin_boundaries is None) == (num_bins is None):
            raise ValueError(
                "Discretization: give exactly one of bin_boundaries and num_bins, "
                f"got bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}"
            )
        self.num_bins = check_positive_int(num_bins, "num_bins", "Discretization", allow_none=True)
        self.bin_boundaries = None if bin_boundaries is None else self._check_boundaries(bin_boundaries)
        self.epsilon = _check_number(epsilon, "epsilon", "Discretization")
        if not 0.0 < self.epsilon < 1.0:
            raise ValueError(f"Discretization: epsilon must lie in (0, 1), got {epsilon!r}")

    @staticmethod
    def _check_boundaries(bins):
        arr = np.asarray(bins, np.float64).reshape(-1)
        if not np.isfinite(arr).all() or (np.diff(arr) < 0).any():
            raise ValueError(f"Discretization: bin_boundaries must be finite and sorted, got {bins!r}")
        return arr.tolist()

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def adapt(self, data, batch_size=None, steps=None):
        """Learn ``num_bins - 1`` boundaries: approximate quantiles of all values of ``data``."""
        if self.num_bins is None:
            raise ValueError("Discretization.adapt: the layer was given bin_boundaries, got a call to adapt")
        summary = np.zeros((2, 0))
        for batch in adapt_batches(data, batch_size, steps, "Discretization"):
            x = np.asarray(batch, np.float64).reshape(-1)
            if not np.isfinite(x).all():
                raise ValueError("Discretization.adapt: data must be finite, got NaN or inf")
            merged = np.concatenate([summary, _summarize(x, self.epsilon)], axis=1)
            summary = _compress(merged[:, np.argsort(merged[0], kind="stable")], self.epsilon)
        if summary.shape[1] == 0:
            raise ValueError("Discretization.adapt: data must hold at least one value, got none")
        self.bin_boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def compute_output_shape(self, input_shape):
        return categorical_shape(input_shape, self.output_mode, self._depth())

    def call(self, inputs, training=False):
        if self.bin_boundaries is None:
            raise ValueError("Discretization: give bin_boundaries or call adapt() before calling the layer")
        indices = np.digitize(inputs, np.asarray(self.bin_boundaries, inputs.dtype)).astype(np.int64)
        return encode_categorical(
            indices, self.output_mode, self._depth(), config.floatx(), owner="Discretization"
        ), None

    def get_config(self):
        return {
            **super().get_config(),
            "bin_boundaries": self.bin_boundaries,
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": False,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        bins = config.pop("bin_boundaries", None) if config.get("num_bins") is not None else None
        layer = cls(**config)
        if bins is not None:  # adapted: both are set, which the constructor refuses
            layer.bin_boundaries = cls._check_boundaries(bins)
        return layer


def _summarize(values, epsilon):
    """About ``1 / epsilon`` of the sorted ``values``, each weighing the gap it stands for."""
    values = np.sort(values)
    step = max(values.size / (1.0 / epsilon), 1.0)
    picked = values[int(step - 1) :: int(step)]
    return np.stack([picked, np.full(picked.shape, step)])


def _compress(summary, epsilon):
    """``summary`` re-cut at cumulative-weight fractions ``epsilon, 2 epsilon, ..., 1`` (unchanged when small)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = np.cumsum(summary[1])
    at = cum / cum[-1]
    points = np.interp(fractions, at, summary[0])
    new_cum = np.interp(fractions, at, cum)
    return np.stack([points, np.diff(new_cum, prepend=0.0)])
