"""``ranvier.ops.core``: conversion, casting, ``stop_gradient``, ``custom_gradient`` (Keras 3 ``ops.core``)."""

import functools

import numpy as np

from .. import config
from ..variables import Variable
from ._dispatch import TRACED, value
from ._shape import shape, slice, unstack
from ._tape import paused, record, recording, wrap
from ._tensor import Tensor

__all__ = [
    "stop_gradient",
    "cast",
    "convert_to_tensor",
    "convert_to_numpy",
    "shape",
    "dtype",
    "is_tensor",
    "slice",
    "unstack",
    "custom_gradient",
]


def stop_gradient(variable):
    """``variable``'s value, through which no gradient flows."""
    if isinstance(variable, TRACED):
        return Tensor(variable.value, False)
    return value(variable)


def _identity(x):
    """A recorded copy-free identity (a Variable read under a tape stays differentiable)."""
    y = x.value
    refs = recording(x)
    return y if refs is None else record(y, refs, lambda dy: (dy,))


def cast(x, dtype):
    """``x`` converted to ``dtype``; float-to-float casts pass the gradient (in ``x``'s dtype)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"ops.cast: dtype must name a NumPy dtype, got {dtype!r}") from None
    a = value(x)
    y = np.asarray(a).astype(dt, copy=False)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x) if np.result_type(a).kind == "f" else None
    if refs is None:
        return wrap(y, x)
    source = np.result_type(a)
    return record(y, refs, lambda dy: (np.asarray(dy).astype(source, copy=False),))


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as an array: Tensors are kept (so gradients flow), Variables read (recorded under a tape),
    Python floats and float lists become floatx."""
    if sparse or ragged:
        raise ValueError(
            f"ops.convert_to_tensor: sparse and ragged tensors are not supported, "
            f"got sparse={sparse!r}, ragged={ragged!r}"
        )
    if type(x) is Tensor:
        return x if dtype is None else cast(x, dtype)
    if isinstance(x, Variable):
        y = _identity(x)
        return y if dtype is None else cast(y, dtype)
    if dtype is None and isinstance(x, float):
        dtype = config.floatx()
    return np.asarray(value(x), dtype=dtype)


def convert_to_numpy(x):
    """The value of ``x`` as an ndarray (no gradient)."""
    return np.asarray(value(x))


def dtype(x):
    """The dtype name of ``x`` (``"float32"``, ...)."""
    return np.result_type(value(x)).name


def is_tensor(x):
    """Whether ``x`` is an array ops return: an ndarray or a Tensor."""
    return isinstance(x, (np.ndarray, Tensor))


def _array_of(g):
    return None if g is None else np.asarray(value(g))


def custom_gradient(f):
    """Decorate ``f(*args) -> (y, grad_fn)`` to differentiate it by ``grad_fn`` (Keras/TF style).

    ``grad_fn(upstream)`` (or ``grad_fn(*args, upstream=...)``) returns one
    gradient per argument of ``f``. The ops inside ``f`` are not recorded:
    the whole call is one node.
    """

    @functools.wraps(f)
    def op(*args):
        with paused():
            y, grad_fn = f(*args)
        out = value(y)
        if not any(isinstance(a, TRACED) for a in args):
            return out
        refs = recording(*args)
        if refs is None:
            return wrap(out, *args)

        def backward(dy):
            try:
                grads = grad_fn(dy)
            except TypeError:
                grads = grad_fn(upstream=dy)
            grads = grads if isinstance(grads, (list, tuple)) else (grads,)
            if len(grads) != len(args):
                raise ValueError(
                    f"custom_gradient: {f.__name__}'s grad_fn must return one gradient per "
                    f"argument ({len(args)}), got {len(grads)}"
                )
            return tuple(_array_of(g) for g in grads)

        return record(out, refs, backward)

    return op
