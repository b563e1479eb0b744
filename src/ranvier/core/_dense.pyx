"""Dense (fully connected) layer kernels: y = x @ W (+ bias, fused with the activation elsewhere)."""
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ranvier.core._matmul cimport add_partials, gemm, gemm_serial
from ranvier.core._checks cimport check_optional, check_shape
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._relu cimport relu_back_sum
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# Columns per parallel block of the bias-gradient sum: rows are summed in order
# within a block, so the result does not depend on the thread count.
cdef Py_ssize_t _COL_BLOCK = 64
# Rows per block of dense_backward_fused, about: a (384, 512) float32 block of dz is
# 768 KB, which stays in a core's L2 from its ReLU gate through both products (W5's
# feed-forward backward: 256-384 rows 10.8 ms, 512 11.0, 768 11.4, unfused 12.7).
cdef int _ROW_BLOCK = 384


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
                   floating[:, ::1] dx, double beta, bint need_dx, int n_threads, double dx_beta=0.0):
    """Gradients of y = x @ kernel + bias given dz = dL/dy.

    Parameters
    ----------
    x : (n, in). IN.
    kernel : (in, units). IN.
    dz : (n, units). IN.
    dkernel : (in, units). IN/OUT: ``dkernel = beta * dkernel + x.T @ dz``.
    dbias : (units,) or empty (no bias). IN/OUT: ``dbias = beta * dbias + dz.sum(0)``.
    dx : (n, in), ignored unless ``need_dx``. IN/OUT: ``dx = dx_beta * dx + dz @ kernel.T``.
    beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    dx_beta : 0.0 to overwrite dx, 1.0 to add to it (inputs shared by several products).
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
                 <floating> dx_beta, &dx[0, 0], k)


cdef inline int _block_rows(int n, int t) noexcept nogil:
    """Rows per block near _ROW_BLOCK such that the blocks split evenly over ``t`` threads."""
    cdef int per_thread = (n + t - 1) // t
    cdef int blocks = (per_thread + _ROW_BLOCK - 1) // _ROW_BLOCK
    return max(8, ((per_thread + blocks - 1) // blocks + 7) // 8 * 8)


def dense_backward_fused(const floating[:, ::1] x, const floating[:, ::1] kernel,
                         const floating[:, ::1] dy, const floating[:, ::1] y, floating[:, ::1] dkernel,
                         floating[::1] dbias, floating[:, ::1] dx, double beta, bint need_dx,
                         int n_threads, double dx_beta=0.0):
    """``dense_backward`` one block of rows at a time, with the ReLU gate of ``dy`` fused in.

    Each thread takes a contiguous run of row blocks; per block: dz = dy gated by
    y > 0 (or dy itself when ``y`` is empty: linear, or dy already is dz), its
    column sums and ``x_blk.T @ dz`` added into the thread's own bias and kernel
    gradients, and ``dx_blk = dz @ kernel.T``, all while the block is in cache.
    Thread 0 accumulates into ``dkernel``/``dbias`` themselves; the others'
    partial sums are then added in thread order, so the result depends on
    ``n_threads`` (rounding only). Only call while BLAS runs one thread.

    Parameters
    ----------
    x : (n, in). IN.
    kernel : (in, units). IN.
    dy : (n, units). IN: dL/d(output), or dL/dz when ``y`` is empty.
    y : (n, units), the layer's ReLU output, or shape (0, 0) for no gate. IN.
    dkernel : (in, units). IN/OUT: ``dkernel = beta * dkernel + x.T @ dz``.
    dbias : (units,) or empty (no bias). IN/OUT: ``dbias = beta * dbias + dz.sum(0)``.
    dx : (n, in), ignored unless ``need_dx``. IN/OUT: ``dx = dx_beta * dx + dz @ kernel.T``.
    beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    n_threads : int
    dx_beta : 0.0 to overwrite dx, 1.0 to add to it.
    """
    cdef int n = x.shape[0], k = x.shape[1], u = kernel.shape[1]
    cdef bint gate = y.shape[0] > 0, has_bias = dbias.shape[0] > 0
    cdef int t, per, tid, blk, r0, rows, size, n_blocks
    cdef Py_ssize_t ku = <Py_ssize_t> k * u, j
    cdef floating* work
    cdef floating* dz
    cdef floating* dw
    cdef floating* db
    cdef floating* partial_w
    cdef floating* partial_b
    cdef floating* dz_bufs
    check_shape("dense_backward_fused", "kernel", kernel.shape, 2, k, u)
    check_shape("dense_backward_fused", "dy", dy.shape, 2, n, u)
    check_optional("dense_backward_fused", "y", True, y.shape, 2, n, u)
    check_shape("dense_backward_fused", "dkernel", dkernel.shape, 2, k, u)
    check_optional("dense_backward_fused", "dbias", True, dbias.shape, 1, u)
    if need_dx:
        check_shape("dense_backward_fused", "dx", dx.shape, 2, n, k)
    if n == 0 or u == 0:  # nothing to gate
        dense_backward(x, kernel, dy, dkernel, dbias, dx, beta, need_dx, 1, dx_beta)
        return
    t = max(1, min(n_threads, (n + _ROW_BLOCK - 1) // _ROW_BLOCK))
    size = _block_rows(n, t)
    n_blocks = (n + size - 1) // size
    per = (n_blocks + t - 1) // t
    t = (n_blocks + per - 1) // per  # every thread gets at least one block
    # Threads 1.. t-1: kernel and bias partial sums; every thread: a dz block when gating.
    work = <floating*> malloc(((t - 1) * (ku + u) + (t * <Py_ssize_t> size * u if gate else 0))
                              * sizeof(floating))
    if work == NULL:
        raise MemoryError("dense_backward_fused: cannot allocate the per-thread gradient buffers")
    partial_w = work
    partial_b = work + (t - 1) * ku
    dz_bufs = partial_b + (t - 1) * u
    with nogil:
        if has_bias:
            for j in range(u):
                dbias[j] = <floating> beta * dbias[j] if beta != 0 else 0
            if t > 1:
                memset(partial_b, 0, (t - 1) * u * sizeof(floating))
        for tid in prange(t, schedule="static", num_threads=t):
            dw = (&dkernel[0, 0] if k > 0 else NULL) if tid == 0 else partial_w + (tid - 1) * ku
            db = NULL
            if has_bias:
                db = &dbias[0] if tid == 0 else partial_b + (tid - 1) * u
            for blk in range(tid * per, min(tid * per + per, n_blocks)):
                r0 = blk * size
                rows = min(size, n - r0)
                if gate:
                    dz = dz_bufs + tid * <Py_ssize_t> size * u
                    relu_back_sum(&dy[r0, 0], &y[r0, 0], dz, rows, u, db)
                else:
                    dz = <floating*> &dy[r0, 0]
                    if db != NULL:
                        add_column_sums(dz, rows, u, u, db)
                if k == 0:  # no inputs: only the bias gradient
                    continue
                gemm_serial(True, False, k, u, rows, <floating> 1.0, &x[r0, 0], k, dz, u,
                            <floating> (beta if tid == 0 else 0.0) if blk == tid * per else <floating> 1.0,
                            dw, u)
                if need_dx:
                    gemm_serial(False, True, rows, k, u, <floating> 1.0, dz, u, &kernel[0, 0], u,
                                <floating> dx_beta, &dx[r0, 0], k)
        if t > 1:
            if k > 0:
                add_partials(&dkernel[0, 0], u, partial_w, t - 1, k, u, t)
            if has_bias:
                add_partials(&dbias[0], u, partial_b, t - 1, 1, u, 1)
    free(work)


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
