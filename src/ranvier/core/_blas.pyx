"""Python entry to the GEMM shim, for tests and for callers outside the core."""
from ranvier.core._blas cimport floating, gemm as _gemm


def gemm(bint trans_a, bint trans_b, double alpha,
         const floating[:, ::1] a, const floating[:, ::1] b,
         double beta, floating[:, ::1] c):
    """C = alpha * op(A) @ op(B) + beta * C for C-contiguous 2-D arrays.

    Parameters
    ----------
    trans_a, trans_b : bool
        Use the transpose of A (resp. B).
    alpha, beta : float
    a : ndarray of shape (m, k), or (k, m) if ``trans_a``. IN.
    b : ndarray of shape (k, n), or (n, k) if ``trans_b``. IN.
    c : ndarray of shape (m, n). IN/OUT, same dtype as ``a`` and ``b``.
    """
    cdef int m = a.shape[1] if trans_a else a.shape[0]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    cdef int kb = b.shape[1] if trans_b else b.shape[0]
    cdef int n = b.shape[0] if trans_b else b.shape[1]
    if kb != k:
        raise ValueError(f"gemm: inner dimensions differ, op(a) has {k} columns and op(b) has {kb} rows")
    if c.shape[0] != m or c.shape[1] != n:
        raise ValueError(f"gemm: c must have shape ({m}, {n}), got ({c.shape[0]}, {c.shape[1]})")
    if k == 0:
        # BLAS leaves C untouched when k == 0 only if beta == 1; make it explicit.
        for i in range(m):
            for j in range(n):
                c[i, j] = beta * c[i, j]
        return
    with nogil:
        _gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1],
              &b[0, 0], b.shape[1], <floating> beta, &c[0, 0], n)
