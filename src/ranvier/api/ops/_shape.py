"""Shape and indexing ops, and array creation (Keras 3 names and signatures).

Rearrangements take their gradient by the inverse rearrangement (reshape,
transpose, concatenate <-> split, stack). Gathers (take, take_along_axis,
tile, repeat, fancy indexing, non-constant pad) share one rule: apply the
same gather to the flat indices of the input, then scatter-add dy there
(``_gather_grad``), which handles repeated indices exactly.
"""

import builtins

import numpy as np

from .. import config
from ._dispatch import TRACED, nondiff, value
from ._elementwise import subtract
from ._tape import record, record_many, recording, wrap

__all__ = [
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "moveaxis",
    "swapaxes",
    "ravel",
    "concatenate",
    "stack",
    "split",
    "unstack",
    "take",
    "take_along_axis",
    "get_item",
    "slice",
    "pad",
    "tile",
    "repeat",
    "flip",
    "roll",
    "broadcast_to",
    "tril",
    "triu",
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty",
    "arange",
    "eye",
    "identity",
    "linspace",
    "tri",
    "shape",
    "ndim",
    "size",
    "sort",
    "argsort",
    "diag",
    "diagonal",
    "diff",
    "hstack",
    "vstack",
    "meshgrid",
    "nonzero",
    "logspace",
]


def _unary_shape_op(x, forward, grad):
    """Run ``forward`` on x's value; record ``dx = grad(dy)`` when traced."""
    a = value(x)
    y = forward(a)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    return record(y, refs, lambda dy: (grad(dy),))


def _gather_grad(forward, shape, dtype):
    """The gradient of a gather ``forward`` on an input of ``shape``: scatter-add of dy."""
    size = int(np.prod(shape))
    index = forward(np.arange(size).reshape(shape))

    def grad(dy):
        out = np.bincount(np.ravel(index), weights=np.ravel(dy).astype(np.float64, copy=False), minlength=size)
        return out.reshape(shape).astype(dtype, copy=False)

    return grad


def _gather_op(x, forward):
    a = value(x)
    y = forward(a)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    grad = _gather_grad(forward, np.shape(a), np.result_type(a))
    return record(y, refs, lambda dy: (grad(dy),))


def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one entry may be -1)."""
    newshape = tuple(newshape) if isinstance(newshape, (list, tuple)) else newshape
    shape = np.shape(value(x))
    return _unary_shape_op(x, lambda a: np.reshape(a, newshape), lambda dy: np.reshape(dy, shape))


def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed for None)."""
    nd = np.ndim(value(x))
    perm = tuple(range(nd))[::-1] if axes is None else tuple(int(a) % builtins.max(nd, 1) for a in axes)
    if sorted(perm) != list(range(nd)):
        raise ValueError(f"ops.transpose: axes must be a permutation of {nd} axes, got {axes!r}")
    inverse = tuple(np.argsort(perm))
    return _unary_shape_op(x, lambda a: np.transpose(a, perm), lambda dy: np.transpose(dy, inverse))


def expand_dims(x, axis):
    """``x`` with a size-1 axis inserted at ``axis`` (an int or a tuple)."""
    shape = np.shape(value(x))
    axis = tuple(axis) if isinstance(axis, list) else axis
    return _unary_shape_op(x, lambda a: np.expand_dims(a, axis), lambda dy: np.reshape(dy, shape))


def squeeze(x, axis=None):
    """``x`` without its size-1 axes (those in ``axis`` only, when given)."""
    shape = np.shape(value(x))
    axis = tuple(axis) if isinstance(axis, list) else axis
    return _unary_shape_op(x, lambda a: np.squeeze(a, axis), lambda dy: np.reshape(dy, shape))


def moveaxis(x, source, destination):
    """``x`` with axes ``source`` moved to ``destination`` (a transpose)."""
    nd = np.ndim(value(x))
    src = [int(s) % nd for s in np.atleast_1d(source)]
    dst = [int(d) % nd for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError(
            f"ops.moveaxis: source and destination must have the same number of axes, "
            f"got {source!r} and {destination!r}"
        )
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x, axis1, axis2):
    """``x`` with two axes exchanged."""
    nd = np.ndim(value(x))
    perm = list(range(nd))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(x, perm)


def ravel(x):
    """``x`` flattened to 1-D."""
    return reshape(x, (-1,))


def concatenate(xs, axis=0):
    """The arrays ``xs`` joined along ``axis``."""
    arrays = [value(x) for x in xs]
    y = np.concatenate(arrays, axis=axis)
    if not any(isinstance(x, TRACED) for x in xs):
        return y
    refs = recording(*xs)
    if refs is None:
        return wrap(y, *xs)
    cuts = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return record(y, refs, lambda dy: tuple(np.split(dy, cuts, axis=axis)))


def stack(x, axis=0):
    """The same-shaped arrays ``x`` joined along a new ``axis``."""
    arrays = [value(v) for v in x]
    y = np.stack(arrays, axis=axis)
    if not any(isinstance(v, TRACED) for v in x):
        return y
    refs = recording(*x)
    if refs is None:
        return wrap(y, *x)
    return record(y, refs, lambda dy: tuple(np.moveaxis(dy, axis, 0)))


def _pieces(x, arrays_of, op):
    """Multi-output gathers (split, unstack): plain list, or Tensors with one node."""
    a = value(x)
    ys = arrays_of(a)
    if not isinstance(x, TRACED):
        return ys
    refs = recording(x)
    if refs is None:
        return [wrap(y, x) for y in ys]
    return record_many(ys, refs, lambda dys: (op(a, [np.zeros_like(y) if d is None else d for y, d in zip(ys, dys)]),))


def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into equal sections or at the given indices (a list of arrays)."""
    ios = list(indices_or_sections) if isinstance(indices_or_sections, (list, tuple)) else indices_or_sections
    return _pieces(x, lambda a: np.split(a, ios, axis=axis), lambda a, dys: np.concatenate(dys, axis=axis))


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis`` (a list of arrays of rank ``x.ndim - 1``)."""
    n = np.shape(value(x))[axis]
    if num is not None and num != n:
        raise ValueError(f"ops.unstack: num must match the size {n} of axis {axis}, got num={num!r}")
    return _pieces(x, lambda a: [np.take(a, i, axis=axis) for i in range(n)], lambda a, dys: np.stack(dys, axis=axis))


def take(x, indices, axis=None):
    """Entries of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` for None)."""
    idx = np.asarray(value(indices))
    if idx.dtype.kind not in "iub":
        raise TypeError(f"ops.take: indices must be integers, got dtype {idx.dtype}")
    return _gather_op(x, lambda a: np.take(a, idx, axis=axis))


def take_along_axis(x, indices, axis=None):
    """``numpy.take_along_axis``: entries picked per position along ``axis``."""
    idx = np.asarray(value(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"ops.take_along_axis: indices must be integers, got dtype {idx.dtype}")
    return _gather_op(x, lambda a: np.take_along_axis(a, idx, axis=axis))


def _index(key):
    """A key with Tensors and Variables replaced by their values."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    return key.value if isinstance(key, TRACED) else key


def _basic(key):
    """Whether ``key`` is basic indexing (ints, slices, None, Ellipsis): no entry read twice."""
    items = key if isinstance(key, tuple) else (key,)
    return builtins.all(k is None or k is Ellipsis or isinstance(k, (builtins.slice, int, np.integer)) for k in items)


def get_item(x, key):
    """``x[key]`` (NumPy indexing), with gradient."""
    key = _index(key)
    if not isinstance(x, TRACED):
        return value(x)[key]
    if not _basic(key):
        return _gather_op(x, lambda a: a[key])
    a = x.value

    def grad(dy):
        g = np.zeros(a.shape, dy.dtype)
        g[key] = dy
        return g

    return _unary_shape_op(x, lambda v: v[key], grad)


def slice(inputs, start_indices, shape):
    """The block of ``inputs`` starting at ``start_indices`` with size ``shape`` (Keras ``ops.slice``)."""
    key = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return get_item(inputs, key)


def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded (``numpy.pad``'s ``pad_width`` and modes)."""
    kwargs = {} if constant_values is None or mode != "constant" else {"constant_values": constant_values}
    if constant_values is not None and mode != "constant":
        raise ValueError(f"ops.pad: constant_values needs mode='constant', got mode={mode!r}")
    if mode != "constant":
        return _gather_op(x, lambda a: np.pad(a, pad_width, mode=mode))
    a = value(x)
    widths = np.broadcast_to(
        np.asarray(pad_width, dtype=np.intp).reshape(-1, 2) if np.ndim(pad_width) else np.full((1, 2), int(pad_width)),
        (np.ndim(a), 2),
    )
    key = tuple(builtins.slice(int(b), int(b) + n) for b, n in zip(widths[:, 0], np.shape(a)))
    return _unary_shape_op(x, lambda v: np.pad(v, pad_width, mode="constant", **kwargs), lambda dy: dy[key])


def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis."""
    return _gather_op(x, lambda a: np.tile(a, repeats))


def repeat(x, repeats, axis=None):
    """Each entry of ``x`` repeated (along ``axis``; of the flattened ``x`` for None)."""
    reps = value(repeats)
    return _gather_op(x, lambda a: np.repeat(a, reps, axis=axis))


def flip(x, axis=None):
    """``x`` with the order of entries reversed along ``axis`` (all axes for None)."""
    return _unary_shape_op(x, lambda a: np.flip(a, axis), lambda dy: np.flip(dy, axis))


def roll(x, shift, axis=None):
    """``x`` shifted cyclically by ``shift`` along ``axis`` (flattened for None)."""
    neg = -np.asarray(shift)
    return _unary_shape_op(x, lambda a: np.roll(a, shift, axis), lambda dy: np.roll(dy, neg, axis))


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (a copy)."""
    shape = tuple(shape)
    # The gradient walk sums dy over the broadcast axes.
    return _unary_shape_op(x, lambda a: np.array(np.broadcast_to(a, shape)), lambda dy: dy)


def tril(x, k=0):
    """``x`` with entries above the ``k``-th diagonal zeroed (last two axes)."""
    return _unary_shape_op(x, lambda a: np.tril(a, k), lambda dy: np.tril(dy, k))


def triu(x, k=0):
    """``x`` with entries below the ``k``-th diagonal zeroed (last two axes)."""
    return _unary_shape_op(x, lambda a: np.triu(a, k), lambda dy: np.triu(dy, k))


def _check_axis(a, axis, op):
    """Raise unless ``axis`` is an int naming one of ``a``'s axes (a scalar counts as rank 1)."""
    nd = builtins.max(np.ndim(a), 1)
    if not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
        raise ValueError(f"ops.{op}: axis must be an int in range for an input of rank {np.ndim(a)}, got axis={axis!r}")


def sort(x, axis=-1):
    """``x`` sorted ascending along ``axis`` (NaNs last).

    Parameters
    ----------
    x : array_like, any shape (a scalar is returned as is)
    axis : int, default -1

    Returns
    -------
    ndarray or Tensor of ``x``'s shape. The gradient goes back through the
    sorting permutation (equal entries keep their order: a stable sort).
    """
    a = value(x)
    if np.ndim(a) == 0:
        return _unary_shape_op(x, np.array, lambda dy: dy)
    _check_axis(a, axis, "sort")
    perm = np.argsort(a, axis=axis, kind="stable")
    return _gather_op(x, lambda v: np.take_along_axis(v, perm, axis=axis))


argsort = nondiff(
    "argsort",
    lambda x, axis=-1: _argsort(x, axis),
    doc="""The indices that sort ``x`` ascending along ``axis`` (stable), int32 (no gradient).

    Parameters
    ----------
    x : array_like, any shape
    axis : int, default -1
    """,
)


def _argsort(a, axis):
    if np.ndim(a) == 0:
        return np.zeros((), np.int32)
    _check_axis(a, axis, "argsort")
    return np.argsort(a, axis=axis, kind="stable").astype(np.int32)


def diag(x, k=0):
    """The ``k``-th diagonal of a matrix, or a matrix with a vector on its ``k``-th diagonal.

    Parameters
    ----------
    x : array_like, shape (n,) or (rows, cols)
    k : int, default 0
        Above the main diagonal for k > 0, below for k < 0.

    Returns
    -------
    ndarray or Tensor: shape (n + |k|, n + |k|) for a vector, (d,) for a matrix.
    """
    a = value(x)
    if np.ndim(a) not in (1, 2):
        raise ValueError(f"ops.diag: x must be 1-D or 2-D, got shape {np.shape(a)}")
    if np.ndim(a) == 2:
        return _gather_op(x, lambda v: np.diag(v, k).copy())
    return _unary_shape_op(x, lambda v: np.diag(v, k), lambda dy: np.diagonal(dy, k).copy())


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset``-th diagonals of ``x`` over ``axis1`` and ``axis2`` (``numpy.diagonal``).

    Parameters
    ----------
    x : array_like of rank >= 2
    offset : int, default 0
    axis1, axis2 : int, default 0, 1

    Returns
    -------
    ndarray or Tensor: ``x``'s other axes, then the diagonal as the last axis.
    """
    a = value(x)
    if np.ndim(a) < 2:
        raise ValueError(f"ops.diagonal: x must have at least 2 axes, got shape {np.shape(a)}")
    return _gather_op(x, lambda v: np.diagonal(v, offset, axis1, axis2).copy())


def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference of ``a`` along ``axis``: ``a[1:] - a[:-1]``, ``n`` times.

    Parameters
    ----------
    a : array_like of rank >= 1
    n : int, default 1
    axis : int, default -1

    Returns
    -------
    ndarray or Tensor: ``a``'s shape with ``axis`` shorter by ``n`` (at least 0).
    """
    v = value(a)
    if np.ndim(v) == 0:
        raise ValueError(f"ops.diff: a must have at least one axis, got shape {np.shape(v)}")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"ops.diff: n must be an int >= 0, got n={n!r}")
    _check_axis(v, axis, "diff")
    if not isinstance(a, TRACED):
        return np.diff(v, n=n, axis=axis)
    ax = axis % np.ndim(v)
    out = a
    for _ in range(n):
        lead = (builtins.slice(None),) * ax
        out = subtract(
            get_item(out, lead + (builtins.slice(1, None),)), get_item(out, lead + (builtins.slice(None, -1),))
        )
    return out


def _joined(xs, rank, axis_of, op):
    """``xs`` each raised to at least ``rank`` axes (NumPy's atleast_1d / atleast_2d), concatenated."""
    if not isinstance(xs, (list, tuple)) or not xs:
        raise ValueError(f"ops.{op}: xs must be a non-empty list or tuple of arrays, got {xs!r}")
    parts = []
    for x in xs:
        shp = np.shape(value(x))
        parts.append(reshape(x, (1,) * (rank - len(shp)) + shp) if len(shp) < rank else x)
    return concatenate(parts, axis=axis_of(parts))


def hstack(xs):
    """The arrays ``xs`` joined column-wise: along axis 1, or axis 0 when they are 1-D.

    Parameters
    ----------
    xs : list of array_like (0-D ones become 1-D)

    Returns
    -------
    ndarray or Tensor; the gradient splits dy back.
    """
    return _joined(xs, 1, lambda parts: 0 if np.ndim(value(parts[0])) == 1 else 1, "hstack")


def vstack(xs):
    """The arrays ``xs`` joined row-wise along axis 0 (1-D ones become rows).

    Parameters
    ----------
    xs : list of array_like

    Returns
    -------
    ndarray or Tensor; the gradient splits dy back.
    """
    return _joined(xs, 2, lambda parts: 0, "vstack")


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D coordinate vectors (``numpy.meshgrid``).

    Parameters
    ----------
    *x : 1-D array_like, of lengths n1, n2, ...
    indexing : {"xy", "ij"}, default "xy"
        "xy" swaps the first two output axes (Cartesian), "ij" does not (matrix).

    Returns
    -------
    list of ndarrays or Tensors, each of shape (n1, n2, ...) ((n2, n1, ...) for "xy");
    a grid's gradient is dy summed back onto its vector.
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"ops.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    sizes = [int(np.size(value(v))) for v in x]
    shape_ = list(sizes)
    if indexing == "xy" and len(x) > 1:
        shape_[0], shape_[1] = shape_[1], shape_[0]
    out = []
    for i, v in enumerate(x):
        pos = 1 - i if indexing == "xy" and len(x) > 1 and i < 2 else i
        lined = reshape(v, tuple(-1 if j == pos else 1 for j in range(len(x))))
        out.append(broadcast_to(lined, shape_))
    return out


nonzero = nondiff(
    "nonzero",
    lambda x: tuple(i.astype(np.int32) for i in np.nonzero(x)),
    doc="""The indices of the non-zero entries of ``x``: a tuple of ``x.ndim`` int32 arrays (no gradient).

    Parameters
    ----------
    x : array_like of rank >= 1
    """,
)


# -------------------------------------------------------------- creation (no gradient)
def _dtype(dtype):
    return config.floatx() if dtype is None else dtype


def zeros(shape, dtype=None):
    """An array of zeros (floatx unless ``dtype``)."""
    return np.zeros(shape, _dtype(dtype))


def ones(shape, dtype=None):
    """An array of ones (floatx unless ``dtype``)."""
    return np.ones(shape, _dtype(dtype))


def empty(shape, dtype=None):
    """An uninitialised array (floatx unless ``dtype``)."""
    return np.empty(shape, _dtype(dtype))


def full(shape, fill_value, dtype=None):
    """An array filled with ``fill_value`` (its dtype, or floatx for Python floats)."""
    fill = value(fill_value)
    if dtype is None and isinstance(fill, float):
        dtype = config.floatx()
    return np.full(shape, fill, dtype)


eye = nondiff("eye", lambda N, M=None, k=0, dtype=None: np.eye(N, M, k, dtype=_dtype(dtype)), n_args=0)
identity = nondiff("identity", lambda n, dtype=None: np.identity(n, dtype=_dtype(dtype)), n_args=0)
tri = nondiff("tri", lambda N, M=None, k=0, dtype=None: np.tri(N, M, k, dtype=_dtype(dtype)), n_args=0)
zeros_like = nondiff("zeros_like", lambda x, dtype=None: np.zeros_like(x, dtype=dtype))
ones_like = nondiff("ones_like", lambda x, dtype=None: np.ones_like(x, dtype=dtype))
full_like = nondiff("full_like", lambda x, fill_value, dtype=None: np.full_like(x, value(fill_value), dtype=dtype))


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)`` (Python floats give floatx)."""
    args = [v for v in (start, stop, step) if v is not None]
    if dtype is None and builtins.any(isinstance(v, float) for v in args):
        dtype = config.floatx()
    if step is None:
        return np.arange(start, stop, dtype=dtype) if stop is not None else np.arange(start, dtype=dtype)
    return np.arange(start, stop, step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    return np.linspace(
        value(start), value(stop), num, endpoint=endpoint, retstep=retstep, dtype=_dtype(dtype), axis=axis
    )


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``num`` values evenly spaced on a log scale: ``base ** linspace(start, stop, num)``.

    Parameters
    ----------
    start, stop : float or array_like
        The exponents of the first and the last values.
    num : int, default 50
    endpoint : bool, default True
        Whether ``base ** stop`` is the last value.
    base : float, default 10
    dtype : dtype, optional
        floatx for None (Keras: the inputs' dtype promoted with float).
    axis : int, default 0
        Where the samples go when ``start`` / ``stop`` are arrays.

    Returns
    -------
    ndarray of shape (num,) (plus the inputs' broadcast shape), no gradient.
    """
    if dtype is None:
        kinds = [np.result_type(value(v)) for v in (start, stop) if not isinstance(v, (int, float))]
        dtype = np.result_type(*[k for k in kinds if k.kind == "f"], config.floatx())
    return np.logspace(value(start), value(stop), num=num, endpoint=endpoint, base=base, dtype=dtype, axis=axis)


def shape(x):
    """The shape of ``x`` as a tuple of ints."""
    return tuple(np.shape(value(x)))


def ndim(x):
    """The rank of ``x``."""
    return int(np.ndim(value(x)))


def size(x):
    """The number of entries of ``x``."""
    return int(np.size(value(x)))
