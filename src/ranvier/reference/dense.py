"""NumPy twin of ``ranvier.core._dense``."""

import numpy as np

from ._beta import scale_by_beta

__all__ = ["dense_forward", "dense_backward", "dense_backward_fused", "column_sum"]


def dense_forward(x, kernel, out):
    np.matmul(x, kernel, out=out)


def dense_backward(x, kernel, dz, dkernel, dbias, dx, beta, need_dx, n_threads=1, dx_beta=0.0):
    scale_by_beta(dkernel, beta)
    dkernel += x.T @ dz
    if dbias.shape[0]:
        column_sum(dz, dbias, beta)
    if need_dx:
        scale_by_beta(dx, dx_beta)
        dx += dz @ kernel.T


def dense_backward_fused(x, kernel, dy, y, dkernel, dbias, dx, beta, need_dx, n_threads=1, dx_beta=0.0):
    dz = np.where(y > 0, dy, 0).astype(dy.dtype) if y.shape[0] else dy
    dense_backward(x, kernel, dz, dkernel, dbias, dx, beta, need_dx, dx_beta=dx_beta)


def column_sum(a, out, beta, n_threads=1):
    scale_by_beta(out, beta)
    out += a.sum(axis=0)
