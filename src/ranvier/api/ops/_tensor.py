"""Tensor: an ndarray that takes part in gradient recording.

Ops given a Tensor return a Tensor; ops given only plain arrays (or
Variables, outside a tape) return plain ndarrays. A Tensor is what
``GradientTape.watch`` returns and what every op returns under a tape, so
its operators (``+``, ``@``, ``[...]``, ...) go through ``ranvier.ops`` and
are recorded too. NumPy functions read it through ``__array__`` (the value,
no gradient); NumPy's ufuncs and ndarray operators defer to it
(``__array_ufunc__ = None``), so ``ndarray * tensor`` is ``ops.multiply``.
"""

import numpy as np

__all__ = ["Tensor", "install_operators"]


class Tensor:
    """An ndarray ``value`` produced by (or fed to) recorded ops.

    Parameters
    ----------
    value : ndarray
    traced : bool
        Whether gradients flow through it: float Tensors made by watch or by a
        differentiable op; never integer or boolean ones, nor ``stop_gradient``'s.

    Attributes
    ----------
    value : ndarray
    shape, dtype, ndim, size : the value's.
    """

    __slots__ = ("value", "traced", "__weakref__")
    __array_ufunc__ = None
    # Elementwise == makes Tensors unhashable, as NumPy arrays and TF tensors are.
    __hash__ = None

    def __init__(self, value, traced=True):
        self.value = value
        self.traced = traced

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: self.value.ndim)
    size = property(lambda self: self.value.size)

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.value, dtype=dtype, copy=True)
        value = np.asarray(self.value)  # a 0-d op result can be a NumPy scalar
        return value if dtype is None else value.astype(dtype, copy=False)

    def numpy(self):
        """The value (a copy), without gradient."""
        return self.value.copy()

    def __len__(self):
        if not self.value.ndim:
            raise TypeError("len() of a 0-d Tensor")
        return self.value.shape[0]

    def __bool__(self):
        return bool(self.value)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return self.value.__index__()

    def __iter__(self):
        # Unstacks along axis 0 through get_item, so gradients flow.
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = np.array2string(self.value, separator=", ", threshold=20, prefix="Tensor(")
        return f"Tensor({body}, dtype={self.value.dtype}{'' if self.traced else ', untraced'})"


def install_operators(cls, ops):
    """Give ``cls`` (Tensor, Variable) Python's operators as ``ops``' functions.

    Installed here rather than written in each class so the two share one
    table, and because ``variables`` cannot import the ops (they import it).
    """

    def binary(fn):
        return lambda self, other: fn(self, other)

    def reflected(fn):
        return lambda self, other: fn(other, self)

    table = {
        "add": ops.add,
        "sub": ops.subtract,
        "mul": ops.multiply,
        "truediv": ops.divide,
        "floordiv": ops.floor_divide,
        "mod": ops.mod,
        "pow": ops.power,
        "matmul": ops.matmul,
        "and": ops.logical_and,
        "or": ops.logical_or,
        "xor": ops.logical_xor,
    }
    for name, fn in table.items():
        setattr(cls, f"__{name}__", binary(fn))
        setattr(cls, f"__r{name}__", reflected(fn))
    for name, fn in {
        "eq": ops.equal,
        "ne": ops.not_equal,
        "lt": ops.less,
        "le": ops.less_equal,
        "gt": ops.greater,
        "ge": ops.greater_equal,
    }.items():
        setattr(cls, f"__{name}__", binary(fn))
    cls.__neg__ = lambda self: ops.negative(self)
    cls.__pos__ = lambda self: self
    cls.__abs__ = lambda self: ops.abs(self)
    cls.__invert__ = lambda self: ops.logical_not(self)
    cls.__getitem__ = lambda self, key: ops.get_item(self, key)
    cls.T = property(lambda self: ops.transpose(self))
