"""Losses (Keras names, defaults and reduction semantics) with their gradients.

A :class:`Loss` is called as in Keras, ``loss(y_true, y_pred,
sample_weight=None)``. The model uses three more methods:
``prepare_targets`` (validate and cast the targets once per ``fit``),
``value_and_grad`` (loss and gradient in one pass, no validation)
and ``fused_activation`` ("softmax" for categorical crossentropies, "sigmoid"
for binary crossentropy, on probabilities): with ``wrt_preactivation=True``
the gradient is taken w.r.t. the input of that activation, ``p - y``.

Reductions: per-sample losses are averaged over the last axis (summed for
KL divergence and the half squared error); for outputs (N, T, K) there is
one loss per (n, t). Losses with an ``axis`` argument (cosine similarity,
focal crossentropies, Dice, Tversky) reduce over those axes instead, and
CTC over time and classes. ``"sum_over_batch_size"`` divides the weighted
sum by the number of per-sample losses, ``"sum"`` does not, ``"none"``
returns the weighted per-sample losses from ``__call__`` (``value_and_grad``
then averages, as the gradient needs a scalar).

Modules: ``_base`` (``Loss``, reductions, target checks), ``_compiled``
(losses run by the ``core/_losses.pyx`` kernels), ``_axis`` (losses
computed in NumPy over any axes), ``_ctc``, ``_wrapper``
(``LossFunctionWrapper``); this module holds the function forms and the
registry (names, aliases, ``get``).
"""

from .. import serialization
from ._axis import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    CosineSimilarity,
    Dice,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Poisson,
    Tversky,
)
from ._base import Loss
from ._circle import Circle, circle
from ._compiled import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    HalfSquaredError,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from ._ctc import CTC
from ._wrapper import LossFunctionWrapper

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
    # layers2
    "Circle",
    "circle",
]


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
    Circle,
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
    circle: Circle,
}


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
