"""``ranvier.ops.core``: conversion, casting, ``stop_gradient``, ``custom_gradient``, control flow
and scatters (Keras 3 ``ops.core``).

Control flow runs eagerly in Python: ``cond`` calls one branch, the loops run
their body, so under a tape every op inside records itself and gradients
flow through the branch taken and every iteration, with nothing to trace.
"""

import builtins
import functools

import numpy as np

from .. import config, tree
from ..variables import Variable
from ._dispatch import TRACED, value
from ._shape import get_item, shape, slice, stack, unstack
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
    "cond",
    "switch",
    "fori_loop",
    "while_loop",
    "scan",
    "map",
    "vectorized_map",
    "scatter",
    "scatter_update",
    "slice_update",
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


# -------------------------------------------------------------- control flow
def _truth(pred, op, arg):
    """A predicate's Python bool (a scalar or a one-entry array)."""
    p = np.asarray(value(pred))
    if p.size != 1:
        raise ValueError(f"ops.{op}: {arg} must be a scalar boolean, got an array of shape {p.shape}")
    return bool(p.reshape(()))


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()``.

    Parameters
    ----------
    pred : bool or scalar array
    true_fn, false_fn : callables without arguments

    Returns
    -------
    The result of the branch called; under a tape its ops are recorded (only
    that branch runs, so only it gets gradients).
    """
    return true_fn() if _truth(pred, "cond", "pred") else false_fn()


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (and fewer than ``maximum_iterations``).

    Parameters
    ----------
    cond : callable(*loop_vars) -> bool or scalar array
    body : callable(*loop_vars) -> the new loop_vars (same structure)
    loop_vars : array, or a tuple / list of arrays (nested structures allowed)
    maximum_iterations : int, optional

    Returns
    -------
    The final loop_vars, in their structure (a single array if one was given).
    Every iteration's ops are recorded under a tape.
    """
    if maximum_iterations is not None and (
        not isinstance(maximum_iterations, (int, np.integer)) or maximum_iterations < 0
    ):
        raise ValueError(f"ops.while_loop: maximum_iterations must be an int >= 0, got {maximum_iterations!r}")
    is_tuple = isinstance(loop_vars, (list, tuple))
    state = tree.map_structure(convert_to_tensor, tuple(loop_vars) if is_tuple else (loop_vars,))
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and _truth(cond(*state), "while_loop", "cond"):
        state = body(*state)
        state = tuple(state) if isinstance(state, (list, tuple)) else (state,)
        steps += 1
    return state if is_tuple else state[0]


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``, from ``init_val``.

    Parameters
    ----------
    lower, upper : int (or scalar int arrays)
    body_fun : callable(i, val) -> val
    init_val : any structure of arrays

    Returns
    -------
    The final ``val``; every iteration's ops are recorded under a tape.
    """
    lo, hi = (np.asarray(value(v)) for v in (lower, upper))
    if lo.size != 1 or hi.size != 1 or lo.dtype.kind not in "iu" or hi.dtype.kind not in "iu":
        raise TypeError(
            f"ops.fori_loop: lower and upper must be scalar ints, got {value(lower)!r} and {value(upper)!r}"
        )
    val = init_val
    for i in range(int(lo), int(hi)):
        val = body_fun(i, val)
    return val


def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clamped to the branches (Keras ``ops.switch``).

    Parameters
    ----------
    index : int or scalar int array
    branches : sequence of callables
    *operands
        The chosen branch's arguments.

    Returns
    -------
    The branch's result; under a tape its ops are recorded.
    """
    i = np.asarray(value(index))
    if i.size != 1 or i.dtype.kind not in "iu":
        raise TypeError(f"ops.switch: index must be a scalar int, got {value(index)!r}")
    if not branches:
        raise ValueError("ops.switch: branches must hold at least one function, got none")
    return branches[builtins.min(builtins.max(int(i.reshape(())), 0), len(branches) - 1)](*operands)


def _stacked(ys):
    """Per-step results (equal structures) stacked along a new leading axis, leaf by leaf."""
    return tree.map_structure(lambda *leaves: stack(leaves), *ys)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the last carry and the stacked ``y``.

    Parameters
    ----------
    f : callable(carry, x) -> (carry, y)
    init : the first carry (any structure of arrays)
    xs : structure of arrays with one leading length n, optional
        None: ``f`` gets ``x = None`` for ``length`` steps.
    length : int, optional
        The number of steps (n by default).
    reverse : bool, default False
        Run from the last step to the first (``y`` keeps the steps' order).
    unroll : int or bool, default 1
        Accepted (a Python loop has nothing to unroll).

    Returns
    -------
    (carry, ys): ``ys`` has each ``y`` leaf stacked on a leading axis of n. Under a
    tape every step records its ops.
    """
    if not callable(f):
        raise TypeError(f"ops.scan: f must be callable, got {f!r}")
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"ops.scan: unroll must be a positive int or a bool, got unroll={unroll!r}")
    if xs is None and length is None:
        raise ValueError("ops.scan: give xs or length, got neither")
    leaves = [] if xs is None else [convert_to_tensor(x) for x in tree.flatten(xs)]
    n = int(length) if length is not None else shape(leaves[0])[0]
    if n < 1:
        raise ValueError(f"ops.scan: at least one step is needed, got {n} (xs of length 0 or length=0)")
    carry = tree.map_structure(convert_to_tensor, init)
    ys = [None] * n
    for i in reversed(range(n)) if reverse else range(n):
        x = tree.pack_sequence_as(xs, [get_item(leaf, i) for leaf in leaves]) if leaves else None
        carry, ys[i] = f(carry, x)
    if builtins.all(y is None for y in ys):
        return carry, None
    return carry, _stacked(ys)


def map(f, xs):
    """``f`` applied to each entry along the leading axis of ``xs``, the results stacked (Keras ``ops.map``).

    Parameters
    ----------
    f : callable(x) -> structure of arrays
    xs : structure of arrays with one leading length n

    Returns
    -------
    The results, each leaf stacked on a leading axis of n.
    """
    return scan(lambda carry, x: (carry, f(x)), (), xs)[1]


def vectorized_map(function, elements):
    """``function`` on each entry of ``elements`` along axis 0, the results stacked (one at a time here).

    Parameters
    ----------
    function : callable
        Gets one slice of ``elements``; a list of slices when ``elements`` is a list / tuple.
    elements : array, or a list / tuple of arrays with one leading length

    Returns
    -------
    The results, each leaf stacked on a leading axis.
    """
    if isinstance(elements, (list, tuple)):
        n = shape(elements[0])[0]
        return _stacked([function([get_item(e, i) for e in elements]) for i in range(n)])
    return _stacked([function(get_item(elements, i)) for i in range(shape(elements)[0])])


# -------------------------------------------------------------- scatters
def _index_rows(indices, shape, op):
    """``indices`` as an (N, k) int array (k <= len(shape)), in range, and its tuple of index columns."""
    idx = np.asarray(value(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"ops.{op}: indices must be integers, got dtype {idx.dtype}")
    if idx.ndim == 1:
        idx = idx[:, None]
    if idx.ndim != 2 or not 1 <= idx.shape[1] <= len(shape):
        raise ValueError(
            f"ops.{op}: indices must have shape (num_updates, k) with 1 <= k <= {len(shape)}, "
            f"got shape {np.shape(value(indices))}"
        )
    bound = np.asarray(shape[: idx.shape[1]])
    if idx.size and (np.any(idx < 0) or np.any(idx >= bound)):
        raise ValueError(f"ops.{op}: indices must lie inside shape {tuple(shape)}, got {idx.tolist()}")
    return idx, tuple(idx.T)


def _updates_shape(idx, shape, updates, op, arg):
    want = (idx.shape[0],) + tuple(shape[idx.shape[1] :])
    if np.shape(updates) != want:
        raise ValueError(
            f"ops.{op}: {arg} must have shape {want} for indices of shape {idx.shape}, got shape {np.shape(updates)}"
        )


def scatter(indices, values, shape):
    """A zero array of ``shape`` with ``values`` added at ``indices`` (repeated indices add up).

    Parameters
    ----------
    indices : int array_like of shape (N, k), k <= len(shape)
    values : array_like of shape (N,) + shape[k:]
    shape : tuple of ints

    Returns
    -------
    ndarray or Tensor of ``shape`` in ``values``' dtype; ``values``' gradient is dy gathered at ``indices``.
    """
    shape = tuple(int(s) for s in (value(shape) if not isinstance(shape, tuple) else shape))
    v = np.asarray(value(values))
    idx, cols = _index_rows(indices, shape, "scatter")
    _updates_shape(idx, shape, v, "scatter", "values")
    y = np.zeros(shape, v.dtype)
    np.add.at(y, cols, v)
    if not isinstance(values, TRACED):
        return y
    refs = recording(values)
    if refs is None:
        return wrap(y, values)
    return record(y, refs, lambda dy: (np.asarray(dy)[cols],))


_REDUCTIONS = {"add": np.add, "max": np.maximum, "min": np.minimum, "mul": np.multiply}


def scatter_update(inputs, indices, updates, reduction=None):
    """A copy of ``inputs`` with ``updates`` written (or combined by ``reduction``) at ``indices``.

    Parameters
    ----------
    inputs : array_like of shape (D0, ..., Dn)
    indices : int array_like of shape (N, k), k <= n + 1
    updates : array_like of shape (N,) + inputs.shape[k:]
    reduction : {None, "add", "max", "min", "mul"}, default None
        None: the last write to an index wins; else repeated indices combine.

    Returns
    -------
    ndarray or Tensor of ``inputs``' shape and dtype (``inputs`` is not modified).
    Gradients (None and "add"): dy to ``inputs`` where not overwritten, dy
    gathered at ``indices`` to the (winning) ``updates``. "max", "min" and
    "mul" compute but have no gradient (an error under a tape).
    """
    if reduction is not None and (not isinstance(reduction, str) or reduction.lower() not in _REDUCTIONS):
        raise ValueError(f"ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul', got {reduction!r}")
    mode = None if reduction is None else reduction.lower()
    a = np.asarray(value(inputs))
    idx, cols = _index_rows(indices, a.shape, "scatter_update")
    u = np.asarray(value(updates))
    _updates_shape(idx, a.shape, u, "scatter_update", "updates")
    y = a.copy()
    if mode is None:
        y[cols] = u
    else:
        _REDUCTIONS[mode].at(y, cols, u.astype(a.dtype, copy=False))
    if not (isinstance(inputs, TRACED) or isinstance(updates, TRACED)):
        return y
    refs = recording(inputs, updates)
    if refs is None:
        return wrap(y, inputs, updates)
    if mode not in (None, "add"):
        raise NotImplementedError(
            f"ops.scatter_update: no gradient for reduction={reduction!r} (gradients: None, 'add')"
        )
    if mode is None:
        # Which update wins each written index (the last one): only it gets dy there.
        last = np.full(a.shape[: idx.shape[1]], -1, np.intp)
        last[cols] = np.arange(idx.shape[0])
        won = (last[cols] == np.arange(idx.shape[0])).reshape((-1,) + (1,) * (u.ndim - 1))
        written = np.zeros(a.shape, bool)
        written[cols] = True

    def backward(dy):
        dy = np.asarray(dy)
        if mode == "add":
            return (dy if refs[0] is not None else None, dy[cols] if refs[1] is not None else None)
        return (
            np.where(written, 0, dy) if refs[0] is not None else None,
            np.where(won, dy[cols], 0) if refs[1] is not None else None,
        )

    return record(y, refs, backward)


def slice_update(inputs, start_indices, updates):
    """A copy of ``inputs`` with the block starting at ``start_indices`` replaced by ``updates``.

    Parameters
    ----------
    inputs : array_like of shape (D0, ..., Dn)
    start_indices : n + 1 ints (or a 1-D int array)
    updates : array_like of rank n + 1 that fits inside ``inputs`` from ``start_indices``

    Returns
    -------
    ndarray or Tensor of ``inputs``' shape and dtype (``inputs`` is not modified).
    Gradients: dy outside the block to ``inputs``, dy's block to ``updates``.
    """
    a, u = np.asarray(value(inputs)), np.asarray(value(updates))
    starts = [
        int(np.asarray(value(s)))
        for s in (value(start_indices) if not isinstance(start_indices, (list, tuple)) else start_indices)
    ]
    if (
        len(starts) != a.ndim
        or u.ndim != a.ndim
        or any(s < 0 or s + n > d for s, n, d in zip(starts, u.shape, a.shape))
    ):
        raise ValueError(
            f"ops.slice_update: updates of shape {u.shape} from start_indices {starts} must fit "
            f"inside inputs of shape {a.shape}"
        )
    key = tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))
    y = a.copy()
    y[key] = u
    if not (isinstance(inputs, TRACED) or isinstance(updates, TRACED)):
        return y
    refs = recording(inputs, updates)
    if refs is None:
        return wrap(y, inputs, updates)

    def backward(dy):
        dx = None
        if refs[0] is not None:
            dx = np.array(dy)
            dx[key] = 0
        return dx, np.asarray(dy)[key] if refs[1] is not None else None

    return record(y, refs, backward)
