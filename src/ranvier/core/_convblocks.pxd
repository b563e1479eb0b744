# The block-level work shared by the conv entry points (_conv, _convpool); _convblocks.pyx says how.
from libc.stdlib cimport malloc

from ranvier.core._maxpool cimport index_t
from ranvier.core._types cimport floating


cdef struct Pooled:
    # The gradient source of ``conv2d_maxpool_backward``: dy, argmax and gate of a 2x2 max pool
    # (the pool's output gradient, argmax and output, float32 or float64 like the conv).
    const void* dy
    const index_t* argmax
    const void* gate


cdef inline bint is_pointwise(int kh, int kw, int sh, int sw, int pt, int pl, Py_ssize_t h, Py_ssize_t w,
                              Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    """A 1x1 stride-1 conv without padding: the input already is its column matrix."""
    return kh == 1 and kw == 1 and sh == 1 and sw == 1 and pt == 0 and pl == 0 and oh == h and ow == w


cdef inline floating* alloc_scratch(Py_ssize_t n, floating* like) except NULL:
    """Uninitialised memory for ``n`` values (at least one), freed with ``free``."""
    cdef floating* p = <floating*> malloc(max(n, 1) * sizeof(floating))
    if p == NULL:
        raise MemoryError(f"cannot allocate {n} values of conv scratch")
    return p


cdef int check_forward(str op, const floating[:, ::1] kernel, const floating[::1] bias,
                       Py_ssize_t k) except -1
cdef int check_grads(str op, const floating[:, :, :, ::1] x, const floating[:, ::1] kernel,
                     floating[:, ::1] dkernel, floating[::1] dbias, floating[:, :, :, ::1] dx, double beta,
                     bint need_dx, Py_ssize_t k) except -1
cdef void block_forward(const floating[:, :, :, ::1] x, Py_ssize_t r0, Py_ssize_t rows,
                        int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                        Py_ssize_t oh, Py_ssize_t ow, bint pointwise, floating* cols, const floating* packed,
                        Py_ssize_t f, const floating* bias, bint apply_relu, floating* z) noexcept nogil
cdef void gradients(const floating[:, :, :, ::1] x, const floating[:, ::1] kernel, const floating* dz,
                    Pooled pooled, floating[:, ::1] dkernel, floating[::1] dbias, floating[:, :, :, ::1] dx,
                    double beta, bint need_dx, int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl,
                    Py_ssize_t oh, Py_ssize_t ow, int n_threads) except *
cdef void input_grad(const floating* dz, Pooled pooled, Py_ssize_t f, const floating[:, ::1] kernel,
                     floating[:, :, :, ::1] dx, int kh, int kw, int sh, int sw, int dh, int dw,
                     int pt, int pl, Py_ssize_t oh, Py_ssize_t ow, bint pointwise, int n_threads) except *
cdef Py_ssize_t images_per_group(Py_ssize_t n, Py_ssize_t k, Py_ssize_t f) noexcept nogil
cdef void add_partials(const floating* parts, Py_ssize_t n_chunks, Py_ssize_t part_len, Py_ssize_t nk,
                       Py_ssize_t f, floating* dkernel, floating* dbias, bint accumulate, int t) noexcept nogil
