"""Reductions with ``axis`` / ``keepdims`` (Keras 3 signatures) and their gradients.

A reduction's gradient is dy re-expanded over the reduced axes (``_spread``)
times the local derivative: 1 (sum), 1/N (mean), the arg-max mask split among
ties (max, min), the product of the other entries (prod), softmax (logsumexp).
"""

import builtins

import numpy as np

from .. import config
from ._dispatch import TRACED, floating, nondiff, numeric, value
from ._elementwise import divide, maximum, minimum, multiply
from ._linalg import tensordot
from ._shape import broadcast_to, diagonal, moveaxis, reshape, sort
from ._tape import record, recording, wrap

_pymax = builtins.max  # this module defines its own max

__all__ = [
    "sum",
    "mean",
    "max",
    "min",
    "amax",
    "amin",
    "prod",
    "var",
    "std",
    "logsumexp",
    "argmax",
    "argmin",
    "norm",
    "cumsum",
    "cumprod",
    "all",
    "any",
    "count_nonzero",
    "average",
    "median",
    "quantile",
    "bincount",
    "digitize",
    "searchsorted",
    "trace",
]


def _axes(axis, ndim, op):
    """``axis`` as a sorted tuple of non-negative axes (all of them for None)."""
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in items:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < _pymax(ndim, 1):
            raise ValueError(f"ops.{op}: axis {a!r} is out of range for an input of rank {ndim}, got axis={axis!r}")
        out.append(int(a) % _pymax(ndim, 1))
    return tuple(sorted(set(out)))


def _kept(dy, shape, axes, keepdims):
    """``dy`` with the reduced axes back as size-1 axes."""
    if keepdims or not axes or not shape:
        return dy
    return np.reshape(dy, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _spread(dy, shape, axes, keepdims):
    """dy broadcast back over the reduced axes: the gradient of a sum."""
    return np.broadcast_to(_kept(dy, shape, axes, keepdims), shape)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _reduction(name, forward, grad, float_only=False, doc=None):
    """A reduction op ``forward(x, axes, keepdims)`` with ``dx = grad(dy_kept, x, y_kept, axes)``."""

    def op(x, axis=None, keepdims=False):
        a = value(x)
        a = floating(a, name) if float_only else numeric(np.asarray(a), name)
        axes = _axes(axis, np.ndim(a), name)
        y = forward(a, axes, keepdims)
        if not isinstance(x, TRACED):
            return y
        refs = recording(x)
        if refs is None:
            return wrap(y, x)
        shape = np.shape(a)
        return record(
            y, refs, lambda dy: (grad(_kept(dy, shape, axes, keepdims), a, _kept(y, shape, axes, keepdims), axes),)
        )

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or f"``{name}`` of ``x`` over ``axis`` (all axes for None)."
    return op


def _extreme_grad(dy, x, y, axes):
    # The gradient goes to the entries equal to the extreme, split evenly among ties.
    mask = x == y
    count = np.maximum(mask.sum(axis=axes, keepdims=True), 1)
    return mask * (dy / count)


def _prod_grad(dy, x, y, axes):
    # The product of the other entries, by exclusive cumulative products from
    # both ends (exact when x holds zeros, unlike y / x).
    x = np.asarray(x)
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = rest + list(axes)
    xt = x.transpose(perm).reshape(tuple(x.shape[i] for i in rest) + (-1,))
    ones = np.ones(xt.shape[:-1] + (1,), x.dtype)
    left = np.cumprod(np.concatenate([ones, xt[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, xt[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape([x.shape[i] for i in perm]).transpose(np.argsort(perm))
    return others * dy


def _var_forward(x, axes, keepdims):
    return np.var(x, axis=axes, keepdims=keepdims)


def _var_grad(dy, x, y, axes):
    return dy * (2.0 / _pymax(_count(np.shape(x), axes), 1)) * (x - np.mean(x, axis=axes, keepdims=True))


def _std_grad(dy, x, y, axes):
    scale = np.where(y > 0, dy / (np.where(y > 0, y, 1) * _pymax(_count(np.shape(x), axes), 1)), 0)
    return scale * (x - np.mean(x, axis=axes, keepdims=True))


def _logsumexp_forward(x, axes, keepdims):
    if np.size(x) == 0:
        return np.log(np.sum(np.exp(x), axis=axes, keepdims=keepdims))
    top = np.max(x, axis=axes, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    out = np.log(np.sum(np.exp(x - top), axis=axes, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axes)


sum = _reduction(
    "sum", lambda x, axes, k: np.sum(x, axis=axes, keepdims=k), lambda dy, x, y, axes: np.broadcast_to(dy, np.shape(x))
)
mean = _reduction(
    "mean",
    lambda x, axes, k: np.mean(x, axis=axes, keepdims=k),
    lambda dy, x, y, axes: np.broadcast_to(dy / _pymax(_count(np.shape(x), axes), 1), np.shape(x)),
    float_only=True,
)
prod = _reduction("prod", lambda x, axes, k: np.prod(x, axis=axes, keepdims=k), _prod_grad)
var = _reduction(
    "var", _var_forward, _var_grad, float_only=True, doc="Population variance (``ddof=0``) of ``x`` over ``axis``."
)
std = _reduction(
    "std",
    lambda x, axes, k: np.sqrt(_var_forward(x, axes, k)),
    _std_grad,
    float_only=True,
    doc="Population standard deviation of ``x`` over ``axis``.",
)
logsumexp = _reduction(
    "logsumexp",
    _logsumexp_forward,
    lambda dy, x, y, axes: dy * np.exp(x - y),
    float_only=True,
    doc="``log(sum(exp(x)))`` over ``axis``, without overflow.",
)
_max = _reduction("max", lambda x, axes, k: np.max(x, axis=axes, keepdims=k), _extreme_grad)
_min = _reduction("min", lambda x, axes, k: np.min(x, axis=axes, keepdims=k), _extreme_grad)


def max(x, axis=None, keepdims=False, initial=None):
    """Largest entry over ``axis``; the gradient goes to the maxima (split among ties)."""
    out = _max(x, axis, keepdims)
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    """Smallest entry over ``axis``; the gradient goes to the minima (split among ties)."""
    out = _min(x, axis, keepdims)
    return out if initial is None else minimum(out, initial)


amax = max
amin = min


argmax = nondiff("argmax", lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims))
argmin = nondiff("argmin", lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims))
all = nondiff("all", lambda x, axis=None, keepdims=False: np.all(x, axis=axis, keepdims=keepdims))
any = nondiff("any", lambda x, axis=None, keepdims=False: np.any(x, axis=axis, keepdims=keepdims))


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along ``axis`` (of the flattened input for None)."""
    a = value(x)
    y = np.cumsum(a, axis=axis, dtype=dtype)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    shape, ax = np.shape(a), 0 if axis is None else axis

    def backward(dy):
        g = np.flip(np.cumsum(np.flip(dy, ax), axis=ax), ax)
        return (g.reshape(shape).astype(np.result_type(a), copy=False),)

    return record(y, refs, backward)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (``numpy.linalg.norm``'s ``ord``; Keras' ``ops.norm``).

    Gradients: the 2-norm / Frobenius norm (``ord=None``, ``2`` on vectors,
    ``"fro"``), and vector p-norms (``1``, ``inf``, ``-inf``, ``p >= 1``).
    Matrix norms other than Frobenius compute but have no gradient (an error
    under a tape names them).
    """
    a = floating(value(x), "norm")
    nd = np.ndim(a)
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    matrix = (isinstance(axis, (list, tuple)) and len(axis) == 2) or (axis is None and ord is not None and nd == 2)
    if axis is None and ord is not None and nd > 2:
        raise ValueError(f"ops.norm: ord={ord!r} needs axis for an input of rank {nd}, got axis=None")
    if axis is None and ord is None:
        y = np.sqrt(np.sum(np.square(a), keepdims=keepdims))
        y = y if keepdims else y.reshape(())
    else:
        y = np.linalg.norm(a, ord=ord, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    axes = _axes(axis, nd, "norm")
    p = 2 if ord is None or ord == "fro" else ord
    if matrix and p != 2 or (matrix and ord == 2):
        raise NotImplementedError(
            f"ops.norm: no gradient for the matrix norm ord={ord!r}; use ord=None or 'fro', got ord={ord!r}"
        )
    if not (p in (np.inf, -np.inf) or (isinstance(p, (int, float)) and p >= 1)):
        raise NotImplementedError(f"ops.norm: no gradient for ord={ord!r} (gradients: 1 <= ord, inf, -inf)")

    def backward(dy):
        yk, dyk = _kept(y, a.shape, axes, keepdims), _kept(dy, a.shape, axes, keepdims)
        if p in (np.inf, -np.inf):
            return (np.sign(a) * _extreme_grad(dyk, np.abs(a), yk, axes),)
        safe = np.where(yk > 0, yk, 1)
        if p == 1:
            return (dyk * np.sign(a),)
        if p == 2:
            return (np.where(yk > 0, dyk / safe, 0) * a,)
        return (np.where(yk > 0, dyk / safe ** (p - 1), 0) * np.sign(a) * np.abs(a) ** (p - 1),)

    return record(y, refs, backward)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product along ``axis`` (of the flattened input for None).

    Parameters
    ----------
    x : array_like, any shape
    axis : int, optional
    dtype : dtype, optional
        Booleans give int32 (as Keras).

    Returns
    -------
    ndarray or Tensor of ``x``'s shape (flattened for ``axis=None``). The
    gradient is exact where ``x`` holds zeros (no division by ``x``).
    """
    a = numeric(np.asarray(value(x)), "cumprod")
    if dtype is None and a.dtype == np.bool_:
        dtype = np.int32
    if axis is not None and not -_pymax(a.ndim, 1) <= axis < _pymax(a.ndim, 1):
        raise ValueError(f"ops.cumprod: axis is out of range for an input of rank {a.ndim}, got axis={axis!r}")
    y = np.cumprod(a, axis=axis, dtype=dtype)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    flat = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else axis % _pymax(a.ndim, 1)

    def backward(dy):
        # dx_i = prod_{k<i} x_k * s_i with s_i = sum_{j>=i} dy_j prod_{i<k<=j} x_k, so
        # s_i = dy_i + x_{i+1} s_{i+1}: one backward sweep, exact when x has zeros.
        xm, dym = np.moveaxis(flat, ax, 0), np.moveaxis(np.asarray(dy), ax, 0)
        n = xm.shape[0]
        s = np.empty(dym.shape, np.result_type(dym, xm))
        if n:
            s[n - 1] = dym[n - 1]
        for i in range(n - 2, -1, -1):
            s[i] = dym[i] + xm[i + 1] * s[i + 1]
        left = np.ones_like(s)
        if n > 1:
            left[1:] = np.cumprod(xm[:-1], axis=0)
        return (np.moveaxis(left * s, 0, ax).reshape(a.shape),)

    return record(y, refs, backward)


count_nonzero = nondiff(
    "count_nonzero",
    lambda x, axis=None: np.asarray(np.count_nonzero(x, axis=axis)).astype(np.int32),
    doc="""The number of non-zero entries of ``x`` over ``axis`` (all for None), as int32 (no gradient).

    Parameters
    ----------
    x : array_like
    axis : int or tuple of ints, optional
    """,
)


def average(x, axis=None, weights=None):
    """Weighted mean of ``x`` over ``axis`` (``numpy.average``).

    Parameters
    ----------
    x : array_like, any shape; ints become floatx
    axis : int or tuple of ints, optional
        All axes for None.
    weights : array_like, optional
        ``x``'s shape, or 1-D of length ``x.shape[axis]`` for an int ``axis``.

    Returns
    -------
    ndarray or Tensor: ``sum(x * weights) / sum(weights)`` over ``axis``.
    Gradients flow to ``x`` and to ``weights``.
    """
    if weights is None:
        return mean(x, axis)
    a, w = floating(value(x), "average"), floating(value(weights), "average", "weights")
    nd = np.ndim(a)
    axes = _axes(axis, nd, "average")
    if not isinstance(weights, TRACED):
        weights = w
    if np.shape(w) != np.shape(a):
        if not (isinstance(axis, (int, np.integer)) and np.ndim(w) == 1 and np.shape(w)[0] == np.shape(a)[axis]):
            raise ValueError(
                f"ops.average: weights must have x's shape {np.shape(a)}, or be 1-D of length x.shape[axis] "
                f"for an int axis, got weights of shape {np.shape(w)} with axis={axis!r}"
            )
        weights = reshape(weights, tuple(-1 if i == axes[0] else 1 for i in range(nd)))
    if not isinstance(x, TRACED):
        x = a
    total = sum(multiply(x, weights), axis)
    return divide(total, sum(broadcast_to(weights, np.shape(a)), axis))


_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_weights(q, n, method, dtype):
    """(len(q), n) weights of the order statistics giving each quantile (numpy's definitions)."""
    pos = q * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    rows = np.arange(q.size)
    w = np.zeros((q.size, n), dtype)
    if method == "linear":
        frac = pos - lo
        np.add.at(w, (rows, lo), 1 - frac)
        np.add.at(w, (rows, hi), frac)
    elif method == "midpoint":
        hi = np.ceil(pos).astype(np.intp)
        np.add.at(w, (rows, lo), 0.5)
        np.add.at(w, (rows, hi), 0.5)
    else:
        pick = {"lower": lo, "higher": np.ceil(pos), "nearest": np.around(pos)}[method]
        w[rows, np.asarray(pick, np.intp)] = 1
    return w


def _quantile_traced(x, qs, axis, method, keepdims, dtype):
    """Quantiles as fixed weights on the sorted values: a sort (a gather) then a tensordot."""
    a = value(x)
    nd = np.ndim(a)
    axes = _axes(axis, nd, "quantile")
    rest = [i for i in range(nd) if i not in axes]
    moved = moveaxis(x, list(axes), list(range(len(rest), nd))) if axes else x
    flat = reshape(moved, tuple(a.shape[i] for i in rest) + (-1,))
    n = int(np.prod([a.shape[i] for i in axes]))
    if n == 0:
        raise ValueError(f"ops.quantile: x has no entries over axis={axis!r}, got shape {np.shape(a)}")
    w = _quantile_weights(qs.reshape(-1), n, method, dtype)
    y = tensordot(w, sort(_as_dtype(flat, dtype), axis=-1), ([1], [len(rest)]))
    kept = tuple(1 if i in axes else a.shape[i] for i in range(nd)) if keepdims else tuple(a.shape[i] for i in rest)
    return reshape(y, qs.shape + kept)


def _as_dtype(x, dtype):
    # A traced input is float already (its dtype is the result's): kept, so gradients flow.
    return x if np.result_type(value(x)) == dtype else np.asarray(value(x)).astype(dtype)


def _float_result(a):
    """The result dtype of quantile and median: ``x``'s float dtype, floatx for ints and bools."""
    return a.dtype if a.dtype.kind == "f" else np.dtype(config.floatx())


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles of ``x`` over ``axis`` (``numpy.quantile``).

    Parameters
    ----------
    x : array_like, any shape
    q : float or array_like of floats in [0, 1]
    axis : int or tuple of ints, optional
        All axes for None.
    method : {"linear", "lower", "higher", "midpoint", "nearest"}, default "linear"
    keepdims : bool, default False

    Returns
    -------
    ndarray or Tensor of shape ``q.shape + reduced x.shape`` (float; floatx for
    integer ``x``). The gradient goes to the order statistics each quantile
    interpolates (ties in ``x`` take it in their sorted order).
    """
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"ops.quantile: method must be one of {_QUANTILE_METHODS}, got {method!r}")
    a = numeric(np.asarray(value(x)), "quantile")
    # Not value(q): it would round a list of Python floats to floatx.
    qs = np.asarray(value(q) if isinstance(q, TRACED) else q, np.float64)
    if qs.ndim > 1 or np.any((qs < 0) | (qs > 1)):
        raise ValueError(f"ops.quantile: q must be a float or a 1-D array of floats in [0, 1], got q={value(q)!r}")
    dtype = _float_result(a)
    _axes(axis, a.ndim, "quantile")
    if not isinstance(x, TRACED):
        src = a.astype(dtype) if a.dtype.kind == "b" else a
        ax = tuple(axis) if isinstance(axis, list) else axis
        return np.quantile(src, qs, axis=ax, method=method, keepdims=keepdims).astype(dtype)
    return _quantile_traced(x, qs, axis, method, keepdims, dtype)


def median(x, axis=None, keepdims=False):
    """The median of ``x`` over ``axis`` (``numpy.median``: the mean of the middle two for an even count).

    Parameters
    ----------
    x : array_like, any shape
    axis : int or tuple of ints, optional
        All axes for None.
    keepdims : bool, default False

    Returns
    -------
    ndarray or Tensor, ``x``'s shape reduced over ``axis`` (float). The gradient goes to
    the middle entry (split between the middle two for an even count).
    """
    a = numeric(np.asarray(value(x)), "median")
    dtype = _float_result(a)
    if not isinstance(x, TRACED):
        ax = tuple(axis) if isinstance(axis, list) else axis
        _axes(axis, a.ndim, "median")
        src = a.astype(dtype) if a.dtype.kind == "b" else a
        return np.asarray(np.median(src, axis=ax, keepdims=keepdims)).astype(dtype)
    return _quantile_traced(x, np.asarray(0.5), axis, "linear", keepdims, dtype)


def _bincount(x, weights=None, minlength=0, sparse=False):
    if sparse:
        raise ValueError("ops.bincount: sparse outputs are not supported, got sparse=True")
    ids = np.asarray(x)
    if ids.dtype.kind not in "iu" or ids.ndim not in (1, 2) or (ids.size and ids.min() < 0):
        raise ValueError(
            f"ops.bincount: x must be a 1-D or 2-D array of non-negative integers, "
            f"got dtype {ids.dtype}, shape {ids.shape}"
        )
    w = None if weights is None else np.asarray(weights)
    if w is not None and w.shape != ids.shape:
        raise ValueError(f"ops.bincount: weights must have x's shape {ids.shape}, got shape {w.shape}")
    # Keras' promotion: float weights keep their dtype (an int never widens a float).
    dtype = np.int32 if w is None else w.dtype if w.dtype.kind == "f" else np.result_type(ids.dtype, w.dtype)
    length = _pymax(int(minlength), int(ids.max()) + 1 if ids.size else 0)
    if ids.ndim == 1:
        return np.bincount(ids, w, length).astype(dtype)
    rows = [np.bincount(r, wr, length) for r, wr in zip(ids, [None] * len(ids) if w is None else w)]
    return np.stack(rows).reshape(ids.shape[0], length).astype(dtype)


def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts of each non-negative integer in ``x`` (per row for 2-D ``x``), or sums of ``weights``.

    Parameters
    ----------
    x : array_like of non-negative ints, shape (n,) or (rows, n)
    weights : array_like of ``x``'s shape, optional
    minlength : int, default 0
        The least number of bins.
    sparse : bool
        Only False.

    Returns
    -------
    ndarray or Tensor of shape (bins,) or (rows, bins): int32 counts, or the
    weights' dtype. Gradient: to ``weights`` only (dy at each entry's bin).
    """
    ids = np.asarray(value(x))
    y = _bincount(ids, None if weights is None else value(weights), minlength, sparse)
    if not isinstance(weights, TRACED):
        return wrap(y, x)
    refs = recording(weights)
    if refs is None:
        return wrap(y, x, weights)
    if ids.ndim == 1:
        return record(y, refs, lambda dy: (np.asarray(dy)[ids],))
    return record(y, refs, lambda dy: (np.take_along_axis(np.asarray(dy), ids, axis=1),))


digitize = nondiff(
    "digitize",
    lambda x, bins: np.digitize(x, bins).astype(np.int32),
    2,
    doc="""The index of the bin of each entry of ``x`` (``numpy.digitize``), int32 (no gradient).

    Parameters
    ----------
    x : array_like, any shape
    bins : 1-D array_like, monotonic
    """,
)


def _searchsorted(sorted_sequence, values, side="left"):
    if np.ndim(sorted_sequence) != 1:
        raise ValueError(f"ops.searchsorted: sorted_sequence must be 1-D, got shape {np.shape(sorted_sequence)}")
    if side not in ("left", "right"):
        raise ValueError(f"ops.searchsorted: side must be 'left' or 'right', got {side!r}")
    out = np.searchsorted(sorted_sequence, values, side=side)
    return out.astype(np.int32 if np.shape(sorted_sequence)[0] <= np.iinfo(np.int32).max else np.int64)


searchsorted = nondiff(
    "searchsorted",
    _searchsorted,
    2,
    doc="""Where ``values`` would be inserted into ``sorted_sequence`` to keep it sorted, int32 (no gradient).

    Parameters
    ----------
    sorted_sequence : 1-D array_like, ascending
    values : array_like, any shape
    side : {"left", "right"}, default "left"
        The first or the last suitable index among equal entries.
    """,
)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the ``offset``-th diagonal of ``x`` over ``axis1`` and ``axis2``.

    Parameters
    ----------
    x : array_like of rank >= 2
    offset : int, default 0
    axis1, axis2 : int, default 0, 1

    Returns
    -------
    ndarray or Tensor: ``x``'s shape without ``axis1`` and ``axis2`` (bool, int8 and int16
    give int32, uint8 and uint16 uint32, as Keras). The gradient puts dy on the diagonal.
    """
    a = numeric(np.asarray(value(x)), "trace")
    if a.ndim < 2:
        raise ValueError(f"ops.trace: x must have at least 2 axes, got shape {a.shape}")
    if not isinstance(x, TRACED):
        dtype = {"b": np.int32, "i": np.int32, "u": np.uint32}.get(a.dtype.kind) if a.dtype.itemsize < 4 else None
        return np.trace(a, offset=offset, axis1=axis1, axis2=axis2, dtype=dtype)
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)
