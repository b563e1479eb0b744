# Fast float32 sigmoid and tanh, shared by the activation and recurrent kernels.
#
# libm's expf/tanhf are scalar calls (~2 ns per float32 here, and they dominated
# the LSTM step). These are Cephes' polynomial expf/tanhf (within 3e-7 relative of
# the exact values, saturating cleanly at +-inf, NaN in -> NaN out) written so
# that GCC and clang vectorise the array loops:
# - no float -> int conversion (round with the 1.5 * 2^23 trick instead): GCC
#   otherwise turns the range clamps into branches ("control flow in loop");
# - no floating-point traps (GCC's trapping-math model keeps selects as branches);
# - the array loops are RV_SIMD_CLONES (``include/rv_simd.h``): AVX2 machines run 8 lanes
#   (measured 3.5x faster than SSE2 per element), AVX-512 ones 16 (the LSTM cell's
#   share of a W3 step fell from 28% to 13% of the samples against AVX2).
# float64 (gradient checks) keeps libm: the C functions are float32-only, and
# ``fast_tanh``/``fast_sigmoid`` below pick them or libm by floating type.
from libc.math cimport exp, tanh

from ranvier.core._types cimport floating

cdef extern from "rv_fastmath.h":
    float rv_expf(float x) noexcept nogil
    float rv_sigmoidf(float x) noexcept nogil
    float rv_tanhf(float x) noexcept nogil
    void rv_sigmoid_f32(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void rv_tanh_f32(const float* x, float* y, Py_ssize_t n) noexcept nogil


cdef inline floating fast_tanh(floating x) noexcept nogil:
    """tanh: the polynomial above in float32 (it vectorises, libm's tanhf does not), libm in float64."""
    if floating is float:
        return rv_tanhf(x)
    else:
        return tanh(x)


cdef inline floating fast_sigmoid(floating x) noexcept nogil:
    """The logistic function: the polynomial above in float32, exp in float64."""
    if floating is float:
        return rv_sigmoidf(x)
    else:
        # exp(-x) may overflow to inf for very negative x, and 1 / inf = 0 is the
        # right answer: no branch (a mispredicted sign test cost 3x here).
        return 1 / (1 + exp(-x))
