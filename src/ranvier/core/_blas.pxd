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
    if floating is float:
        _cb.sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb,
                  <float*> a, &lda, &beta, c, &ldc)
    else:
        _cb.dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb,
                  <double*> a, &lda, &beta, c, &ldc)
