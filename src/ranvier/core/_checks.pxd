# Argument checks of the kernel entry points: cimport them, never copy them.
#
# Every kernel checks its arguments before any ``with nogil`` and raises ValueError with
# one message format, ``{op}: {arg} must {requirement}, got {what it received}``:
#
#     conv2d_forward: out must have shape (2, 5, 5, 8), got (2, 5, 5, 7)
#     dropout_forward: rate must be in [0, 1), got 1.5
#
# Shapes go through ``check_shape`` (``check_optional`` for arrays that may be left out, passed
# empty); any other condition is tested at the call site, which raises ``value_error(...)``. A
# message (and its f-strings) is built only once a check has failed: a passing check is a few
# inlined C integer compares (measured under 1 ns for a 4-D shape), no Python objects.

cdef enum:
    # A wanted dimension of any size >= 1 (an output size the caller chose).
    ANY = -1


cdef inline object value_error(str op, str arg, str want, object got):
    """The ValueError ``{op}: {arg} must {want}, got {got}``."""
    return ValueError(f"{op}: {arg} must {want}, got {got}")


cdef inline str _dims(const Py_ssize_t* dims, int ndim):
    """``(2, 5)``, ``(3,)``; ANY reads ``>= 1``."""
    text = ", ".join([">= 1" if dims[i] == ANY else str(dims[i]) for i in range(ndim)])
    return f"({text},)" if ndim == 1 else f"({text})"


cdef inline int _check(str op, str arg, const Py_ssize_t* got, int ndim, const Py_ssize_t* want,
                       bint optional) except -1:
    """The body of ``check_shape`` and ``check_optional``."""
    cdef int i
    if optional and got[0] == 0:
        return 0
    for i in range(ndim):
        if got[i] != want[i] and not (want[i] == ANY and got[i] >= 1):
            empty = "" if not optional else " or (0,)" if ndim == 1 else " or be empty"
            raise value_error(op, arg, f"have shape {_dims(want, ndim)}{empty}", _dims(got, ndim))
    return 0


cdef inline int check_shape(str op, str arg, const Py_ssize_t* got, int ndim, Py_ssize_t d0, Py_ssize_t d1=0,
                            Py_ssize_t d2=0, Py_ssize_t d3=0) except -1:
    """Raise unless ``got[:ndim]`` (a memoryview's ``shape``) is ``(d0, ..., d{ndim - 1})``.

    A wanted dimension ANY matches any size >= 1.
    """
    cdef Py_ssize_t want[4]
    want[0], want[1], want[2], want[3] = d0, d1, d2, d3
    return _check(op, arg, got, ndim, want, False)


cdef inline int check_optional(str op, str arg, bint optional, const Py_ssize_t* got, int ndim, Py_ssize_t d0,
                               Py_ssize_t d1=0, Py_ssize_t d2=0, Py_ssize_t d3=0) except -1:
    """``check_shape``, except that when ``optional`` a first dimension of 0 (the argument left out) passes too."""
    cdef Py_ssize_t want[4]
    want[0], want[1], want[2], want[3] = d0, d1, d2, d3
    return _check(op, arg, got, ndim, want, optional)
