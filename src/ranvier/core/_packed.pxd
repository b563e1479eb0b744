# Small matrix products against a right operand packed once and reused.
#
# A recurrent layer multiplies a (batch, units) state by the same recurrent
# kernel at every timestep. Through BLAS each of those calls packs the whole
# kernel again: at 64x128x512 (W3's step) scipy's OpenBLAS ran 92 GFLOP/s on
# one core. Packing the kernel once per sequence into column panels and running
# a register-tiled micro-kernel over it measured 230-240 GFLOP/s on one core of
# the same machine (AVX-512; 118 with the AVX2 build), so each step's product is
# a fraction of what it was.
#
# The packed layout, the micro-kernel and its per-call ISA dispatch are C: include/rv_packed.h.
from ranvier.core._types cimport floating

cdef extern from "rv_packed.h":
    Py_ssize_t rv_packed_width(Py_ssize_t n) noexcept nogil
    int packed_isa_code "RV_PACKED_ISA"() noexcept nogil
    Py_ssize_t rv_packed_len(Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks) noexcept nogil
    void* rv_aligned_malloc(size_t nbytes) noexcept nogil
    void rv_aligned_free(void* p) noexcept nogil
    void rv_pack_f32(int trans, Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks, Py_ssize_t col0,
                     Py_ssize_t col1, const float* b, Py_ssize_t ldb, float* bp) noexcept nogil
    void rv_pack_f64(int trans, Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks, Py_ssize_t col0,
                     Py_ssize_t col1, const double* b, Py_ssize_t ldb, double* bp) noexcept nogil
    void rv_packed_gemm_f32(int trans_a, Py_ssize_t m, Py_ssize_t col0, Py_ssize_t col1, Py_ssize_t k,
                            const float* a, Py_ssize_t lda, const float* bp, Py_ssize_t ldb, float* c,
                            Py_ssize_t ldc, int accumulate) noexcept nogil
    void rv_packed_gemm_f64(int trans_a, Py_ssize_t m, Py_ssize_t col0, Py_ssize_t col1, Py_ssize_t k,
                            const double* a, Py_ssize_t lda, const double* bp, Py_ssize_t ldb, double* c,
                            Py_ssize_t ldc, int accumulate) noexcept nogil


cdef inline floating* packed_alloc(Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks, floating* like,
                                   int copies=1) except NULL:
    """An aligned buffer for ``copies`` packed operands of ``n_blocks`` blocks of op(B) (k x n),
    each ``packed_len`` apart; free with ``packed_free``."""
    cdef floating* p = <floating*> rv_aligned_malloc(
        max(copies * rv_packed_len(k, n, n_blocks), 1) * sizeof(floating))
    if p == NULL:
        raise MemoryError(f"cannot allocate a packed ({k}, {n}) x {n_blocks} operand")
    return p


cdef inline void packed_free(void* p) noexcept nogil:
    rv_aligned_free(p)


cdef inline Py_ssize_t packed_len(Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks) noexcept nogil:
    """Elements of one packed operand (its blocks and the trailing zero panel)."""
    return rv_packed_len(k, n, n_blocks)


cdef inline Py_ssize_t packed_block(Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    """Offset (in elements) from one packed block to the next."""
    return rv_packed_width(n) * k


cdef inline void pack(bint trans, Py_ssize_t k, Py_ssize_t n, Py_ssize_t n_blocks, Py_ssize_t col0,
                      Py_ssize_t col1, const floating* b, Py_ssize_t ldb, floating* bp) noexcept nogil:
    """bp <- columns [col0, col1) of each of the n_blocks blocks of n columns of op(B)
    (k x n_blocks * n); B has row stride ldb; col0 a multiple of 32. OUT: bp (those panels)."""
    if floating is float:
        rv_pack_f32(trans, k, n, n_blocks, col0, col1, b, ldb, bp)
    else:
        rv_pack_f64(trans, k, n, n_blocks, col0, col1, b, ldb, bp)


cdef inline void packed_gemm(bint trans_a, Py_ssize_t m, Py_ssize_t col0, Py_ssize_t col1, Py_ssize_t k,
                             const floating* a, Py_ssize_t lda, const floating* bp,
                             floating* c, Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """C[:, col0:col1] (+)= op(A) @ op(B)[:, col0:col1] for one packed block ``bp``.

    IN: a (m x k, or k x m if ``trans_a``; row stride lda), bp. IN/OUT: c (row stride
    ldc, column 0 is the block's first column). col0 must be a multiple of 16.
    """
    if floating is float:
        rv_packed_gemm_f32(trans_a, m, col0, col1, k, a, lda, bp, 0, c, ldc, accumulate)
    else:
        rv_packed_gemm_f64(trans_a, m, col0, col1, k, a, lda, bp, 0, c, ldc, accumulate)


cdef inline void strided_gemm(bint trans_a, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                              const floating* a, Py_ssize_t lda, const floating* b, Py_ssize_t ldb,
                              floating* c, Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """C (+)= op(A) @ B with B (k x n) read in place (row stride ldb), on the packed micro-kernel.

    For a B used once, where packing would cost a copy of it: ``n`` must be a
    multiple of 32, so every tile's vector loads stay inside B's rows.
    IN: a, b. IN/OUT: c (m x n, row stride ldc).
    """
    if floating is float:
        rv_packed_gemm_f32(trans_a, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate)
    else:
        rv_packed_gemm_f64(trans_a, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate)
