"""Weight regularizers: a penalty added to the loss and its gradient.

Keras conventions: ``L2(l2)`` adds ``l2 * sum(w**2)`` (gradient ``2 * l2 * w``),
``L1(l1)`` adds ``l1 * sum(|w|)``.
"""
import numpy as np

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize", "deserialize"]


def _coef(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class Regularizer:
    """Base class: ``penalty(w) -> float`` and ``add_gradient(w, grad)`` (adds in place)."""

    def __call__(self, w):
        return self.penalty(w)

    def penalty(self, w):
        raise NotImplementedError

    def add_gradient(self, w, grad):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _coef(l1, "L1L2: l1")
        self.l2 = _coef(l2, "L1L2: l2")

    def penalty(self, w):
        p = 0.0
        if self.l1:
            p += self.l1 * float(np.abs(w).sum(dtype=np.float64))
        if self.l2:
            p += self.l2 * float(np.square(w, dtype=np.float64).sum())
        return p

    def add_gradient(self, w, grad):
        if self.l1:
            grad += self.l1 * np.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


_ALIASES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}
_BY_CLASS = {"L1": L1, "L2": L2, "L1L2": L1L2}


def serialize(reg):
    return None if reg is None else {"class_name": type(reg).__name__, "config": reg.get_config()}


def deserialize(config):
    cls = _BY_CLASS.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"Unknown regularizer config: {config!r}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A regularizer from None, a name (``"l2"``), a config dict or an instance."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in _ALIASES:
            return _ALIASES[identifier.lower()]()
        raise ValueError(f"Unknown regularizer: {identifier!r}. Known: {sorted(_ALIASES)}")
    raise TypeError(f"regularizer must be None, a string or a Regularizer, got {identifier!r}")
