"""``ranvier.ops.math`` (Keras 3 ``ops.math``): top-k, segment reductions, erf and friends."""

import numpy as np

from ._dispatch import TRACED, numeric, value
from ._elementwise import erf, erfinv, rsqrt
from ._reduction import logsumexp
from ._shape import _gather_op
from ._tape import record, recording, wrap

__all__ = ["erf", "erfinv", "rsqrt", "logsumexp", "top_k", "in_top_k", "segment_sum", "segment_max"]


def _top_indices(a, k):
    """The indices of the ``k`` largest entries along the last axis, largest first, ties by lower index."""
    n = a.shape[-1]
    # A stable ascending sort of the reversed row, read backwards: descending, ties in index order.
    order = np.argsort(np.flip(a, -1), axis=-1, kind="stable")[..., ::-1]
    return (n - 1 - order)[..., :k]


def top_k(x, k, sorted=True, is_stable=True):
    """The ``k`` largest entries along the last axis and their indices.

    Parameters
    ----------
    x : array_like of rank >= 1, shape (..., n)
    k : int, 1 <= k <= n
    sorted : bool, default True
        The entries come largest first (always: an unsorted order is any order).
    is_stable : bool, default True
        Equal entries keep their index order (always).

    Returns
    -------
    (values, indices): ``x``'s dtype and int32, both of shape (..., k). The
    values' gradient goes back to the entries picked.
    """
    a = numeric(np.asarray(value(x)), "top_k")
    if a.ndim == 0:
        raise ValueError(f"ops.top_k: x must have at least one axis, got shape {a.shape}")
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= a.shape[-1]:
        raise ValueError(f"ops.top_k: k must be an int in [1, {a.shape[-1]}] (x's last axis), got k={k!r}")
    idx = _top_indices(a, int(k))
    values = _gather_op(x, lambda v: np.take_along_axis(v, idx, axis=-1))
    return values, wrap(idx.astype(np.int32), x)


def in_top_k(targets, predictions, k):
    """Whether each target's prediction is among the ``k`` largest of its row (ties count in).

    Parameters
    ----------
    targets : array_like of ints, shape (batch,)
    predictions : array_like, shape (batch, classes)
    k : int >= 1

    Returns
    -------
    bool ndarray or Tensor of shape (batch,), no gradient.
    """
    t, p = np.asarray(value(targets)), numeric(np.asarray(value(predictions)), "in_top_k", "predictions")
    if t.dtype.kind not in "iu":
        raise TypeError(f"ops.in_top_k: targets must be integer class ids, got dtype {t.dtype}")
    if p.ndim != 2 or t.shape != p.shape[:1]:
        raise ValueError(
            f"ops.in_top_k: predictions must be (batch, classes) and targets (batch,), "
            f"got shapes {p.shape} and {t.shape}"
        )
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"ops.in_top_k: k must be an int >= 1, got k={k!r}")
    kth = -np.partition(-p, min(int(k), p.shape[1]) - 1, axis=-1)[:, min(int(k), p.shape[1]) - 1]
    y = np.take_along_axis(p, t[:, None], axis=-1)[:, 0] >= kth
    return wrap(y, targets, predictions)


def _segments(data, segment_ids, num_segments, op):
    """(data array, int ids, num_segments, mask of the rows that count) after checking."""
    d = numeric(np.asarray(value(data)), op, "data")
    ids = np.asarray(value(segment_ids))
    if ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise ValueError(f"ops.{op}: segment_ids must be a 1-D integer array, got dtype {ids.dtype}, shape {ids.shape}")
    if d.ndim == 0 or d.shape[0] != ids.shape[0]:
        raise ValueError(
            f"ops.{op}: segment_ids and data must have the same leading length, got {ids.shape} and {d.shape}"
        )
    if num_segments is None:
        num_segments = int(ids.max()) + 1 if ids.size else 0
    n = int(value(num_segments))
    if ids.size and ids.max() >= n:
        raise ValueError(f"ops.{op}: segment_ids must be < num_segments={n}, got the id {int(ids.max())}")
    # Negative ids (-1) drop their row, as Keras' backends do.
    return d, ids, n, ids >= 0


def _row_gather(ids, keep, ndim):
    """Each row's segment (0 for dropped rows, to index safely) and its keep mask broadcast over ``ndim`` axes."""
    return np.where(keep, ids, 0), keep.reshape((-1,) + (1,) * (ndim - 1))


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of the rows of ``data`` that share a segment id.

    Parameters
    ----------
    data : array_like of shape (n, ...)
    segment_ids : 1-D array_like of n ints; rows with a negative id are dropped
    num_segments : int, optional
        Default: the largest id + 1.
    sorted : bool, default False
        A hint that the ids are sorted (unused: any order works).

    Returns
    -------
    ndarray or Tensor of shape (num_segments, ...), ``data``'s dtype (zeros for empty
    segments). The gradient of a row is dy at its segment (0 for dropped rows).
    """
    d, ids, n, keep = _segments(data, segment_ids, num_segments, "segment_sum")
    y = np.zeros((n,) + d.shape[1:], d.dtype)
    np.add.at(y, ids[keep], d[keep])
    if not isinstance(data, TRACED):
        return wrap(y, segment_ids)
    refs = recording(data)
    if refs is None:
        return wrap(y, data, segment_ids)
    safe, mask = _row_gather(ids, keep, d.ndim)
    return record(y, refs, lambda dy: (np.asarray(dy)[safe] * mask,))


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    """Maxima of the rows of ``data`` that share a segment id.

    Parameters
    ----------
    data : array_like of shape (n, ...)
    segment_ids : 1-D array_like of n ints; rows with a negative id are dropped
    num_segments : int, optional
        Default: the largest id + 1.
    sorted : bool, default False
        A hint that the ids are sorted (unused).

    Returns
    -------
    ndarray or Tensor of shape (num_segments, ...), ``data``'s dtype; empty segments
    hold -inf (the dtype's minimum for integers). The gradient goes to the rows
    equal to their segment's maximum, split among ties (as ``ops.max``).
    """
    d, ids, n, keep = _segments(data, segment_ids, num_segments, "segment_max")
    low = -np.inf if d.dtype.kind == "f" else np.iinfo(d.dtype).min if d.dtype.kind in "iu" else False
    y = np.full((n,) + d.shape[1:], low, d.dtype)
    np.maximum.at(y, ids[keep], d[keep])
    if not isinstance(data, TRACED):
        return wrap(y, segment_ids)
    refs = recording(data)
    if refs is None:
        return wrap(y, data, segment_ids)
    safe, mask = _row_gather(ids, keep, d.ndim)
    hit = (d == y[safe]) & mask
    ties = np.zeros(y.shape, np.int64)
    np.add.at(ties, ids[keep], hit[keep])

    def backward(dy):
        share = np.asarray(dy) / np.maximum(ties, 1)
        return (np.where(hit, share[safe], 0),)

    return record(y, refs, backward)
