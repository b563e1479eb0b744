"""How an op reads its arguments and builds its traced twin.

Every public op has the same shape: a fast path for plain arrays (one NumPy
or kernel call, nothing recorded, an ndarray back) and, when an argument is a
Tensor or a Variable, a traced path that computes the same value, then
records a node when a tape is active (``_tape.recording``). The factories
here write that shape once for the elementwise families.
"""

import numbers
import sys

import numpy as np

from .. import config
from ..variables import Variable
from ._tape import record, recording, wrap
from ._tensor import Tensor

__all__ = ["TRACED", "value", "values", "floating", "unary", "binary", "nondiff", "is_traced"]

# The argument types that take the traced path.
TRACED = (Tensor, Variable)
# Python scalars stay scalars (NumPy then treats them as weakly typed); checked by
# type first because isinstance against numbers.Number (an ABC) costs ~1 us.
_SCALARS = frozenset((float, int, bool, complex))


def value(x):
    """The array behind ``x``: a Tensor's or Variable's value, an ndarray, a Python scalar as is
    (so NumPy treats it as weakly typed), a list as an array (Python floats as floatx)."""
    t = type(x)
    if t is np.ndarray:
        return x
    if t is Tensor or isinstance(x, Variable):
        return x.value
    if t in _SCALARS or isinstance(x, (np.generic, numbers.Number)):
        return x
    arr = np.asarray(x)
    return arr.astype(config.floatx()) if arr.dtype == np.float64 and isinstance(x, (list, tuple)) else arr


def values(xs):
    return [value(x) for x in xs]


def is_traced(*xs):
    for x in xs:
        if isinstance(x, TRACED):
            return True
    return False


def floating(a, op, arg="x"):
    """``a`` as a float array: ints and bools become floatx (as Keras' float ops do)."""
    dt = getattr(a, "dtype", None)
    if dt is not None and dt.kind in "fc":
        return a
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"ops.{op}: {arg} must be numeric, got dtype {arr.dtype}")
    return arr.astype(config.floatx())


def numeric(a, op, arg="x"):
    """``a`` checked to be numeric or boolean (raises naming the op otherwise)."""
    dt = getattr(a, "dtype", None)
    if dt is None or dt.kind in "biufc":
        return a
    raise TypeError(f"ops.{op}: {arg} must be numeric, got dtype {dt}")


def _named(op, name, doc):
    """Give a factory-made op its name and the module that defines it, where help(), pickle
    and the API docs look it up (the module is the factory's caller, as namedtuple does)."""
    op.__name__ = op.__qualname__ = name
    op.__module__ = sys._getframe(2).f_globals["__name__"]
    op.__doc__ = doc
    return op


def unary(name, f, df, float_only=True, doc=None):
    """An elementwise op ``y = f(x)`` with ``dx = df(dy, x, y)``."""

    def op(x):
        if isinstance(x, TRACED):
            return _unary_traced(x)
        return f(floating(x, name) if float_only else numeric(x, name))

    def _unary_traced(x):
        a = value(x)
        a = floating(a, name) if float_only else numeric(a, name)
        y = f(a)
        refs = recording(x)
        if refs is None:
            return wrap(y, x)
        return record(y, refs, lambda dy: (df(dy, a, y),))

    return _named(op, name, doc or f"Elementwise ``{name}(x)``.")


def binary(name, f, da, db, doc=None):
    """A broadcasting op ``y = f(x1, x2)`` with ``dx1 = da(dy, a, b, y)``, ``dx2 = db(dy, a, b, y)``.

    The walk sums a gradient over the axes its input was broadcast along.
    """

    def op(x1, x2):
        if isinstance(x1, TRACED) or isinstance(x2, TRACED):
            return _binary_traced(x1, x2)
        try:
            return f(value(x1), value(x2))
        except TypeError:
            numeric(value(x1), name, "x1"), numeric(value(x2), name, "x2")
            raise

    def _binary_traced(x1, x2):
        a, b = numeric(value(x1), name, "x1"), numeric(value(x2), name, "x2")
        y = f(a, b)
        refs = recording(x1, x2)
        if refs is None:
            return wrap(y, x1, x2)
        ra, rb = refs

        def backward(dy):
            return (da(dy, a, b, y) if ra is not None else None, db(dy, a, b, y) if rb is not None else None)

        return record(y, refs, backward)

    return _named(op, name, doc or f"Elementwise ``{name}(x1, x2)`` with NumPy broadcasting.")


def nondiff(name, f, n_args=1, doc=None):
    """An op without gradient (comparisons, rounding, argmax ...): its first ``n_args``
    arguments are arrays; the result is a Tensor (untraced) if any of them is one."""

    def op(*args, **kwargs):
        arrays = args[:n_args]
        y = f(*[value(a) for a in arrays], *args[n_args:], **kwargs)
        for a in arrays:
            if type(a) is Tensor:
                return Tensor(np.asarray(y), False)
        return y

    return _named(op, name, doc or f"``{name}`` (no gradient).")
