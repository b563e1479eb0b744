"""Losses computed in NumPy, a loss and its analytic gradient in one vectorised pass.

They reduce over any axes of ``y_pred``, not only the last one.
"""

import numpy as np

from .. import config
from ..activations import _float_input
from ._base import Loss, _row_weights


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

    def _evaluate(self, y_true, y_pred, sample_weight):
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
        axes = self._axes(p.ndim)
        return np.squeeze(self._compute(t, p, axes, False)[0], axis=axes)


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
        _focal_arguments(self, gamma, from_logits, label_smoothing)
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


def _focal_arguments(loss, gamma, from_logits, label_smoothing):
    """Check and set the arguments both focal losses take."""
    owner = type(loss).__name__
    g = float(gamma)
    if not (g >= 0 and np.isfinite(g)):
        raise ValueError(f"{owner}: gamma must be a finite number >= 0, got {gamma!r}")
    loss.gamma, loss.from_logits = g, bool(from_logits)
    loss.label_smoothing = _unit_interval(owner, "label_smoothing", label_smoothing)


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
        _focal_arguments(self, gamma, from_logits, label_smoothing)
        if not _is_int(axis):
            raise ValueError(f"{owner}: axis must be an int (the class axis), got {axis!r}")
        self.axis = int(axis)

    def _class_weights(self, p, axis):
        if not isinstance(self.alpha, list):
            return self.alpha
        if len(self.alpha) != p.shape[axis]:
            raise ValueError(
                f"{self.name}: alpha must have one weight per class ({p.shape[axis]}), "
                f"got {len(self.alpha)} weights {self.alpha!r}"
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
