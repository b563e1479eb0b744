"""Maxout kernels: the max over k affine pieces (Goodfellow et al. 2013), argmax kept for backward."""
from cython.parallel cimport prange

from ranvier.core._matmul cimport gemm
from ranvier.core._checks cimport check_shape, value_error
from ranvier.core._openmp cimport effective_threads
from ranvier.core._types cimport floating

# Elements per thread below which the selection loop runs serial.
cdef Py_ssize_t _GRAIN_CHEAP = 32768


def maxout_forward(const floating[:, ::1] x, const floating[:, ::1] kernel,
                   const floating[::1] bias, floating[:, ::1] z, floating[:, ::1] out,
                   Py_ssize_t[:, ::1] argmax, int n_threads):
    """Maxout: out[i, u] = max_k (x @ kernel + bias)[i, u * pieces + k].

    Parameters
    ----------
    x : ndarray of shape (n, in). IN.
    kernel : ndarray of shape (in, units * pieces). IN; columns grouped by unit.
    bias : ndarray of shape (units * pieces,). IN.
    z : ndarray of shape (n, units * pieces). OUT: scratch, the affine maps.
    out : ndarray of shape (n, units). OUT.
    argmax : intp ndarray of shape (n, units). OUT: the winning piece k.
    n_threads : int
    """
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = kernel.shape[1], units = out.shape[1]
    cdef Py_ssize_t pieces, i, u, p, best
    cdef floating v, top
    cdef int t
    check_shape("maxout_forward", "kernel", kernel.shape, 2, k, m)
    if units == 0 or m % units != 0 or m == 0:
        raise value_error("maxout_forward", "kernel", f"have units ({units}) times pieces columns", m)
    pieces = m // units
    check_shape("maxout_forward", "bias", bias.shape, 1, m)
    check_shape("maxout_forward", "z", z.shape, 2, n, m)
    check_shape("maxout_forward", "out", out.shape, 2, n, units)
    check_shape("maxout_forward", "argmax", argmax.shape, 2, n, units)
    if n == 0:
        return
    t = effective_threads(n_threads, n * m, _GRAIN_CHEAP)
    with nogil:
        gemm(False, False, <int> n, <int> m, <int> k, <floating> 1.0, &x[0, 0], <int> k,
             &kernel[0, 0], <int> m, <floating> 0.0, &z[0, 0], <int> m)
        for i in prange(n, schedule="static", num_threads=t):
            for u in range(units):
                best = 0
                top = z[i, u * pieces] + bias[u * pieces]
                z[i, u * pieces] = top
                for p in range(1, pieces):
                    v = z[i, u * pieces + p] + bias[u * pieces + p]
                    z[i, u * pieces + p] = v
                    if v > top:
                        top = v
                        best = p
                out[i, u] = top
                argmax[i, u] = best


def maxout_backward(const floating[:, ::1] x, const floating[:, ::1] kernel,
                    const floating[:, ::1] dy, const Py_ssize_t[:, ::1] argmax, double beta,
                    floating[:, ::1] dz, floating[:, ::1] dkernel, floating[::1] dbias,
                    floating[:, ::1] dx, bint need_dx, int n_threads):
    """Gradients of Maxout given dy = dL/dout.

    Parameters
    ----------
    x : (n, in). IN.
    kernel : (in, units * pieces). IN.
    dy : (n, units). IN.
    argmax : intp (n, units). IN: from ``maxout_forward``.
    beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    dz : (n, units * pieces). OUT: scratch, dy scattered to the winning pieces.
    dkernel : (in, units * pieces). IN/OUT: ``beta * dkernel + x.T @ dz``.
    dbias : (units * pieces,). IN/OUT: ``beta * dbias + dz.sum(0)``.
    dx : (n, in), ignored unless ``need_dx``. OUT: ``dz @ kernel.T``.
    n_threads : int
    """
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = kernel.shape[1], units = dy.shape[1]
    cdef Py_ssize_t pieces, i, j
    cdef int t
    check_shape("maxout_backward", "kernel", kernel.shape, 2, k, m)
    if units == 0 or m % units != 0:
        raise value_error("maxout_backward", "kernel", f"have units ({units}) times pieces columns", m)
    pieces = m // units
    check_shape("maxout_backward", "dy", dy.shape, 2, n, units)
    check_shape("maxout_backward", "argmax", argmax.shape, 2, n, units)
    check_shape("maxout_backward", "dz", dz.shape, 2, n, m)
    check_shape("maxout_backward", "dkernel", dkernel.shape, 2, k, m)
    check_shape("maxout_backward", "dbias", dbias.shape, 1, m)
    if need_dx:
        check_shape("maxout_backward", "dx", dx.shape, 2, n, k)
    t = effective_threads(n_threads, n * m, _GRAIN_CHEAP)
    with nogil:
        for j in range(m):
            dbias[j] = <floating> beta * dbias[j] if beta != 0 else 0
        if n == 0:
            for i in range(k):
                for j in range(m):
                    dkernel[i, j] = <floating> beta * dkernel[i, j] if beta != 0 else 0
        else:
            _maxout_grads(x, kernel, dy, argmax, <floating> beta, dz, dkernel, dbias, dx, need_dx,
                          pieces, t)


cdef void _maxout_grads(const floating[:, ::1] x, const floating[:, ::1] kernel,
                        const floating[:, ::1] dy, const Py_ssize_t[:, ::1] argmax, floating beta,
                        floating[:, ::1] dz, floating[:, ::1] dkernel, floating[::1] dbias,
                        floating[:, ::1] dx, bint need_dx, Py_ssize_t pieces, int t) noexcept nogil:
    cdef Py_ssize_t n = x.shape[0], k = x.shape[1], m = kernel.shape[1], units = dy.shape[1]
    cdef Py_ssize_t i, j, u
    for i in prange(n, schedule="static", num_threads=t):
        for j in range(m):
            dz[i, j] = 0
        for u in range(units):
            dz[i, u * pieces + argmax[i, u]] = dy[i, u]
    # Rows in order: the bias gradient does not depend on the thread count.
    for i in range(n):
        for u in range(units):
            dbias[u * pieces + argmax[i, u]] += dy[i, u]
    gemm(True, False, <int> k, <int> m, <int> n, <floating> 1.0, &x[0, 0], <int> k,
         &dz[0, 0], <int> m, beta, &dkernel[0, 0], <int> m)
    if need_dx:
        gemm(False, True, <int> n, <int> k, <int> m, <floating> 1.0, &dz[0, 0], <int> m,
             &kernel[0, 0], <int> m, <floating> 0.0, &dx[0, 0], <int> k)
