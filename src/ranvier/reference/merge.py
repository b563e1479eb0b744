"""NumPy twin of ``ranvier.core._merge``: the same folds in the same order, bit for bit."""

import numpy as np

__all__ = ["add", "average", "multiply", "maximum", "minimum", "select_backward", "multiply_backward"]

MAX_SELECT_INPUTS = 255


def _fold(xs, out, ufunc):
    np.copyto(out, xs[0])
    for x in xs[1:]:
        ufunc(out, x, out=out)


def add(xs, out, n_threads=1):
    _fold(xs, out, np.add)


def average(xs, out, n_threads=1):
    _fold(xs, out, np.add)
    np.divide(out, len(xs), out=out)


def multiply(xs, out, n_threads=1):
    _fold(xs, out, np.multiply)


def _select(xs, out, index, better):
    np.copyto(out, xs[0])
    index[...] = 0
    for k, x in enumerate(xs[1:], start=1):
        won = better(x, out)
        np.copyto(out, x, where=won)
        index[won] = k


def maximum(xs, out, index, n_threads=1):
    _select(xs, out, index, np.greater)


def minimum(xs, out, index, n_threads=1):
    _select(xs, out, index, np.less)


def select_backward(dy, index, dxs, n_threads=1):
    for k, dx in enumerate(dxs):
        dx[...] = 0
        np.copyto(dx, dy, where=index == k)


def multiply_backward(dy, xs, dxs, n_threads=1):
    for i, dx in enumerate(dxs):
        np.copyto(dx, dy)
        for k, x in enumerate(xs):
            if k != i:
                np.multiply(dx, x, out=dx)
