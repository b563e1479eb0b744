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
    "mse",
    "mae",
    "kld",
    "logcosh",
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
        if wrt_preactivation and self.fused_activation is None:
            raise ValueError(
                f"{self.name}: wrt_preactivation needs a loss that fuses with an activation "
                f"(probability crossentropies), got from_logits="
                f"{getattr(self, 'from_logits', None)}"
            )
        t, p, w, scale = self._flat(y_true, y_pred, sample_weight)
        total, _, grad = self._run(t, p, w, scale, True, wrt_preactivation)
        return total * scale, grad.reshape(y_pred.shape)

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

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None):
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
