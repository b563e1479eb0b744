"""``conv``, ``max_pool``, ``average_pool`` (Keras 3 ``ops.nn`` signatures) on ranvier's kernels.

1-D and 2-D, channels-last (``data_format="channels_first"`` is transposed
in and out). The geometry (output size, "same" padding) comes from the conv
layers' one rule (``api._conv_geometry``), and the work from the kernels the
Conv2D and pooling layers run (``core._conv``, ``core._pool``). float32 and
float64; other dtypes of ``inputs`` become floatx.
"""

import numpy as np

from ...core import _conv, _pool
from .. import config
from .._conv_geometry import normalize_padding, normalize_tuple, output_geometry
from ._dispatch import TRACED, floating, value
from ._tape import record, recording, wrap

__all__ = ["conv", "max_pool", "average_pool"]

_EMPTY_BIAS = {np.dtype(t): np.empty((0,), t) for t in ("float32", "float64")}
_NO_GATE = {np.dtype(t): np.empty((0, 0, 0, 0), t) for t in ("float32", "float64")}


def _channels_last(x, data_format, op):
    """(n, h, w, c) C-contiguous float input, its rank (1 or 2) and whether it was channels-first."""
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"ops.{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    a = floating(np.asarray(value(x)), op, "inputs")
    if a.dtype not in _NO_GATE:
        a = a.astype(config.floatx())
    rank = a.ndim - 2
    if rank not in (1, 2):
        raise NotImplementedError(
            f"ops.{op}: 1-D and 2-D inputs (rank 3 or 4) are supported, got inputs of shape {a.shape}"
        )
    first = fmt == "channels_first"
    if first:
        a = np.moveaxis(a, 1, -1)
    a = np.ascontiguousarray(a)
    return (a[:, None] if rank == 1 else a), rank, first


def _restore(y4, rank, first):
    """The (n, oh, ow, c) result in the caller's rank and data format."""
    y = y4[:, 0] if rank == 1 else y4
    return np.moveaxis(y, -1, 1) if first else y


def _to_kernel_layout(dy, rank, first):
    dy = np.moveaxis(dy, 1, -1) if first else dy
    return np.ascontiguousarray(dy[:, None] if rank == 1 else dy)


def _windows(rank, size, strides, dilation, padding, op):
    size = normalize_tuple(size, rank, "kernel size" if op == "conv" else "pool_size", f"ops.{op}")
    strides = normalize_tuple(size if strides is None else strides, rank, "strides", f"ops.{op}")
    dilation = normalize_tuple(dilation, rank, "dilation_rate", f"ops.{op}")
    return size, strides, dilation, normalize_padding(padding, f"ops.{op}")


def _as2d(t, fill):
    return (fill,) * (2 - len(t)) + tuple(t)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (N = 1, 2) of ``inputs`` (batch, *spatial, channels) with ``kernel``
    (*kernel_size, in_channels, filters): the Conv1D / Conv2D layers' kernel, without bias."""
    x4, rank, first = _channels_last(inputs, data_format, "conv")
    w = np.asarray(value(kernel))
    if w.ndim != rank + 2 or w.shape[-2] != x4.shape[-1]:
        raise ValueError(
            f"ops.conv: kernel must have shape (*kernel_size, {x4.shape[-1]}, filters) for inputs "
            f"of shape {np.shape(value(inputs))}, got kernel shape {w.shape}"
        )
    w = np.ascontiguousarray(w, x4.dtype)
    size, stride, dil, pad = _windows(rank, w.shape[:rank], strides, dilation_rate, padding, "conv")
    spatial = x4.shape[1:3] if rank == 2 else x4.shape[2:3]
    out_sp, pads = output_geometry(spatial, size, stride, dil, pad, "ops.conv")
    geom = (*_as2d(size, 1), *_as2d(stride, 1), *_as2d(dil, 1), *_as2d(pads, 0))
    oh, ow = _as2d(out_sp, 1)
    f = w.shape[-1]
    k2 = w.reshape(-1, f)
    z = np.empty((x4.shape[0], oh, ow, f), x4.dtype)
    _conv.conv2d_forward(x4, k2, _EMPTY_BIAS[x4.dtype], False, z, *geom, config.kernel_threads())
    y = _restore(z, rank, first)
    if not (isinstance(inputs, TRACED) or isinstance(kernel, TRACED)):
        return y
    refs = recording(inputs, kernel)
    if refs is None:
        return wrap(y, inputs, kernel)
    x_shape = np.shape(value(inputs))

    def backward(dy):
        dz = np.ascontiguousarray(_to_kernel_layout(dy, rank, first), x4.dtype)
        need_dx = refs[0] is not None
        dk = np.empty_like(k2)
        dx = np.empty_like(x4) if need_dx else np.empty((0, 0, 0, 0), x4.dtype)
        _conv.conv2d_backward(x4, k2, dz, dk, _EMPTY_BIAS[x4.dtype], dx, 0.0, need_dx, *geom, config.kernel_threads())
        gx = _restore(dx, rank, first).reshape(x_shape) if need_dx else None
        return gx, dk.reshape(w.shape) if refs[1] is not None else None

    return record(y, refs, backward)


def _pooling(inputs, pool_size, strides, padding, data_format, is_max, op):
    x4, rank, first = _channels_last(inputs, data_format, op)
    size, stride, _, pad = _windows(rank, pool_size, strides, 1, padding, op)
    spatial = x4.shape[1:3] if rank == 2 else x4.shape[2:3]
    out_sp, pads = output_geometry(spatial, size, stride, (1,) * rank, pad, f"ops.{op}")
    window, step, lead = _as2d(size, 1), _as2d(stride, 1), _as2d(pads, 0)
    oh, ow = _as2d(out_sp, 1)
    out = np.empty((x4.shape[0], oh, ow, x4.shape[3]), x4.dtype)
    threads = config.kernel_threads()
    if is_max:
        argmax = np.empty(out.shape, np.int32)
        _pool.max_pool2d_forward(x4, *window, *step, *lead, out, argmax, threads)
    else:
        _pool.avg_pool2d_forward(x4, *window, *step, *lead, out, threads)
    y = _restore(out, rank, first)
    if not isinstance(inputs, TRACED):
        return y
    refs = recording(inputs)
    if refs is None:
        return wrap(y, inputs)
    x_shape = np.shape(value(inputs))

    def backward(dy):
        d4 = np.ascontiguousarray(_to_kernel_layout(dy, rank, first), x4.dtype)
        dx = np.empty_like(x4)
        if is_max:
            _pool.max_pool2d_backward(d4, argmax, _NO_GATE[x4.dtype], dx, config.kernel_threads())
        else:
            _pool.avg_pool2d_backward(d4, *window, *step, *lead, dx, config.kernel_threads())
        return (_restore(dx, rank, first).reshape(x_shape),)

    return record(y, refs, backward)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Window maxima (1-D or 2-D; ``strides`` defaults to ``pool_size``); the gradient goes to the argmax."""
    return _pooling(inputs, pool_size, strides, padding, data_format, True, "max_pool")


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Window means over the cells inside the input (1-D or 2-D; "same" padding is not counted)."""
    return _pooling(inputs, pool_size, strides, padding, data_format, False, "average_pool")
