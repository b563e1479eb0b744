"""``LossFunctionWrapper``: a loss from a function written with ``ranvier.ops`` (gradient from the tape)."""

import numpy as np

from .. import ops, serialization
from ..ops import GradientTape
from ._base import Loss, _finite_targets


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

    def _evaluate(self, y_true, y_pred, sample_weight):
        if self.reduction == "none":
            return np.asarray(self.fn(y_true, y_pred, **self._fn_kwargs))
        return self.value(np.asarray(y_true), np.asarray(y_pred), sample_weight)

    def _record(self, y_true, y_pred, sample_weight, refs):
        # The function's own ops record themselves.
        if self.reduction == "none":
            return self.fn(y_true, y_pred, **self._fn_kwargs)
        return self._reduced(y_true, y_pred, sample_weight)

    def get_config(self):
        name = serialization.function_name(self.fn, self.name)
        return {"fn": name, "reduction": self.reduction, "name": self.name, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(serialization.registered_function(config.pop("fn"), "LossFunctionWrapper"), **config)
