"""The block-level work shared by the conv entry points of ``_conv`` and ``_convpool``.

No Python entry: the entry modules check their arguments and cimport these (``_convblocks.pxd``).

The column matrix (``_convgather.pxd``) is never stored whole. Each thread gathers a block of a
few hundred of its rows into its own scratch (it stays in L2) and multiplies it at once on the
packed micro-kernel (``_packed.pxd``; ``_matmul.pxd`` says why this path):

- forward (``block_forward``): row blocks against the kernel packed once, then the bias and a
  plain ReLU on the block while it is in cache;
- kernel gradient: each thread owns whole rows of dkernel (a range of the columns) and sums
  fixed row blocks in order, or, for a short dkernel or with dx to compute, chunks of rows fixed
  by the shapes get partial sums added in chunk order; either way the result does not depend
  on the thread count;
- input gradient: threads own whole images (receptive fields overlap only within an image);
  each block's column gradients (dz @ kernel.T) are scattered back while in cache.

The backward reads dz either stored (``conv2d_backward``) or rebuilt block by block from a
gated 2x2 max pool's gradient (``Pooled``, ``conv2d_maxpool_backward``).
Geometry arguments as in ``_convgeom.pxd``; tuning constants in ``_convtune.pxd``.
"""
from cython.parallel cimport prange, threadid
from libc.stdlib cimport free
from libc.string cimport memset

from ranvier.core._checks cimport check_optional, check_shape, value_error
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._convgather cimport move_rows
from ranvier.core._convtune cimport (ADD_BLOCK, BLOCK_ROWS, CHUNK_ROWS, GRAD_ROWS, IMAGE_CHUNKS, PARTIALS_LEN,
                                     PRODUCT_GRAIN, SPLIT_K, TILE_ROWS)
from ranvier.core._maxpool cimport unpool_span
from ranvier.core._packed cimport pack, packed_alloc, packed_free, packed_gemm, packed_len, strided_gemm
from ranvier.core._openmp cimport effective_threads
from ranvier.core._relu cimport add_bias, relu
from ranvier.core._types cimport floating


cdef int check_forward(str op, const floating[:, ::1] kernel, const floating[::1] bias,
                       Py_ssize_t k) except -1:
    """The checks both forward entries share: kernel rows (kh * kw * channels) and bias shape."""
    check_shape(op, "kernel", kernel.shape, 2, k, kernel.shape[1])
    check_optional(op, "bias", True, bias.shape, 1, kernel.shape[1])
    return 0


cdef void block_forward(const floating[:, :, :, ::1] x, Py_ssize_t r0, Py_ssize_t rows,
                        int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                        Py_ssize_t oh, Py_ssize_t ow, bint pointwise, floating* cols, const floating* packed,
                        Py_ssize_t f, const floating* bias, bint apply_relu, floating* z) noexcept nogil:
    """z (rows x f) = output rows r0 .. r0 + rows: their columns (gathered into ``cols`` unless
    pointwise) @ the packed kernel, then + bias (unless NULL) and the ReLU if asked."""
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c
    if k == 0:  # inputs without channels
        memset(z, 0, rows * f * sizeof(floating))
    else:
        if pointwise:
            cols = <floating*> &x[0, 0, 0, 0] + r0 * k
        else:
            move_rows(<floating*> &x[0, 0, 0, 0], x.shape[1], x.shape[2], c, 0, r0, r0 + rows, 0, k,
                      kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, cols, False)
        packed_gemm(False, rows, 0, f, k, cols, k, packed, z, f, False)
    if bias != NULL:
        add_bias(z, bias, rows, f)
    if apply_relu:
        relu(z, z, rows * f)


cdef void gradients(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel, const floating* dz,
                    Pooled pooled, floating[:, ::1] dkernel, floating[::1] dbias, floating[:, :, :, ::1] dx,
                    double beta, bint need_dx, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                    Py_ssize_t oh, Py_ssize_t ow, int n_threads) except *:
    """The work of both backward entries once their arguments are checked and there are columns:
    dkernel and dbias, then dx if asked, from ``dz`` or (``dz`` NULL) from ``pooled``."""
    cdef bint pointwise = is_pointwise(kh, kw, sh, sw, pt, pl, x.shape[1], x.shape[2], oh, ow)
    cdef Py_ssize_t f = kernel.shape[1], k = kh * kw * x.shape[3], chunk_rows
    if beta == 0.0:
        dbias[...] = 0
    chunk_rows = _chunk_rows(x.shape[0], oh * ow, k, f, need_dx)
    if chunk_rows:
        _chunked_grads(x, kernel, dz, pooled, f, &dkernel[0, 0], &dbias[0] if dbias.shape[0] else NULL, dx,
                       beta != 0.0, need_dx, chunk_rows, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise,
                       n_threads)
        return
    _kernel_grad(x, dz, pooled, f, &dkernel[0, 0], &dbias[0] if dbias.shape[0] else NULL, beta != 0.0,
                 kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, n_threads)
    if need_dx:
        input_grad(dz, pooled, f, kernel, dx, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, n_threads)


cdef Py_ssize_t _chunk_rows(Py_ssize_t n, Py_ssize_t per, Py_ssize_t k, Py_ssize_t f, bint need_dx) noexcept nogil:
    """Rows of a chunk with its own partial dkernel and dbias, from the shapes alone (so that
    the sums never depend on the thread count), or 0 to split dkernel's rows between threads.

    With dx to compute, chunks are groups of whole images (receptive fields overlap only
    within an image), at most ``IMAGE_CHUNKS``: one pass per block then makes dz, dkernel's
    share and dx's together, where split by dkernel rows every thread rebuilt every dz block
    (W2's second conv unpooled it three times). Without dx, only a dkernel of fewer than
    ``SPLIT_K`` rows is chunked, by ``CHUNK_ROWS``. Either way the partial sums may take at
    most ``PARTIALS_LEN`` values.
    """
    cdef Py_ssize_t m = n * per, images, chunks, rows
    if need_dx:
        images = images_per_group(n, k, f)
        return images * per if images < n else 0
    if k >= SPLIT_K:
        return 0
    chunks = min((m + CHUNK_ROWS - 1) // CHUNK_ROWS, _partial_sets(k, f))
    rows = ((m + chunks - 1) // chunks + GRAD_ROWS - 1) // GRAD_ROWS * GRAD_ROWS
    return rows if rows < m else 0


cdef Py_ssize_t images_per_group(Py_ssize_t n, Py_ssize_t k, Py_ssize_t f) noexcept nogil:
    """Images per group when a backward cuts the batch into at most ``IMAGE_CHUNKS`` groups of
    whole images, each with its own partial sums of k * f + f values (all within ``PARTIALS_LEN``)."""
    cdef Py_ssize_t groups = min(n, IMAGE_CHUNKS, _partial_sets(k, f))
    return (n + groups - 1) // groups


cdef inline Py_ssize_t _partial_sets(Py_ssize_t k, Py_ssize_t f) noexcept nogil:
    """How many partial sums of a (k x f) dkernel and its (f,) dbias fit in ``PARTIALS_LEN`` (at least one)."""
    return max(1, PARTIALS_LEN // (k * f + f))


cdef int check_grads(str op, const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                     floating[:, ::1] dkernel, floating[::1] dbias, floating[:, :, :, ::1] dx, double beta,
                     bint need_dx, Py_ssize_t k) except -1:
    """The checks every conv backward entry shares: beta, kernel and gradient shapes."""
    cdef Py_ssize_t f = kernel.shape[1]
    if beta != 0.0 and beta != 1.0:
        raise value_error(op, "beta", "be 0.0 or 1.0", beta)
    check_shape(op, "kernel", kernel.shape, 2, k, f)
    check_shape(op, "dkernel", dkernel.shape, 2, k, f)
    check_optional(op, "dbias", True, dbias.shape, 1, f)
    if need_dx:
        check_shape(op, "dx", dx.shape, 4, x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return 0


cdef void _kernel_grad(const floating[:, :, :, ::1] x, const floating* dz, Pooled pooled, Py_ssize_t f,
                       floating* dkernel, floating* dbias, bint accumulate, int kh, int kw, int sh, int sw,
                       int dh, int dw, int pt, int pl, Py_ssize_t oh, Py_ssize_t ow, bint pointwise,
                       int n_threads) except *:
    """dkernel (k x f) (+)= columns.T @ dz, and dbias (f,) += dz's column sums unless NULL.

    Thread i owns rows [k0, k1) of dkernel: it gathers those columns of each
    fixed block of rows and multiplies them by the block's dz, read in place when
    f is a multiple of 32, else packed into its own buffer. The thread owning the
    last rows (the fewest, when k is not a multiple of the share) adds each dz
    block to dbias while the block is in cache. With ``dz`` NULL, each thread
    unpools the blocks from ``pooled`` (``_dz_rows``).
    """
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c, m = x.shape[0] * oh * ow, share, k0, k1, i
    cdef int t = effective_threads(n_threads, m * k * f, PRODUCT_GRAIN)
    cdef bint strided = f % 32 == 0
    cdef floating* buf
    share = (k + t * TILE_ROWS - 1) // (t * TILE_ROWS) * TILE_ROWS
    # Per thread: its column block, dz's block when unpooled, and dz packed unless read in place.
    cdef Py_ssize_t cols_len = 0 if pointwise else GRAD_ROWS * share
    cdef Py_ssize_t z_len = GRAD_ROWS * f if dz == NULL else 0
    cdef Py_ssize_t per_thread = cols_len + z_len + (0 if strided else packed_len(GRAD_ROWS, f, 1))
    cdef floating* scratch = alloc_scratch(t * per_thread, dkernel)
    with nogil:
        for i in prange(t, schedule="static", num_threads=t):
            buf = scratch + i * per_thread
            k0 = i * share
            k1 = min(k, k0 + share)
            _grad_span(x, dz, pooled, f, k0, k1, 0, m, dkernel + k0 * f, dbias if k1 == k else NULL, accumulate,
                       kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, strided, buf, buf + cols_len,
                       buf + cols_len + z_len, NULL, NULL, NULL)
    free(scratch)


cdef void _chunked_grads(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel, const floating* dz,
                         Pooled pooled, Py_ssize_t f, floating* dkernel, floating* dbias,
                         floating[:, :, :, ::1] dx, bint accumulate, bint need_dx, Py_ssize_t chunk_rows,
                         int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t oh,
                         Py_ssize_t ow, bint pointwise, int n_threads) except *:
    """dkernel (+)= columns.T @ dz, dbias += dz's column sums (unless NULL) and, with ``need_dx``,
    dx = col2im(dz @ kernel.T), by chunks of ``chunk_rows`` rows (``_chunk_rows``).

    Each chunk goes to its own partial dkernel and dbias, added in chunk order at the end;
    with dx, a chunk's images' dx are zeroed and then scattered into block by block.
    """
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c, m = x.shape[0] * oh * ow, per = oh * ow
    cdef Py_ssize_t n_chunks = (m + chunk_rows - 1) // chunk_rows, part_len = k * f + f, ch, r0, r1
    cdef int t = min(effective_threads(n_threads, m * k * f, PRODUCT_GRAIN), <int> n_chunks)
    cdef bint strided = f % 32 == 0
    cdef floating* buf
    cdef floating* part
    # Per thread: the block's columns, its unpooled dz, dz packed unless read in place, and its
    # column gradients.
    cdef Py_ssize_t cols_len = 0 if pointwise else GRAD_ROWS * k
    cdef Py_ssize_t z_len = GRAD_ROWS * f if dz == NULL else 0
    cdef Py_ssize_t bp_len = 0 if strided else packed_len(GRAD_ROWS, f, 1)
    cdef Py_ssize_t per_thread = cols_len + z_len + bp_len + (cols_len if need_dx else 0)
    cdef floating* packed_t = NULL
    cdef floating* parts = alloc_scratch(n_chunks * part_len, dkernel)
    cdef floating* scratch = NULL
    try:
        scratch = alloc_scratch(t * per_thread, dkernel)
        if need_dx:
            packed_t = packed_alloc(f, k, 1, dkernel)
            pack(True, f, k, 1, 0, k, &kernel[0, 0], f, packed_t)
        with nogil:
            for ch in prange(n_chunks, schedule="static", num_threads=t):
                buf = scratch + threadid() * per_thread
                part = parts + ch * part_len
                r0 = ch * chunk_rows
                r1 = min(m, r0 + chunk_rows)
                memset(part + k * f, 0, f * sizeof(floating))
                if need_dx and not pointwise:
                    memset(&dx[r0 // per, 0, 0, 0], 0, (r1 - r0) // per * dx.shape[1] * dx.shape[2] * c
                           * sizeof(floating))
                _grad_span(x, dz, pooled, f, 0, k, r0, r1, part, part + k * f if dbias != NULL else NULL, False,
                           kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, pointwise, strided, buf, buf + cols_len,
                           buf + cols_len + z_len, packed_t, &dx[0, 0, 0, 0] if need_dx else NULL,
                           buf + cols_len + z_len + bp_len)
            add_partials(parts, n_chunks, part_len, k * f, f, dkernel, dbias, accumulate, t)
    finally:
        free(parts)
        free(scratch)
        packed_free(packed_t)


cdef void add_partials(const floating* parts, Py_ssize_t n_chunks, Py_ssize_t part_len, Py_ssize_t nk,
                       Py_ssize_t f, floating* dkernel, floating* dbias, bint accumulate, int t) noexcept nogil:
    """dkernel (+)= the chunks' partial dkernels (nk values each, ``part_len`` apart), in chunk
    order; dbias (unless NULL) += their partial dbias (the f values after each)."""
    cdef Py_ssize_t kb = (nk + ADD_BLOCK - 1) // ADD_BLOCK, blk, j, j0, j1, ch, off
    cdef floating* out
    for blk in prange(kb + (1 if dbias != NULL else 0), schedule="static", num_threads=t):
        if blk < kb:
            out = dkernel
            off = 0
            j0 = blk * ADD_BLOCK
            j1 = min(nk, j0 + ADD_BLOCK)
            if not accumulate:
                memset(dkernel + j0, 0, (j1 - j0) * sizeof(floating))
        else:
            out = dbias
            off = nk
            j0 = 0
            j1 = f
        for ch in range(n_chunks):
            for j in range(j0, j1):
                out[j] = out[j] + parts[ch * part_len + off + j]


cdef void _grad_span(const floating[:, :, :, ::1] x, const floating* dz, Pooled pooled, Py_ssize_t f,
                     Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t r0, Py_ssize_t r1, floating* dk, floating* db,
                     bint accumulate, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                     Py_ssize_t oh, Py_ssize_t ow, bint pointwise, bint strided, floating* buf, floating* zb,
                     floating* bp, const floating* packed_t, floating* dx, floating* dcols) noexcept nogil:
    """dk (rows k0 .. k1 of dkernel, row stride f) (+)= columns[r0:r1, k0:k1].T @ dz[r0:r1] in blocks
    of ``GRAD_ROWS``, and db (f,) += dz[r0:r1]'s column sums unless NULL. With ``packed_t`` (the
    kernel's transpose, packed), also each block's share of dx (``_dx_block``, into ``dcols``): dx has
    the shape of x.

    ``buf`` holds a block's columns, ``zb`` its unpooled dz, ``bp`` its packed dz.
    """
    cdef Py_ssize_t c = x.shape[3], k = kh * kw * c, r = r0, rows, ld
    cdef const floating* cols
    cdef const floating* d
    while k0 < k1 and r < r1:
        rows = min(GRAD_ROWS, r1 - r)
        if pointwise:
            ld = k
            cols = &x[0, 0, 0, 0] + r * k + k0
        else:
            ld = k1 - k0
            move_rows(<floating*> &x[0, 0, 0, 0], x.shape[1], x.shape[2], c, 0, r, r + rows, k0, k1,
                      kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, buf, False)
            cols = buf
        d = _dz_rows(dz, pooled, oh, ow, f, r, rows, zb)
        if strided:
            strided_gemm(True, k1 - k0, f, rows, cols, ld, d, f, dk, f, accumulate or r > r0)
        else:
            pack(False, rows, f, 1, 0, f, d, f, bp)
            packed_gemm(True, k1 - k0, 0, f, rows, cols, ld, bp, dk, f, accumulate or r > r0)
        if db != NULL:
            add_column_sums(d, rows, f, f, db)
        if packed_t != NULL:
            _dx_block(d, rows, r, f, packed_t, dx, x.shape[1], x.shape[2], c, dcols, kh, kw, sh, sw, dh, dw, pt,
                      pl, oh, ow, pointwise)
        r = r + rows


cdef void _dx_block(const floating* d, Py_ssize_t rows, Py_ssize_t r0, Py_ssize_t f, const floating* packed_t,
                    floating* dx, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, floating* dcols, int kh, int kw,
                    int sh, int sw, int dh, int dw, int pt, int pl, Py_ssize_t oh, Py_ssize_t ow,
                    bint pointwise) noexcept nogil:
    """Rows r0 .. r0 + rows of dz (``d``) into dx (images of h x w x c): their column gradients
    d @ kernel.T (into ``dcols``, or a pointwise conv's dx rows themselves), scattered back (added)."""
    cdef Py_ssize_t k = kh * kw * c
    if pointwise:
        packed_gemm(False, rows, 0, k, f, d, f, packed_t, dx + r0 * k, k, False)
        return
    packed_gemm(False, rows, 0, k, f, d, f, packed_t, dcols, k, False)
    move_rows(dx, h, w, c, 0, r0, r0 + rows, 0, k, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, dcols, True)


cdef const floating* _dz_rows(const floating* dz, Pooled pooled, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t f,
                              Py_ssize_t r0, Py_ssize_t rows, floating* tmp) noexcept nogil:
    """Rows r0 .. r0 + rows of dz: in place, or with ``dz`` NULL unpooled into ``tmp`` from the
    gradient of a gated 2x2 max pool over the conv output (``conv2d_maxpool_backward``)."""
    cdef Py_ssize_t ph = oh // 2, pw = ow // 2, r = r0, r1 = r0 + rows, i, y, x0, x1, q
    if dz != NULL:
        return dz + r0 * f
    while r < r1:
        i = r // (oh * ow)
        y = r // ow % oh
        x0 = r % ow
        x1 = min(ow, x0 + r1 - r)
        if y // 2 >= ph:
            memset(tmp + (r - r0) * f, 0, (x1 - x0) * f * sizeof(floating))
        else:
            q = (i * ph + y // 2) * pw * f
            unpool_span(tmp + (r - r0) * f, <const floating*> pooled.dy + q, pooled.argmax + q,
                        <const floating*> pooled.gate + q, y * ow * f, x0, x1, pw, f)
        r += x1 - x0
    return tmp


cdef void input_grad(const floating* dz, Pooled pooled, Py_ssize_t f, const floating[:, ::1] kernel,
                     floating[:, :, :, ::1] dx, int kh, int kw, int sh, int sw, int dh, int dw,
                     int pt, int pl, Py_ssize_t oh, Py_ssize_t ow, bint pointwise, int n_threads) except *:
    """dx = col2im(dz @ kernel.T), kernel.T packed once.

    Threads take groups of whole images (receptive fields overlap only within an
    image) and go through a group in blocks of rows: each block's column
    gradients are scattered back while in cache (``_dx_block``). With ``dz`` NULL,
    the blocks are unpooled from ``pooled`` (``_dz_rows``).
    """
    cdef Py_ssize_t n = dx.shape[0], c = dx.shape[3], k = kh * kw * c, per = oh * ow
    cdef Py_ssize_t images = max(1, BLOCK_ROWS // per), g, i0, i1, r0, r1, rows
    cdef Py_ssize_t hwc = dx.shape[1] * dx.shape[2] * c
    cdef Py_ssize_t cols_len = 0 if pointwise else BLOCK_ROWS * k
    cdef Py_ssize_t per_thread = cols_len + (BLOCK_ROWS * f if dz == NULL else 0)
    cdef floating* buf
    cdef int t = effective_threads(n_threads, n * per * k * f, PRODUCT_GRAIN)
    cdef floating* packed = packed_alloc(f, k, 1, &dx[0, 0, 0, 0])
    cdef floating* scratch = alloc_scratch(t * per_thread, &dx[0, 0, 0, 0])
    with nogil:
        pack(True, f, k, 1, 0, k, &kernel[0, 0], f, packed)
        for g in prange((n + images - 1) // images, schedule="static", num_threads=t):
            i0 = g * images
            i1 = min(n, i0 + images)
            r0 = i0 * per
            r1 = i1 * per
            buf = scratch + threadid() * per_thread
            if not pointwise:
                memset(&dx[i0, 0, 0, 0], 0, (i1 - i0) * hwc * sizeof(floating))
            while r0 < r1:
                rows = min(BLOCK_ROWS, r1 - r0)
                _dx_block(_dz_rows(dz, pooled, oh, ow, f, r0, rows, buf + cols_len), rows, r0, f, packed,
                          &dx[0, 0, 0, 0], dx.shape[1], dx.shape[2], c, buf, kh, kw, sh, sw, dh, dw, pt, pl, oh,
                          ow, pointwise)
                r0 = r0 + rows
    free(scratch)
    packed_free(packed)
