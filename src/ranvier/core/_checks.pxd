# Shape checks shared by kernels (raise before any work runs).


cdef inline check_same(Py_ssize_t r0, Py_ssize_t c0, Py_ssize_t r1, Py_ssize_t c1, str op, str arg):
    """Raise ValueError unless (r1, c1) == (r0, c0): ``{op}: {arg} must have shape (r0, c0), got ...``."""
    if r0 != r1 or c0 != c1:
        raise ValueError(f"{op}: {arg} must have shape ({r0}, {c0}), got ({r1}, {c1})")
