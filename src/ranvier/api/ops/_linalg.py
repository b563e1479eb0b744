"""Products: matmul, dot, tensordot, einsum, outer.

2-D float32/float64 products of one dtype (the common case: ``x @ kernel``)
of at least 2^18 multiply-adds, and their two backward products, run through ranvier's GEMM shim, the one the
Dense layer uses (``core._blas``: threaded over row blocks inside fit, a
GEMV for a single row), with transposed operands passed as flags, never
copied. Other ranks and dtypes use NumPy.
"""

import string

import numpy as np

from ...core import _blas
from ._dispatch import TRACED, numeric, value
from ._tape import record, recording, unbroadcast, wrap

__all__ = ["matmul", "dot", "tensordot", "einsum", "outer", "cross", "vdot"]

_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_GEMM_MIN_WORK = 1 << 18


def _operand(a):
    """(C-contiguous 2-D array, transposed?) for the GEMM shim, copying only strided views."""
    if a.flags.c_contiguous:
        return a, False
    if a.flags.f_contiguous:
        return a.T, True
    return np.ascontiguousarray(a), False


def _gemm(a, b, ta=False, tb=False):
    """op(a) @ op(b) for 2-D arrays of one float dtype."""
    a, fa = _operand(a)
    b, fb = _operand(b)
    ta, tb = ta != fa, tb != fb
    m = a.shape[1] if ta else a.shape[0]
    n = b.shape[0] if tb else b.shape[1]
    out = np.empty((m, n), a.dtype)
    _blas.gemm_py(ta, tb, 1.0, a, b, 0.0, out)
    return out


def _use_gemm(a, b):
    # Below ~2^18 multiply-adds the shim's fused-type dispatch (~3 us) costs more
    # than its threading can save, and NumPy's BLAS call is as good.
    return (
        a.ndim == 2
        and b.ndim == 2
        and a.dtype == b.dtype
        and a.dtype in _GEMM_DTYPES
        and a.shape[0] * a.shape[1] * b.shape[-1] >= _GEMM_MIN_WORK
    )


def _check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"ops.matmul: inputs must have at least one axis, got shapes {a.shape} and {b.shape}")
    k1, k2 = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k1 != k2:
        raise ValueError(
            f"ops.matmul: x1's last axis ({k1}) must match x2's "
            f"{'only' if b.ndim == 1 else 'second-to-last'} axis ({k2}), "
            f"got shapes {a.shape} and {b.shape}"
        )


def _matmul(a, b):
    if _use_gemm(a, b):
        if a.shape[1] != b.shape[0]:
            _check_matmul(a, b)
        return _gemm(a, b)
    _check_matmul(a, b)
    return np.matmul(a, b)


def matmul(x1, x2):
    """Matrix product with NumPy's rules (1-D operands promoted, batch axes broadcast)."""
    a, b = numeric(np.asarray(value(x1)), "matmul", "x1"), numeric(np.asarray(value(x2)), "matmul", "x2")
    y = _matmul(a, b)
    if not (isinstance(x1, TRACED) or isinstance(x2, TRACED)):
        return y
    refs = recording(x1, x2)
    if refs is None:
        return wrap(y, x1, x2)
    ra, rb = refs
    if _use_gemm(a, b):

        def backward_2d(dy):
            dy = np.asarray(dy, a.dtype)
            return (
                _gemm(dy, b, tb=True) if ra is not None else None,
                _gemm(a, dy, ta=True) if rb is not None else None,
            )

        return record(y, refs, backward_2d)
    a2 = a if a.ndim > 1 else a[None, :]
    b2 = b if b.ndim > 1 else b[:, None]
    shape2 = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])

    def backward(dy):
        dy2 = np.reshape(dy, shape2)
        da = db = None
        if ra is not None:
            da = unbroadcast(np.matmul(dy2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if rb is not None:
            db = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), dy2), b2.shape).reshape(b.shape)
        return da, db

    return record(y, refs, backward)


def _tensordot_axes(axes, nd_a, nd_b):
    if isinstance(axes, (int, np.integer)):
        return list(range(nd_a - axes, nd_a)), list(range(axes))
    try:
        axa, axb = axes
    except (TypeError, ValueError):
        raise ValueError(f"ops.tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from None
    axa = [axa] if isinstance(axa, (int, np.integer)) else list(axa)
    axb = [axb] if isinstance(axb, (int, np.integer)) else list(axb)
    if len(axa) != len(axb):
        raise ValueError(f"ops.tensordot: the two axis lists must have the same length, got {axes!r}")
    return [int(i) % nd_a for i in axa], [int(i) % nd_b for i in axb]


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last of x1 with the first of x2; or two lists)."""
    a, b = np.asarray(value(x1)), np.asarray(value(x2))
    axa, axb = _tensordot_axes(axes, a.ndim, b.ndim)
    for i, j in zip(axa, axb):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"ops.tensordot: x1 axis {i} ({a.shape[i]}) and x2 axis {j} ({b.shape[j]}) "
                f"differ, got shapes {a.shape} and {b.shape} with axes={axes!r}"
            )
    y = np.tensordot(a, b, (axa, axb))
    if not (isinstance(x1, TRACED) or isinstance(x2, TRACED)):
        return y
    refs = recording(x1, x2)
    if refs is None:
        return wrap(y, x1, x2)
    ra, rb = refs
    free_a = [i for i in range(a.ndim) if i not in axa]
    free_b = [i for i in range(b.ndim) if i not in axb]
    fa = len(free_a)

    def backward(dy):
        da = db = None
        if ra is not None:
            # Result axes: x1's free axes, then x2's contracted ones in x2's order (their x1 partners).
            g = np.tensordot(dy, b, (list(range(fa, dy.ndim)), free_b))
            order = free_a + [axa[axb.index(j)] for j in sorted(axb)]
            da = np.transpose(g, np.argsort(order))
        if rb is not None:
            g = np.tensordot(a, dy, (free_a, list(range(fa))))
            order = [axb[axa.index(i)] for i in sorted(axa)] + free_b
            db = np.transpose(g, np.argsort(order))
        return da, db

    return record(y, refs, backward)


def dot(x1, x2):
    """``numpy.dot``: a product over x1's last axis and x2's second-to-last (or only) axis."""
    a, b = value(x1), value(x2)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        from ._elementwise import multiply

        return multiply(x1, x2)
    if np.ndim(b) <= 2 or np.ndim(a) == 1:
        return matmul(x1, x2)
    return tensordot(x1, x2, ([np.ndim(a) - 1], [np.ndim(b) - 2]))


def outer(x1, x2):
    """Outer product of the flattened inputs."""
    from ._elementwise import multiply
    from ._shape import reshape

    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def _einsum_terms(subscripts, shapes):
    """Explicit (inputs, output) subscripts: ellipses spelled out, the implicit output made explicit."""
    spec = subscripts.replace(" ", "")
    ins, _, out = spec.partition("->")
    terms = ins.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"ops.einsum: subscripts name {len(terms)} operands, got {len(shapes)} operands")
    spare = iter(c for c in string.ascii_letters if c not in spec)
    n_ell = max([len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t], default=0)
    ell = "".join(next(spare) for _ in range(n_ell))
    terms = [
        t.replace("...", ell[n_ell - (len(s) - (len(t) - 3)) :]) if "..." in t else t for t, s in zip(terms, shapes)
    ]
    if "->" in spec:
        out = out.replace("...", ell)
    else:
        letters = "".join(terms)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return terms, out


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation (``numpy.einsum``'s subscripts, ellipses included)."""
    arrays = [np.asarray(value(x)) for x in operands]
    y = np.einsum(subscripts, *arrays, **kwargs)
    if not any(isinstance(x, TRACED) for x in operands):
        return y
    refs = recording(*operands)
    if refs is None:
        return wrap(y, *operands)
    terms, out = _einsum_terms(subscripts, [a.shape for a in arrays])
    for r, t in zip(refs, terms):
        if r is not None and len(set(t)) != len(t):
            raise NotImplementedError(
                f"ops.einsum: no gradient for an operand with a repeated index "
                f"(a diagonal), got subscripts {subscripts!r}"
            )

    def grad(i, dy):
        others = [j for j in range(len(arrays)) if j != i]
        avail = set(out).union(*(terms[j] for j in others))
        term = terms[i]
        target = "".join(c for c in term if c in avail)
        spec = ",".join([out] + [terms[j] for j in others]) + "->" + target
        g = np.einsum(spec, dy, *(arrays[j] for j in others), optimize=len(others) > 1)
        if target != term:
            # Indices summed in this operand alone: their gradient is dy spread over them.
            g = g.reshape([g.shape[target.index(c)] if c in target else 1 for c in term])
            g = np.broadcast_to(g, np.broadcast_shapes(g.shape, arrays[i].shape))
        return g

    return record(y, refs, lambda dy: tuple(grad(i, dy) if r is not None else None for i, r in enumerate(refs)))


def _vectors3(v, axis, arg):
    """``v`` with its vector axis last and 2-vectors padded to 3 (z = 0), and the vector length."""
    m = np.moveaxis(v, axis, -1)
    n = m.shape[-1]
    if n not in (2, 3):
        raise ValueError(f"ops.cross: {arg}'s vector axis must have 2 or 3 entries, got shape {v.shape}")
    if n == 2:
        m = np.concatenate([m, np.zeros(m.shape[:-1] + (1,), m.dtype)], axis=-1)
    return m, n


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross products of the 2- or 3-vectors of ``x1`` and ``x2`` (``numpy.cross``).

    Parameters
    ----------
    x1, x2 : array_like; the vector axes hold 2 or 3 entries, the others broadcast
    axisa, axisb : int, default -1
        The vector axes of ``x1`` and ``x2``.
    axisc : int, default -1
        The vector axis of the result (absent when both inputs hold 2-vectors).
    axis : int, optional
        Overrides ``axisa``, ``axisb`` and ``axisc``.

    Returns
    -------
    ndarray or Tensor: the broadcast shape with a vector axis of 3 (of none, the
    z component, for two 2-vectors). Gradients ``x2 x dy`` and ``dy x x1``.
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a = numeric(np.asarray(value(x1)), "cross", "x1")
    b = numeric(np.asarray(value(x2)), "cross", "x2")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"ops.cross: x1 and x2 must have a vector axis, got shapes {a.shape} and {b.shape}")
    a3, na = _vectors3(a, axisa, "x1")
    b3, nb = _vectors3(b, axisb, "x2")
    # On 3-vectors (2-vectors padded): numpy.cross's 2-vector forms are deprecated in NumPy 2.
    y3 = np.cross(a3, b3)
    planar = na == 2 and nb == 2
    y = y3[..., 2] if planar else np.moveaxis(y3, -1, axisc)
    if not (isinstance(x1, TRACED) or isinstance(x2, TRACED)):
        return y
    refs = recording(x1, x2)
    if refs is None:
        return wrap(y, x1, x2)

    def backward(dy):
        if planar:  # y is the z component: dy acts on (0, 0, dy)
            g3 = np.zeros(np.shape(dy) + (3,), np.result_type(dy))
            g3[..., 2] = dy
        else:
            g3 = np.moveaxis(dy, axisc, -1)

        def back(g, n, src, ax):
            g = unbroadcast(g[..., :n], src.shape[:-1] + (n,))
            return np.moveaxis(g, -1, ax)

        return (
            back(np.cross(b3, g3), na, a3, axisa) if refs[0] is not None else None,
            back(np.cross(g3, a3), nb, b3, axisb) if refs[1] is not None else None,
        )

    return record(y, refs, backward)


def vdot(x1, x2):
    """The dot product of the flattened inputs, ``x1`` conjugated first (``numpy.vdot``).

    Parameters
    ----------
    x1, x2 : array_like with the same number of entries

    Returns
    -------
    0-d ndarray or Tensor.
    """
    from ._elementwise import conj
    from ._shape import reshape

    n1, n2 = np.size(value(x1)), np.size(value(x2))
    if n1 != n2:
        raise ValueError(f"ops.vdot: x1 and x2 must have the same number of entries, got {n1} and {n2}")
    return matmul(conj(reshape(x1, (-1,))), reshape(x2, (-1,)))
