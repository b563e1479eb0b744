"""Elementwise merge kernels (``ranvier.layers.Add``, ``Average``, ``Multiply``, ``Maximum``, ``Minimum``).

Every input has the same shape, seen as ``(rows, cols)`` (C order); the
layers run NumPy when shapes broadcast. A merge of ``n`` inputs reads every
input once and writes the output once: rows are folded in blocks of 512
values, small enough to stay in L1 while every input is folded into them,
so the whole merge is one pass over memory, where a chain of binary NumPy
calls reads and writes the partial result again for every input after the
second.

Inputs are folded in list order, ``((x0 op x1) op x2) ...``, as the NumPy
twins in ``ranvier.reference.merge`` do, so results match them bit for bit
and do not depend on the thread count (threads split rows). Ties in
``maximum``/``minimum`` go to the earliest input.
"""
from cython.parallel cimport prange
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc

from ranvier.core._checks cimport check_shape, value_error
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# The row loops are C, vectorised with "omp simd" (include/rv_merge.h).
cdef extern from "rv_merge.h":
    enum:
        _SUM "RV_MERGE_SUM"
        _MEAN "RV_MERGE_MEAN"
        _PROD "RV_MERGE_PROD"
        _MAX "RV_MERGE_MAX"
        _MIN "RV_MERGE_MIN"
    void rv_merge_fold_f32(const float** xs, Py_ssize_t n, Py_ssize_t off, Py_ssize_t cols, int op,
                           float* out, uint8_t* index) noexcept nogil
    void rv_merge_fold_f64(const double** xs, Py_ssize_t n, Py_ssize_t off, Py_ssize_t cols, int op,
                           double* out, uint8_t* index) noexcept nogil
    void rv_merge_select_back_f32(const float* dy, const uint8_t* index, float** dxs, Py_ssize_t n,
                                  Py_ssize_t off, Py_ssize_t cols) noexcept nogil
    void rv_merge_select_back_f64(const double* dy, const uint8_t* index, double** dxs, Py_ssize_t n,
                                  Py_ssize_t off, Py_ssize_t cols) noexcept nogil
    void rv_merge_product_back_f32(const float* dy, const float** xs, float** dxs, Py_ssize_t n,
                                   Py_ssize_t off, Py_ssize_t cols) noexcept nogil
    void rv_merge_product_back_f64(const double* dy, const double** xs, double** dxs, Py_ssize_t n,
                                   Py_ssize_t off, Py_ssize_t cols) noexcept nogil

# Elements read or written per thread before a second thread is worth starting.
cdef Py_ssize_t _GRAIN = 1 << 16

# Largest input count of ``maximum``/``minimum``: the index of the winner is a uint8.
MAX_SELECT_INPUTS = 255


cdef const floating** _pointers(list arrays, const floating[:, ::1] like, bint writable, str op,
                                str arg) except NULL:
    """Data pointers of ``arrays`` (malloc'd: free them), each checked to have ``like``'s shape and dtype.

    Empty arrays give NULL pointers, which the kernels never read.
    """
    cdef Py_ssize_t rows = like.shape[0], cols = like.shape[1], k
    cdef const floating[:, ::1] view
    cdef floating[:, ::1] _writable
    if len(arrays) == 0:
        raise value_error(op, arg, "hold at least one array", "an empty list")
    cdef const floating** ptrs = <const floating**> malloc(len(arrays) * sizeof(floating*))
    if ptrs == NULL:
        raise MemoryError()
    try:
        for k in range(len(arrays)):
            if writable:
                _writable = arrays[k]
            view = arrays[k]
            if view.shape[0] != rows or view.shape[1] != cols:
                # Tested here first so that the item's name is built only on failure.
                check_shape(op, f"{arg}[{k}]", view.shape, 2, rows, cols)
            ptrs[k] = &view[0, 0] if rows > 0 and cols > 0 else NULL
    except BaseException:
        free(ptrs)
        raise
    return ptrs


cdef inline void _fold_row(const floating** xs, Py_ssize_t n, Py_ssize_t off, Py_ssize_t cols, int op,
                           floating* out, uint8_t* index) noexcept nogil:
    if floating is float:
        rv_merge_fold_f32(xs, n, off, cols, op, out, index)
    else:
        rv_merge_fold_f64(xs, n, off, cols, op, out, index)


cdef int _fold(list xs, floating[:, ::1] out, uint8_t* index, int op, str name, int n_threads) except -1:
    cdef Py_ssize_t rows = out.shape[0], cols = out.shape[1], n = len(xs), r
    cdef const floating** ptrs = _pointers(xs, out, False, name, "xs")
    cdef floating* dst = &out[0, 0] if rows > 0 and cols > 0 else NULL
    cdef int t = effective_threads(n_threads, rows * cols * (n + 1), _GRAIN)
    try:
        if dst != NULL:
            with nogil:
                for r in prange(rows, schedule="static", num_threads=t):
                    _fold_row(ptrs, n, r * cols, cols, op, dst + r * cols,
                              index + r * cols if index != NULL else NULL)
    finally:
        free(ptrs)
    return 0


def add(list xs, floating[:, ::1] out, int n_threads):
    """Sum of the inputs: ``out = xs[0] + xs[1] + ...`` (in list order).

    Parameters
    ----------
    xs : list of ndarray, each of shape (rows, cols), out's dtype. IN.
    out : ndarray of shape (rows, cols). OUT (may be none of ``xs``).
    n_threads : int
    """
    _fold(xs, out, NULL, _SUM, "add", n_threads)


def average(list xs, floating[:, ::1] out, int n_threads):
    """Mean of the inputs: ``out = (xs[0] + xs[1] + ...) / len(xs)``.

    Parameters as ``add``.
    """
    _fold(xs, out, NULL, _MEAN, "average", n_threads)


def multiply(list xs, floating[:, ::1] out, int n_threads):
    """Product of the inputs: ``out = xs[0] * xs[1] * ...`` (in list order).

    Parameters as ``add``.
    """
    _fold(xs, out, NULL, _PROD, "multiply", n_threads)


cdef int _select(list xs, floating[:, ::1] out, uint8_t[:, ::1] index, int op, str name,
                 int n_threads) except -1:
    if not 1 <= len(xs) <= MAX_SELECT_INPUTS:
        raise value_error(name, "xs", f"hold 1 to {MAX_SELECT_INPUTS} arrays", len(xs))
    check_shape(name, "index", index.shape, 2, out.shape[0], out.shape[1])
    _fold(xs, out, &index[0, 0] if out.shape[0] > 0 and out.shape[1] > 0 else NULL, op, name, n_threads)
    return 0


def maximum(list xs, floating[:, ::1] out, uint8_t[:, ::1] index, int n_threads):
    """Elementwise maximum and which input holds it (the earliest on ties).

    Parameters
    ----------
    xs : list of 1 to 255 ndarrays, each of shape (rows, cols), out's dtype. IN.
    out : ndarray of shape (rows, cols). OUT.
    index : uint8 ndarray of shape (rows, cols). OUT: ``out[i, j] == xs[index[i, j]][i, j]``,
        for ``select_backward``.
    n_threads : int
    """
    _select(xs, out, index, _MAX, "maximum", n_threads)


def minimum(list xs, floating[:, ::1] out, uint8_t[:, ::1] index, int n_threads):
    """Elementwise minimum and which input holds it (the earliest on ties). Parameters as ``maximum``."""
    _select(xs, out, index, _MIN, "minimum", n_threads)


cdef inline void _select_back_row(const floating* dy, const uint8_t* index, floating** dxs, Py_ssize_t n,
                                  Py_ssize_t off, Py_ssize_t cols) noexcept nogil:
    if floating is float:
        rv_merge_select_back_f32(dy, index, dxs, n, off, cols)
    else:
        rv_merge_select_back_f64(dy, index, dxs, n, off, cols)


def select_backward(const floating[:, ::1] dy, const uint8_t[:, ::1] index, list dxs, int n_threads):
    """Gradients of ``maximum``/``minimum``: ``dxs[k] = dy`` where input ``k`` won, else 0.

    Parameters
    ----------
    dy : ndarray of shape (rows, cols). IN.
    index : uint8 ndarray of shape (rows, cols). IN: from ``maximum``/``minimum``.
    dxs : list of ndarrays of shape (rows, cols), dy's dtype, one per input. OUT.
    n_threads : int
    """
    cdef Py_ssize_t rows = dy.shape[0], cols = dy.shape[1], n = len(dxs), r
    check_shape("select_backward", "index", index.shape, 2, rows, cols)
    cdef floating** ptrs = <floating**> _pointers(dxs, dy, True, "select_backward", "dxs")
    cdef int t = effective_threads(n_threads, rows * cols * (n + 2), _GRAIN)
    try:
        if rows > 0 and cols > 0:
            with nogil:
                for r in prange(rows, schedule="static", num_threads=t):
                    _select_back_row(&dy[r, 0], &index[r, 0], ptrs, n, r * cols, cols)
    finally:
        free(ptrs)


cdef inline void _product_back_row(const floating* dy, const floating** xs, floating** dxs, Py_ssize_t n,
                                   Py_ssize_t off, Py_ssize_t cols) noexcept nogil:
    if floating is float:
        rv_merge_product_back_f32(dy, xs, dxs, n, off, cols)
    else:
        rv_merge_product_back_f64(dy, xs, dxs, n, off, cols)


def multiply_backward(const floating[:, ::1] dy, list xs, list dxs, int n_threads):
    """Gradients of ``multiply``: ``dxs[i] = dy * xs[0] * ... (every input but i, in order)``.

    No division by ``xs[i]``, so zeros in the inputs are exact.

    Parameters
    ----------
    dy : ndarray of shape (rows, cols). IN.
    xs : list of ndarrays of shape (rows, cols), dy's dtype: the forward inputs. IN.
    dxs : list of ndarrays like ``xs``, none of them an input. OUT.
    n_threads : int
    """
    cdef Py_ssize_t rows = dy.shape[0], cols = dy.shape[1], n = len(xs), r
    if len(dxs) != n:
        raise value_error("multiply_backward", "dxs", f"hold one array per input ({n})", len(dxs))
    cdef const floating** xp = _pointers(xs, dy, False, "multiply_backward", "xs")
    cdef floating** dp
    try:
        dp = <floating**> _pointers(dxs, dy, True, "multiply_backward", "dxs")
    except BaseException:
        free(xp)
        raise
    cdef int t = effective_threads(n_threads, rows * cols * n * (n + 1), _GRAIN)
    try:
        if rows > 0 and cols > 0:
            with nogil:
                for r in prange(rows, schedule="static", num_threads=t):
                    _product_back_row(&dy[r, 0], xp, dp, n, r * cols, cols)
    finally:
        free(xp)
        free(dp)
