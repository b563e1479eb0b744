# The one row-major GEMM shim over scipy's cython_blas. Nothing else cimports
# cython_blas: every kernel that needs a matrix product calls gemm() below.
from scipy.linalg cimport cython_blas as _cb

ctypedef fused floating:
    float
    double


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* a, int lda,
                      const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """Row-major C[m, n] = alpha * op(A) @ op(B) + beta * C.

    A row-major matrix is its transpose in column-major, so the column-major
    routine computes C^T = op(B)^T op(A)^T by swapping the operands.
    lda/ldb/ldc are row strides in elements of the matrices as stored.
    """
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if m == 0 or n == 0:
        return
    if m == 1 and k > 0:
        # One output row (batch-1 inference): GEMV reads B once, where GEMM would first
        # pack all of it (measured ~10x slower for 1x784x512).
        _gemv(not trans_b, n, k, alpha, b, ldb, a, lda if trans_a else 1, beta, c, 1)
        return
    if n == 1 and k > 0:
        _gemv(trans_a, m, k, alpha, a, lda, b, 1 if trans_b else ldb, beta, c, ldc)
        return
    if floating is float:
        _cb.sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb,
                  <float*> a, &lda, &beta, c, &ldc)
    else:
        _cb.dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb,
                  <double*> a, &lda, &beta, c, &ldc)


cdef inline void _gemv(bint trans, int rows, int cols, floating alpha, const floating* a, int lda,
                       const floating* x, int incx, floating beta, floating* y, int incy) noexcept nogil:
    """Row-major y[rows] = alpha * op(A) @ x + beta * y, where op(A) is (rows, cols).

    ``trans`` False: A is stored (rows, cols) row-major, i.e. column-major (cols, rows),
    so BLAS computes with 'T'; ``trans`` True: A is stored (cols, rows), BLAS uses 'N'.
    """
    cdef char t = b'N' if trans else b'T'
    cdef int m_cm = rows if trans else cols
    cdef int n_cm = cols if trans else rows
    if floating is float:
        _cb.sgemv(&t, &m_cm, &n_cm, &alpha, <float*> a, &lda, <float*> x, &incx, &beta, y, &incy)
    else:
        _cb.dgemv(&t, &m_cm, &n_cm, &alpha, <double*> a, &lda, <double*> x, &incx, &beta, y, &incy)
