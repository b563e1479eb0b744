"""Embedding kernels: row gather forward, row scatter-add backward."""
from cython.parallel cimport prange

from ranvier.core._checks cimport check_shape, value_error
from ranvier.core._types cimport floating
from ranvier.core._openmp cimport effective_threads

# Copied elements per thread: a gather is memory-bound, threads pay off only on big batches.
cdef Py_ssize_t _GRAIN = 1 << 16


cdef int _check_ids(str op, const long long[::1] ids, Py_ssize_t vocab) except -1:
    cdef Py_ssize_t i
    for i in range(ids.shape[0]):
        if ids[i] < 0 or ids[i] >= vocab:
            raise value_error(op, f"ids[{i}]", f"be in [0, {vocab})", ids[i])
    return 0


def embedding_forward(const long long[::1] ids, const floating[:, ::1] embeddings,
                      floating[:, ::1] out, int n_threads):
    """out[i] = embeddings[ids[i]].

    Parameters
    ----------
    ids : (n,) int64, each in [0, vocab). IN.
    embeddings : (vocab, dim). IN.
    out : (n, dim). OUT.
    """
    cdef Py_ssize_t n = ids.shape[0], dim = embeddings.shape[1], i, j
    check_shape("embedding_forward", "out", out.shape, 2, n, dim)
    _check_ids("embedding_forward", ids, embeddings.shape[0])
    cdef int t = effective_threads(n_threads, n * dim, _GRAIN)
    for i in prange(n, nogil=True, schedule="static", num_threads=t):
        for j in range(dim):
            out[i, j] = embeddings[ids[i], j]


def embedding_backward(const long long[::1] ids, const floating[:, ::1] dy,
                       floating[:, ::1] dembeddings, double beta):
    """dembeddings = beta * dembeddings + scatter-add of dy rows at ids.

    Serial, in id order: repeated ids accumulate in a fixed order (deterministic).

    Parameters
    ----------
    ids : (n,) int64, each in [0, vocab). IN.
    dy : (n, dim). IN.
    dembeddings : (vocab, dim). IN/OUT.
    beta : 0.0 to overwrite, 1.0 to accumulate.
    """
    cdef Py_ssize_t n = ids.shape[0], vocab = dembeddings.shape[0], dim = dembeddings.shape[1], i, j
    check_shape("embedding_backward", "dy", dy.shape, 2, n, dim)
    _check_ids("embedding_backward", ids, vocab)
    with nogil:
        for i in range(vocab):
            for j in range(dim):
                dembeddings[i, j] = beta * dembeddings[i, j] if beta != 0 else 0
        for i in range(n):
            for j in range(dim):
                dembeddings[ids[i], j] += dy[i, j]
