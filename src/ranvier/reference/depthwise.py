"""NumPy twin of ``ranvier.core._depthwise`` (same signatures, writes into the OUT arrays).

Output channel ``c * m + j`` is input channel c filtered by ``kernel[:, :, c, j]``
(Keras layout ``(kh, kw, channels, m)``). Geometry as in ``ranvier.reference.conv``.
"""

import numpy as np

from ._beta import scale_by_beta
from .conv import _padded_shape, _windows

__all__ = ["depthwise_conv2d_forward", "depthwise_conv2d_backward"]


def _padded(x, geom, oh, ow):
    kh, kw, sh, sw, dh, dw, pt, pl = geom
    n, h, w, c = x.shape
    xp = np.zeros(_padded_shape(x.shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow), x.dtype)
    xp[:, pt : pt + h, pl : pl + w] = x
    return xp


def depthwise_conv2d_forward(x, kernel, out, kh, kw, sh, sw, dh, dw, pt, pl, n_threads=1):
    geom = (kh, kw, sh, sw, dh, dw, pt, pl)
    n, oh, ow, _ = out.shape
    c, m = kernel.shape[2:]
    xp = _padded(x, geom, oh, ow)
    acc = np.zeros((n, oh, ow, c, m), out.dtype)
    for ky, kx, rows, cols in _windows(kh, kw, sh, sw, dh, dw, oh, ow):
        acc += xp[:, rows, cols, :, None] * kernel[ky, kx]
    out[...] = acc.reshape(out.shape)


def depthwise_conv2d_backward(x, kernel, dz, dkernel, dx, beta, need_dx, kh, kw, sh, sw, dh, dw, pt, pl, n_threads=1):
    geom = (kh, kw, sh, sw, dh, dw, pt, pl)
    n, oh, ow, _ = dz.shape
    h, w, c, m = x.shape[1], x.shape[2], kernel.shape[2], kernel.shape[3]
    xp = _padded(x, geom, oh, ow)
    dz5 = dz.reshape(n, oh, ow, c, m)
    scale_by_beta(dkernel, beta)
    dxp = np.zeros_like(xp)
    for ky, kx, rows, cols in _windows(kh, kw, sh, sw, dh, dw, oh, ow):
        dkernel[ky, kx] += np.einsum("nyxc,nyxcm->cm", xp[:, rows, cols], dz5)
        dxp[:, rows, cols] += np.einsum("nyxcm,cm->nyxc", dz5, kernel[ky, kx])
    if need_dx:
        dx[...] = dxp[:, pt : pt + h, pl : pl + w]
