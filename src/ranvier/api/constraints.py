"""Weight constraints: projections applied in place after each optimizer update."""
import numpy as np

__all__ = ["Constraint", "NonNeg", "get", "serialize", "deserialize"]


class Constraint:
    """Base class: ``constraint(w)`` projects ``w`` in place and returns it."""

    def __call__(self, w):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class NonNeg(Constraint):
    """Clamp weights to be >= 0."""

    def __call__(self, w):
        np.maximum(w, 0, out=w)
        return w


_BY_CLASS = {"NonNeg": NonNeg}
_ALIASES = {"non_neg": NonNeg, "nonneg": NonNeg}


def serialize(c):
    return None if c is None else {"class_name": type(c).__name__, "config": c.get_config()}


def deserialize(config):
    cls = _BY_CLASS.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"Unknown constraint config: {config!r}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A constraint from None, a name (``"max_norm"``), a config dict or an instance."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in _ALIASES:
            return _ALIASES[identifier.lower()]()
        raise ValueError(f"Unknown constraint: {identifier!r}. Known: {sorted(_ALIASES)}")
    raise TypeError(f"constraint must be None, a string or a Constraint, got {identifier!r}")
