"""NumPy twin of ``ranvier.core._conv`` (same signatures, writes into the OUT arrays).

Geometry: ``kh, kw`` kernel, ``sh, sw`` strides, ``dh, dw`` dilation, ``pt, pl``
zero padding before the first row / column; reads past the input's end are zeros.
"""

import numpy as np

from ._beta import scale_by_beta

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward", "conv2d_input_grad"]


def _windows(kh, kw, sh, sw, dh, dw, oh, ow):
    """(ky, kx, row slice, column slice) of the padded input each kernel tap reads."""
    for ky in range(kh):
        for kx in range(kw):
            yield (
                ky,
                kx,
                slice(ky * dh, ky * dh + (oh - 1) * sh + 1, sh),
                slice(kx * dw, kx * dw + (ow - 1) * sw + 1, sw),
            )


def _padded_shape(x_shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    n, h, w, c = x_shape
    hp = max(pt + h, (oh - 1) * sh + (kh - 1) * dh + 1)
    wp = max(pl + w, (ow - 1) * sw + (kw - 1) * dw + 1)
    return n, hp, wp, c


def im2col(x, kh, kw, sh, sw, dh, dw, pt, pl, col, oh, ow, n_threads=1):
    n, h, w, c = x.shape
    xp = np.zeros(_padded_shape(x.shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow), x.dtype)
    xp[:, pt : pt + h, pl : pl + w] = x
    view = col.reshape(n, oh, ow, kh, kw, c)
    for ky, kx, rows, cols in _windows(kh, kw, sh, sw, dh, dw, oh, ow):
        view[:, :, :, ky, kx] = xp[:, rows, cols]


def col2im(col, kh, kw, sh, sw, dh, dw, pt, pl, x, oh, ow, n_threads=1):
    n, h, w, c = x.shape
    xp = np.zeros(_padded_shape(x.shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow), x.dtype)
    view = col.reshape(n, oh, ow, kh, kw, c)
    for ky, kx, rows, cols in _windows(kh, kw, sh, sw, dh, dw, oh, ow):
        xp[:, rows, cols] += view[:, :, :, ky, kx]
    x[...] = xp[:, pt : pt + h, pl : pl + w]


def _columns(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    col = np.empty((x.shape[0] * oh * ow, kh * kw * x.shape[3]), x.dtype)
    im2col(x, kh, kw, sh, sw, dh, dw, pt, pl, col, oh, ow)
    return col


def conv2d_forward(x, kernel, bias, apply_relu, out, kh, kw, sh, sw, dh, dw, pt, pl, n_threads=1):
    n, oh, ow, f = out.shape
    col = _columns(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    z = col @ kernel
    if bias.size:
        z += bias
    out.reshape(-1, f)[...] = np.maximum(z, 0) if apply_relu else z


def conv2d_backward(x, kernel, dz, dkernel, dbias, dx, beta, need_dx, kh, kw, sh, sw, dh, dw, pt, pl, n_threads=1):
    n, oh, ow, f = dz.shape
    d = dz.reshape(-1, f)
    col = _columns(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    scale_by_beta(dkernel, beta)
    dkernel += col.T @ d
    if dbias.size:
        scale_by_beta(dbias, beta)
        dbias += d.sum(axis=0)
    if need_dx:
        col2im(d @ kernel.T, kh, kw, sh, sw, dh, dw, pt, pl, dx, oh, ow)


def conv2d_input_grad(dz, kernel, dx, kh, kw, sh, sw, dh, dw, pt, pl, n_threads=1):
    n, oh, ow, f = dz.shape
    col2im(dz.reshape(-1, f) @ kernel.T, kh, kw, sh, sw, dh, dw, pt, pl, dx, oh, ow)
