"""Recurrent kernels: SimpleRNN, LSTM and GRU, forward and backward through time.

Everything is time-major, so that one step is one contiguous block:
``x (T, B, in)``, states ``h (T + 1, B, units)`` with ``h[0]`` the initial
state and ``h[t + 1]`` the state after step ``t``. The whole time loop runs
in one OpenMP region (see "the parallel time loops" below): each step one
product against the kernel and one against the recurrent kernel, both packed
once, and one fused gate pass; backward runs the whole time loop here too,
adding each step's share of the weight and bias gradients as it goes.

Masks are ``(T, B)`` uint8 (1 = real step). A masked step carries the
previous state forward (Keras semantics), so its output is the previous
output. ``rec_mask`` ``(B, units)`` multiplies the state fed to the recurrent
GEMM (recurrent dropout, scaled by the caller); ``h_rec`` then caches the
multiplied states for the weight gradient. Pass shape ``(0, 0)`` /
``(0, 0, 0)`` arrays for "no mask" / "no recurrent dropout".

Backward also returns the bias gradients (the column sums of the gate
gradients), summed per step with the weight gradients.
"""
from cython.parallel cimport parallel
from libc.stdlib cimport calloc, free, malloc

from ranvier.core._checks cimport ANY, check_optional, check_shape, value_error
from ranvier.core._colsum cimport add_column_sums
from ranvier.core._fastmath cimport fast_sigmoid, fast_tanh, rv_sigmoid_f32, rv_tanh_f32
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport (effective_threads, omp_get_num_threads, omp_get_thread_num, rv_omp_barrier,
                                   rv_progress_set, rv_progress_wait)
from ranvier.core._matmul cimport gemm, pack, packed_alloc, packed_block, packed_free, packed_gemm, packed_len

#: Activation codes of the fused gate kernels.
ACTIVATIONS = {"linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3, "hard_sigmoid": 4}

# The fused float32 LSTM cell for the default activations (tanh, sigmoid),
# forward and backward: one pass over the row's four gate blocks instead of five,
# vectorised and built for AVX2 like the shared fast math (forward measured 32 vs
# 100 us per 64 x 128 step). Other activations and float64 take the generic rows.
cdef extern from "rv_lstm.h":
    void rv_lstm_cell_back_f32(const float* g, const float* ac, const float* c_prev, const float* dy,
                               float* dh, float* dc, float* dg, Py_ssize_t n, Py_ssize_t u,
                               Py_ssize_t rows) noexcept nogil
    void rv_lstm_cell_f32(float* g, const float* bias, const float* c_prev, float* c_new, float* ac,
                          float* h_new, Py_ssize_t n, Py_ssize_t u, Py_ssize_t rows) noexcept nogil


cdef inline floating _act(int code, floating x) noexcept nogil:
    if code == 1:
        return fast_tanh(x)
    if code == 2:
        return fast_sigmoid(x)
    if code == 3:
        return x if x > 0 else 0
    if code == 4:
        x = x / 6 + <floating> 0.5
        if x < 0:
            return 0
        return 1 if x > 1 else x
    return x


cdef void _act_inplace(int code, floating* a, Py_ssize_t n) noexcept nogil:
    """a = activation(a); the float32 tanh and sigmoid run as SIMD loops."""
    cdef Py_ssize_t j
    if floating is float:
        if code == 1:
            rv_tanh_f32(a, a, n)
            return
        if code == 2:
            rv_sigmoid_f32(a, a, n)
            return
    if code != 0:
        for j in range(n):
            a[j] = _act(code, a[j])


cdef inline floating _dact(int code, floating y) noexcept nogil:
    """Derivative of activation ``code`` written through its output ``y``."""
    if code == 1:
        return 1 - y * y
    if code == 2:
        return y * (1 - y)
    if code == 3:
        return 1 if y > 0 else 0
    if code == 4:
        return <floating> (1.0 / 6.0) if 0 < y < 1 else 0
    return 1


cdef inline void _copy(const floating* src, floating* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = src[i]


cdef inline void _zero(floating* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = 0


# ----------------------------------------------------------------- validation
cdef int _check_inputs(str op, int gates, const floating[:, :, ::1] x,
                       const floating[:, ::1] kernel, const floating[:, ::1] recurrent_kernel,
                       const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                       const floating[:, :, ::1] h, const floating[:, :, ::1] h_rec) except -1:
    """Check the arguments every cell shares, forward and backward."""
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], n_in = x.shape[2]
    cdef Py_ssize_t u = recurrent_kernel.shape[0]
    # At least one timestep and one sample.
    check_shape(op, "x", x.shape, 3, ANY, ANY, n_in)
    check_shape(op, "kernel", kernel.shape, 2, n_in, gates * u)
    check_shape(op, "recurrent_kernel", recurrent_kernel.shape, 2, u, gates * u)
    check_shape(op, "h", h.shape, 3, T + 1, B, u)
    if mask.shape[0] > 0:
        check_shape(op, "mask", mask.shape, 2, T, B)
    if rec_mask.shape[0] > 0:
        check_shape(op, "rec_mask", rec_mask.shape, 2, B, u)
        check_shape(op, "h_rec", h_rec.shape, 3, T, B, u)
    return 0


# ------------------------------------------------------------- shared pieces
cdef void _input_grads(const floating* dgx, const floating* W, floating* dx, int TB, int n_in,
                       int G) noexcept nogil:
    """dx = dgx @ W.T for all timesteps at once (one GEMM)."""
    gemm(False, True, TB, n_in, G, 1, dgx, G, W, G, 0, dx, n_in)


cdef floating* _scratch(bint needed, Py_ssize_t n, floating* like) except? NULL:
    """A (n,) work buffer when ``needed`` (free() it), else NULL; ``like`` picks the dtype."""
    if not needed:
        return NULL
    cdef floating* p = <floating*> malloc(n * sizeof(floating))
    if p == NULL:
        raise MemoryError("recurrent kernel: cannot allocate scratch memory")
    return p


cdef int _check_back(str op, int gates, const Py_ssize_t* x, Py_ssize_t u, const Py_ssize_t* dh_seq,
                     const Py_ssize_t* dh, const Py_ssize_t* dgates, const Py_ssize_t* dkernel, const Py_ssize_t* drec,
                     const Py_ssize_t* dbias, const Py_ssize_t* dx, bint need_dx, double beta) except -1:
    """Check the gradient arguments every cell's backward shares (``x`` is x.shape)."""
    cdef Py_ssize_t T = x[0], B = x[1], n_in = x[2]
    if beta != 0.0 and beta != 1.0:
        raise value_error(op, "beta", "be 0.0 (overwrite) or 1.0 (accumulate)", beta)
    check_optional(op, "dh_seq", True, dh_seq, 3, T, B, u)
    check_shape(op, "dh", dh, 2, B, u)
    check_shape(op, "dgates", dgates, 3, T, B, gates * u)
    check_shape(op, "dkernel", dkernel, 2, n_in, gates * u)
    check_shape(op, "drecurrent_kernel", drec, 2, u, gates * u)
    check_optional(op, "dbias", True, dbias, 1, (2 if gates == 3 else 1) * gates * u)
    if need_dx:
        check_shape(op, "dx", dx, 3, T, B, n_in)
    return 0


# ------------------------------------------------- the parallel time loops
# The time loops run in one OpenMP region, against kernels packed once
# (``_packed.pxd``). When the batch gives every thread a row tile, each thread
# owns a slice of the samples for the whole sequence: a sample's recurrence never
# reads another sample, so the threads run the time loop without meeting. A unit
# split syncs both threads at a barrier every step, and on a VM whose vCPUs stall
# for moments that barrier made W3's step time swing by 2x. Smaller batches do
# split the units, in whole 32-unit tiles, and meet once a step, since the next
# step's product reads every unit. Backward, each thread adds its units' columns of
# the weight gradients step by step while the step is in cache: in the step itself
# under a unit split, two steps behind the loop under a row split, once progress
# counters show every thread is past that step (a thread waits only if another
# fell two steps behind). Every element is one fixed sequence of multiply-adds
# (``_packed.pxd``), whatever the split or the thread count.
cdef enum:
    _ROW_TILE = 8  # rows of a micro-kernel tile
    _LAG = 2  # steps the weight gradients trail a row-split backward loop
    _UNIT_TILE = 32  # columns of a micro-kernel tile
    # Most recurrent-kernel values for a row split, where every thread reads all of them each
    # step (a unit split reads its share). Measured LSTM forward + backward, batch 64, two
    # threads: 512 units (2^20 values) rows 21.3 ms, units 21.5; 1024 units rows 112, units 106.
    _ROW_SPLIT_WEIGHTS = 1 << 20


cdef int _loop_threads(int n_threads, Py_ssize_t B, Py_ssize_t u, Py_ssize_t G,
                       bint* by_rows) noexcept nogil:
    """Threads for a time loop, one per 2^17 multiply-adds a step, and whether they split the
    batch (``by_rows``: a row tile each) or the units (at most one thread per unit tile)."""
    cdef int nth = effective_threads(n_threads, B * u * G, 1 << 17)
    by_rows[0] = B >= _ROW_TILE * nth and u * G <= _ROW_SPLIT_WEIGHTS
    if by_rows[0]:
        return nth
    return min(nth, <int> ((u + _UNIT_TILE - 1) // _UNIT_TILE))


cdef Py_ssize_t _tile_start(Py_ssize_t n, Py_ssize_t tile, int tid, int nth) noexcept nogil:
    """First index of thread ``tid`` of ``nth`` over ``n`` split evenly in whole tiles (tid = nth: n).

    Tile-aligned unit ranges let threads pack disjoint panels of one buffer.
    """
    return min(tile * (((n + tile - 1) // tile) * tid // nth), n)


cdef struct _Span:
    # A thread's share of a time loop: rows [r0, r1) of the batch, units [j0, j1).
    Py_ssize_t r0, r1, j0, j1


cdef _Span _loop_span(Py_ssize_t B, Py_ssize_t u, bint by_rows, int tid, int nth) noexcept nogil:
    """Thread ``tid``'s share: whole row tiles and every unit, or every row and whole unit tiles."""
    cdef _Span span
    span.r0, span.r1, span.j0, span.j1 = 0, B, 0, u
    if by_rows:
        span.r0 = _tile_start(B, _ROW_TILE, tid, nth)
        span.r1 = _tile_start(B, _ROW_TILE, tid + 1, nth)
    else:
        span.j0 = _tile_start(u, _UNIT_TILE, tid, nth)
        span.j1 = _tile_start(u, _UNIT_TILE, tid + 1, nth)
    return span


cdef void _step_product(const floating* a, Py_ssize_t k, const floating* packed, int n_blocks,
                        floating* out, Py_ssize_t B, Py_ssize_t u, Py_ssize_t ldo,
                        Py_ssize_t j0, Py_ssize_t j1, bint accumulate) noexcept nogil:
    """out[:, q*u + j0 : q*u + j1] (+)= a @ M[:, same] for every gate block q, with ``a`` (B x k)
    and M (k x n_blocks * u) packed by blocks: this step's input (M = kernel) or state
    (M = recurrent kernel) product."""
    cdef int q
    for q in range(n_blocks):
        packed_gemm(False, B, j0, j1, k, a, k, packed + q * packed_block(k, u), out + q * u, ldo, accumulate)


cdef void _bias_sums(const floating* dg, floating* db, Py_ssize_t B, Py_ssize_t G, int n_blocks,
                     Py_ssize_t u, Py_ssize_t j0, Py_ssize_t j1, bint accumulate) noexcept nogil:
    """db[cols] (+)= column sums of dg (B x G) over units [j0, j1) of every gate block."""
    cdef int q
    for q in range(n_blocks):
        if not accumulate:
            _zero(db + q * u + j0, j1 - j0)
        add_column_sums(dg + q * u + j0, B, G, j1 - j0, db + q * u + j0)


cdef void _step_weight_grads(const floating* x_t, const floating* s_t, const floating* dgx,
                             const floating* dgr, int n_blocks, floating* work, floating* dW,
                             floating* dU, floating* db_x, floating* db_r, Py_ssize_t B,
                             Py_ssize_t n_in, Py_ssize_t u, Py_ssize_t j0, Py_ssize_t j1,
                             bint accumulate) noexcept nogil:
    """One step's share of the weight gradients, on units [j0, j1) of every gate block:
    dW[:, cols] (+)= x_t.T @ dgx[:, cols], dU[:, cols] (+)= s_t.T @ dgr[:, cols], and the bias
    gradients db_x[cols] (+)= sum(dgx), db_r[cols] (+)= sum(dgr) (either NULL to skip).

    ``work`` holds the packed gate gradients: one operand, two (``packed_len`` apart) when ``dgr``
    is not ``dgx``. (Read in place instead, at W3's 2 KB row stride, the gradients thrashed L1:
    the products ran slower than packing and reading the copy.)
    """
    cdef Py_ssize_t G = n_blocks * u, blk = packed_block(B, u)
    cdef floating* work_r = work
    cdef int q
    if j0 >= j1:
        return
    pack(False, B, u, n_blocks, j0, j1, dgx, G, work)
    if dgr != dgx:
        work_r = work + packed_len(B, u, n_blocks)
        pack(False, B, u, n_blocks, j0, j1, dgr, G, work_r)
    for q in range(n_blocks):
        packed_gemm(True, n_in, j0, j1, B, x_t, n_in, work + q * blk, dW + q * u, G, accumulate)
        packed_gemm(True, u, j0, j1, B, s_t, u, work_r + q * blk, dU + q * u, G, accumulate)
    if db_x != NULL:
        _bias_sums(dgx, db_x, B, G, n_blocks, u, j0, j1, accumulate)
    if db_r != NULL:
        _bias_sums(dgr, db_r, B, G, n_blocks, u, j0, j1, accumulate)


cdef void _state_backprop(const floating* dgr, const floating* packed, const floating* rm,
                          floating* scratch, floating* dh, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t u,
                          Py_ssize_t G, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """dh[r0:r1, j0:j1] += ((dgr @ U.T) * rm)[r0:r1, j0:j1], U.T packed; rm may be NULL."""
    cdef Py_ssize_t b, j
    if rm == NULL:
        packed_gemm(False, r1 - r0, j0, j1, G, dgr + r0 * G, G, packed, dh + r0 * u, u, True)
        return
    packed_gemm(False, r1 - r0, j0, j1, G, dgr + r0 * G, G, packed, scratch + r0 * u, u, False)
    for b in range(r0, r1):
        for j in range(j0, j1):
            dh[b * u + j] += scratch[b * u + j] * rm[b * u + j]


cdef void _mask_states(const floating* h, const floating* rm, floating* hr, Py_ssize_t r0,
                       Py_ssize_t r1, Py_ssize_t u, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """hr[r0:r1, j0:j1] = (h * rm)[r0:r1, j0:j1]: the recurrent-dropped state the next product reads."""
    cdef Py_ssize_t b, j
    for b in range(r0, r1):
        for j in range(j0, j1):
            hr[b * u + j] = h[b * u + j] * rm[b * u + j]


# ---------------------------------------------------------------------- LSTM
cdef void _lstm_rows(floating* g, const floating* bias, const floating* c_prev, floating* c_new,
                     floating* ac, floating* h_new, Py_ssize_t n, Py_ssize_t u, Py_ssize_t rows, int act,
                     int ract) noexcept nogil:
    """The cell of ``rows`` samples on ``n`` units; the pointers start at the first unit of the
    first sample, gate blocks ``u`` apart, gate rows ``4u`` and state rows ``u`` apart."""
    cdef Py_ssize_t r
    if floating is float:
        if act == 1 and ract == 2:
            rv_lstm_cell_f32(g, bias, c_prev, c_new, ac, h_new, n, u, rows)
            return
    for r in range(rows):
        _lstm_row(g + r * 4 * u, bias, c_prev + r * u, c_new + r * u, ac + r * u, h_new + r * u, n, u,
                  act, ract)


cdef void _lstm_row(floating* g, const floating* bias, const floating* c_prev, floating* c_new,
                    floating* ac, floating* h_new, Py_ssize_t n, Py_ssize_t u, int act,
                    int ract) noexcept nogil:
    """One sample's cell with any activations (the generic path of ``_lstm_rows``)."""
    cdef Py_ssize_t j, q
    for q in range(4):
        for j in range(n):
            g[q * u + j] += bias[q * u + j]
    _act_inplace(ract, g, n)
    _act_inplace(ract, g + u, n)
    _act_inplace(act, g + 2 * u, n)
    _act_inplace(ract, g + 3 * u, n)
    for j in range(n):
        c_new[j] = g[u + j] * c_prev[j] + g[j] * g[2 * u + j]
        ac[j] = c_new[j]
    _act_inplace(act, ac, n)
    for j in range(n):
        h_new[j] = g[3 * u + j] * ac[j]


cdef void _lstm_rows_back(const floating* g, const floating* ac, const floating* c_prev,
                          const floating* dy, floating* dh, floating* dc, floating* dg, Py_ssize_t n,
                          Py_ssize_t u, Py_ssize_t rows, int act, int ract) noexcept nogil:
    """The backward of ``_lstm_rows`` on the same samples and units; ``dh`` is consumed (zeroed)."""
    cdef Py_ssize_t r
    if floating is float:
        if act == 1 and ract == 2:
            rv_lstm_cell_back_f32(g, ac, c_prev, dy, dh, dc, dg, n, u, rows)
            return
    for r in range(rows):
        _lstm_row_back(g + r * 4 * u, ac + r * u, c_prev + r * u, dy + r * u if dy != NULL else NULL,
                       dh + r * u, dc + r * u, dg + r * 4 * u, n, u, act, ract)


cdef void _lstm_row_back(const floating* g, const floating* ac, const floating* c_prev,
                         const floating* dy, floating* dh, floating* dc, floating* dg,
                         Py_ssize_t n, Py_ssize_t u, int act, int ract) noexcept nogil:
    """One sample's backward with any activations (the generic path of ``_lstm_rows_back``)."""
    cdef Py_ssize_t j
    cdef floating dhj, dcj, i, f, gg, o
    for j in range(n):
        dhj = dh[j] + dy[j] if dy != NULL else dh[j]
        i = g[j]
        f = g[u + j]
        gg = g[2 * u + j]
        o = g[3 * u + j]
        dcj = dc[j] + dhj * o * _dact(act, ac[j])
        dg[j] = dcj * gg * _dact(ract, i)
        dg[u + j] = dcj * c_prev[j] * _dact(ract, f)
        dg[2 * u + j] = dcj * i * _dact(act, gg)
        dg[3 * u + j] = dhj * ac[j] * _dact(ract, o)
        dc[j] = dcj * f
        dh[j] = 0


cdef void _masked_row_back(const floating* dy, floating* dh, floating* dg, Py_ssize_t n,
                           Py_ssize_t u, int n_blocks) noexcept nogil:
    """A masked step passes the state gradient through unchanged (plus its output's).

    Covers ``n`` units from the pointers on; the gate gradient has ``n_blocks`` blocks ``u`` apart.
    """
    cdef Py_ssize_t j
    cdef int q
    if dy != NULL:
        for j in range(n):
            dh[j] += dy[j]
    for q in range(n_blocks):
        _zero(dg + q * u, n)


def lstm_forward(const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                 const floating[:, ::1] recurrent_kernel, const floating[::1] bias,
                 const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                 floating[:, :, ::1] gates, floating[:, :, ::1] h, floating[:, :, ::1] c,
                 floating[:, :, ::1] act_c, floating[:, :, ::1] h_rec,
                 int activation, int recurrent_activation, int n_threads):
    """LSTM forward over all timesteps (Keras gate order i, f, c, o).

    Parameters
    ----------
    x : (T, B, in). IN.
    kernel : (in, 4u). IN.
    recurrent_kernel : (u, 4u). IN.
    bias : (4u,). IN.
    mask : (T, B) uint8 or (0, 0). IN.
    rec_mask : (B, u) or (0, 0). IN: recurrent dropout multiplier.
    gates : (T, B, 4u). OUT: activated gates i, f, g, o (zero at masked steps).
    h, c : (T + 1, B, u). IN/OUT: slot 0 holds the initial state (IN), slot t + 1 the state after step t.
    act_c : (T, B, u). OUT: activation(c) (zero at masked steps).
    h_rec : (T, B, u) if rec_mask, else ignored. OUT: states times rec_mask.
    activation, recurrent_activation : int, codes of ``ACTIVATIONS``.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], u = recurrent_kernel.shape[0]
    cdef bint has_mask = mask.shape[0] > 0, has_rm = rec_mask.shape[0] > 0
    _check_inputs("lstm_forward", 4, x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec)
    check_shape("lstm_forward", "bias", bias.shape, 1, 4 * u)
    check_shape("lstm_forward", "gates", gates.shape, 3, T, B, 4 * u)
    check_shape("lstm_forward", "c", c.shape, 3, T + 1, B, u)
    check_shape("lstm_forward", "act_c", act_c.shape, 3, T, B, u)
    _forward_loop(_LSTM, x, kernel, recurrent_kernel, &bias[0], NULL, mask, rec_mask, gates, h[:0], h, c,
                  act_c, h_rec, has_mask, has_rm, activation, recurrent_activation, n_threads)


def lstm_backward(const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                  const floating[:, ::1] recurrent_kernel,
                  const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                  const floating[:, :, ::1] gates, const floating[:, :, ::1] h,
                  const floating[:, :, ::1] c, const floating[:, :, ::1] act_c,
                  const floating[:, :, ::1] h_rec, const floating[:, :, ::1] dh_seq,
                  floating[:, ::1] dh, floating[:, ::1] dc, floating[:, :, ::1] dgates,
                  floating[:, ::1] dkernel, floating[:, ::1] drecurrent_kernel, floating[::1] dbias,
                  floating[:, :, ::1] dx, double beta, bint need_dx,
                  int activation, int recurrent_activation, int n_threads):
    """LSTM backward through time, from the caches of ``lstm_forward``.

    Parameters
    ----------
    x, kernel, recurrent_kernel, mask, rec_mask : as in ``lstm_forward``. IN.
    gates, h, c, act_c, h_rec : caches written by ``lstm_forward``. IN.
    dh_seq : (T, B, u) gradient of the output at every step, or (0, 0, 0). IN.
    dh, dc : (B, u). IN/OUT: gradient w.r.t. the final h and c in, w.r.t. the initial ones out.
    dgates : (T, B, 4u). OUT: gradient w.r.t. the gate pre-activations.
    dkernel, drecurrent_kernel : IN/OUT, ``beta * d + gradient``.
    dbias : (4u,) or (0,) to skip. IN/OUT, ``beta * d + gradient`` (the column sums of ``dgates``).
    dx : (T, B, in), ignored unless ``need_dx``. OUT.
    beta : 0.0 to overwrite the weight gradients, 1.0 to accumulate.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], u = recurrent_kernel.shape[0]
    cdef bint has_mask = mask.shape[0] > 0, has_rm = rec_mask.shape[0] > 0
    _check_inputs("lstm_backward", 4, x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec)
    check_shape("lstm_backward", "c", c.shape, 3, T + 1, B, u)
    check_shape("lstm_backward", "dc", dc.shape, 2, B, u)
    _check_back("lstm_backward", 4, x.shape, u, dh_seq.shape, dh.shape, dgates.shape, dkernel.shape,
                drecurrent_kernel.shape, dbias.shape, dx.shape, need_dx, beta)
    _backward_loop(_LSTM, x, kernel, recurrent_kernel, mask, rec_mask, gates, h[:0], h, c, act_c, h_rec,
                   dh_seq, dh, dc, dgates, dgates[:0], dkernel, drecurrent_kernel, dbias, dx, beta, need_dx,
                   has_mask, has_rm, activation, recurrent_activation, n_threads)


# ----------------------------------------------------------------------- GRU
cdef void _gru_row(floating* g, floating* rec, const floating* bias_in, const floating* bias_rec,
                   const floating* h_prev, floating* h_new, Py_ssize_t n, Py_ssize_t u, int act,
                   int ract) noexcept nogil:
    """One sample's cell on ``n`` units; the pointers start at the first unit, gate blocks ``u`` apart."""
    cdef Py_ssize_t j
    cdef floating z, r, hh, rh
    for j in range(n):
        z = _act(ract, g[j] + bias_in[j] + rec[j] + bias_rec[j])
        r = _act(ract, g[u + j] + bias_in[u + j] + rec[u + j] + bias_rec[u + j])
        rh = rec[2 * u + j] + bias_rec[2 * u + j]
        hh = _act(act, g[2 * u + j] + bias_in[2 * u + j] + r * rh)
        g[j] = z
        g[u + j] = r
        g[2 * u + j] = hh
        rec[2 * u + j] = rh
        h_new[j] = z * h_prev[j] + (1 - z) * hh


cdef void _gru_row_back(const floating* g, const floating* rec, const floating* h_prev,
                        const floating* dy, floating* dh, floating* dgx, floating* dgr,
                        Py_ssize_t n, Py_ssize_t u, int act, int ract) noexcept nogil:
    """The backward of ``_gru_row`` on the same ``n`` units."""
    cdef Py_ssize_t j
    cdef floating dhj, z, r, hh, dz, dah
    for j in range(n):
        dhj = dh[j] + dy[j] if dy != NULL else dh[j]
        z = g[j]
        r = g[u + j]
        hh = g[2 * u + j]
        dz = dhj * (h_prev[j] - hh) * _dact(ract, z)
        dah = dhj * (1 - z) * _dact(act, hh)
        dgx[j] = dz
        dgr[j] = dz
        dgx[u + j] = dah * rec[2 * u + j] * _dact(ract, r)
        dgr[u + j] = dgx[u + j]
        dgx[2 * u + j] = dah
        dgr[2 * u + j] = dah * r
        dh[j] = dhj * z


def gru_forward(const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                const floating[:, ::1] recurrent_kernel, const floating[:, ::1] bias,
                const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                floating[:, :, ::1] gates, floating[:, :, ::1] rec, floating[:, :, ::1] h,
                floating[:, :, ::1] h_rec, int activation, int recurrent_activation, int n_threads):
    """GRU forward, Keras ``reset_after=True`` (gate order z, r, h).

    ``hh = activation(x W_h + b_in_h + r * (h_prev U_h + b_rec_h))``,
    ``h = z * h_prev + (1 - z) * hh``.

    Parameters
    ----------
    x : (T, B, in). IN.
    kernel : (in, 3u). IN.
    recurrent_kernel : (u, 3u). IN.
    bias : (2, 3u): input bias, recurrent bias. IN.
    mask, rec_mask : as in ``lstm_forward``. IN.
    gates : (T, B, 3u). OUT: z, r, hh (zero at masked steps).
    rec : (T, B, 3u). OUT: h_prev @ U; its h block holds ``h_prev U_h + b_rec_h``.
    h : (T + 1, B, u). IN/OUT: slot 0 holds the initial state.
    h_rec : as in ``lstm_forward``. OUT.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], u = recurrent_kernel.shape[0]
    cdef bint has_mask = mask.shape[0] > 0, has_rm = rec_mask.shape[0] > 0
    _check_inputs("gru_forward", 3, x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec)
    check_shape("gru_forward", "bias", bias.shape, 2, 2, 3 * u)
    check_shape("gru_forward", "gates", gates.shape, 3, T, B, 3 * u)
    check_shape("gru_forward", "rec", rec.shape, 3, T, B, 3 * u)
    _forward_loop(_GRU, x, kernel, recurrent_kernel, &bias[0, 0], &bias[1, 0], mask, rec_mask, gates, rec,
                  h, h[:0], h[:0], h_rec, has_mask, has_rm, activation, recurrent_activation, n_threads)


def gru_backward(const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                 const floating[:, ::1] recurrent_kernel,
                 const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                 const floating[:, :, ::1] gates, const floating[:, :, ::1] rec,
                 const floating[:, :, ::1] h, const floating[:, :, ::1] h_rec,
                 const floating[:, :, ::1] dh_seq, floating[:, ::1] dh,
                 floating[:, :, ::1] dgates, floating[:, :, ::1] drec,
                 floating[:, ::1] dkernel, floating[:, ::1] drecurrent_kernel, floating[::1] dbias,
                 floating[:, :, ::1] dx, double beta, bint need_dx,
                 int activation, int recurrent_activation, int n_threads):
    """GRU backward through time, from the caches of ``gru_forward``.

    Parameters
    ----------
    x, kernel, recurrent_kernel, mask, rec_mask : as in ``gru_forward``. IN.
    gates, rec, h, h_rec : caches written by ``gru_forward``. IN.
    dh_seq : (T, B, u) or (0, 0, 0). IN.
    dh : (B, u). IN/OUT: gradient w.r.t. the final state in, the initial state out.
    dgates : (T, B, 3u). OUT: gradient w.r.t. the input projections.
    drec : (T, B, 3u). OUT: gradient w.r.t. the recurrent projections.
    dkernel, drecurrent_kernel : IN/OUT, ``beta * d + gradient``.
    dbias : (6u,) (input then recurrent bias, the column sums of ``dgates`` and ``drec``) or (0,)
        to skip. IN/OUT, ``beta * d + gradient``.
    dx : (T, B, in), ignored unless ``need_dx``. OUT.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], u = recurrent_kernel.shape[0]
    cdef bint has_mask = mask.shape[0] > 0, has_rm = rec_mask.shape[0] > 0
    _check_inputs("gru_backward", 3, x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec)
    _check_back("gru_backward", 3, x.shape, u, dh_seq.shape, dh.shape, dgates.shape, dkernel.shape,
                drecurrent_kernel.shape, dbias.shape, dx.shape, need_dx, beta)
    check_shape("gru_backward", "drec", drec.shape, 3, T, B, 3 * u)
    _backward_loop(_GRU, x, kernel, recurrent_kernel, mask, rec_mask, gates, rec, h, h[:0], h[:0], h_rec,
                   dh_seq, dh, dh[:0], dgates, drec, dkernel, drecurrent_kernel, dbias, dx, beta, need_dx,
                   has_mask, has_rm, activation, recurrent_activation, n_threads)


# ----------------------------------------------------------------- SimpleRNN
cdef void _rnn_row(const floating* z, const floating* bias, floating* h_new, Py_ssize_t n,
                   int act) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        h_new[j] = _act(act, z[j] + bias[j])


cdef void _rnn_row_back(const floating* h_new, const floating* dy, floating* dh, floating* dg,
                        Py_ssize_t n, int act) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dg[j] = (dh[j] + dy[j] if dy != NULL else dh[j]) * _dact(act, h_new[j])
        dh[j] = 0


def simple_rnn_forward(const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                       const floating[:, ::1] recurrent_kernel, const floating[::1] bias,
                       const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                       floating[:, :, ::1] z, floating[:, :, ::1] h, floating[:, :, ::1] h_rec,
                       int activation, int n_threads):
    """SimpleRNN forward: ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Parameters
    ----------
    x : (T, B, in). IN.
    kernel : (in, u). IN.
    recurrent_kernel : (u, u). IN.
    bias : (u,). IN.
    mask, rec_mask : as in ``lstm_forward``. IN.
    z : (T, B, u). OUT: workspace, the pre-activations.
    h : (T + 1, B, u). IN/OUT: slot 0 holds the initial state.
    h_rec : as in ``lstm_forward``. OUT.
    """
    cdef Py_ssize_t T = x.shape[0], B = x.shape[1], u = recurrent_kernel.shape[0]
    cdef bint has_mask = mask.shape[0] > 0, has_rm = rec_mask.shape[0] > 0
    _check_inputs("simple_rnn_forward", 1, x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec)
    check_shape("simple_rnn_forward", "bias", bias.shape, 1, u)
    check_shape("simple_rnn_forward", "z", z.shape, 3, T, B, u)
    _forward_loop(_SIMPLE, x, kernel, recurrent_kernel, &bias[0], NULL, mask, rec_mask, z, h[:0], h, h[:0],
                  h[:0], h_rec, has_mask, has_rm, activation, activation, n_threads)


def simple_rnn_backward(const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                        const floating[:, ::1] recurrent_kernel,
                        const unsigned char[:, ::1] mask, const floating[:, ::1] rec_mask,
                        const floating[:, :, ::1] h, const floating[:, :, ::1] h_rec,
                        const floating[:, :, ::1] dh_seq, floating[:, ::1] dh,
                        floating[:, :, ::1] dgates, floating[:, ::1] dkernel,
                        floating[:, ::1] drecurrent_kernel, floating[::1] dbias, floating[:, :, ::1] dx,
                        double beta, bint need_dx, int activation, int n_threads):
    """SimpleRNN backward through time, from the caches of ``simple_rnn_forward``.

    Parameters
    ----------
    x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec : as in ``simple_rnn_forward``. IN.
    dh_seq : (T, B, u) or (0, 0, 0). IN.
    dh : (B, u). IN/OUT: gradient w.r.t. the final state in, the initial state out.
    dgates : (T, B, u). OUT: gradient w.r.t. the pre-activations.
    dkernel, drecurrent_kernel : IN/OUT, ``beta * d + gradient``.
    dbias : (u,) or (0,) to skip. IN/OUT, ``beta * d + gradient`` (the column sums of ``dgates``).
    dx : (T, B, in), ignored unless ``need_dx``. OUT.
    """
    cdef Py_ssize_t u = recurrent_kernel.shape[0]
    cdef bint has_mask = mask.shape[0] > 0, has_rm = rec_mask.shape[0] > 0
    _check_inputs("simple_rnn_backward", 1, x, kernel, recurrent_kernel, mask, rec_mask, h, h_rec)
    _check_back("simple_rnn_backward", 1, x.shape, u, dh_seq.shape, dh.shape, dgates.shape, dkernel.shape,
                drecurrent_kernel.shape, dbias.shape, dx.shape, need_dx, beta)
    _backward_loop(_SIMPLE, x, kernel, recurrent_kernel, mask, rec_mask, h[:0], h[:0], h, h[:0], h[:0],
                   h_rec, dh_seq, dh, dh[:0], dgates, dgates[:0], dkernel, drecurrent_kernel, dbias, dx,
                   beta, need_dx, has_mask, has_rm, activation, activation, n_threads)


# ------------------------------------------------------------ the time loops
# One loop per direction serves the three cells; ``cell`` is also the number of
# gate blocks. Arrays a cell does not use are passed empty.
cdef enum:
    _SIMPLE = 1
    _GRU = 3
    _LSTM = 4


cdef void _weight_grads(int t, const floating[:, :, ::1] x, const floating[:, :, ::1] h,
                        const floating[:, :, ::1] h_rec, const floating[:, :, ::1] dgates,
                        const floating[:, :, ::1] dgr, int cell, floating* work, floating[:, ::1] dkernel,
                        floating[:, ::1] drecurrent_kernel, floating[::1] dbias, bint has_rm,
                        Py_ssize_t w0, Py_ssize_t w1, bint accumulate) noexcept nogil:
    """Step t's share of the weight gradients on units [w0, w1); the first step overwrites unless
    ``accumulate``. Steps must come in the time loop's order (T - 1 down to 0)."""
    cdef Py_ssize_t T = x.shape[0], u = h.shape[2], G = cell * u
    _step_weight_grads(&x[t, 0, 0], &h_rec[t, 0, 0] if has_rm else &h[t, 0, 0], &dgates[t, 0, 0],
                       &dgr[t, 0, 0], cell, work, &dkernel[0, 0], &drecurrent_kernel[0, 0],
                       &dbias[0] if dbias.shape[0] else NULL,
                       &dbias[G] if dbias.shape[0] and cell == _GRU else NULL, x.shape[1], x.shape[2], u,
                       w0, w1, accumulate or t < T - 1)


cdef _forward_loop(int cell, const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                   const floating[:, ::1] recurrent_kernel, const floating* bias_in,
                   const floating* bias_rec, const unsigned char[:, ::1] mask,
                   const floating[:, ::1] rec_mask, floating[:, :, ::1] gates,
                   floating[:, :, ::1] rec, floating[:, :, ::1] h, floating[:, :, ::1] c,
                   floating[:, :, ::1] act_c, floating[:, :, ::1] h_rec, bint has_mask, bint has_rm,
                   int act, int ract, int n_threads):
    """Pack the kernels, then run the whole time loop without the GIL."""
    cdef int T = x.shape[0], B = x.shape[1], n_in = x.shape[2], u = h.shape[2], G = cell * u
    cdef int t, q, tid, nt
    cdef bint by_rows
    cdef int n_loop = _loop_threads(n_threads, B, u, G, &by_rows)
    cdef Py_ssize_t b, b0, r0, r1, j0, j1, w0, w1
    cdef _Span span
    cdef const unsigned char* m
    cdef const floating* rm = &rec_mask[0, 0] if has_rm else NULL
    cdef floating* packed = packed_alloc(u, u, cell, &h[0, 0, 0])
    cdef floating* packed_in = NULL
    try:
        packed_in = packed_alloc(n_in, u, cell, &h[0, 0, 0])
        with nogil:
            with parallel(num_threads=n_loop):
                tid = omp_get_thread_num()
                nt = omp_get_num_threads()
                # Each thread packs the panels of its units; a row split then reads them all.
                w0 = _tile_start(u, _UNIT_TILE, tid, nt)
                w1 = _tile_start(u, _UNIT_TILE, tid + 1, nt)
                pack(False, u, u, cell, w0, w1, &recurrent_kernel[0, 0], G, packed)
                pack(False, n_in, u, cell, w0, w1, &kernel[0, 0], G, packed_in)
                span = _loop_span(B, u, by_rows, tid, nt)
                r0, r1, j0, j1 = span.r0, span.r1, span.j0, span.j1
                if has_rm:
                    _mask_states(&h[0, 0, 0], rm, &h_rec[0, 0, 0], r0, r1, u, j0, j1)
                rv_omp_barrier()
                for t in range(T):
                    _step_product(&x[t, r0, 0], n_in, packed_in, cell, &gates[t, r0, 0], r1 - r0, u, G,
                                  j0, j1, False)
                    # The GRU keeps h_prev @ U apart (its reset gate multiplies part of it).
                    _step_product(&h_rec[t, r0, 0] if has_rm else &h[t, r0, 0], u, packed, cell,
                                  &rec[t, r0, 0] if cell == _GRU else &gates[t, r0, 0], r1 - r0, u, G,
                                  j0, j1, cell != _GRU)
                    m = &mask[t, 0] if has_mask else NULL
                    if cell == _LSTM and m == NULL:
                        # No masked row: one call for all the samples.
                        _lstm_rows(&gates[t, r0, j0], bias_in + j0, &c[t, r0, j0], &c[t + 1, r0, j0],
                                   &act_c[t, r0, j0], &h[t + 1, r0, j0], j1 - j0, u, r1 - r0, act, ract)
                        b0 = r1
                    else:
                        b0 = r0
                    for b in range(b0, r1):
                        if m != NULL and not m[b]:
                            _copy(&h[t, b, j0], &h[t + 1, b, j0], j1 - j0)
                            if cell == _LSTM:
                                _copy(&c[t, b, j0], &c[t + 1, b, j0], j1 - j0)
                                _zero(&act_c[t, b, j0], j1 - j0)
                            for q in range(cell if cell != _SIMPLE else 0):
                                _zero(&gates[t, b, q * u + j0], j1 - j0)
                                if cell == _GRU:
                                    _zero(&rec[t, b, q * u + j0], j1 - j0)
                        elif cell == _LSTM:
                            _lstm_rows(&gates[t, b, j0], bias_in + j0, &c[t, b, j0], &c[t + 1, b, j0],
                                       &act_c[t, b, j0], &h[t + 1, b, j0], j1 - j0, u, 1, act, ract)
                        elif cell == _GRU:
                            _gru_row(&gates[t, b, j0], &rec[t, b, j0], bias_in + j0, bias_rec + j0,
                                     &h[t, b, j0], &h[t + 1, b, j0], j1 - j0, u, act, ract)
                        else:
                            _rnn_row(&gates[t, b, j0], bias_in + j0, &h[t + 1, b, j0], j1 - j0, act)
                    if has_rm and t + 1 < T:
                        _mask_states(&h[t + 1, 0, 0], rm, &h_rec[t + 1, 0, 0], r0, r1, u, j0, j1)
                    if not by_rows:
                        rv_omp_barrier()
    finally:
        packed_free(packed)
        packed_free(packed_in)


cdef _backward_loop(int cell, const floating[:, :, ::1] x, const floating[:, ::1] kernel,
                    const floating[:, ::1] recurrent_kernel, const unsigned char[:, ::1] mask,
                    const floating[:, ::1] rec_mask, const floating[:, :, ::1] gates,
                    const floating[:, :, ::1] rec, const floating[:, :, ::1] h,
                    const floating[:, :, ::1] c, const floating[:, :, ::1] act_c,
                    const floating[:, :, ::1] h_rec, const floating[:, :, ::1] dh_seq,
                    floating[:, ::1] dh, floating[:, ::1] dc, floating[:, :, ::1] dgates,
                    floating[:, :, ::1] drec, floating[:, ::1] dkernel,
                    floating[:, ::1] drecurrent_kernel, floating[::1] dbias, floating[:, :, ::1] dx,
                    double beta, bint need_dx, bint has_mask, bint has_rm, int act, int ract,
                    int n_threads):
    """Allocate the work buffers, then run the whole time loop without the GIL."""
    cdef int T = x.shape[0], B = x.shape[1], n_in = x.shape[2], u = h.shape[2], G = cell * u
    cdef int t, tid, nt
    cdef bint by_rows
    cdef int n_loop = _loop_threads(n_threads, B, u, G, &by_rows)
    cdef Py_ssize_t b, b0, r0, r1, j0, j1, w0, w1
    cdef _Span span
    cdef bint has_seq = dh_seq.shape[0] > 0, gru = cell == _GRU
    cdef const unsigned char* m
    cdef const floating* rm = &rec_mask[0, 0] if has_rm else NULL
    cdef const floating* dy
    # The state gradient flows through the recurrent projections: drec for the GRU.
    cdef floating[:, :, ::1] dgr = drec if gru else dgates
    cdef bint accumulate = beta != 0
    cdef floating* scratch = NULL
    cdef floating* packed = NULL
    cdef floating* work = NULL
    cdef int* progress = NULL
    try:
        scratch = _scratch(has_rm, B * u, &dh[0, 0])
        packed = packed_alloc(G, u, 1, &dh[0, 0])
        # Packed gate gradients of one step: twice for the GRU (input and recurrent ones).
        work = packed_alloc(B, u, cell, &dh[0, 0], 2 if gru else 1)
        progress = <int*> calloc(n_loop, sizeof(int))
        if progress == NULL:
            raise MemoryError("recurrent kernel: cannot allocate scratch memory")
        with nogil:
            with parallel(num_threads=n_loop):
                tid = omp_get_thread_num()
                nt = omp_get_num_threads()
                # Units [w0, w1) are this thread's in the weight gradients.
                w0 = _tile_start(u, _UNIT_TILE, tid, nt)
                w1 = _tile_start(u, _UNIT_TILE, tid + 1, nt)
                pack(True, G, u, 1, w0, w1, &recurrent_kernel[0, 0], G, packed)
                span = _loop_span(B, u, by_rows, tid, nt)
                r0, r1, j0, j1 = span.r0, span.r1, span.j0, span.j1
                rv_omp_barrier()
                for t in range(T - 1, -1, -1):
                    m = &mask[t, 0] if has_mask else NULL
                    if cell == _LSTM and m == NULL:
                        # No masked row: one call for all the samples.
                        _lstm_rows_back(&gates[t, r0, j0], &act_c[t, r0, j0], &c[t, r0, j0],
                                        &dh_seq[t, r0, j0] if has_seq else NULL, &dh[r0, j0], &dc[r0, j0],
                                        &dgates[t, r0, j0], j1 - j0, u, r1 - r0, act, ract)
                        b0 = r1
                    else:
                        b0 = r0
                    for b in range(b0, r1):
                        dy = &dh_seq[t, b, j0] if has_seq else NULL
                        if m != NULL and not m[b]:
                            _masked_row_back(dy, &dh[b, j0], &dgates[t, b, j0], j1 - j0, u, cell)
                            if gru:
                                _masked_row_back(NULL, &dh[b, j0], &drec[t, b, j0], j1 - j0, u, cell)
                        elif cell == _LSTM:
                            _lstm_rows_back(&gates[t, b, j0], &act_c[t, b, j0], &c[t, b, j0], dy,
                                            &dh[b, j0], &dc[b, j0], &dgates[t, b, j0], j1 - j0, u, 1,
                                            act, ract)
                        elif gru:
                            _gru_row_back(&gates[t, b, j0], &rec[t, b, j0], &h[t, b, j0], dy,
                                          &dh[b, j0], &dgates[t, b, j0], &drec[t, b, j0], j1 - j0, u,
                                          act, ract)
                        else:
                            _rnn_row_back(&h[t + 1, b, j0], dy, &dh[b, j0], &dgates[t, b, j0], j1 - j0,
                                          act)
                    if not by_rows:
                        # The step's gate gradients are in cache; the others' state backprop waits.
                        _weight_grads(t, x, h, h_rec, dgates, dgr, cell, work, dkernel, drecurrent_kernel,
                                      dbias, has_rm, w0, w1, accumulate)
                        rv_omp_barrier()
                    _state_backprop(&dgr[t, 0, 0], packed, rm, scratch, &dh[0, 0], r0, r1, u, G, j0, j1)
                    if by_rows:
                        # Step t + _LAG is finished by every thread unless one stalled for
                        # _LAG steps: add its weight gradients while it is still in cache.
                        rv_progress_set(&progress[tid], T - t)
                        if t + _LAG < T:
                            rv_progress_wait(progress, nt, T - t - _LAG)
                            _weight_grads(t + _LAG, x, h, h_rec, dgates, dgr, cell, work, dkernel,
                                          drecurrent_kernel, dbias, has_rm, w0, w1, accumulate)
                if by_rows:
                    rv_omp_barrier()
                    for t in range(min(_LAG, T) - 1, -1, -1):
                        _weight_grads(t, x, h, h_rec, dgates, dgr, cell, work, dkernel, drecurrent_kernel,
                                      dbias, has_rm, w0, w1, accumulate)
            if need_dx:
                _input_grads(&dgates[0, 0, 0], &kernel[0, 0], &dx[0, 0, 0], T * B, n_in, G)
    finally:
        free(scratch)
        free(progress)
        packed_free(packed)
        packed_free(work)
