"""Dropout and noise kernels driven by a counter-based random number generator.

Every random number is a pure function of ``(seed, index)``: the splitmix64
finaliser of ``mix(seed) + (counter + 1) * golden``. So a mask does not
depend on the thread count or on how the loop is split, no NumPy random pass
is needed, and the NumPy twin in ``ranvier.reference.dropout`` reproduces the
kernels bit for bit. Dropout masks take four 16-bit uniforms from each hash
(element ``i`` uses bits ``16 * (i % 4)`` to ``16 * (i % 4) + 15`` of hash
``i // 4``): the drop probability is ``rate`` rounded to a multiple of
2**-16 (off by at most 2**-17, 7.6e-6), and the hashing costs a quarter of a
hash per element. Gaussian noise uses both 32-bit halves of one hash for one
Box-Muller draw.
"""
from cython.parallel cimport prange
from libc.math cimport cos, log, sqrt
from libc.stdint cimport uint8_t, uint16_t, uint64_t

from ranvier.core._checks cimport check_shape, value_error
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# The hash, the uniforms and the mask loops are C, built per vector width (include/rv_dropout.h).
cdef extern from "rv_dropout.h":
    uint64_t rv_mix64(uint64_t z) noexcept nogil
    uint64_t rv_draw(uint64_t key, uint64_t counter) noexcept nogil
    void rv_fill_u16(uint64_t key, uint64_t j0, Py_ssize_t n_hashes, uint16_t* u) noexcept nogil
    void rv_keep_u16(const uint16_t* u, int thr, uint8_t* mask, Py_ssize_t n) noexcept nogil
    void rv_apply_mask_f32(const float* x, const uint8_t* mask, float scale, float* out,
                           Py_ssize_t n) noexcept nogil
    void rv_apply_mask_f64(const double* x, const uint8_t* mask, double scale, double* out,
                           Py_ssize_t n) noexcept nogil

# Elements per thread worth a thread start.
cdef Py_ssize_t _GRAIN = 1 << 15
# Elements per chunk (a multiple of 4): its uniforms are drawn into a stack buffer, then
# compared and applied by vectorisable loops while still in L1.
cdef enum:
    _CHUNK = 2048
cdef double _TWO_POW_32 = 4294967296.0
cdef double _TWO_PI = 6.283185307179586


cdef inline int _threshold(double rate) noexcept nogil:
    # An element is kept when its 16-bit uniform is >= round(rate * 2**16).
    return <int> (rate * 65536.0 + 0.5)


cdef void _chunk_mask(uint64_t key, int thr, Py_ssize_t i0, Py_ssize_t n, uint8_t* mask) noexcept nogil:
    """mask[k] for elements i0 .. i0 + n - 1 (i0 a multiple of 4, n <= _CHUNK)."""
    cdef uint16_t u[_CHUNK]
    rv_fill_u16(key, i0 // 4, (n + 3) // 4, u)
    rv_keep_u16(u, thr, mask, n)


cdef inline void _apply_mask(const floating* x, const uint8_t* mask, floating scale, floating* out,
                             Py_ssize_t n) noexcept nogil:
    if floating is float:
        rv_apply_mask_f32(x, mask, scale, out, n)
    else:
        rv_apply_mask_f64(x, mask, scale, out, n)


cdef void _chunk_dropout(uint64_t key, int thr, floating scale, const floating* x, Py_ssize_t i0,
                         Py_ssize_t n, floating* out, uint8_t* mask) noexcept nogil:
    """Mask and output of elements i0 .. i0 + n - 1 (pointers at element i0)."""
    _chunk_mask(key, thr, i0, n, mask)
    _apply_mask(x, mask, scale, out, n)


def keep_mask(uint64_t seed, double rate, uint8_t[::1] mask, int n_threads):
    """Bernoulli keep mask: ``mask[i] = 1`` with probability ``1 - rate``.

    Parameters
    ----------
    seed : uint64. IN.
    rate : float in [0, 1). IN: drop probability.
    mask : ndarray of uint8, shape (n,). OUT.
    n_threads : int
    """
    if not 0.0 <= rate < 1.0:
        raise value_error("keep_mask", "rate", "be in [0, 1)", rate)
    cdef Py_ssize_t n = mask.shape[0], ch
    cdef uint64_t key = rv_mix64(seed)
    cdef int thr = _threshold(rate), t = effective_threads(n_threads, n, _GRAIN)
    with nogil:
        for ch in prange((n + _CHUNK - 1) // _CHUNK, schedule="static", num_threads=t):
            _chunk_mask(key, thr, ch * _CHUNK, min(n - ch * _CHUNK, _CHUNK), &mask[ch * _CHUNK])


def dropout_forward(const floating[::1] x, uint64_t seed, double rate, floating[::1] out,
                    uint8_t[::1] mask, int n_threads):
    """Inverted dropout: ``out = x * mask / (1 - rate)``, mask as ``keep_mask(seed, rate)``.

    Parameters
    ----------
    x : ndarray of shape (n,). IN (any layout flattened, C order).
    seed : uint64. IN.
    rate : float in [0, 1). IN.
    out : ndarray of shape (n,), same dtype. OUT (may be ``x``).
    mask : ndarray of uint8, shape (n,). OUT: the mask, for ``dropout_backward``.
    n_threads : int
    """
    if not 0.0 <= rate < 1.0:
        raise value_error("dropout_forward", "rate", "be in [0, 1)", rate)
    cdef Py_ssize_t n = x.shape[0], ch, i0
    check_shape("dropout_forward", "out", out.shape, 1, n)
    check_shape("dropout_forward", "mask", mask.shape, 1, n)
    cdef uint64_t key = rv_mix64(seed)
    cdef floating scale = <floating> (1.0 / (1.0 - rate))
    cdef int thr = _threshold(rate), t = effective_threads(n_threads, n, _GRAIN)
    with nogil:
        for ch in prange((n + _CHUNK - 1) // _CHUNK, schedule="static", num_threads=t):
            i0 = ch * _CHUNK
            _chunk_dropout(key, thr, scale, &x[i0], i0, min(n - i0, _CHUNK), &out[i0], &mask[i0])


def dropout_backward(const floating[::1] dy, const uint8_t[::1] mask, double rate,
                     floating[::1] dx, int n_threads):
    """Gradient of inverted dropout: ``dx = dy * mask / (1 - rate)`` with the forward's mask.

    Parameters
    ----------
    dy : ndarray of shape (n,). IN.
    mask : ndarray of uint8, shape (n,). IN: from ``dropout_forward``.
    rate : float in [0, 1). IN.
    dx : ndarray of shape (n,). OUT (may be ``dy``).
    n_threads : int
    """
    if not 0.0 <= rate < 1.0:
        raise value_error("dropout_backward", "rate", "be in [0, 1)", rate)
    cdef Py_ssize_t n = dy.shape[0], ch
    check_shape("dropout_backward", "mask", mask.shape, 1, n)
    check_shape("dropout_backward", "dx", dx.shape, 1, n)
    cdef floating scale = <floating> (1.0 / (1.0 - rate))
    cdef int t = effective_threads(n_threads, n, 4 * _GRAIN)
    with nogil:
        for ch in prange((n + _CHUNK - 1) // _CHUNK, schedule="static", num_threads=t):
            _apply_mask(&dy[ch * _CHUNK], &mask[ch * _CHUNK], scale, &dx[ch * _CHUNK],
                        min(n, (ch + 1) * _CHUNK) - ch * _CHUNK)


def normal_fill(uint64_t seed, double mean, double stddev, floating[::1] out, int n_threads):
    """Gaussian draws: ``out[i] = mean + stddev * z_i`` (Box-Muller on one hash per element).

    Parameters
    ----------
    seed : uint64. IN.
    mean, stddev : float. IN.
    out : ndarray of shape (n,). OUT.
    n_threads : int
    """
    if not stddev >= 0:
        raise value_error("normal_fill", "stddev", "be >= 0", stddev)
    cdef Py_ssize_t n = out.shape[0], i
    cdef uint64_t key = rv_mix64(seed), h
    cdef double u1, u2
    cdef int t = effective_threads(n_threads, n, _GRAIN // 4)
    with nogil:
        for i in prange(n, schedule="static", num_threads=t):
            h = rv_draw(key, i)
            # u1 in (0, 1] keeps the log finite.
            u1 = ((h & 0xFFFFFFFFu) + 1.0) / _TWO_POW_32
            u2 = (h >> 32) / _TWO_POW_32
            out[i] = <floating> (mean + stddev * sqrt(-2.0 * log(u1)) * cos(_TWO_PI * u2))
