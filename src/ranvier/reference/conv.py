"""NumPy twin of ``ranvier.core._conv`` (same signatures, writes into the OUT arrays).

Geometry: ``kh, kw`` kernel, ``sh, sw`` strides, ``dh, dw`` dilation, ``pt, pl``
zero padding before the first row / column; reads past the input's end are zeros.
"""
import numpy as np

from ._beta import scale_by_beta

__all__ = ["im2col", "col2im", "conv2d_forward", "conv2d_backward"]


def _windows(kh, kw, sh, sw, dh, dw, oh, ow):
    """(ky, kx, row slice, column slice) of the padded input each kernel tap reads."""
    for ky in range(kh):
        for kx in range(kw):
            yield (ky, kx, slice(ky * dh, ky * dh + (oh - 1) * sh + 1, sh),
                   slice(kx * dw, kx * dw + (ow - 1) * sw + 1, sw))


def _padded_shape(x_shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    n, h, w, c = x_shape
    hp = max(pt + h, (oh - 1) * sh + (kh - 1) * dh + 1)
    wp = max(pl + w, (ow - 1) * sw + (kw - 1) * dw + 1)
    return n, hp, wp, c


def im2col(x, kh, kw, sh, sw, dh, dw, pt, pl, col, oh, ow, n_threads=1):
    n, h, w, c = x.shape
    xp = np.zeros(_padded_shape(x.shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow), x.dtype)
    xp[:, pt:pt + h, pl:pl + w] = x
    view = col.reshape(n, oh, ow, kh, kw, c)
    for ky, kx, rows, cols in _windows(kh, kw, sh, sw, dh, dw, oh, ow):
        view[:, :, :, ky, kx] = xp[:, rows, cols]


def col2im(col, kh, kw, sh, sw, dh, dw, pt, pl, x, oh, ow, n_threads=1):
    n, h, w, c = x.shape
    xp = np.zeros(_padded_shape(x.shape, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow), x.dtype)
    view = col.reshape(n, oh, ow, kh, kw, c)
    for ky, kx, rows, cols in _windows(kh, kw, sh, sw, dh, dw, oh, ow):
        xp[:, rows, cols] += view[:, :, :, ky, kx]
    x[...] = xp[:, pt:pt + h, pl:pl + w]


def _chunks(n, col, per):
    chunk = col.shape[0] // per
    for n0 in range(0, n, chunk):
        yield n0, min(n0 + chunk, n), col[:(min(n0 + chunk, n) - n0) * per]


def conv2d_forward(x, kernel, out, kh, kw, sh, sw, dh, dw, pt, pl, col, n_threads=1):
    n, oh, ow, f = out.shape
    per = oh * ow
    if kh == kw == sh == sw == 1 and pt == pl == 0:
        np.matmul(x.reshape(n * per, -1), kernel, out=out.reshape(n * per, f))
        return
    for n0, n1, c in _chunks(n, col, per):
        im2col(x[n0:n1], kh, kw, sh, sw, dh, dw, pt, pl, c, oh, ow)
        np.matmul(c, kernel, out=out[n0:n1].reshape(-1, f))


def conv2d_backward(x, kernel, dz, dkernel, dx, beta, need_dx, kh, kw, sh, sw, dh, dw, pt, pl,
                    col, col_ready, n_threads=1):
    n, oh, ow, f = dz.shape
    per = oh * ow
    scale_by_beta(dkernel, beta)
    if kh == kw == sh == sw == 1 and pt == pl == 0:
        dkernel += x.reshape(n * per, -1).T @ dz.reshape(n * per, f)
        if need_dx:
            np.matmul(dz.reshape(n * per, f), kernel.T, out=dx.reshape(n * per, -1))
        return
    for n0, n1, c in _chunks(n, col, per):
        if not col_ready:
            im2col(x[n0:n1], kh, kw, sh, sw, dh, dw, pt, pl, c, oh, ow)
        d = dz[n0:n1].reshape(-1, f)
        dkernel += c.T @ d
        if need_dx:
            np.matmul(d, kernel.T, out=c)
            col2im(c, kh, kw, sh, sw, dh, dw, pt, pl, dx[n0:n1], oh, ow)
