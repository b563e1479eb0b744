"""Scaled dot-product attention, forward and backward, threads over batch x heads.

For each (batch, head) block: ``S = scale * q @ k.T`` (masked keys get -1e9 added, as
Keras' masked softmax does), ``P = softmax(S)`` row by row, ``out = dropout(P) @ v``.
P is the one T x T array kept for backward; backward uses one T x T work block per
thread. The products run on the packed micro-kernel (``_packed.pxd``): each operand of a
block is packed once (a few KiB) and every element is one fixed sequence of FMAs, so a
(batch, head) block computes the same bits on whatever thread runs it. No BLAS here: the
blocks run inside a ``prange``.

Operands may be views with any strides on their first three axes (the last axis
contiguous): the layer passes its ``(B, T, H, D)`` projections as ``(B, H, T, D)``
transposed views, so heads are never split or merged by a copy.
"""
from cython.parallel cimport prange, threadid
from libc.stdint cimport uint8_t

from ranvier.core._checks cimport ANY, check_optional, check_shape, value_error
from ranvier.core._openmp cimport effective_threads
from ranvier.core._packed cimport pack, packed_gemm, packed_len, rv_aligned_free, rv_aligned_malloc
from ranvier.core._types cimport floating

cdef extern from "rv_attention.h":
    void rv_attn_softmax_f32(float* s, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t ld, const uint8_t* mask,
                             Py_ssize_t ldm, int causal, Py_ssize_t row0, float scale) noexcept nogil
    void rv_attn_softmax_f64(double* s, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t ld, const uint8_t* mask,
                             Py_ssize_t ldm, int causal, Py_ssize_t row0, double scale) noexcept nogil
    void rv_attn_dsoftmax_f32(const float* p, float* ds, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t ld,
                              float scale) noexcept nogil
    void rv_attn_dsoftmax_f64(const double* p, double* ds, Py_ssize_t rows, Py_ssize_t n, Py_ssize_t ld,
                              double scale) noexcept nogil

cdef extern from "rv_dropout.h":
    void rv_apply_mask_f32(const float* x, const uint8_t* mask, float scale, float* out,
                           Py_ssize_t n) noexcept nogil
    void rv_apply_mask_f64(const double* x, const uint8_t* mask, double scale, double* out,
                           Py_ssize_t n) noexcept nogil

# Multiply-adds per thread worth a thread start (one 128 x 128 x 32 block is 5e5).
cdef Py_ssize_t _GRAIN = 1 << 18


cdef inline Py_ssize_t _round16(Py_ssize_t n) noexcept nogil:
    # Work regions start on 64-byte boundaries (whole vectors for the micro-kernel).
    return (n + 15) // 16 * 16


cdef inline void _softmax(floating* s, Py_ssize_t rows, Py_ssize_t n, const uint8_t* mask, Py_ssize_t ldm,
                          bint causal, double scale) noexcept nogil:
    if floating is float:
        rv_attn_softmax_f32(s, rows, n, n, mask, ldm, causal, 0, <float> scale)
    else:
        rv_attn_softmax_f64(s, rows, n, n, mask, ldm, causal, 0, scale)


cdef inline void _dsoftmax(const floating* p, floating* ds, Py_ssize_t rows, Py_ssize_t n,
                           double scale) noexcept nogil:
    if floating is float:
        rv_attn_dsoftmax_f32(p, ds, rows, n, n, <float> scale)
    else:
        rv_attn_dsoftmax_f64(p, ds, rows, n, n, scale)


cdef inline void _apply_keep(const floating* x, const uint8_t* keep, double rate, floating* out,
                             Py_ssize_t n) noexcept nogil:
    # Inverted dropout with the caller's keep mask (``_dropout.keep_mask``).
    if floating is float:
        rv_apply_mask_f32(x, keep, <float> (1.0 / (1.0 - rate)), out, n)
    else:
        rv_apply_mask_f64(x, keep, 1.0 / (1.0 - rate), out, n)


cdef int _check_mask(str op, const uint8_t[:, :, :, ::1] mask, Py_ssize_t b, Py_ssize_t h, Py_ssize_t tq,
                     Py_ssize_t tk) except -1:
    if mask.shape[0] == 0:
        return 0
    if (mask.shape[0] not in (1, b) or mask.shape[1] not in (1, h) or mask.shape[2] not in (1, tq)
            or mask.shape[3] != tk):
        raise value_error(op, "mask", f"broadcast to ({b}, {h}, {tq}, {tk}) (or be empty)",
                          (mask.shape[0], mask.shape[1], mask.shape[2], mask.shape[3]))
    return 0


cdef int _check_rows(str op, str arg, Py_ssize_t last_stride, Py_ssize_t itemsize) except -1:
    # The micro-kernel reads and writes rows as contiguous vectors.
    if last_stride != itemsize:
        raise value_error(op, arg, f"have a contiguous last axis (stride {itemsize} bytes)", f"stride {last_stride}")
    return 0


cdef int _check_rate(str op, double rate) except -1:
    if not 0.0 <= rate < 1.0:
        raise value_error(op, "rate", "be in [0, 1)", rate)
    return 0


def attention_forward(const floating[:, :, :, :] q, const floating[:, :, :, :] k,
                      const floating[:, :, :, :] v, const uint8_t[:, :, :, ::1] mask, bint causal,
                      double scale, const uint8_t[:, :, :, ::1] keep, double rate,
                      floating[:, :, :, :] out, floating[:, :, :, ::1] probs, int n_threads):
    """Scaled dot-product attention: ``out = dropout(softmax(scale * q @ k.T + masked)) @ v``.

    Parameters
    ----------
    q : (B, H, Tq, D). IN (any strides on the first three axes).
    k : (B, H, Tk, D). IN.
    v : (B, H, Tk, Dv). IN.
    mask : uint8 (Bm, Hm, Tm, Tk) with Bm in {1, B}, Hm in {1, H}, Tm in {1, Tq}, or empty
        (shape (0, 0, 0, 0)). IN: 0 masks a key (-1e9 added to its score), broadcast.
    causal : bool. Key j is masked for query i when j > i.
    scale : float. Multiplies ``q @ k.T``.
    keep : uint8 (B, H, Tq, Tk) or empty. IN: attention dropout's keep mask (``_dropout.keep_mask``).
    rate : float in [0, 1). Dropout rate the kept weights are scaled by (ignored without ``keep``).
    out : (B, H, Tq, Dv). OUT (any strides on the first three axes).
    probs : (B, H, Tq, Tk), C-contiguous. OUT: the softmax weights before dropout.
    n_threads : int
    """
    cdef str op = "attention_forward"
    cdef Py_ssize_t nb = q.shape[0], nh = q.shape[1], tq = q.shape[2], d = q.shape[3]
    cdef Py_ssize_t tk = k.shape[2], dv = v.shape[3]
    check_shape(op, "k", k.shape, 4, nb, nh, ANY, d)
    check_shape(op, "v", v.shape, 4, nb, nh, tk, ANY)
    check_shape(op, "out", out.shape, 4, nb, nh, tq, dv)
    check_shape(op, "probs", probs.shape, 4, nb, nh, tq, tk)
    check_optional(op, "keep", True, keep.shape, 4, nb, nh, tq, tk)
    _check_mask(op, mask, nb, nh, tq, tk)
    _check_rate(op, rate)
    for arg, mv in (("q", q), ("k", k), ("v", v), ("out", out)):
        _check_rows(op, arg, mv.strides[3], sizeof(floating))
    cdef Py_ssize_t nbh = nb * nh, work = tq * tk * (d + dv)
    if nbh == 0 or tq == 0 or tk == 0 or d == 0 or dv == 0:
        raise value_error(op, "q, k and v", "have no empty axis (B, H, Tq, Tk, D, Dv)", (nb, nh, tq, tk, d, dv))
    cdef int t = effective_threads(n_threads, nbh * work, _GRAIN)
    cdef bint has_mask = mask.shape[0] > 0, has_keep = keep.shape[0] > 0
    cdef Py_ssize_t len_pack = _round16(max(packed_len(d, tk, 1), packed_len(tk, dv, 1)))
    cdef Py_ssize_t per_thread = len_pack + (_round16(tq * tk) if has_keep else 0)
    cdef floating* ws = <floating*> rv_aligned_malloc(t * per_thread * sizeof(floating))
    if ws == NULL:
        raise MemoryError(f"{op}: cannot allocate {t} work blocks of {per_thread} values")
    cdef Py_ssize_t bh, b, h, ldm, mb, mh
    cdef Py_ssize_t ldq = q.strides[2] // sizeof(floating), ldk = k.strides[2] // sizeof(floating)
    cdef Py_ssize_t ldv = v.strides[2] // sizeof(floating), ldo = out.strides[2] // sizeof(floating)
    cdef floating* buf
    cdef floating* p
    cdef floating* pd
    cdef const uint8_t* m
    try:
        with nogil:
            for bh in prange(nbh, schedule="static", num_threads=t):
                b = bh // nh
                h = bh % nh
                buf = ws + threadid() * per_thread
                p = &probs[b, h, 0, 0]
                # S = q @ k.T, k packed transposed.
                pack(True, d, tk, 1, 0, tk, &k[b, h, 0, 0], ldk, buf)
                packed_gemm(False, tq, 0, tk, d, &q[b, h, 0, 0], ldq, buf, p, tk, False)
                m = NULL
                ldm = 0
                if has_mask:
                    mb = b if mask.shape[0] > 1 else 0
                    mh = h if mask.shape[1] > 1 else 0
                    m = &mask[mb, mh, 0, 0]
                    ldm = tk if mask.shape[2] > 1 else 0
                _softmax(p, tq, tk, m, ldm, causal, scale)
                pd = p
                if has_keep:
                    pd = buf + len_pack
                    _apply_keep(p, &keep[b, h, 0, 0], rate, pd, tq * tk)
                pack(False, tk, dv, 1, 0, dv, &v[b, h, 0, 0], ldv, buf)
                packed_gemm(False, tq, 0, dv, tk, pd, tk, buf, &out[b, h, 0, 0], ldo, False)
    finally:
        rv_aligned_free(ws)


def attention_backward(const floating[:, :, :, :] q, const floating[:, :, :, :] k,
                       const floating[:, :, :, :] v, const floating[:, :, :, ::1] probs,
                       const uint8_t[:, :, :, ::1] keep, double rate, const floating[:, :, :, :] dout,
                       double scale, floating[:, :, :, :] dq, floating[:, :, :, :] dk,
                       floating[:, :, :, :] dv, int n_threads):
    """Gradients of ``attention_forward`` given ``dout``.

    With Pd = dropout(P): ``dv = Pd.T @ dout``, ``dP = dropout'(dout @ v.T)``,
    ``dS = scale * P * (dP - rowsum(dP * P))``, ``dq = dS @ k``, ``dk = dS.T @ q``.

    Parameters
    ----------
    q, k, v : as in ``attention_forward``. IN.
    probs : (B, H, Tq, Tk), C-contiguous. IN: ``attention_forward``'s probs.
    keep, rate : the forward's dropout keep mask (or empty) and rate. IN.
    dout : (B, H, Tq, Dv). IN (any strides on the first three axes).
    scale : float. The forward's scale.
    dq : (B, H, Tq, D). OUT (any strides on the first three axes).
    dk : (B, H, Tk, D). OUT.
    dv : (B, H, Tk, Dv). OUT.
    n_threads : int
    """
    cdef str op = "attention_backward"
    cdef Py_ssize_t nb = q.shape[0], nh = q.shape[1], tq = q.shape[2], d = q.shape[3]
    cdef Py_ssize_t tk = k.shape[2], ndv = v.shape[3]
    check_shape(op, "k", k.shape, 4, nb, nh, ANY, d)
    check_shape(op, "v", v.shape, 4, nb, nh, tk, ANY)
    check_shape(op, "probs", probs.shape, 4, nb, nh, tq, tk)
    check_optional(op, "keep", True, keep.shape, 4, nb, nh, tq, tk)
    check_shape(op, "dout", dout.shape, 4, nb, nh, tq, ndv)
    check_shape(op, "dq", dq.shape, 4, nb, nh, tq, d)
    check_shape(op, "dk", dk.shape, 4, nb, nh, tk, d)
    check_shape(op, "dv", dv.shape, 4, nb, nh, tk, ndv)
    _check_rate(op, rate)
    for arg, mv in (("q", q), ("k", k), ("v", v), ("dout", dout), ("dq", dq), ("dk", dk), ("dv", dv)):
        _check_rows(op, arg, mv.strides[3], sizeof(floating))
    cdef Py_ssize_t nbh = nb * nh, work = tq * tk * (2 * d + 2 * ndv)
    if nbh == 0 or tq == 0 or tk == 0 or d == 0 or ndv == 0:
        raise value_error(op, "q, k and v", "have no empty axis (B, H, Tq, Tk, D, Dv)", (nb, nh, tq, tk, d, ndv))
    cdef int t = effective_threads(n_threads, nbh * work, _GRAIN)
    cdef bint has_keep = keep.shape[0] > 0
    cdef Py_ssize_t len_pack = _round16(max(max(packed_len(tq, ndv, 1), packed_len(ndv, tk, 1)),
                                            max(packed_len(tk, d, 1), packed_len(tq, d, 1))))
    cdef Py_ssize_t len_t = _round16(tq * tk)
    cdef Py_ssize_t per_thread = len_pack + len_t * (2 if has_keep else 1)
    cdef floating* ws = <floating*> rv_aligned_malloc(t * per_thread * sizeof(floating))
    if ws == NULL:
        raise MemoryError(f"{op}: cannot allocate {t} work blocks of {per_thread} values")
    cdef Py_ssize_t bh, b, h
    cdef Py_ssize_t ldq = q.strides[2] // sizeof(floating), ldk = k.strides[2] // sizeof(floating)
    cdef Py_ssize_t ldv = v.strides[2] // sizeof(floating), ldo = dout.strides[2] // sizeof(floating)
    cdef Py_ssize_t lddq = dq.strides[2] // sizeof(floating), lddk = dk.strides[2] // sizeof(floating)
    cdef Py_ssize_t lddv = dv.strides[2] // sizeof(floating)
    cdef floating* buf
    cdef floating* ds
    cdef floating* pd
    cdef const floating* p
    try:
        with nogil:
            for bh in prange(nbh, schedule="static", num_threads=t):
                b = bh // nh
                h = bh % nh
                buf = ws + threadid() * per_thread
                ds = buf + len_pack
                p = &probs[b, h, 0, 0]
                pd = <floating*> p
                if has_keep:
                    pd = ds + len_t
                    _apply_keep(p, &keep[b, h, 0, 0], rate, pd, tq * tk)
                # dv = Pd.T @ dout
                pack(False, tq, ndv, 1, 0, ndv, &dout[b, h, 0, 0], ldo, buf)
                packed_gemm(True, tk, 0, ndv, tq, pd, tk, buf, &dv[b, h, 0, 0], lddv, False)
                # dP = dout @ v.T, then dS in place.
                pack(True, ndv, tk, 1, 0, tk, &v[b, h, 0, 0], ldv, buf)
                packed_gemm(False, tq, 0, tk, ndv, &dout[b, h, 0, 0], ldo, buf, ds, tk, False)
                if has_keep:
                    _apply_keep(ds, &keep[b, h, 0, 0], rate, ds, tq * tk)
                _dsoftmax(p, ds, tq, tk, scale)
                # dq = dS @ k
                pack(False, tk, d, 1, 0, d, &k[b, h, 0, 0], ldk, buf)
                packed_gemm(False, tq, 0, d, tk, ds, tk, buf, &dq[b, h, 0, 0], lddq, False)
                # dk = dS.T @ q
                pack(False, tq, d, 1, 0, d, &q[b, h, 0, 0], ldq, buf)
                packed_gemm(True, tk, 0, d, tq, ds, tk, buf, &dk[b, h, 0, 0], lddk, False)
    finally:
        rv_aligned_free(ws)
