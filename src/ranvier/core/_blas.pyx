"""The one row-major GEMM shim over scipy's cython_blas, and its Python entry.

Threading (docs/architecture.md, "Threads"): calling a multi-threaded BLAS from
inside an OpenMP region oversubscribes the cores (measured 20-75x slower), and
two thread pools (OpenBLAS's and OpenMP's) spinning against each other on a
2-core machine cost even plain sequential calls dearly. So inside ranvier's
own calls (fit / evaluate / large predict) the API holds scipy's BLAS at one
thread and raises ``set_gemm_threads``: gemm() then splits C into row (or
column) blocks over an OpenMP ``prange``, one single-threaded BLAS call per
block, so every thread in the process belongs to one OpenMP team. Outside that
scope ``gemm_threads`` is 1 and gemm() is a plain BLAS call.
"""
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from scipy.linalg cimport cython_blas as _cb

from ranvier.core._checks cimport check_shape, value_error
from ranvier.core._openmp cimport effective_threads
from ranvier.core._types cimport floating

# Both per thread (each Python thread's compute scope sets its own, so concurrent
# predicts split as each would alone), read by the calling thread only.
# _gemm_threads: threads gemm() may split over; > 1 only while BLAS is held at one thread.
# _block_align: deterministic splits (config.enable_determinism()): a split product
# must be bit-identical to the whole one. Measured with OpenBLAS: cutting C's rows on
# a multiple of 12 keeps every element's rounding, any other cut does not, and no
# column cut does (BLAS takes other paths for narrower B). So deterministic splits go
# by rows only, with edges on multiples of 96 (a multiple of every row tile of
# OpenBLAS's x86 kernels). 1 = free splits.
cdef extern from *:
    """
    static RV_THREAD_LOCAL int rv_gemm_threads = 1;
    static RV_THREAD_LOCAL int rv_block_align = 1;
    """
    int _gemm_threads "rv_gemm_threads"
    int _block_align "rv_block_align"
# Multiply-adds per thread below which splitting costs more than it saves.
cdef Py_ssize_t _SPLIT_GRAIN = 1 << 17
# Smallest block edge worth a BLAS call of its own.
cdef int _MIN_BLOCK = 16
# A product whose sums are this many times longer than C's longer edge splits its sums
# (k) instead of C: weight gradients over many rows (x.T @ dz with x (4096, 128), dz
# (4096, 512)) otherwise give each thread 64 rows of C, which OpenBLAS runs at ~60% of
# a core; each thread's half of the sums runs at the full single-thread speed.
cdef int _K_SPLIT_RATIO = 4


def set_gemm_threads(int n, bint deterministic=False):
    """Let the calling thread's gemm() calls split over ``n`` OpenMP threads.

    Only call while BLAS runs one thread.

    ``deterministic`` splits by rows only, on multiples of 96 rows, so the
    result is bit-identical to an unsplit product (at some cost in balance).
    """
    global _gemm_threads, _block_align
    if n < 1:
        raise value_error("set_gemm_threads", "n", "be >= 1", n)
    _gemm_threads = n
    _block_align = 96 if deterministic else 1


def get_gemm_threads():
    return _gemm_threads


def get_gemm_deterministic():
    return _block_align > 1


cdef inline void _gemv(bint trans, int rows, int cols, floating alpha, const floating* a, int lda,
                       const floating* x, int incx, floating beta, floating* y, int incy) noexcept nogil:
    # Row-major y[rows] = alpha * op(A) @ x + beta * y, op(A) of shape (rows, cols).
    # trans False: A is stored (rows, cols) row-major = column-major (cols, rows): BLAS 'T'.
    cdef char t = b'N' if trans else b'T'
    cdef int m_cm = rows if trans else cols
    cdef int n_cm = cols if trans else rows
    if floating is float:
        _cb.sgemv(&t, &m_cm, &n_cm, &alpha, <float*> a, &lda, <float*> x, &incx, &beta, y, &incy)
    else:
        _cb.dgemv(&t, &m_cm, &n_cm, &alpha, <double*> a, &lda, <double*> x, &incx, &beta, y, &incy)


cdef void gemm_serial(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* a, int lda,
                      const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """gemm() as one BLAS call on the calling thread, never split: for kernels that split the work themselves."""
    # A row-major matrix is its transpose in column-major, so the column-major
    # routine computes C^T = op(B)^T op(A)^T by swapping the operands.
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if m == 1 and k > 0:
        # One output row (batch-1 inference): GEMV reads B once where GEMM would
        # first pack all of it (measured ~5x slower for 1x784x512).
        _gemv(not trans_b, n, k, alpha, b, ldb, a, lda if trans_a else 1, beta, c, 1)
    elif n == 1 and k > 0:
        _gemv(trans_a, m, k, alpha, a, lda, b, 1 if trans_b else ldb, beta, c, ldc)
    elif floating is float:
        _cb.sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda, &beta, c, &ldc)
    else:
        _cb.dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda, &beta, c, &ldc)


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil:
    """Row-major C[m, n] = alpha * op(A) @ op(B) + beta * C.

    lda/ldb/ldc are the row strides (in elements) of the matrices as stored.
    """
    cdef int t, blk, n_blocks, size, start, stop
    cdef bint by_rows
    if m == 0 or n == 0:
        return
    t = effective_threads(_gemm_threads, <Py_ssize_t> m * n * k, _SPLIT_GRAIN)
    if t > 1 and _block_align == 1 and k >= _K_SPLIT_RATIO * max(m, n):
        if _gemm_split_k(t, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
            return
    by_rows = m >= n or n < t * _MIN_BLOCK or _block_align > 1
    if t > 1 and by_rows and m < t * max(_MIN_BLOCK, _block_align):
        t = 1
    if t <= 1:
        gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    n_blocks = t
    size = ((m if by_rows else n) + n_blocks - 1) // n_blocks
    size = (size + _block_align - 1) // _block_align * _block_align
    for blk in prange(n_blocks, schedule="static", num_threads=t):
        start = blk * size
        if by_rows:
            stop = min(start + size, m)
            if stop > start:
                gemm_serial(trans_a, trans_b, stop - start, n, k, alpha,
                            a + (start if trans_a else <Py_ssize_t> start * lda), lda,
                            b, ldb, beta, c + <Py_ssize_t> start * ldc, ldc)
        else:
            stop = min(start + size, n)
            if stop > start:
                gemm_serial(trans_a, trans_b, m, stop - start, k, alpha, a, lda,
                            b + (<Py_ssize_t> start * ldb if trans_b else start), ldb,
                            beta, c + start, ldc)


cdef bint _gemm_split_k(int t, bint trans_a, bint trans_b, int m, int n, int k,
                        floating alpha, const floating* a, int lda,
                        const floating* b, int ldb,
                        floating beta, floating* c, int ldc) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C with the sums over k cut into ``t`` blocks.

    Thread 0 writes its block's product into C, the others into partial buffers
    that are then added into C in block order: the result depends only on ``t``.
    Returns False (nothing done) when the partial buffers cannot be allocated.
    """
    cdef Py_ssize_t mn = <Py_ssize_t> m * n
    cdef floating* partial = <floating*> malloc((t - 1) * mn * sizeof(floating))
    cdef int blk, k0, k1, size = (k + t - 1) // t
    cdef Py_ssize_t i
    if partial == NULL:
        return False
    for blk in prange(t, schedule="static", num_threads=t):
        k0 = blk * size
        k1 = min(k0 + size, k)
        # op(A)'s columns k0:k1 are rows of a stored A.T, columns of A; op(B)'s rows likewise.
        if blk == 0:
            gemm_serial(trans_a, trans_b, m, n, k1 - k0, alpha, a, lda, b, ldb, beta, c, ldc)
        elif k1 > k0:
            gemm_serial(trans_a, trans_b, m, n, k1 - k0, alpha,
                        a + (<Py_ssize_t> k0 * lda if trans_a else k0), lda,
                        b + (k0 if trans_b else <Py_ssize_t> k0 * ldb), ldb,
                        0, partial + (blk - 1) * mn, n)
        else:
            for i in range(mn):
                partial[(blk - 1) * mn + i] = 0
    add_partials(c, ldc, partial, t - 1, m, n, t)
    free(partial)
    return True


cdef void add_partials(floating* c, int ldc, const floating* partials, int n_partials,
                       int m, int n, int n_threads) noexcept nogil:
    """C[m, n] (row stride ``ldc``) += each of ``n_partials`` contiguous (m, n) partials, in turn.

    Every element adds the partials in the same order whatever ``n_threads``
    (rows are split), so a product split into a fixed number of blocks of its
    sums gives one result.
    """
    cdef Py_ssize_t i, j, s, mn = <Py_ssize_t> m * n
    for i in prange(m, schedule="static", num_threads=n_threads):
        for s in range(n_partials):
            for j in range(n):
                c[i * ldc + j] += partials[s * mn + i * n + j]


def gemm_py(bint trans_a, bint trans_b, double alpha,
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
    cdef int n = b.shape[0] if trans_b else b.shape[1]
    cdef Py_ssize_t i, j
    # op(b) must have op(a)'s k rows.
    check_shape("gemm", "b", b.shape, 2, n if trans_b else k, k if trans_b else n)
    check_shape("gemm", "c", c.shape, 2, m, n)
    if k == 0:
        # BLAS leaves C untouched when k == 0 only if beta == 1; make it explicit.
        for i in range(m):
            for j in range(n):
                c[i, j] = beta * c[i, j] if beta != 0 else 0
        return
    with nogil:
        gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1],
             &b[0, 0], b.shape[1], <floating> beta, &c[0, 0], n)
