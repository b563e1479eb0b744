"""Losses computed by the compiled kernels of ``core/_losses.pyx`` (one fused pass)."""

import numpy as np

from ._base import Loss, _finite_targets, _target_shape


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
                f"{self.name}: y must be one-hot with shape {out} (for integer class labels use "
                f"sparse_categorical_crossentropy), got shape {y.shape}"
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
            raise ValueError(f"{self.name}: y must hold integer class labels, got {float(bad)!r}")
        if y.size and (y.min() < 0 or y.max() >= k):
            bad = y.min() if y.min() < 0 else y.max()
            raise ValueError(f"{self.name}: y must hold class labels in [0, {k}), got {bad.item()!r}")
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
