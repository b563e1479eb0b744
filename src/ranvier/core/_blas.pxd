# The one row-major GEMM shim over scipy's cython_blas. Nothing else cimports
# cython_blas: every kernel that needs a matrix product calls gemm() below.
from ranvier.core._types cimport floating


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating* a, int lda,
               const floating* b, int ldb,
               floating beta, floating* c, int ldc) noexcept nogil


cdef void gemm_serial(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* a, int lda,
                      const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil


cdef void add_partials(floating* c, int ldc, const floating* partials, int n_partials,
                       int m, int n, int n_threads) noexcept nogil
