# Convolution geometry shared by the conv kernels (_conv, _depthwise): cimport it, never copy it.
#
#   kh, kw   kernel height and width
#   sh, sw   strides
#   dh, dw   dilation rates
#   pt, pl   zero padding before the first row / column (trailing padding is implicit:
#            reads past the input's end are zeros)

from ranvier.core._checks cimport value_error


cdef inline int check_geometry(str op, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl) except -1:
    """Raise ValueError unless kernel, strides and dilation are >= 1 and padding >= 0."""
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or dh < 1 or dw < 1 or pt < 0 or pl < 0:
        raise value_error(op, "geometry", "have kernel, strides, dilation >= 1 and padding >= 0",
                          f"kernel ({kh}, {kw}), strides ({sh}, {sw}), dilation ({dh}, {dw}), padding ({pt}, {pl})")
    return 0


cdef inline void tap_range(Py_ssize_t offset, int stride, Py_ssize_t size, Py_ssize_t out_size,
                           Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Outputs o in [lo, hi) whose tap reads inside the input: 0 <= o * stride + offset < size.

    ``offset`` is the tap's position minus the leading padding (``k * dilation - pad``);
    ``hi <= lo`` when no output reads inside.
    """
    # Integer ceil/floor by hand: cdivision truncates towards zero.
    lo[0] = 0 if offset >= 0 else (-offset + stride - 1) // stride
    if size - 1 - offset < 0:
        hi[0] = 0
    else:
        hi[0] = min(out_size, (size - 1 - offset) // stride + 1)
