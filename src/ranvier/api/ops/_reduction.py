"""Reductions with ``axis`` / ``keepdims`` (Keras 3 signatures) and their gradients.

A reduction's gradient is dy re-expanded over the reduced axes (``_spread``)
times the local derivative: 1 (sum), 1/N (mean), the arg-max mask split among
ties (max, min), the product of the other entries (prod), softmax (logsumexp).
"""

import builtins

import numpy as np

from ._dispatch import TRACED, floating, nondiff, numeric, value
from ._elementwise import maximum, minimum
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
    "all",
    "any",
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
