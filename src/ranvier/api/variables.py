"""Variable: a named weight array with its gradient."""

import numpy as np

from . import config
from ._finite import check_finite

__all__ = ["Variable", "grad_targets", "flat_layout"]


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
        self.value = np.asarray(value, order="C")  # not ascontiguousarray: it makes a scalar 1-D
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
            raise ValueError(f"Variable {self.name!r} has shape {self.value.shape}, got a value of shape {value.shape}")
        _check_range(self, value)
        self.value[...] = value

    def grad_target(self):
        """Where this call's gradient goes: ``(grad, beta)``, to write ``grad = beta * grad + new``.

        ``beta`` is 0.0 for the first write of a training step (overwrite: the
        old values need not be read) and 1.0 after it, so a weight used by
        several calls in one step (a shared layer) accumulates their
        gradients. The caller must write ``grad`` in that step (kernels take
        ``beta`` as an argument; NumPy code can use ``accumulate_grad``).

        The model sets ``_fresh`` on every trainable variable before its
        backward pass and zeroes the gradient of any variable no call wrote
        (still ``_fresh`` afterwards, e.g. an unused branch).

        Returns
        -------
        grad : ndarray of the variable's shape and dtype
        beta : float, 0.0 or 1.0
        """
        beta = 0.0 if self._fresh else 1.0
        self._fresh = False
        return self.grad, beta

    def accumulate_grad(self, value):
        """Add ``value`` to this step's gradient (``grad_target`` for gradients computed in NumPy).

        Does nothing for a variable created not trainable (it has no gradient).
        """
        grad, beta = self.grad_target()
        if grad is None:
            return
        if beta:
            grad += value
        else:
            grad[...] = value

    def grad_beta(self):
        """The ``beta`` of ``grad_target()`` (kept for code written before it)."""
        return self.grad_target()[1]

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


def _check_range(variable, value):
    """Refuse a ``value`` for ``variable`` with NaN, inf or values beyond the variable's dtype range.

    A float64 1e39 is finite but becomes inf in a float32 variable. Callers that
    set several variables all-or-nothing check every value with this first.

    Raises
    ------
    ValueError
        Naming the variable, the first bad value and its index.
    """
    check_finite(np.asarray(value), variable.dtype, f"Variable {variable.name!r}: value")


def grad_targets(*variables):
    """``grad_target()`` of variables one kernel call writes together, with their one ``beta``.

    Parameters
    ----------
    *variables : Variable or None
        None stands for a weight the layer does not have (no bias): its gradient is None.

    Returns
    -------
    grads : list of ndarray or None
    beta : float
        The model marks every variable fresh at the start of a step and a layer
        writes its variables together, so their betas agree (checked); 0.0
        when every entry is None.
    """
    grads, beta = [], None
    for v in variables:  # grad_target() inlined: this runs in every backward pass
        if v is None:
            grads.append(None)
            continue
        b = 0.0 if v._fresh else 1.0
        if beta is None:
            beta = b
        elif b != beta:
            raise RuntimeError(
                "grad_targets: variables written by one call must all be fresh or all be written "
                f"already this step, got {v.name} with beta {b} after beta {beta}"
            )
        v._fresh = False
        grads.append(v.grad)
    return grads, 0.0 if beta is None else beta


def flat_layout(variables):
    """How one flat buffer lays ``variables`` out: decayed kernels first, then the rest, each in order.

    Weight decay then covers the buffer's first ``n_decay`` entries (a model's
    buffers and an optimizer's own use this one layout).

    Returns
    -------
    order : list of Variable
    slices : list of (start, stop), each variable's range, in ``order``
    n_decay : int
    dtype : numpy dtype of the buffer (floatx when there are no variables)
    """
    order = [v for v in variables if v.decay] + [v for v in variables if not v.decay]
    dtype = np.result_type(*[v.dtype for v in order]) if order else np.dtype(config.floatx())
    slices, start = [], 0
    for v in order:
        slices.append((start, start + v.size))
        start += v.size
    return order, slices, sum(v.size for v in order if v.decay), dtype
