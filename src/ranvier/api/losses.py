"""Losses (Keras names, defaults and reduction semantics) with their gradients.

A :class:`Loss` is called as in Keras, ``loss(y_true, y_pred,
sample_weight=None)``. The model uses three more methods:
``prepare_targets`` (validate and cast the targets once per ``fit``),
``value_and_grad`` (loss and gradient in one compiled pass, no validation)
and ``fused_activation`` ("softmax" for categorical crossentropies, "sigmoid"
for binary crossentropy, on probabilities): with ``wrt_preactivation=True``
the gradient is taken w.r.t. the input of that activation, ``p - y``.

Reductions: per-sample losses are averaged over the last axis (summed for
KL divergence and the half squared error); for outputs (N, T, K) there is
one loss per (n, t). ``"sum_over_batch_size"`` divides the weighted sum by
the number of per-sample losses, ``"sum"`` does not, ``"none"`` returns the
weighted per-sample losses from ``__call__`` (``value_and_grad`` then
averages, as the gradient needs a scalar).
"""

import numpy as np

from ..core import _losses as _core
from . import config, ops, serialization
from ._finite import check_finite
from .activations import _float_input
from .ops import GradientTape

__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "HalfSquaredError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "Huber",
    "LogCosh",
    "KLDivergence",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "CosineSimilarity",
    "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy",
    "Dice",
    "Tversky",
    "CTC",
    "mean_squared_error",
    "mean_absolute_error",
    "half_squared_error",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "huber",
    "log_cosh",
    "kl_divergence",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "cosine_similarity",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "dice",
    "tversky",
    "ctc",
    "mse",
    "mae",
    "kld",
    "logcosh",
    "mape",
    "msle",
    "get",
    "serialize",
    "deserialize",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "none")
_EMPTY1 = {np.dtype(t): np.empty(0, t) for t in ("float32", "float64")}
_EMPTY2 = {np.dtype(t): np.empty((0, 0), t) for t in ("float32", "float64")}
_KERNELS = {
    "elementwise": (_core.elementwise_loss, _core.ELEMENTWISE),
    "categorical": (_core.categorical_loss, _core.CATEGORICAL),
    "sparse": (_core.sparse_categorical_loss, _core.SPARSE),
}


def _target_shape(y_shape, output_shape, name):
    """The shape the targets take: the output's, with (N,) and (N, 1) interchangeable."""

    def fits(shape, ref):
        return len(shape) == len(ref) and all(r is None or r == s for s, r in zip(shape, ref))

    out = tuple(output_shape)
    if fits(y_shape, out):
        return tuple(y_shape)
    if out and out[-1] == 1 and fits(y_shape, out[:-1]):
        return tuple(y_shape) + (1,)
    if y_shape and y_shape[-1] == 1 and fits(y_shape[:-1], out):
        return tuple(y_shape[:-1])
    raise ValueError(f"{name}: y must have the shape of the model output {out}, got shape {tuple(y_shape)}")


def _finite_targets(y, name, dtype):
    """Refuse targets that are not numeric, or not finite once cast to ``dtype`` (the output's)."""
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name}: y must be numeric (bool, int or float), got dtype {y.dtype}")
    check_finite(y, dtype, f"{name}: y")


def _row_weights(sample_weight, lead, dtype, name):
    """Sample weights as a flat array with one weight per per-sample loss."""
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name}: sample_weight must be numeric, got dtype {w.dtype}")
    if w.ndim == len(lead) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.shape != lead:
        # (N,) for per-sample losses (N, T, ...): broadcast over the trailing axes, as Keras does.
        if not (0 < w.ndim < len(lead) and w.shape == lead[: w.ndim]):
            alt = f" or {lead[:1]}" if len(lead) > 1 else ""
            raise ValueError(f"{name}: sample_weight must have shape {lead}{alt}, got shape {w.shape}")
        w = np.broadcast_to(w.reshape(w.shape + (1,) * (len(lead) - w.ndim)), lead)
    w = np.ascontiguousarray(w, dtype=dtype).reshape(-1)
    if not np.isfinite(w).all():
        raise ValueError(f"{name}: sample_weight contains NaN or inf")
    return w


class Loss:
    """Base class of losses.

    Parameters
    ----------
    reduction : {"sum_over_batch_size", "sum", "none"}
    name : str, optional

    Notes
    -----
    A custom loss subclasses it and implements ``value_and_grad`` (and
    ``call`` for per-sample losses); see the built-ins.
    """

    #: The final activation this loss can fuse with: "softmax", "sigmoid" or None.
    fused_activation = None
    _family = "elementwise"
    _kernel_name = None

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}")
        self.reduction = reduction
        self.name = name or self._kernel_name or type(self).__name__

    # -------------------------------------------------------------- the kernel
    def _param(self):
        """The kernel's scalar: the clipping epsilon (delta for Huber)."""
        return config.epsilon()

    def _run(self, t, p, w, scale, need_grad, fused):
        kernel, kinds = _KERNELS[self._family]
        kind = kinds[self._kernel_name + ("_fused" if fused else self._suffix())]
        losses = np.empty(p.shape[0], p.dtype)
        grad = np.empty_like(p) if need_grad else _EMPTY2[p.dtype]
        total = kernel(
            kind,
            t,
            p,
            _EMPTY1[p.dtype] if w is None else w,
            self._param(),
            scale,
            losses,
            grad,
            need_grad,
            config.kernel_threads(),
        )
        return total, losses, grad

    def _suffix(self):
        return "_logits" if getattr(self, "from_logits", False) else ""

    def _prepare_dense(self, y, output_shape, dtype):
        """Targets for losses that take a target per output entry."""
        _finite_targets(y, self.name, dtype)
        shape = _target_shape(y.shape, output_shape, self.name)
        return np.ascontiguousarray(y.reshape(shape), dtype=dtype)

    # ------------------------------------------------------------ model API
    def prepare_targets(self, y_true, output_shape, dtype):
        """Validate and cast the targets once (per ``fit``) for ``value_and_grad``.

        Parameters
        ----------
        y_true : array-like
            Targets: same shape as the output (a (N,) vector may stand for
            (N, 1) and back); bool, int or float.
        output_shape : tuple
            Shape of the model output; None entries match anything.
        dtype : float32 or float64
            The output dtype.

        Returns
        -------
        ndarray of ``dtype`` shaped like the output (intp labels for sparse losses).
        """
        return self._prepare_dense(np.asarray(y_true), output_shape, np.dtype(dtype))

    def value_and_grad(self, y_true, y_pred, sample_weight=None, wrt_preactivation=False):
        """The reduced loss and its gradient w.r.t. ``y_pred``, in one pass.

        Parameters
        ----------
        y_true : ndarray from ``prepare_targets``.
        y_pred : ndarray of shape (N, ..., K), float32 or float64, C-contiguous.
        sample_weight : array-like of shape (N,) or y_pred.shape[:-1], optional
        wrt_preactivation : bool
            Give the gradient w.r.t. the input of ``fused_activation``
            (``y_pred`` is then that activation's output).

        Returns
        -------
        loss : float
        grad : ndarray shaped like ``y_pred``, scaled by the reduction and the weights.
        """
        self._check_preactivation(wrt_preactivation)
        t, p, w, scale = self._flat(y_true, y_pred, sample_weight)
        total, _, grad = self._run(t, p, w, scale, True, wrt_preactivation)
        return total * scale, grad.reshape(y_pred.shape)

    def _check_preactivation(self, wrt_preactivation):
        if wrt_preactivation and self.fused_activation is None:
            raise ValueError(
                f"{self.name}: wrt_preactivation needs a loss that fuses with an activation "
                f"(probability crossentropies), got from_logits="
                f"{getattr(self, 'from_logits', None)}"
            )

    def _flat(self, y_true, y_pred, sample_weight):
        """2-D views of prepared targets and predictions, row weights and the reduction's scale."""
        p = y_pred.reshape(-1, y_pred.shape[-1])
        t = y_true.reshape(-1) if self._family == "sparse" else y_true.reshape(p.shape)
        w = None if sample_weight is None else _row_weights(sample_weight, y_pred.shape[:-1], y_pred.dtype, self.name)
        return t, p, w, 1.0 if self.reduction == "sum" else 1.0 / max(p.shape[0], 1)

    def metric_targets(self, y):
        """Targets for the metrics from prepared targets (identity unless the loss recodes labels)."""
        return y

    def value(self, y_true, y_pred, sample_weight=None):
        """The reduced loss only (no gradient): ``value_and_grad``'s first result, for evaluation."""
        t, p, w, scale = self._flat(y_true, y_pred, sample_weight)
        return self._run(t, p, w, scale, False, False)[0] * scale

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss as in Keras: a float, or the weighted per-sample losses for ``reduction="none"``."""
        p = _float_input(y_pred, "y_pred")
        if p.ndim == 0:
            raise ValueError(f"{self.name}: y_pred must have at least one dimension, got a scalar")
        t = self.prepare_targets(y_true, p.shape, p.dtype)
        p2 = p.reshape(-1, p.shape[-1])
        t2 = t.reshape(-1) if self._family == "sparse" else t.reshape(p2.shape)
        w = None if sample_weight is None else _row_weights(sample_weight, p.shape[:-1], p.dtype, self.name)
        total, losses, _ = self._run(t2, p2, w, 1.0, False, False)
        if self.reduction == "none":
            return losses.reshape(p.shape[:-1])
        return float(total) if self.reduction == "sum" else float(total / max(p2.shape[0], 1))

    def call(self, y_true, y_pred):
        """Unweighted per-sample losses, shape ``y_pred.shape[:-1]`` (Keras' ``Loss.call``)."""
        p = _float_input(y_pred, "y_pred")
        t = self.prepare_targets(y_true, p.shape, p.dtype)
        p2 = p.reshape(-1, p.shape[-1] if p.ndim else 1)
        t2 = t.reshape(-1) if self._family == "sparse" else t.reshape(p2.shape)
        return self._run(t2, p2, None, 1.0, False, False)[1].reshape(p.shape[:-1])

    # ----------------------------------------------------------------- config
    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)**2, axis=-1)``."""

    _kernel_name = "mean_squared_error"


class MeanAbsoluteError(Loss):
    """``mean(|y_pred - y_true|, axis=-1)``."""

    _kernel_name = "mean_absolute_error"


class HalfSquaredError(Loss):
    """The lecture's ``E = 0.5 * sum((y_pred - y_true)**2, axis=-1)``; gradient ``y_pred - y_true``."""

    _kernel_name = "half_squared_error"


class _LogitsLoss(Loss):
    """A crossentropy on probabilities (clipped to [eps, 1 - eps]) or on logits."""

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        ls = float(label_smoothing)
        if not 0.0 <= ls <= 1.0:
            raise ValueError(f"{type(self).__name__}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.label_smoothing = ls

    @property
    def fused_activation(self):
        return None if self.from_logits else self._activation

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(_LogitsLoss):
    """``mean(-(y log p + (1 - y) log(1 - p)), axis=-1)``; logits through a stable log-sigmoid.

    ``label_smoothing`` moves targets towards 0.5: ``y * (1 - ls) + 0.5 * ls``.
    """

    _kernel_name = "binary_crossentropy"
    _activation = "sigmoid"

    def prepare_targets(self, y_true, output_shape, dtype):
        y = super().prepare_targets(y_true, output_shape, dtype)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y


class CategoricalCrossentropy(_LogitsLoss):
    """``-sum(y * log(p), axis=-1)`` for one-hot (or soft) targets; logits through log-softmax.

    Probabilities are normalised to sum to 1, then clipped (Keras).
    ``label_smoothing``: ``y * (1 - ls) + ls / K``.
    """

    _family = "categorical"
    _kernel_name = "categorical_crossentropy"
    _activation = "softmax"

    def prepare_targets(self, y_true, output_shape, dtype):
        y = np.asarray(y_true)
        out = tuple(output_shape)
        if y.ndim == len(out) - 1 and out[-1] not in (None, 1) and y.shape[-1:] != out[-1:]:
            raise ValueError(
                f"{self.name}: y must be one-hot with shape {out}, got shape {y.shape}; "
                "for integer class labels use sparse_categorical_crossentropy"
            )
        y = super().prepare_targets(y, output_shape, dtype)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / y.shape[-1]
        return y


class SparseCategoricalCrossentropy(Loss):
    """``-log(p[y])`` for integer class labels ``y`` in ``[0, K)``; logits through log-softmax.

    Targets have the output shape without its last axis (a trailing axis of
    size 1 is accepted). Probabilities are normalised, then clipped (Keras).
    """

    _family = "sparse"
    _kernel_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)

    @property
    def fused_activation(self):
        return None if self.from_logits else "softmax"

    def prepare_targets(self, y_true, output_shape, dtype):
        y = np.asarray(y_true)
        _finite_targets(y, self.name, dtype)
        out = tuple(output_shape)
        k = out[-1]
        shape = _target_shape(y.shape, out[:-1], self.name) if len(out) > 1 else ()
        if len(out) == 1 and y.size != 1:
            raise ValueError(f"{self.name}: y must be one label for y_pred of shape {out}, got shape {y.shape}")
        y = y.reshape(shape)
        if y.dtype.kind == "f" and y.size and not np.array_equal(y, np.floor(y)):
            bad = y[y != np.floor(y)].flat[0]
            raise ValueError(f"{self.name}: y must hold integer class labels, got {bad}")
        if y.size and (y.min() < 0 or y.max() >= k):
            bad = y.min() if y.min() < 0 else y.max()
            raise ValueError(f"{self.name}: y must hold class labels in [0, {k}), got {bad}")
        return np.ascontiguousarray(y, dtype=np.intp)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class Hinge(Loss):
    """``mean(max(1 - y * p, 0), axis=-1)`` for labels in {-1, 1} (0/1 labels are converted)."""

    _kernel_name = "hinge"

    def prepare_targets(self, y_true, output_shape, dtype):
        y = super().prepare_targets(y_true, output_shape, dtype)
        if np.isin(y, (0, 1)).all():
            y = 2 * y - 1
        return y

    def metric_targets(self, y):
        # Metrics (binary accuracy) count in 0/1 labels, whichever the user gave.
        return (y + 1) * 0.5


class SquaredHinge(Hinge):
    """``mean(max(1 - y * p, 0)**2, axis=-1)`` for labels in {-1, 1} (0/1 converted)."""

    _kernel_name = "squared_hinge"


class CategoricalHinge(Loss):
    """``max(max((1 - y) * p) - sum(y * p) + 1, 0)`` for one-hot targets."""

    _family = "categorical"
    _kernel_name = "categorical_hinge"


class Huber(Loss):
    """``mean(0.5 e**2 if |e| <= delta else delta * (|e| - 0.5 delta), axis=-1)``, ``e = p - y``."""

    _kernel_name = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(reduction=reduction, name=name)
        delta = float(delta)
        if not delta > 0 or not np.isfinite(delta):
            raise ValueError(f"Huber: delta must be a finite number > 0, got {delta!r}")
        self.delta = delta

    def _param(self):
        return self.delta

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    """``mean(log(cosh(p - y)), axis=-1)``, computed without overflow."""

    _kernel_name = "log_cosh"


class KLDivergence(Loss):
    """``sum(y * log(y / p), axis=-1)`` with y and p clipped to [eps, 1] (Keras)."""

    _kernel_name = "kl_divergence"


# ------------------------------------------------------------------ NumPy losses
# The losses below are computed in NumPy (vectorised, a loss and its analytic
# gradient in one pass): they reduce over any axes, not only the last one.


def _unit_interval(owner, arg, value):
    """``value`` as a float in [0, 1], or a ValueError naming ``arg``."""
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{owner}: {arg} must be in [0, 1], got {value!r}")
    return v


def _axis_argument(owner, axis, allow_none):
    """``axis`` checked for type: an int, a tuple of ints or (if allowed) None."""
    if axis is None and allow_none:
        return None
    if isinstance(axis, (list, tuple)) and axis and all(_is_int(a) for a in axis):
        return tuple(int(a) for a in axis)
    if _is_int(axis):
        return int(axis)
    kinds = "an int, a tuple of ints or None" if allow_none else "an int or a tuple of ints"
    raise ValueError(f"{owner}: axis must be {kinds}, got {axis!r}")


def _is_int(a):
    return isinstance(a, (int, np.integer)) and not isinstance(a, bool)


def _config_axis(axis):
    return list(axis) if isinstance(axis, tuple) else axis


def _focal_slope(m, gamma):
    """``d(m**gamma)/dm`` for ``m >= 0``; 0 where it is unbounded (``m == 0`` with ``gamma < 1``)."""
    if gamma == 0:
        return np.zeros_like(m)
    if gamma >= 1:
        return gamma * m ** (gamma - 1)
    return gamma * np.power(m, gamma - 1, out=np.zeros_like(m), where=m > 0)


def _check_probabilities(owner, p):
    if p.size and (p.min() < 0 or p.max() > 1):
        bad = float(p.min() if p.min() < 0 else p.max())
        raise ValueError(f"{owner}: y_pred must be probabilities in [0, 1] (or use from_logits=True), got {bad!r}")


class _AxisLoss(Loss):
    """A loss computed in NumPy, reduced over ``_axes`` of ``y_pred`` (the last one unless told).

    Subclasses implement ``_compute(t, p, axes, need_grad)`` returning the
    per-sample losses with the reduced axes kept (size 1) and, when asked,
    their gradient w.r.t. ``p`` (each entry of ``p`` feeds one loss).
    The per-sample losses have the shape of ``y_pred`` without ``axes``;
    ``"sum_over_batch_size"`` divides by their number (Keras).
    """

    def _axes(self, ndim):
        axis = getattr(self, "axis", -1)
        axes = tuple(range(ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(f"{self.name}: axis must be within the {ndim} axes of y_pred, got axis={axis!r}")
        axes = tuple(sorted({a % ndim for a in axes}))
        return axes

    def _reduce(self, t, p, sample_weight, need_grad):
        """(weighted sum, weighted per-sample losses, reduction scale, gradient or None)."""
        axes = self._axes(p.ndim)
        losses, grad = self._compute(t, p, axes, need_grad)
        losses = np.squeeze(losses, axis=axes)
        w = None
        if sample_weight is not None:
            if losses.ndim == 0:
                raise ValueError(
                    f"{self.name}: sample_weight needs one loss per sample but the loss reduces every "
                    f"axis of y_pred; set axis, got axis={getattr(self, 'axis', None)!r}"
                )
            w = _row_weights(sample_weight, losses.shape, p.dtype, self.name).reshape(losses.shape)
            losses = losses * w
        scale = 1.0 if self.reduction == "sum" else 1.0 / max(losses.size, 1)
        if need_grad:
            grad *= scale if w is None else np.expand_dims(scale * w, axes)
        return float(np.sum(losses, dtype=np.float64)), losses, scale, grad

    def value_and_grad(self, y_true, y_pred, sample_weight=None, wrt_preactivation=False):
        self._check_preactivation(wrt_preactivation)
        total, _, scale, grad = self._reduce(y_true, y_pred, sample_weight, True)
        return total * scale, grad

    def value(self, y_true, y_pred, sample_weight=None):
        total, _, scale, _ = self._reduce(y_true, y_pred, sample_weight, False)
        return total * scale

    def __call__(self, y_true, y_pred, sample_weight=None):
        p = _float_input(y_pred, "y_pred")
        if p.ndim == 0:
            raise ValueError(f"{self.name}: y_pred must have at least one dimension, got a scalar")
        t = self.prepare_targets(y_true, p.shape, p.dtype)
        total, losses, scale, _ = self._reduce(t, p, sample_weight, False)
        if self.reduction == "none":
            return losses
        return total if self.reduction == "sum" else total * scale

    def call(self, y_true, y_pred):
        p = _float_input(y_pred, "y_pred")
        t = self.prepare_targets(y_true, p.shape, p.dtype)
        return np.squeeze(self._compute(t, p, self._axes(p.ndim), False)[0], axis=self._axes(p.ndim))


def _mean(x, axes):
    return np.mean(x, axis=axes, keepdims=True)


def _count(p, axes):
    return int(np.prod([p.shape[a] for a in axes]))


class MeanAbsolutePercentageError(_AxisLoss):
    """``100 * mean(|y - p| / max(|y|, eps), axis=-1)`` (Keras)."""

    _kernel_name = "mean_absolute_percentage_error"

    def _compute(self, t, p, axes, need_grad):
        k = 100.0 / _count(p, axes) / np.maximum(np.abs(t), config.epsilon())
        e = p - t
        return np.sum(np.abs(e) * k, axis=axes, keepdims=True), (np.sign(e) * k if need_grad else None)


class MeanSquaredLogarithmicError(_AxisLoss):
    """``mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))**2, axis=-1)`` (Keras)."""

    _kernel_name = "mean_squared_logarithmic_error"

    def _compute(self, t, p, axes, need_grad):
        eps = config.epsilon()
        q = np.maximum(p, eps) + 1
        d = np.log(q) - np.log(np.maximum(t, eps) + 1)
        grad = (2.0 / _count(p, axes)) * d / q * (p > eps) if need_grad else None
        return _mean(d * d, axes), grad


class Poisson(_AxisLoss):
    """``mean(p - y * log(p + eps), axis=-1)`` (Keras); ``y_pred`` are rates, ``>= 0``."""

    _kernel_name = "poisson"

    def _compute(self, t, p, axes, need_grad):
        q = p + config.epsilon()
        if q.size and q.min() <= 0:
            raise ValueError(
                f"{self.name}: y_pred must be rates >= 0 (e.g. an exp or softplus output), got {float(p.min())!r}"
            )
        grad = (1 - t / q) / _count(p, axes) if need_grad else None
        return _mean(p - t * np.log(q), axes), grad


class CosineSimilarity(_AxisLoss):
    """``-sum(l2_normalize(y) * l2_normalize(p), axis)`` (Keras): -1 for parallel vectors.

    ``l2_normalize(x) = x / max(||x||, eps)``, so a zero vector gives 0.

    Parameters
    ----------
    axis : int or tuple of ints
        The axes the similarity runs over; the per-sample losses have the
        other axes of ``y_pred``.
    reduction, name
        As for :class:`Loss`.
    """

    _kernel_name = "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name)
        self.axis = _axis_argument("CosineSimilarity", axis, allow_none=False)

    def _compute(self, t, p, axes, need_grad):
        tiny = config.epsilon() ** 2
        ny = t / np.sqrt(np.maximum(np.sum(t * t, axis=axes, keepdims=True), tiny))
        sq = np.sum(p * p, axis=axes, keepdims=True)
        r = 1 / np.sqrt(np.maximum(sq, tiny))
        cos = np.sum(ny * p, axis=axes, keepdims=True) * r
        # Below the clamp the norm is a constant: only the numerator varies.
        grad = -r * (ny - p * r * cos * (sq > tiny)) if need_grad else None
        return -cos, grad

    def get_config(self):
        return {**super().get_config(), "axis": _config_axis(self.axis)}


class BinaryFocalCrossentropy(_AxisLoss):
    """Binary crossentropy scaled by the focal factor ``(1 - p_t)**gamma`` (Lin et al., 2018; Keras).

    Per entry ``w * (1 - p_t)**gamma * bce(y, p)`` with
    ``p_t = y p + (1 - y)(1 - p)`` and ``w = alpha y + (1 - alpha)(1 - y)``
    if ``apply_class_balancing`` else 1; the mean over ``axis``. ``bce``
    clips probabilities to [eps, 1 - eps] as Keras does. With
    ``from_logits=True`` ``bce`` is computed from the logits without clipping
    (a stable log-sigmoid), unlike Keras, which takes the sigmoid and clips:
    the two agree for logits of magnitude below ~16 and ranvier keeps a
    gradient beyond.

    Parameters
    ----------
    apply_class_balancing : bool
    alpha : float in [0, 1]
        Weight of class 1 under class balancing (0 gets ``1 - alpha``).
    gamma : float >= 0
        Focusing parameter; 0 gives binary crossentropy.
    from_logits : bool
    label_smoothing : float in [0, 1]
        Targets become ``y (1 - ls) + 0.5 ls``.
    axis : int or tuple of ints
    reduction, name
        As for :class:`Loss`.
    """

    _kernel_name = "binary_focal_crossentropy"

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.apply_class_balancing = bool(apply_class_balancing)
        self.alpha = _unit_interval(owner, "alpha", alpha)
        self.gamma = _focal_gamma(owner, gamma)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _unit_interval(owner, "label_smoothing", label_smoothing)
        self.axis = _axis_argument(owner, axis, allow_none=False)

    def _compute(self, t, p, axes, need_grad):
        ls = self.label_smoothing
        y = t * (1 - ls) + 0.5 * ls if ls else t
        if self.from_logits:
            e = np.exp(-np.abs(p))
            prob = np.where(p >= 0, 1, e) / (1 + e)
            bce = np.maximum(p, 0) - p * y + np.log1p(e)
            dbce, dprob = prob - y, prob * (1 - prob)
        else:
            _check_probabilities(self.name, p)
            eps = config.epsilon()
            q = np.clip(p, eps, 1 - eps)
            bce = -(y * np.log(q) + (1 - y) * np.log(1 - q))
            # The clipped part has zero gradient, as in Keras.
            dbce, dprob = (q - y) / (q * (1 - q)) * (q == p), 1
            prob = p
        m = y * (1 - prob) + (1 - y) * prob  # 1 - p_t
        f = m**self.gamma
        cw = y * self.alpha + (1 - y) * (1 - self.alpha) if self.apply_class_balancing else 1
        n = _count(p, axes)
        losses = np.sum(cw * f * bce, axis=axes, keepdims=True) / n
        if not need_grad:
            return losses, None
        return losses, cw * (_focal_slope(m, self.gamma) * (1 - 2 * y) * dprob * bce + f * dbce) / n

    def get_config(self):
        return {
            **super().get_config(),
            "apply_class_balancing": self.apply_class_balancing,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": _config_axis(self.axis),
        }


def _focal_gamma(owner, gamma):
    g = float(gamma)
    if not (g >= 0 and np.isfinite(g)):
        raise ValueError(f"{owner}: gamma must be a finite number >= 0, got {gamma!r}")
    return g


class CategoricalFocalCrossentropy(_AxisLoss):
    """Categorical crossentropy scaled by ``alpha * (1 - p)**gamma`` per class (Lin et al., 2018; Keras).

    ``sum(-alpha * (1 - o)**gamma * y * log(o), axis)`` with ``o`` the
    probabilities normalised to sum to 1 and clipped to [eps, 1 - eps]
    (Keras). With ``from_logits=True`` ``o = softmax(y_pred)`` and
    ``log(o)`` is a log-softmax, not clipped (Keras clips; they agree unless
    a probability is within eps of 0 or 1).

    Parameters
    ----------
    alpha : float or sequence of floats
        Weight per class (a sequence has one entry per class).
    gamma : float >= 0
    from_logits : bool
    label_smoothing : float in [0, 1]
        Targets become ``y (1 - ls) + ls / K``.
    axis : int
        The class axis.
    reduction, name
        As for :class:`Loss`.
    """

    _kernel_name = "categorical_focal_crossentropy"

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        if isinstance(alpha, (list, tuple, np.ndarray)):
            a = np.asarray(alpha, dtype=float)
            if a.ndim != 1 or a.size == 0 or not np.isfinite(a).all():
                raise ValueError(f"{owner}: alpha must be a float or a list of floats, one per class, got {alpha!r}")
            self.alpha = [float(v) for v in a]
        else:
            self.alpha = float(alpha)
            if not np.isfinite(self.alpha):
                raise ValueError(f"{owner}: alpha must be finite, got {alpha!r}")
        self.gamma = _focal_gamma(owner, gamma)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _unit_interval(owner, "label_smoothing", label_smoothing)
        if not _is_int(axis):
            raise ValueError(f"{owner}: axis must be an int (the class axis), got {axis!r}")
        self.axis = int(axis)

    def _class_weights(self, p, axis):
        if not isinstance(self.alpha, list):
            return self.alpha
        if len(self.alpha) != p.shape[axis]:
            raise ValueError(
                f"{self.name}: alpha must have one weight per class ({p.shape[axis]}), got {len(self.alpha)} weights"
            )
        shape = [1] * p.ndim
        shape[axis] = -1
        return np.asarray(self.alpha, p.dtype).reshape(shape)

    def _compute(self, t, p, axes, need_grad):
        (a,) = axes
        ls = self.label_smoothing
        y = t * (1 - ls) + ls / p.shape[a] if ls else t
        c = self._class_weights(p, a) * y
        g = self.gamma
        if self.from_logits:
            z = p - p.max(axis=a, keepdims=True)
            logo = z - np.log(np.sum(np.exp(z), axis=a, keepdims=True))
            o = np.exp(logo)
            f = (1 - o) ** g
            losses = -np.sum(c * f * logo, axis=a, keepdims=True)
            if not need_grad:
                return losses, None
            h = -c * (f - _focal_slope(1 - o, g) * o * logo)
            return losses, h - o * np.sum(h, axis=a, keepdims=True)
        _check_probabilities(self.name, p)
        eps = config.epsilon()
        s = np.sum(p, axis=a, keepdims=True)
        u = p / s
        o = np.clip(u, eps, 1 - eps)
        f = (1 - o) ** g
        logo = np.log(o)
        losses = -np.sum(c * f * logo, axis=a, keepdims=True)
        if not need_grad:
            return losses, None
        du = c * (_focal_slope(1 - o, g) * logo - f / o) * (o == u)
        return losses, (du - np.sum(du * u, axis=a, keepdims=True)) / s

    def get_config(self):
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "gamma": self.gamma,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class Dice(_AxisLoss):
    """``1 - 2 sum(y p) / (sum(y) + sum(p) + eps)`` over ``axis`` (Keras).

    Parameters
    ----------
    reduction, name
        As for :class:`Loss`.
    axis : int, tuple of ints or None
        The axes summed over; None (Keras' default) sums over every axis,
        giving one loss for the whole batch (no ``sample_weight`` then);
        ``axis=(1, 2, 3)`` gives one loss per image.
    """

    _kernel_name = "dice"

    def __init__(self, reduction="sum_over_batch_size", name=None, axis=None):
        super().__init__(reduction=reduction, name=name)
        self.axis = _axis_argument(type(self).__name__, axis, allow_none=True)

    def _compute(self, t, p, axes, need_grad):
        inter = np.sum(t * p, axis=axes, keepdims=True)
        total = np.sum(t, axis=axes, keepdims=True) + np.sum(p, axis=axes, keepdims=True) + config.epsilon()
        ratio = 2 * inter / total
        return 1 - ratio, ((ratio - 2 * t) / total if need_grad else None)

    def get_config(self):
        return {**super().get_config(), "axis": _config_axis(self.axis)}


class Tversky(_AxisLoss):
    """``1 - TP / (TP + alpha FP + beta FN + eps)`` over ``axis`` (Salehi et al., 2017; Keras).

    ``TP = sum(p y)``, ``FP = sum(p (1 - y))``, ``FN = sum((1 - p) y)``;
    ``alpha = beta = 0.5`` is the Dice loss.

    Parameters
    ----------
    alpha : float
        Weight of false positives.
    beta : float
        Weight of false negatives.
    reduction, name
        As for :class:`Loss`.
    axis : int, tuple of ints or None
        As for :class:`Dice`.
    """

    _kernel_name = "tversky"

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name=None, axis=None):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        for arg, value in (("alpha", alpha), ("beta", beta)):
            if not (float(value) >= 0 and np.isfinite(float(value))):
                raise ValueError(f"{owner}: {arg} must be a finite number >= 0, got {value!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.axis = _axis_argument(owner, axis, allow_none=True)

    def _compute(self, t, p, axes, need_grad):
        a, b = self.alpha, self.beta
        tp = np.sum(p * t, axis=axes, keepdims=True)
        fp = np.sum(p * (1 - t), axis=axes, keepdims=True)
        fn = np.sum((1 - p) * t, axis=axes, keepdims=True)
        denom = tp + a * fp + b * fn + config.epsilon()
        if not need_grad:
            return 1 - tp / denom, None
        return 1 - tp / denom, (tp * (t + a * (1 - t) - b * t) - t * denom) / denom**2

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "axis": _config_axis(self.axis)}


class CTC(_AxisLoss):
    """Connectionist temporal classification loss (Graves et al., 2006), as ``keras.losses.CTC``.

    ``y_true`` (N, L): integer labels in ``[1, C)``, padded at the end with
    0, which is also the blank (Keras' ``mask_index=0``). ``y_pred``
    (N, T, C): logits, not softmax outputs (a log-softmax is taken over C).
    The per-sample loss is ``-log P(labels | y_pred)`` summed over every
    alignment, by the forward-backward recursions in log space (float64,
    vectorised over samples and label positions, T steps); every input
    sequence uses all T steps. A label sequence that needs more than T
    steps (its length plus its repeated neighbours) has probability 0: it is
    refused with a ValueError instead of giving an infinite loss.
    """

    _kernel_name = "ctc"

    def _axes(self, ndim):
        return (1, 2)

    def prepare_targets(self, y_true, output_shape, dtype):
        y = np.asarray(y_true)
        _finite_targets(y, self.name, dtype)
        out = tuple(output_shape)
        if len(out) != 3:
            raise ValueError(f"{self.name}: y_pred must have shape (batch, time, classes), got shape {out}")
        if y.ndim != 2 or (out[0] is not None and y.shape[0] != out[0]):
            raise ValueError(
                f"{self.name}: y_true must have shape (batch, max_label_length) = ({out[0]}, L), got shape {y.shape}"
            )
        if y.dtype.kind == "f" and y.size and not np.array_equal(y, np.floor(y)):
            raise ValueError(
                f"{self.name}: y_true must hold integer labels, got {float(y[y != np.floor(y)].flat[0])!r}"
            )
        labels = y.astype(np.intp)
        if labels.size and (labels.min() < 0 or (out[2] is not None and labels.max() >= out[2])):
            bad = int(labels.min() if labels.min() < 0 else labels.max())
            raise ValueError(f"{self.name}: y_true must hold labels in [1, {out[2]}) padded with 0, got {bad!r}")
        after_pad = np.cumsum(labels == 0, axis=1) > 0
        if np.any(after_pad & (labels != 0)):
            row = int(np.argmax(np.any(after_pad & (labels != 0), axis=1)))
            raise ValueError(
                f"{self.name}: y_true must be padded with 0 only at the end (0 is the blank), "
                f"got {labels[row].tolist()!r} in row {row}"
            )
        if out[1] is not None:
            _ctc_check_feasible(labels, out[1], self.name)
        return np.ascontiguousarray(labels)

    def _compute(self, t, p, axes, need_grad):
        _ctc_check_feasible(t, p.shape[1], self.name)
        losses, grad = _ctc(t, p, need_grad)
        return losses.astype(p.dtype)[:, None, None], (grad.astype(p.dtype) if need_grad else None)


def _ctc_check_feasible(labels, steps, name):
    """Refuse label sequences no alignment of ``steps`` time steps can produce."""
    repeats = np.sum((labels[:, 1:] == labels[:, :-1]) & (labels[:, 1:] != 0), axis=1)
    needed = np.count_nonzero(labels, axis=1) + repeats
    if needed.size and needed.max() > steps:
        row = int(np.argmax(needed))
        raise ValueError(
            f"{name}: the labels of sample {row} need at least {int(needed[row])} time steps but y_pred has "
            f"{steps}, got labels {labels[row].tolist()!r}"
        )


def _ctc(labels, logits, need_grad):
    """CTC negative log-likelihoods (N,) and their gradient w.r.t. the logits (N, T, C), in float64.

    The extended sequence interleaves blanks with the labels, ``0 l1 0 l2 ... 0``
    (S = 2L + 1 states); ``alpha[t, n, s]`` is the log-probability of the
    prefixes ending in state ``s`` at step ``t`` (its emission included),
    ``beta[t, n, s]`` that of the suffixes after step ``t`` from state ``s``.
    """
    x = logits.astype(np.float64)
    z = x - x.max(axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    n, steps, _ = x.shape
    states = 2 * labels.shape[1] + 1
    ext = np.zeros((n, states), np.intp)
    ext[:, 1::2] = labels
    # A jump s-2 -> s skips a blank: allowed onto a label unlike the one before it.
    skip = np.zeros((n, states), bool)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    emit = np.take_along_axis(logp, np.broadcast_to(ext[:, None, :], (n, steps, states)), axis=2)
    rows = np.arange(n)
    last = 2 * np.count_nonzero(labels, axis=1)  # the final blank
    alpha = np.full((steps, n, states), -np.inf)
    alpha[0, :, :2] = emit[:, 0, :2]
    for t in range(1, steps):
        a = alpha[t - 1]
        prev = a.copy()
        prev[:, 1:] = np.logaddexp(prev[:, 1:], a[:, :-1])
        prev[:, 2:] = np.where(skip[:, 2:], np.logaddexp(prev[:, 2:], a[:, :-2]), prev[:, 2:])
        alpha[t] = prev + emit[:, t]
    end = alpha[steps - 1]
    loglik = np.logaddexp(end[rows, last], np.where(last > 0, end[rows, last - 1], -np.inf))
    if not need_grad:
        return -loglik, None
    beta = np.full((steps, n, states), -np.inf)
    beta[steps - 1, rows, last] = 0
    beta[steps - 1, rows[last > 0], last[last > 0] - 1] = 0
    for t in range(steps - 2, -1, -1):
        b = beta[t + 1] + emit[:, t + 1]
        nxt = b.copy()
        nxt[:, :-1] = np.logaddexp(nxt[:, :-1], b[:, 1:])
        nxt[:, :-2] = np.where(skip[:, 2:], np.logaddexp(nxt[:, :-2], b[:, 2:]), nxt[:, :-2])
        beta[t] = nxt
    # Posterior occupancy of each state, gathered per class: d(-loglik)/dz = softmax - occupancy.
    occupancy = np.exp(alpha + beta - loglik[None, :, None]).transpose(1, 0, 2)
    onehot = np.zeros((n, states, x.shape[2]))
    np.put_along_axis(onehot, ext[:, :, None], 1.0, axis=2)
    return -loglik, np.exp(logp) - occupancy @ onehot


def _per_sample(cls, doc):
    def fn(y_true, y_pred, **kwargs):
        return cls(reduction="none", **kwargs)(y_true, y_pred)

    fn.__name__ = cls._kernel_name
    fn.__qualname__ = cls._kernel_name
    fn.__doc__ = f"Per-sample {doc} losses, shape ``y_pred.shape[:-1]`` (no reduction)."
    return fn


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample binary crossentropy, shape ``y_pred.shape[:-1]``."""
    return BinaryCrossentropy(from_logits, label_smoothing, reduction="none")(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample categorical crossentropy, shape ``y_pred.shape[:-1]``."""
    return CategoricalCrossentropy(from_logits, label_smoothing, reduction="none")(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample sparse categorical crossentropy, shape ``y_pred.shape[:-1]``."""
    return SparseCategoricalCrossentropy(from_logits, reduction="none")(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber losses, shape ``y_pred.shape[:-1]``."""
    return Huber(delta, reduction="none")(y_true, y_pred)


mean_squared_error = mse = _per_sample(MeanSquaredError, "mean squared error")
mean_absolute_error = mae = _per_sample(MeanAbsoluteError, "mean absolute error")
half_squared_error = _per_sample(HalfSquaredError, "half squared error")
hinge = _per_sample(Hinge, "hinge")
squared_hinge = _per_sample(SquaredHinge, "squared hinge")
categorical_hinge = _per_sample(CategoricalHinge, "categorical hinge")
log_cosh = logcosh = _per_sample(LogCosh, "log-cosh")
kl_divergence = kld = _per_sample(KLDivergence, "Kullback-Leibler divergence")
mean_absolute_percentage_error = mape = _per_sample(MeanAbsolutePercentageError, "mean absolute percentage error")
mean_squared_logarithmic_error = msle = _per_sample(MeanSquaredLogarithmicError, "mean squared logarithmic error")
poisson = _per_sample(Poisson, "Poisson")
ctc = _per_sample(CTC, "CTC")


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample cosine similarity losses (``-cos``), shape ``y_pred.shape`` without ``axis``."""
    return CosineSimilarity(axis, reduction="none")(y_true, y_pred)


def binary_focal_crossentropy(
    y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Per-sample binary focal crossentropy, shape ``y_pred.shape`` without ``axis``."""
    loss = BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits, label_smoothing, axis, "none")
    return loss(y_true, y_pred)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Per-sample categorical focal crossentropy, shape ``y_pred.shape`` without ``axis``."""
    return CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis, "none")(y_true, y_pred)


def dice(y_true, y_pred, axis=None):
    """Dice losses, shape ``y_pred.shape`` without ``axis`` (a scalar for ``axis=None``)."""
    return Dice("none", axis=axis)(y_true, y_pred)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """Tversky losses, shape ``y_pred.shape`` without ``axis`` (a scalar for ``axis=None``)."""
    return Tversky(alpha, beta, "none", axis=axis)(y_true, y_pred)


_CLASSES = [
    MeanSquaredError,
    MeanAbsoluteError,
    HalfSquaredError,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    Huber,
    LogCosh,
    KLDivergence,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Poisson,
    CosineSimilarity,
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    Dice,
    Tversky,
    CTC,
]
_ALIASES = {cls._kernel_name: cls for cls in _CLASSES}
_ALIASES.update(
    {
        "mse": MeanSquaredError,
        "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "MAE": MeanAbsoluteError,
        "kld": KLDivergence,
        "KLD": KLDivergence,
        "kullback_leibler_divergence": KLDivergence,
        "logcosh": LogCosh,
        "mape": MeanAbsolutePercentageError,
        "MAPE": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "MSLE": MeanSquaredLogarithmicError,
        "bce": BinaryCrossentropy,
        "BCE": BinaryCrossentropy,
    }
)
_FUNCTIONS = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    half_squared_error: HalfSquaredError,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    huber: Huber,
    log_cosh: LogCosh,
    kl_divergence: KLDivergence,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    poisson: Poisson,
    cosine_similarity: CosineSimilarity,
    binary_focal_crossentropy: BinaryFocalCrossentropy,
    categorical_focal_crossentropy: CategoricalFocalCrossentropy,
    dice: Dice,
    tversky: Tversky,
    ctc: CTC,
}


class LossFunctionWrapper(Loss):
    """A loss from a function ``fn(y_true, y_pred, **kwargs)`` giving per-sample losses (Keras 3).

    The function is written with ``ranvier.ops``; its gradient comes from
    recording those ops on a tape (no hand-written gradient). Targets reach
    it as given (floats cast to the output dtype). Saving stores the function
    by its registered name (``rv.saving.register_keras_serializable``).

    Parameters
    ----------
    fn : callable
    reduction : {"sum_over_batch_size", "sum", "none"}
    name : str, optional
        Defaults to ``fn.__name__``.
    **kwargs
        Passed to ``fn``.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: fn must be callable, got {fn!r}")
        super().__init__(reduction, name or getattr(fn, "__name__", None))
        self.fn = fn
        self._fn_kwargs = kwargs

    def prepare_targets(self, y_true, output_shape, dtype):
        y = np.asarray(y_true)
        _finite_targets(y, self.name, dtype)
        return np.ascontiguousarray(y, dtype=dtype) if y.dtype.kind in "fb" else y

    def _reduced(self, y_true, y_pred, sample_weight):
        losses = self.fn(y_true, y_pred, **self._fn_kwargs)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=y_pred.dtype)
            losses = losses * w.reshape(w.shape + (1,) * (len(losses.shape) - w.ndim))
        return ops.sum(losses) if self.reduction == "sum" else ops.mean(losses)

    def value_and_grad(self, y_true, y_pred, sample_weight=None, wrt_preactivation=False):
        if wrt_preactivation:
            raise ValueError(f"{self.name}: a function loss cannot fold an activation, got wrt_preactivation=True")
        with GradientTape() as tape:
            pred = tape.watch(y_pred)
            total = self._reduced(y_true, pred, sample_weight)
        grad = tape.gradient(total, pred, unconnected_gradients="zero")
        return float(np.asarray(total)), grad

    def value(self, y_true, y_pred, sample_weight=None):
        return float(np.asarray(self._reduced(y_true, y_pred, sample_weight)))

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.reduction == "none":
            return np.asarray(self.fn(y_true, y_pred, **self._fn_kwargs))
        return self.value(np.asarray(y_true), np.asarray(y_pred), sample_weight)

    def get_config(self):
        name = serialization.function_name(self.fn, self.name)
        return {"fn": name, "reduction": self.reduction, "name": self.name, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(serialization.registered_function(config.pop("fn"), "LossFunctionWrapper"), **config)


def _from_function(fn):
    if fn in _FUNCTIONS:
        return _FUNCTIONS[fn]()
    return LossFunctionWrapper(fn)


serialization.register_family("loss", Loss, [*_CLASSES, LossFunctionWrapper], _ALIASES, coerce=_from_function)


def serialize(loss):
    """``{"class_name", "config"}`` of a loss (JSON types)."""
    return serialization.serialize(loss, "loss")


def deserialize(config, custom_objects=None):
    """A Loss from ``serialize``'s dict or a name; ``custom_objects`` maps names to Loss classes."""
    return serialization.deserialize(config, "loss", custom_objects)


def get(identifier):
    """A Loss from a name (``"mse"``, ``"sparse_categorical_crossentropy"``, ``"Huber"``), a
    config dict, a Loss instance or class, or a module function (``losses.mean_squared_error``).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).
    TypeError
        For other callables: ranvier needs the gradient, so a custom loss
        must subclass ``Loss`` and implement ``value_and_grad``.
    """
    return serialization.get(identifier, "loss")
