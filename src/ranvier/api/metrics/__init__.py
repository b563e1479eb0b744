"""Stateful metrics with the Keras interface: ``update_state``, ``result``, ``reset_state``.

A metric accumulates totals over the batches of an epoch in float64, so its
result does not depend on the batch size. Its ``name`` is the key it gets in
the training logs and in ``History.history`` (``"accuracy"``, ``"val_mae"``).

``get("accuracy", loss_name, output_shape)`` picks binary, categorical or
sparse categorical accuracy as Keras does; other strings are Keras' metric
names and aliases, and the metric is named after the string it came from
(``metrics=["mae"]`` gives the history key ``"mae"``), as in Keras 3.

Modules: ``base`` (Metric, Mean, Sum, MeanMetricWrapper), ``accuracy``,
``confusion`` (counts, precision/recall, the ``*At*`` family), ``auc``,
``regression``, ``probabilistic``, ``hinge``, ``iou``, ``f_score``,
``correlation``.
"""

from .. import serialization
from . import accuracy as _accuracy
from . import auc as _auc
from . import base as _base
from . import confusion as _confusion
from . import correlation as _correlation
from . import f_score as _f_score
from . import hinge as _hinge
from . import iou as _iou
from . import probabilistic as _probabilistic
from . import regression as _regression
from .accuracy import *  # noqa: F403
from .auc import *  # noqa: F403
from .base import *  # noqa: F403
from .confusion import *  # noqa: F403
from .correlation import *  # noqa: F403
from .f_score import *  # noqa: F403
from .hinge import *  # noqa: F403
from .iou import *  # noqa: F403
from .probabilistic import *  # noqa: F403
from .regression import *  # noqa: F403

_MODULES = (_base, _accuracy, _confusion, _auc, _regression, _probabilistic, _hinge, _iou, _f_score, _correlation)
__all__ = [name for module in _MODULES for name in module.__all__] + ["get", "serialize", "deserialize"]

# ------------------------------------------------------------------ lookup
_CLASSES = tuple(
    obj
    for module in _MODULES
    for obj in (getattr(module, name) for name in module.__all__)
    if isinstance(obj, type) and obj not in (_base.Metric, _base.MeanMetricWrapper)
)
# Keras 3's aliases (bce ... msle), then ranvier's: Keras 2's "kld" and LogCoshError's default name.
_ALIASES = {
    "bce": _probabilistic.BinaryCrossentropy,
    "BCE": _probabilistic.BinaryCrossentropy,
    "mae": _regression.MeanAbsoluteError,
    "MAE": _regression.MeanAbsoluteError,
    "mse": _regression.MeanSquaredError,
    "MSE": _regression.MeanSquaredError,
    "mape": _regression.MeanAbsolutePercentageError,
    "MAPE": _regression.MeanAbsolutePercentageError,
    "msle": _regression.MeanSquaredLogarithmicError,
    "MSLE": _regression.MeanSquaredLogarithmicError,
    "kld": _probabilistic.KLDivergence,
    "KLD": _probabilistic.KLDivergence,
    "logcosh": _regression.LogCoshError,
}
# A plain function fn(y_true, y_pred) giving per-sample values is a metric too.
serialization.register_family(
    "metric",
    _base.Metric,
    _CLASSES,
    _ALIASES,
    snake_names=True,
    coerce=_base.MeanMetricWrapper,
)
# Keras' convenience: "accuracy" follows the loss / the output.
_ACCURACY_BY_LOSS = {
    "sparsecategoricalcrossentropy": _accuracy.SparseCategoricalAccuracy,
    "categoricalcrossentropy": _accuracy.CategoricalAccuracy,
    "binarycrossentropy": _accuracy.BinaryAccuracy,
}


def _accuracy_for(name, loss_name, output_shape):
    key = str(getattr(loss_name, "name", loss_name) or "").replace("_", "").lower()
    cls = _ACCURACY_BY_LOSS.get(key)
    if cls is None and output_shape is not None and len(output_shape) and output_shape[-1] == 1:
        cls = _accuracy.BinaryAccuracy
    return cls(name=name) if cls is not None else _accuracy._AutoAccuracy(name=name)


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
        names, their snake_case forms and Keras' aliases (``"mae"``, ``"mse"``,
        ``"mape"``, ``"msle"``, ``"bce"``; also ``"kld"`` and ``"logcosh"``). A function
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
            try:
                return cls(name=identifier)
            except TypeError:
                raise ValueError(
                    f"The metric {cls.__name__} needs arguments: pass {cls.__name__}(...) rather than "
                    f"its name, got {identifier!r}"
                ) from None
    return serialization.get(identifier, "metric")
