"""Weight regularizers: a penalty added to the loss and its gradient.

Keras conventions: ``L2(l2)`` adds ``l2 * sum(w**2)`` (gradient ``2 * l2 * w``),
``L1(l1)`` adds ``l1 * sum(|w|)`` (gradient ``l1 * sign(w)``, 0 at 0).
The model calls ``penalty(w)`` for the loss value and
``add_gradient(w, grad)`` after backward; the same objects serve as activity
regularizers on a layer's output.
"""

import numpy as np

from . import serialization

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "l1",
    "l2",
    "l1_l2",
    "orthogonal_regularizer",
    "get",
    "serialize",
    "deserialize",
]


def _coef(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _check_pair(w, grad, cls):
    if grad.shape != w.shape:
        raise ValueError(f"{cls}.add_gradient: grad must have the shape of w {w.shape}, got {grad.shape}")


class Regularizer:
    """Base class: ``penalty(w) -> float`` and ``add_gradient(w, grad)`` (adds in place).

    ``reg(w)`` is ``reg.penalty(w)``, as a Keras regularizer is called.
    """

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

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``.

    Parameters
    ----------
    l1, l2 : float >= 0, default 0.0
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _coef(l1, f"{type(self).__name__}: l1")
        self.l2 = _coef(l2, f"{type(self).__name__}: l2")

    def penalty(self, w):
        p = 0.0
        if self.l1:
            p += self.l1 * float(np.abs(w).sum(dtype=np.float64))
        if self.l2:
            p += self.l2 * float(np.square(w, dtype=np.float64).sum())
        return p

    def add_gradient(self, w, grad):
        _check_pair(w, grad, type(self).__name__)
        if self.l1:
            grad += grad.dtype.type(self.l1) * np.sign(w)
        if self.l2:
            grad += grad.dtype.type(2.0 * self.l2) * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)`` (Keras default l1=0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)`` (Keras default l2=0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D kernel towards orthogonality (Keras 3).

    With ``u_i`` the rows scaled to unit norm (columns if ``mode="columns"``),
    the penalty is ``factor * mean_{i<j} |u_i . u_j|``.

    Parameters
    ----------
    factor : float >= 0, default 0.01
    mode : {"rows", "columns"}, default "rows"
    """

    _TINY = 1e-12  # norms below this are clipped, as Keras' normalize does with its epsilon

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _coef(factor, "OrthogonalRegularizer: factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}")
        self.mode = mode

    def _units(self, w):
        """(vectors as rows, their norms, unit rows) in float64."""
        if w.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer expects a 2-D kernel, got shape {w.shape}")
        v = np.asarray(w, np.float64)
        v = v if self.mode == "rows" else v.T
        norms = np.maximum(np.sqrt(np.square(v).sum(axis=1, keepdims=True)), self._TINY)
        return v, norms, v / norms

    def _scale(self, size):
        return 0.0 if size < 2 else self.factor * 0.5 / (size * (size - 1) / 2.0)

    def penalty(self, w):
        _, _, u = self._units(w)
        product = u @ u.T
        np.fill_diagonal(product, 0.0)
        return self._scale(u.shape[0]) * float(np.abs(product).sum())

    def add_gradient(self, w, grad):
        _check_pair(w, grad, "OrthogonalRegularizer")
        _, norms, u = self._units(w)
        sign = np.sign(u @ u.T)
        np.fill_diagonal(sign, 0.0)
        g = 2.0 * self._scale(u.shape[0]) * (sign @ u)  # d penalty / d u (sign is symmetric)
        # Through u = v / |v|: project out the radial part, divide by the norm.
        dv = (g - u * (u * g).sum(axis=1, keepdims=True)) / norms
        grad += (dv if self.mode == "rows" else dv.T).astype(grad.dtype)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras' lower-case aliases.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

serialization.register_family(
    "regularizer", Regularizer, [L1, L2, L1L2, OrthogonalRegularizer], {"l1l2": L1L2}, snake_names=True, optional=True
)


def get(identifier):
    """A regularizer from None, a name (``"l2"``), a config dict, a class or an instance."""
    return serialization.get(identifier, "regularizer")


def serialize(regularizer):
    """``{"class_name", "config"}`` of a regularizer (JSON types); None gives None."""
    return serialization.serialize(regularizer, "regularizer")


def deserialize(config, custom_objects=None):
    """The regularizer a :func:`serialize` dict (or a name) describes."""
    return serialization.deserialize(config, "regularizer", custom_objects)
