"""Dense (fully connected) layer kernels: y = x @ W (+ bias, fused with the activation elsewhere)."""
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ranvier.core._matmul cimport (add_partials, gemm, gemm_serial, pack, packed_alloc, packed_free, packed_gemm,
                                   packed_isa_code, strided_gemm)
from ranvier.core._checks cimport ANY, check_optional, check_shape
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._relu cimport add_bias, relu, relu_back_sum
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# Columns per parallel block of the bias-gradient sum: rows are summed in order
# within a block, so the result does not depend on the thread count.
cdef Py_ssize_t _COL_BLOCK = 64
# Rows per block of dense_backward_fused, about: a (384, 512) float32 block of dz is
# 768 KB, which stays in a core's L2 from its ReLU gate through both products (W5's
# feed-forward backward: 256-384 rows 10.8 ms, 512 11.0, 768 11.4, unfused 12.7).
cdef int _ROW_BLOCK = 384
# Rows per block of dense_forward_packed: x's block (96 x in) and its output (96 x units)
# stay in L1/L2 while the micro-kernel sweeps the packed kernel and the bias and ReLU
# pass follows; a multiple of every ISA's tile height (8, 6, 4), so no tile is partial.
cdef int _FWD_BLOCK = 96
# Largest kernel (values) the packed products take: 256 KiB of float32, which with
# the blocks it multiplies stays in one core's L2. Measured on 2 threads, 4096 rows
# (forward): 128 x 512 and 512 x 128 1.07x BLAS, 128 x 128 1.07x; 512 x 512 0.94x.
# AVX-512 only: the AVX2 build ran those products at 0.73x OpenBLAS's Haswell kernel
# (W5's step 27 -> 35 ms), so elsewhere BLAS keeps them (0: none).
cdef Py_ssize_t _PACKED_MAX_KERNEL = (1 << 16) if packed_isa_code() == 2 else 0
PACKED_MAX_KERNEL = _PACKED_MAX_KERNEL


def dense_forward_packed(const floating[:, ::1] x, const floating[:, ::1] kernel, const floating[::1] bias,
                         bint apply_relu, floating[:, ::1] out, int n_threads):
    """out = x @ kernel (+ bias) (then ReLU), block of rows by block of rows.

    The kernel is packed once (``_packed.pxd``); each thread takes a contiguous run
    of rows and, per block of ``_FWD_BLOCK`` rows, runs the packed micro-kernel and
    then the bias add and ReLU on the block while it is in cache. Against BLAS
    (scipy's OpenBLAS packs x and zero-fills the output in passes of their own, then
    the bias pass reads the output back) the output is written once. Every element
    is one fixed sequence of fused multiply-adds, so the result does not depend on
    the thread count (it may differ from BLAS's ``dense_forward`` in the last bit).

    Parameters
    ----------
    x : (n, in). IN.
    kernel : (in, units). IN.
    bias : (units,) or empty (no bias). IN.
    apply_relu : bool. Apply max(z, 0) after the bias.
    out : (n, units). OUT.
    n_threads : int
    """
    cdef int n = x.shape[0], k = x.shape[1], u = kernel.shape[1]
    cdef bint has_bias = bias.shape[0] > 0
    check_shape("dense_forward_packed", "kernel", kernel.shape, 2, k, u)
    check_optional("dense_forward_packed", "bias", True, bias.shape, 1, u)
    check_shape("dense_forward_packed", "out", out.shape, 2, n, u)
    if n == 0 or u == 0:
        return
    cdef floating* bp = packed_alloc(k, u, 1, &out[0, 0])
    cdef int t = effective_threads(n_threads, <Py_ssize_t> n * k * u, 1 << 17)
    cdef int per = ((n + t - 1) // t + 7) // 8 * 8
    cdef int tid, blk, r, r1, rows
    with nogil:
        pack(False, k, u, 1, 0, u, &kernel[0, 0] if k > 0 else NULL, u, bp)
        for tid in prange(t, schedule="static", num_threads=t):
            r1 = min(n, tid * per + per)
            for blk in range((r1 - tid * per + _FWD_BLOCK - 1) // _FWD_BLOCK):
                r = tid * per + blk * _FWD_BLOCK
                rows = min(_FWD_BLOCK, r1 - r)
                packed_gemm(False, rows, 0, u, k, &x[r, 0] if k > 0 else NULL, k, bp, &out[r, 0], u, False)
                if has_bias:
                    add_bias(&out[r, 0], &bias[0], rows, u)
                if apply_relu:
                    relu(&out[r, 0], &out[r, 0], <Py_ssize_t> rows * u)
    packed_free(bp)


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


cdef inline int _split_rows(int n, int n_threads, int* size, int* n_blocks, int* per) noexcept nogil:
    """Threads for ``n`` (> 0) rows in blocks of ``size``: thread i takes blocks i*per .. i*per+per-1.

    The row-blocked kernels share it, so each one's weight gradients are summed in the same
    blocks and thread order (the fused pair's equal the two layers' own bit for bit).
    """
    cdef int t = max(1, min(n_threads, (n + _ROW_BLOCK - 1) // _ROW_BLOCK))
    size[0] = _block_rows(n, t)
    n_blocks[0] = (n + size[0] - 1) // size[0]
    per[0] = (n_blocks[0] + t - 1) // t
    return (n_blocks[0] + per[0] - 1) // per[0]  # every thread gets at least one block


cdef void _start_bias_grad(floating[::1] dbias, double beta, floating* partial_b, int t) noexcept nogil:
    """dbias = beta * dbias and zero threads 1..t-1's partial bias sums (no bias: nothing)."""
    cdef Py_ssize_t j, u = dbias.shape[0]
    for j in range(u):
        dbias[j] = <floating> beta * dbias[j] if beta != 0 else 0
    if t > 1 and u > 0:
        memset(partial_b, 0, (t - 1) * u * sizeof(floating))


cdef void _add_thread_grads(floating[:, ::1] dkernel, floating[::1] dbias, const floating* partial_w,
                            const floating* partial_b, int t) noexcept nogil:
    """Add threads 1..t-1's partial kernel and bias gradients, in thread order."""
    cdef int k = dkernel.shape[0], u = dkernel.shape[1]
    if t > 1:
        if k > 0:
            add_partials(&dkernel[0, 0], u, partial_w, t - 1, k, u, t)
        if dbias.shape[0] > 0:
            add_partials(&dbias[0], u, partial_b, t - 1, 1, u, 1)


cdef inline bint _packed_backward(int k, int u) noexcept nogil:
    """Whether the row-blocked backward runs its products on the packed micro-kernel.

    dz's rows are read in place as whole 32-column tiles (u a multiple of 32), and the
    packed kernel.T stays in one core's L2 (as ``dense_forward_packed``'s kernel).
    """
    return k >= 16 and u % 32 == 0 and <Py_ssize_t> k * u <= _PACKED_MAX_KERNEL


cdef inline bint _unit(double beta) noexcept nogil:
    return beta == 0.0 or beta == 1.0


cdef floating* _pack_kernel_t(int k, int u, const floating* kernel, floating* like) except? NULL:
    """kernel.T packed for ``dx = dz @ kernel.T``, or NULL where BLAS does the products."""
    if not _packed_backward(k, u):
        return NULL
    cdef floating* kt = packed_alloc(u, k, 1, like)
    pack(True, u, k, 1, 0, k, kernel, u, kt)
    return kt


cdef void _backward_block(int rows, int k, int u, const floating* x, const floating* kernel,
                          const floating* kt, const floating* dy, const floating* y, floating* dz_buf,
                          floating* dw, floating* db, floating w_beta, bint need_dx, floating* dx,
                          floating dx_beta) noexcept nogil:
    """One block of ``rows`` rows of the row-blocked backward, on one thread.

    dz = dy gated by y > 0 into ``dz_buf`` (may be dy), or dy itself when ``y`` is NULL;
    db += its column sums (db not NULL); dw = w_beta * dw + x.T @ dz;
    dx = dx_beta * dx + dz @ kernel.T. With ``kt`` (``_pack_kernel_t``), both products
    run on the packed micro-kernel (w_beta and dx_beta then 0 or 1), else on BLAS.
    """
    cdef const floating* dz = dy
    if y != NULL:
        relu_back_sum(dy, y, dz_buf, rows, u, db)
        dz = dz_buf
    elif db != NULL:
        add_column_sums(dz, rows, u, u, db)
    if k == 0:  # no inputs: only the bias gradient
        return
    if kt != NULL:
        strided_gemm(True, k, u, rows, x, k, dz, u, dw, u, w_beta != 0)
        if need_dx:
            packed_gemm(False, rows, 0, k, u, dz, u, kt, dx, k, dx_beta != 0)
        return
    gemm_serial(True, False, k, u, rows, <floating> 1.0, x, k, dz, u, w_beta, dw, u)
    if need_dx:
        gemm_serial(False, True, rows, k, u, <floating> 1.0, dz, u, kernel, u, dx_beta, dx, k)


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
    cdef int t, per, tid, blk, r0, size, n_blocks
    cdef Py_ssize_t ku = <Py_ssize_t> k * u
    cdef floating* work
    cdef floating* dz
    cdef floating* partial_w
    cdef floating* partial_b
    cdef floating* dz_bufs
    cdef floating* kt
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
    t = _split_rows(n, n_threads, &size, &n_blocks, &per)
    # Threads 1.. t-1: kernel and bias partial sums; every thread: a dz block when gating.
    work = <floating*> malloc(((t - 1) * (ku + u) + (t * <Py_ssize_t> size * u if gate else 0))
                              * sizeof(floating))
    if work == NULL:
        raise MemoryError("dense_backward_fused: cannot allocate the per-thread gradient buffers")
    kt = NULL
    try:
        partial_w = work
        partial_b = work + (t - 1) * ku
        dz_bufs = partial_b + (t - 1) * u
        kt = _pack_kernel_t(k, u, &kernel[0, 0], work) if k > 0 and _unit(beta) and _unit(dx_beta) else NULL
        with nogil:
            _start_bias_grad(dbias, beta, partial_b, t)
            for tid in prange(t, schedule="static", num_threads=t):
                dz = dz_bufs + tid * <Py_ssize_t> size * u
                for blk in range(tid * per, min(tid * per + per, n_blocks)):
                    r0 = blk * size
                    _backward_block(
                        min(size, n - r0), k, u, &x[r0, 0] if k > 0 else NULL, &kernel[0, 0] if k > 0 else NULL, kt,
                        &dy[r0, 0], &y[r0, 0] if gate else NULL, dz,
                        (&dkernel[0, 0] if k > 0 else NULL) if tid == 0 else partial_w + (tid - 1) * ku,
                        NULL if not has_bias else &dbias[0] if tid == 0 else partial_b + (tid - 1) * u,
                        <floating> (beta if tid == 0 else 0.0) if blk == tid * per else <floating> 1.0,
                        need_dx, &dx[r0, 0] if need_dx and k > 0 else NULL, <floating> dx_beta)
            _add_thread_grads(dkernel, dbias, partial_w, partial_b, t)
    finally:
        free(work)
        packed_free(kt)


def dense_relu_dense_backward(const floating[:, ::1] x, const floating[:, ::1] kernel1,
                              const floating[:, ::1] a, const floating[:, ::1] kernel2,
                              const floating[:, ::1] dz2, floating[:, ::1] dkernel1, floating[::1] dbias1,
                              floating[:, ::1] dkernel2, floating[::1] dbias2, floating[:, ::1] dx,
                              double beta1, double beta2, bint need_dx, int n_threads):
    """Backward of a = relu(x @ kernel1 + bias1), out = a @ kernel2 + bias2, one block of rows at a time.

    Per block, on the thread that owns it (``dense_backward_fused``'s blocks and
    threads): the second layer's bias and kernel gradients from ``dz2`` and
    ``da = dz2 @ kernel2.T`` into the thread's scratch, then the first layer's
    backward from dz1 = ``da`` gated by a > 0, while ``da`` and ``a``'s block are
    in cache: the (n, units) gradient between the layers is never stored whole.
    Everything equals two ``dense_backward_fused`` calls' results bit for bit
    (the second layer's, then the first's on its ``dx``). Only call while BLAS
    runs one thread.

    Parameters
    ----------
    x : (n, in). IN.
    kernel1 : (in, units), units >= 1. IN.
    a : (n, units), the first layer's ReLU output. IN.
    kernel2 : (units, out), out >= 1. IN.
    dz2 : (n, out). IN: dL/d(pair output).
    dkernel1 : (in, units). IN/OUT: ``dkernel1 = beta1 * dkernel1 + x.T @ dz1``.
    dbias1 : (units,) or empty (no bias). IN/OUT: ``dbias1 = beta1 * dbias1 + dz1.sum(0)``.
    dkernel2 : (units, out). IN/OUT: ``dkernel2 = beta2 * dkernel2 + a.T @ dz2``.
    dbias2 : (out,) or empty (no bias). IN/OUT: ``dbias2 = beta2 * dbias2 + dz2.sum(0)``.
    dx : (n, in), ignored unless ``need_dx``. OUT: ``dz1 @ kernel1.T``.
    beta1, beta2 : 0.0 to overwrite a layer's weight gradients, 1.0 to accumulate.
    n_threads : int
    """
    cdef int n = x.shape[0], k = x.shape[1], u = kernel1.shape[1], v = kernel2.shape[1]
    cdef bint has_b1 = dbias1.shape[0] > 0, has_b2 = dbias2.shape[0] > 0
    cdef int t, per, tid, blk, r0, size, n_blocks
    cdef Py_ssize_t ku = <Py_ssize_t> k * u, uv = <Py_ssize_t> u * v
    cdef floating w_beta1, w_beta2
    cdef floating* work
    cdef floating* da
    cdef floating* partial_w1
    cdef floating* partial_b1
    cdef floating* partial_w2
    cdef floating* partial_b2
    cdef floating* da_bufs
    cdef floating* kt1
    cdef floating* kt2
    check_shape("dense_relu_dense_backward", "kernel1", kernel1.shape, 2, k, ANY)
    check_shape("dense_relu_dense_backward", "a", a.shape, 2, n, u)
    check_shape("dense_relu_dense_backward", "kernel2", kernel2.shape, 2, u, ANY)
    check_shape("dense_relu_dense_backward", "dz2", dz2.shape, 2, n, v)
    check_shape("dense_relu_dense_backward", "dkernel1", dkernel1.shape, 2, k, u)
    check_optional("dense_relu_dense_backward", "dbias1", True, dbias1.shape, 1, u)
    check_shape("dense_relu_dense_backward", "dkernel2", dkernel2.shape, 2, u, v)
    check_optional("dense_relu_dense_backward", "dbias2", True, dbias2.shape, 1, v)
    if need_dx:
        check_shape("dense_relu_dense_backward", "dx", dx.shape, 2, n, k)
    if n == 0:  # no rows: the weight gradients only scale
        _start_bias_grad(dbias1, beta1, NULL, 1)
        _start_bias_grad(dbias2, beta2, NULL, 1)
        _scale(&dkernel1[0, 0] if k > 0 else NULL, ku, <floating> beta1)
        _scale(&dkernel2[0, 0], uv, <floating> beta2)
        return
    t = _split_rows(n, n_threads, &size, &n_blocks, &per)
    # Threads 1.. t-1: both layers' kernel and bias partial sums; every thread: a da block.
    work = <floating*> malloc(((t - 1) * (ku + u + uv + v) + t * <Py_ssize_t> size * u) * sizeof(floating))
    if work == NULL:
        raise MemoryError("dense_relu_dense_backward: cannot allocate the per-thread gradient buffers")
    kt1 = kt2 = NULL
    try:
        partial_w1 = work
        partial_b1 = partial_w1 + (t - 1) * ku
        partial_w2 = partial_b1 + (t - 1) * u
        partial_b2 = partial_w2 + (t - 1) * uv
        da_bufs = partial_b2 + (t - 1) * v
        if _unit(beta1) and _unit(beta2):
            kt2 = _pack_kernel_t(u, v, &kernel2[0, 0], work)
            kt1 = _pack_kernel_t(k, u, &kernel1[0, 0], work) if k > 0 else NULL
        with nogil:
            _start_bias_grad(dbias1, beta1, partial_b1, t)
            _start_bias_grad(dbias2, beta2, partial_b2, t)
            for tid in prange(t, schedule="static", num_threads=t):
                da = da_bufs + tid * <Py_ssize_t> size * u
                for blk in range(tid * per, min(tid * per + per, n_blocks)):
                    r0 = blk * size
                    w_beta1 = <floating> (beta1 if tid == 0 else 0.0) if blk == tid * per else <floating> 1.0
                    w_beta2 = <floating> (beta2 if tid == 0 else 0.0) if blk == tid * per else <floating> 1.0
                    _backward_block(
                        min(size, n - r0), u, v, &a[r0, 0], &kernel2[0, 0], kt2, &dz2[r0, 0], NULL, NULL,
                        &dkernel2[0, 0] if tid == 0 else partial_w2 + (tid - 1) * uv,
                        NULL if not has_b2 else &dbias2[0] if tid == 0 else partial_b2 + (tid - 1) * v,
                        w_beta2, True, da, 0)
                    _backward_block(
                        min(size, n - r0), k, u, &x[r0, 0] if k > 0 else NULL, &kernel1[0, 0] if k > 0 else NULL, kt1,
                        da, &a[r0, 0], da,
                        (&dkernel1[0, 0] if k > 0 else NULL) if tid == 0 else partial_w1 + (tid - 1) * ku,
                        NULL if not has_b1 else &dbias1[0] if tid == 0 else partial_b1 + (tid - 1) * u,
                        w_beta1, need_dx, &dx[r0, 0] if need_dx and k > 0 else NULL, 0)
            _add_thread_grads(dkernel1, dbias1, partial_w1, partial_b1, t)
            _add_thread_grads(dkernel2, dbias2, partial_w2, partial_b2, t)
    finally:
        free(work)
        packed_free(kt1)
        packed_free(kt2)


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
