"""Weight constraints: projections applied in place after each optimizer update.

Norms are taken along ``axis`` as in Keras: ``axis=0`` (the default) is the
norm of each column of a Dense kernel ``(in, units)``, i.e. of the weights
entering one unit; use ``axis=[0, 1, 2]`` for a Conv2D kernel ``(kh, kw, in, out)``.
"""

import numpy as np

from . import config, serialization

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "unit_norm",
    "get",
    "serialize",
    "deserialize",
]


def _axis(axis, cls):
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"{cls}: axis must be an integer or a list of integers, got {axis!r}")
    return [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)


def _value(value, name, lower=0.0):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value) or value < lower:
        raise ValueError(f"{name} must be a finite number >= {lower}, got {value!r}")
    return value


class Constraint:
    """Base class: ``constraint(w)`` projects ``w`` in place and returns it."""

    def __call__(self, w):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _NormConstraint(Constraint):
    """Rescales ``w`` so that its norms along ``axis`` become ``desired(norms)``."""

    def __init__(self, axis):
        self.axis = _axis(axis, type(self).__name__)

    def _norms(self, w):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if any(not -w.ndim <= a < w.ndim for a in np.atleast_1d(axis)):
            raise ValueError(f"{type(self).__name__}: axis {self.axis} is out of range for a weight of shape {w.shape}")
        return np.sqrt(np.square(w, dtype=np.float64).sum(axis=axis, keepdims=True))

    def _desired(self, norms):
        raise NotImplementedError

    def __call__(self, w):
        norms = self._norms(w)
        w *= (self._desired(norms) / (config.epsilon() + norms)).astype(w.dtype)
        return w


class MaxNorm(_NormConstraint):
    """Rescale the weight vectors whose norm along ``axis`` exceeds ``max_value``.

    Parameters
    ----------
    max_value : float >= 0, default 2
    axis : int or list of int, default 0
    """

    def __init__(self, max_value=2, axis=0):
        super().__init__(axis)
        self.max_value = _value(max_value, "MaxNorm: max_value")

    def _desired(self, norms):
        return np.clip(norms, 0.0, self.max_value)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(_NormConstraint):
    """Keep the norms along ``axis`` in ``[min_value, max_value]``, moving a fraction ``rate`` of the way.

    Parameters
    ----------
    min_value : float >= 0, default 0.0
    max_value : float >= min_value, default 1.0
    rate : float in [0, 1], default 1.0
        1.0 projects exactly; smaller values move the norms part of the way.
    axis : int or list of int, default 0
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        super().__init__(axis)
        self.min_value = _value(min_value, "MinMaxNorm: min_value")
        self.max_value = _value(max_value, "MinMaxNorm: max_value", lower=self.min_value)
        self.rate = _value(rate, "MinMaxNorm: rate")
        if self.rate > 1.0:
            raise ValueError(f"MinMaxNorm: rate must be in [0, 1], got {rate!r}")

    def _desired(self, norms):
        return self.rate * np.clip(norms, self.min_value, self.max_value) + (1.0 - self.rate) * norms

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class UnitNorm(_NormConstraint):
    """Scale the weight vectors along ``axis`` to unit norm.

    Parameters
    ----------
    axis : int or list of int, default 0
    """

    def __init__(self, axis=0):
        super().__init__(axis)

    def _desired(self, norms):
        return np.ones_like(norms)

    def get_config(self):
        return {"axis": self.axis}


class NonNeg(Constraint):
    """Clamp weights to be >= 0."""

    def __call__(self, w):
        np.maximum(w, 0, out=w)
        return w


# Keras' lower-case aliases.
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

serialization.register_family(
    "constraint",
    Constraint,
    [MaxNorm, MinMaxNorm, NonNeg, UnitNorm],
    {"maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm},  # Keras 2 names
    snake_names=True,
    optional=True,
)


def get(identifier):
    """A constraint from None, a name (``"max_norm"``), a config dict, a class or an instance."""
    return serialization.get(identifier, "constraint")


def serialize(constraint):
    """``{"class_name", "config"}`` of a constraint (JSON types); None gives None."""
    return serialization.serialize(constraint, "constraint")


def deserialize(config, custom_objects=None):
    """The constraint a :func:`serialize` dict (or a name) describes."""
    return serialization.deserialize(config, "constraint", custom_objects)
