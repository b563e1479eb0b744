"""NumPy twin of ``ranvier.core._dense``."""

import numpy as np

from ._beta import scale_by_beta

__all__ = [
    "dense_forward",
    "dense_backward",
    "dense_backward_fused",
    "dense_relu_dense_backward",
    "column_sum",
]


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


def dense_relu_dense_backward(
    x, kernel1, a, kernel2, dz2, dkernel1, dbias1, dkernel2, dbias2, dx, beta1, beta2, need_dx, n_threads=1
):
    da = np.empty_like(a)
    dense_backward(a, kernel2, dz2, dkernel2, dbias2, da, beta2, True)
    dense_backward_fused(x, kernel1, da, a, dkernel1, dbias1, dx, beta1, need_dx)


def column_sum(a, out, beta, n_threads=1):
    scale_by_beta(out, beta)
    out += a.sum(axis=0)
