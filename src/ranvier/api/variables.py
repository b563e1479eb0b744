"""Variable: a named weight array with its gradient."""
import numpy as np

__all__ = ["Variable"]


class Variable:
    """A weight of a layer.

    Parameters
    ----------
    name : str
    value : ndarray
        Initial value; the variable owns it (the model may later replace it by
        a view into its flat parameter buffer, copying the values over).
    trainable : bool
    regularizer, constraint : callables or None

    Attributes
    ----------
    value : ndarray
    grad : ndarray or None
        Gradient of the loss w.r.t. ``value`` (trainable variables only).
    """

    __slots__ = ("name", "value", "grad", "trainable", "regularizer", "constraint", "_fresh")

    def __init__(self, name, value, trainable=True, regularizer=None, constraint=None):
        self.name = name
        self.value = np.ascontiguousarray(value)
        self.trainable = bool(trainable)
        self.grad = np.zeros_like(self.value) if self.trainable else None
        self.regularizer = regularizer
        self.constraint = constraint
        self._fresh = True

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)

    @property
    def decay(self):
        """Whether L2 weight decay applies: kernels (ndim >= 2) yes, biases and scales no."""
        return self.value.ndim >= 2

    def numpy(self):
        """A copy of the value."""
        return self.value.copy()

    def assign(self, value):
        """Copy ``value`` into the variable (in place, so views stay valid)."""
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ValueError(f"Variable {self.name!r} has shape {self.value.shape}, "
                             f"got a value of shape {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"Variable {self.name!r}: value contains NaN or inf")
        self.value[...] = value

    def accumulate_grad(self, value):  # TEMP until the layers branch lands
        if self._fresh:
            self._fresh = False
            self.grad[...] = value
        else:
            self.grad += value

    def grad_beta(self):
        """0.0 for the first gradient write of a step, 1.0 after (so writes accumulate)."""
        if self._fresh:
            self._fresh = False
            return 0.0
        return 1.0

    def __repr__(self):
        return f"<Variable {self.name} shape={self.value.shape} dtype={self.value.dtype}>"

    # Weights behave as arrays in a layer's call: NumPy reads the value, and
    # NumPy's ufuncs and ndarray operators defer to the Variable, whose
    # operators (+, @, [...], ...; installed by ranvier.api.ops, which imports
    # this module) are ranvier.ops calls, recorded under a GradientTape. They
    # keep the identity hash (optimisers and models key weights by id).
    __array_ufunc__ = None

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.value, dtype=dtype, copy=True)
        return self.value if dtype is None else self.value.astype(dtype, copy=False)
