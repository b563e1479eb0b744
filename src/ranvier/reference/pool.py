"""NumPy twin of ``ranvier.core._pool`` (same signatures, writes into the OUT arrays).

Geometry: ``ph, pw`` window, ``sh, sw`` strides, ``pt, pl`` padding before the
first row / column; padding never wins a max and is not counted in an average.
"""

import numpy as np

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


def _padded(a, fill, ph, pw, sh, sw, pt, pl, oh, ow):
    n, h, w, c = a.shape
    hp = max(pt + h, (oh - 1) * sh + ph)
    wp = max(pl + w, (ow - 1) * sw + pw)
    out = np.full((n, hp, wp, c), fill, dtype=a.dtype)
    out[:, pt : pt + h, pl : pl + w] = a
    return out


def _taps(ph, pw, sh, sw, oh, ow):
    for ky in range(ph):
        for kx in range(pw):
            yield ky, kx, slice(ky, ky + (oh - 1) * sh + 1, sh), slice(kx, kx + (ow - 1) * sw + 1, sw)


def max_pool2d_forward(x, ph, pw, sh, sw, pt, pl, out, argmax, n_threads=1):
    n, h, w, c = x.shape
    oh, ow = out.shape[1:3]
    xp = _padded(x, -np.inf, ph, pw, sh, sw, pt, pl, oh, ow)
    # Flat in-image index of every padded cell, -1 on padding.
    ip = _padded(np.arange(h * w * c, dtype=np.int64).reshape(1, h, w, c), -1, ph, pw, sh, sw, pt, pl, oh, ow)
    vals = np.stack([xp[:, r, s] for _, _, r, s in _taps(ph, pw, sh, sw, oh, ow)], axis=3)
    idx = np.stack([ip[:, r, s] for _, _, r, s in _taps(ph, pw, sh, sw, oh, ow)], axis=3)
    best = np.argmax(vals, axis=3)[:, :, :, None]
    out[...] = np.take_along_axis(vals, best, axis=3)[:, :, :, 0]
    argmax[...] = np.take_along_axis(np.broadcast_to(idx, vals.shape), best, axis=3)[:, :, :, 0]
    empty = argmax < 0
    out[empty] = 0


def max_pool2d_backward(dy, argmax, gate, dx, n_threads=1):
    n = dx.shape[0]
    size = dx[0].size
    flat = np.zeros(n * size, dx.dtype)
    a = argmax.reshape(n, -1).astype(np.int64)
    keep = a >= 0
    if gate.size:
        keep &= gate.reshape(n, -1) > 0
    np.add.at(flat, (a + np.arange(n)[:, None] * size)[keep], dy.reshape(n, -1)[keep])
    dx[...] = flat.reshape(dx.shape)


def _counts(shape, dtype, ph, pw, sh, sw, pt, pl, oh, ow):
    ones = _padded(np.ones((1,) + shape[1:3] + (1,), dtype), 0, ph, pw, sh, sw, pt, pl, oh, ow)
    return sum(ones[:, r, s] for _, _, r, s in _taps(ph, pw, sh, sw, oh, ow))


def avg_pool2d_forward(x, ph, pw, sh, sw, pt, pl, out, n_threads=1):
    oh, ow = out.shape[1:3]
    xp = _padded(x, 0, ph, pw, sh, sw, pt, pl, oh, ow)
    total = sum(xp[:, r, s] for _, _, r, s in _taps(ph, pw, sh, sw, oh, ow))
    out[...] = total / np.maximum(_counts(x.shape, x.dtype, ph, pw, sh, sw, pt, pl, oh, ow), 1)


def avg_pool2d_backward(dy, ph, pw, sh, sw, pt, pl, dx, n_threads=1):
    n, h, w, c = dx.shape
    oh, ow = dy.shape[1:3]
    g = dy / np.maximum(_counts(dx.shape, dx.dtype, ph, pw, sh, sw, pt, pl, oh, ow), 1)
    dxp = _padded(np.zeros_like(dx), 0, ph, pw, sh, sw, pt, pl, oh, ow)
    for _, _, r, s in _taps(ph, pw, sh, sw, oh, ow):
        dxp[:, r, s] += g
    dx[...] = dxp[:, pt : pt + h, pl : pl + w]
