"""Dense (fully connected) layer kernels: y = x @ W (+ bias, fused with the activation elsewhere)."""
from cython.parallel cimport prange

from ranvier.core._matmul cimport gemm
from ranvier.core._checks cimport check_optional, check_shape
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# Columns per parallel block of the bias-gradient sum: rows are summed in order
# within a block, so the result does not depend on the thread count.
cdef Py_ssize_t _COL_BLOCK = 64


def dense_forward(const floating[:, ::1] x, const floating[:, ::1] kernel,
                  floating[:, ::1] out):
    """out = x @ kernel.

    Parameters
    ----------
    x : ndarray of shape (n, in). IN.
    kernel : ndarray of shape (in, units). IN.
    out : ndarray of shape (n, units). OUT.
    """
    cdef int n = x.shape[0], k = x.shape[1], u = kernel.shape[1]
    check_shape("dense_forward", "kernel", kernel.shape, 2, k, u)
    check_shape("dense_forward", "out", out.shape, 2, n, u)
    if n == 0:
        return
    with nogil:
        gemm(False, False, n, u, k, <floating> 1.0, &x[0, 0], k, &kernel[0, 0], u,
             <floating> 0.0, &out[0, 0], u)


def dense_backward(const floating[:, ::1] x, const floating[:, ::1] kernel,
                   const floating[:, ::1] dz, floating[:, ::1] dkernel, floating[::1] dbias,
                   floating[:, ::1] dx, double beta, bint need_dx, int n_threads):
    """Gradients of y = x @ kernel + bias given dz = dL/dy.

    Parameters
    ----------
    x : (n, in). IN.
    kernel : (in, units). IN.
    dz : (n, units). IN.
    dkernel : (in, units). IN/OUT: ``dkernel = beta * dkernel + x.T @ dz``.
    dbias : (units,) or empty (no bias). IN/OUT: ``dbias = beta * dbias + dz.sum(0)``.
    dx : (n, in), ignored unless ``need_dx``. OUT: ``dz @ kernel.T``.
    beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    """
    cdef int n = x.shape[0], k = x.shape[1], u = kernel.shape[1]
    check_shape("dense_backward", "kernel", kernel.shape, 2, k, u)
    check_shape("dense_backward", "dz", dz.shape, 2, n, u)
    check_shape("dense_backward", "dkernel", dkernel.shape, 2, k, u)
    check_optional("dense_backward", "dbias", True, dbias.shape, 1, u)
    if need_dx:
        check_shape("dense_backward", "dx", dx.shape, 2, n, k)
    with nogil:
        if n == 0:
            _scale(&dkernel[0, 0], k * u, <floating> beta)
        else:
            gemm(True, False, k, u, n, <floating> 1.0, &x[0, 0], k, &dz[0, 0], u,
                 <floating> beta, &dkernel[0, 0], u)
        if dbias.shape[0] > 0:
            _column_sum(dz, &dbias[0], <floating> beta, n_threads)
        if need_dx and n > 0:
            gemm(False, True, n, k, u, <floating> 1.0, &dz[0, 0], u, &kernel[0, 0], u,
                 <floating> 0.0, &dx[0, 0], k)


def column_sum(const floating[:, ::1] a, floating[::1] out, double beta, int n_threads):
    """out = beta * out + a.sum(axis=0), summed in row order (deterministic).

    Parameters
    ----------
    a : (n, m). IN.
    out : (m,). IN/OUT.
    """
    check_shape("column_sum", "out", out.shape, 1, a.shape[1])
    if a.shape[1] == 0:
        return
    with nogil:
        _column_sum(a, &out[0], <floating> beta, n_threads)


cdef void _scale(floating* a, Py_ssize_t size, floating beta) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(size):
        a[i] = beta * a[i] if beta != 0 else 0


cdef void _column_sum(const floating[:, ::1] a, floating* out, floating beta, int n_threads) noexcept nogil:
    cdef Py_ssize_t n = a.shape[0], m = a.shape[1]
    cdef Py_ssize_t n_blocks = (m + _COL_BLOCK - 1) // _COL_BLOCK
    cdef Py_ssize_t blk, i, j, j0, j1
    cdef int t = effective_threads(n_threads, n * m, 1 << 16)
    for blk in prange(n_blocks, schedule="static", num_threads=t):
        j0 = blk * _COL_BLOCK
        j1 = min(j0 + _COL_BLOCK, m)
        for j in range(j0, j1):
            out[j] = beta * out[j] if beta != 0 else 0
        for i in range(n):
            for j in range(j0, j1):
                out[j] += a[i, j]
