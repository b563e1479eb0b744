"""The ``Loss`` base class, its reductions and target checks (see the package docstring)."""

import copy

import numpy as np

from ...core import _losses as _core
from .. import config
from .._finite import check_finite
from ..activations import _float_input
from ..ops import _tape

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
    check_finite(w, dtype, f"{name}: sample_weight")
    return w


def _plain(x):
    """The array behind a Tensor (others as they are)."""
    return x.value if type(x) is _tape.Tensor else x


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
                f"(probability crossentropies), got from_logits={getattr(self, 'from_logits', None)!r}"
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
        """The loss as in Keras: a float, or the weighted per-sample losses for ``reduction="none"``.

        With ``y_pred`` recorded on a ``GradientTape`` (a custom training loop, a
        layer's ``add_loss``), a Tensor recorded there too, whose gradient is the
        loss's own: ``tape.gradient`` reaches the weights behind ``y_pred``.
        """
        refs = _tape.recording(y_pred)
        if refs is None:
            return self._evaluate(_plain(y_true), _plain(y_pred), _plain(sample_weight))
        return self._record(_plain(y_true), y_pred, _plain(sample_weight), refs)

    def _record(self, y_true, y_pred, sample_weight, refs):
        """``__call__`` on a recorded ``y_pred``: the value recorded with ``value_and_grad``'s gradient."""
        p = _float_input(y_pred.value, "y_pred")
        t = self.prepare_targets(y_true, p.shape, p.dtype)
        if self.reduction != "none":
            value, grad = self.value_and_grad(t, p, sample_weight)
            return _tape.record(np.asarray(value, p.dtype), refs, lambda g: [grad * g])
        losses = np.asarray(self._evaluate(y_true, p, sample_weight), p.dtype)
        summed = copy.copy(self)
        summed.reduction = "sum"

        def backward(g):
            # d(sum_i g_i loss_i) / dp: the summed loss with the gradient as per-sample weights.
            w = np.broadcast_to(g, losses.shape)
            if sample_weight is not None:
                w = w * _row_weights(sample_weight, losses.shape, p.dtype, self.name).reshape(losses.shape)
            return [summed.value_and_grad(t, p, w)[1]]

        return _tape.record(losses, refs, backward)

    def _evaluate(self, y_true, y_pred, sample_weight):
        """``__call__`` on plain arrays."""
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
