"""Python entry to the packed small-matrix product of ``_packed.pxd`` (for tests)."""
from ranvier.core._checks cimport check_shape, value_error
from ranvier.core._types cimport floating


cdef inline const floating* _data(const floating[:, ::1] v) noexcept nogil:
    """The first element's address, or NULL for an empty operand (k == 0: nothing is read, and
    ``&v[0, 0]`` would index out of bounds, which the debug build reports)."""
    return &v[0, 0] if v.shape[0] and v.shape[1] else NULL


def packed_isa():
    """The micro-kernel build this process runs: "avx512", "avx2" or "baseline".

    Picked from the CPU's features; the environment variable ``RANVIER_ISA`` (``avx2``
    or ``baseline``) narrows it, read once per process.
    """
    return ("baseline", "avx2", "avx512")[packed_isa_code()]


def packed_matmul(const floating[:, ::1] a, bint trans_a, const floating[:, ::1] b, bint trans_b,
                  Py_ssize_t n_blocks, Py_ssize_t col0, Py_ssize_t col1, floating[:, ::1] c, bint accumulate):
    """C[:, q*n + col0 : q*n + col1] (+)= op(A) @ op(B)[:, same] for each of ``n_blocks`` column blocks.

    Packs op(B) once, as a recurrent kernel does, then runs the micro-kernel per block.

    Parameters
    ----------
    a : (m, k), or (k, m) if ``trans_a``. IN.
    b : (k, n_blocks * n), or (n_blocks * n, k) if ``trans_b``. IN.
    col0, col1 : columns of each block to compute; col0 a multiple of 16, 0 <= col0 <= col1 <= n.
    c : (m, n_blocks * n). IN/OUT.
    accumulate : add to C (True) or overwrite its selected columns (False).
    """
    cdef Py_ssize_t m = a.shape[1] if trans_a else a.shape[0]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t width = b.shape[0] if trans_b else b.shape[1]
    cdef Py_ssize_t n, q
    if n_blocks < 1 or width % n_blocks:
        raise value_error("packed_matmul", "n_blocks", f"be >= 1 and divide the {width} columns of op(b)", n_blocks)
    n = width // n_blocks
    # op(b) must have op(a)'s k rows.
    check_shape("packed_matmul", "b", b.shape, 2, width if trans_b else k, k if trans_b else width)
    check_shape("packed_matmul", "c", c.shape, 2, m, width)
    if col0 % 16 or not 0 <= col0 <= col1 <= n:
        raise value_error("packed_matmul", "col0, col1", f"have col0 % 16 == 0 and 0 <= col0 <= col1 <= {n}",
                          f"{col0}, {col1}")
    if m == 0 or width == 0:
        return
    cdef floating* packed = packed_alloc(k, n, n_blocks, &c[0, 0])
    with nogil:
        # Only the panels the tiles read, as a thread packs its own range.
        pack(trans_b, k, n, n_blocks, col0 // 32 * 32, col1, _data(b), b.shape[1], packed)
        for q in range(n_blocks):
            packed_gemm(trans_a, m, col0, col1, k, _data(a), a.shape[1], packed + q * packed_block(k, n),
                        &c[0, q * n], width, accumulate)
    packed_free(packed)


def strided_matmul(const floating[:, ::1] a, bint trans_a, const floating[:, ::1] b,
                   floating[:, ::1] c, bint accumulate):
    """C (+)= op(A) @ B on the micro-kernel with B read in place (``strided_gemm``).

    Parameters
    ----------
    a : (m, k), or (k, m) if ``trans_a``. IN.
    b : (k, n), n a multiple of 32. IN.
    c : (m, n). IN/OUT.
    """
    cdef Py_ssize_t m = a.shape[1] if trans_a else a.shape[0]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    if b.shape[0] != k or b.shape[1] % 32:
        raise value_error("strided_matmul", "b", f"have {k} rows and a multiple of 32 columns",
                          (b.shape[0], b.shape[1]))
    check_shape("strided_matmul", "c", c.shape, 2, m, b.shape[1])
    if m == 0 or b.shape[1] == 0:
        return
    with nogil:
        strided_gemm(trans_a, m, b.shape[1], k, _data(a), a.shape[1], _data(b), b.shape[1], &c[0, 0],
                     c.shape[1], accumulate)
