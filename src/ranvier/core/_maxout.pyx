"""Maxout kernels: the max over k affine pieces (Goodfellow et al. 2013), argmax kept for backward."""
from cython.parallel cimport prange

from ranvier.core._matmul cimport gemm
from ranvier.core._checks cimport check_same as _check_same
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
    if kernel.shape[0] != k:
        raise ValueError(f"maxout_forward: x has {k} features but kernel has {kernel.shape[0]} rows")
    if units == 0 or m % units != 0 or m == 0:
        raise ValueError(f"maxout_forward: kernel columns ({m}) must be units ({units}) times pieces")
    pieces = m // units
    if bias.shape[0] != m:
        raise ValueError(f"maxout_forward: bias must have shape ({m},), got ({bias.shape[0]},)")
    _check_same(n, m, z.shape[0], z.shape[1], "maxout_forward", "z")
    _check_same(n, units, out.shape[0], out.shape[1], "maxout_forward", "out")
    _check_same(n, units, argmax.shape[0], argmax.shape[1], "maxout_forward", "argmax")
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
    if kernel.shape[0] != k or units == 0 or m % units != 0:
        raise ValueError(f"maxout_backward: kernel ({kernel.shape[0]}, {m}) does not match x "
                         f"({n}, {k}) and dy ({dy.shape[0]}, {units})")
    pieces = m // units
    _check_same(n, units, dy.shape[0], dy.shape[1], "maxout_backward", "dy")
    _check_same(n, units, argmax.shape[0], argmax.shape[1], "maxout_backward", "argmax")
    _check_same(n, m, dz.shape[0], dz.shape[1], "maxout_backward", "dz")
    _check_same(k, m, dkernel.shape[0], dkernel.shape[1], "maxout_backward", "dkernel")
    if dbias.shape[0] != m:
        raise ValueError(f"maxout_backward: dbias must have shape ({m},), got ({dbias.shape[0]},)")
    if need_dx:
        _check_same(n, k, dx.shape[0], dx.shape[1], "maxout_backward", "dx")
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
