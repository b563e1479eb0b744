"""Convolutions and pooling (Keras 3 ``ops.nn`` signatures) on ranvier's kernels.

1-D and 2-D, channels-last (``data_format="channels_first"`` is transposed
in and out). The geometry (output size, "same" padding) comes from the conv
layers' one rule (``api._conv_geometry``), and the work from the kernels the
Conv2D, Conv2DTranspose, DepthwiseConv2D and pooling layers run
(``core._conv``, ``core._depthwise``, ``core._pool``). float32 and float64;
other dtypes of ``inputs`` become floatx.
"""

import numpy as np

from ...core import _conv, _depthwise, _pool
from .. import config
from .._conv_geometry import normalize_padding, normalize_tuple, output_geometry, transpose_geometry
from ._dispatch import TRACED, floating, value
from ._tape import record, recording, wrap

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv", "max_pool", "average_pool"]

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


def _spatial(x4, rank):
    """The spatial axes of a (n, h, w, c) input as the caller's rank sees them."""
    return x4.shape[1:3] if rank == 2 else x4.shape[2:3]


def _kernel_geometry(size, stride, dilation, out_spatial, pads):
    """The 2-D kernels' window arguments and output (oh, ow) of a 1-D or 2-D window."""
    geom = (*_as2d(size, 1), *_as2d(stride, 1), *_as2d(dilation, 1), *_as2d(pads, 0))
    return geom, _as2d(out_spatial, 1)


def _windows(rank, size, strides, dilation, padding, op):
    size = normalize_tuple(size, rank, "pool_size" if op.endswith("pool") else "kernel size", f"ops.{op}")
    strides = normalize_tuple(size if strides is None else strides, rank, "strides", f"ops.{op}")
    dilation = normalize_tuple(dilation, rank, "dilation_rate", f"ops.{op}")
    return size, strides, dilation, normalize_padding(padding, f"ops.{op}")


def _as2d(t, fill):
    return (fill,) * (2 - len(t)) + tuple(t)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (N = 1, 2) of ``inputs`` (batch, *spatial, channels) with ``kernel``
    (*kernel_size, in_channels, filters): the Conv1D / Conv2D layers' kernel, without bias."""
    x4, rank, first = _channels_last(inputs, data_format, "conv")
    w = _kernel_of(kernel, x4, rank, f"(*kernel_size, {x4.shape[-1]}, filters)", "conv")
    if w.shape[-2] != x4.shape[-1]:
        raise ValueError(
            f"ops.conv: kernel must have shape (*kernel_size, {x4.shape[-1]}, filters) for inputs "
            f"of shape {np.shape(value(inputs))}, got kernel shape {w.shape}"
        )
    size, stride, dil, pad = _windows(rank, w.shape[:rank], strides, dilation_rate, padding, "conv")
    out_sp, pads = output_geometry(_spatial(x4, rank), size, stride, dil, pad, "ops.conv")
    geom, (oh, ow) = _kernel_geometry(size, stride, dil, out_sp, pads)
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


def _kernel_of(kernel, x4, rank, what, op):
    """``kernel`` as a C-contiguous array of the input's dtype, checked to have ``rank + 2`` axes."""
    w = np.asarray(value(kernel))
    if w.ndim != rank + 2:
        raise ValueError(f"ops.{op}: kernel must have shape {what} ({rank + 2} axes), got kernel shape {w.shape}")
    return np.ascontiguousarray(w, x4.dtype)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None, dilation_rate=1):
    """Transposed convolution (1-D or 2-D): the input gradient of the convolution it inverts.

    Parameters
    ----------
    inputs : array_like, (batch, *spatial, in_channels) (channels-last)
    kernel : array_like, (*kernel_size, out_channels, in_channels)
    strides : int or tuple, default 1
    padding : {"valid", "same"}, default "valid"
    output_padding : int or tuple, optional
        Extra cells after the output on each axis (each smaller than its stride).
    data_format : {"channels_last", "channels_first"}, optional
    dilation_rate : int or tuple, default 1

    Returns
    -------
    ndarray or Tensor of shape (batch, *out_spatial, out_channels), Keras' output
    sizes; the Conv1DTranspose / Conv2DTranspose layers' kernels, gradients to
    ``inputs`` and ``kernel``.
    """
    x4, rank, first = _channels_last(inputs, data_format, "conv_transpose")
    w = _kernel_of(kernel, x4, rank, "(*kernel_size, out_channels, in_channels)", "conv_transpose")
    if w.shape[-1] != x4.shape[-1]:
        raise ValueError(
            f"ops.conv_transpose: kernel's last axis must be inputs' {x4.shape[-1]} channels, "
            f"got kernel shape {w.shape}"
        )
    size, stride, dil, pad = _windows(rank, w.shape[:rank], strides, dilation_rate, padding, "conv_transpose")
    extra = None
    if output_padding is not None:
        extra = normalize_tuple(output_padding, rank, "output_padding", "ops.conv_transpose", minimum=0)
        if any(p >= s for p, s in zip(extra, stride)):
            raise ValueError(
                f"ops.conv_transpose: output_padding must be smaller than strides {stride}, got {output_padding!r}"
            )
    out_sp, pads = transpose_geometry(_spatial(x4, rank), size, stride, dil, pad, extra, "ops.conv_transpose")
    geom, (oh, ow) = _kernel_geometry(size, stride, dil, out_sp, pads)
    f = w.shape[-2]
    # The Keras kernel (*k, out, in) is the inverted convolution's (*k, conv_in, conv_out).
    k2 = w.reshape(-1, w.shape[-1])
    z = np.empty((x4.shape[0], oh, ow, f), x4.dtype)
    _conv.conv2d_input_grad(x4, k2, z, *geom, config.kernel_threads())
    y = _restore(z, rank, first)
    if not (isinstance(inputs, TRACED) or isinstance(kernel, TRACED)):
        return y
    refs = recording(inputs, kernel)
    if refs is None:
        return wrap(y, inputs, kernel)
    x_shape = np.shape(value(inputs))

    def backward(dy):
        dz = np.ascontiguousarray(_to_kernel_layout(dy, rank, first), x4.dtype)
        threads = config.kernel_threads()
        gx = gk = None
        if refs[1] is not None:
            dk = np.empty_like(k2)
            _conv.conv2d_backward(dz, k2, x4, dk, _EMPTY_BIAS[x4.dtype], _NO_GATE[x4.dtype], 0.0, False, *geom, threads)
            gk = dk.reshape(w.shape)
        if refs[0] is not None:
            dx = np.empty_like(x4)
            _conv.conv2d_forward(dz, k2, _EMPTY_BIAS[x4.dtype], False, dx, *geom, threads)
            gx = _restore(dx, rank, first).reshape(x_shape)
        return gx, gk

    return record(y, refs, backward)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution (1-D or 2-D): each input channel filtered by its own kernels.

    Parameters
    ----------
    inputs : array_like, (batch, *spatial, channels) (channels-last)
    kernel : array_like, (*kernel_size, channels, multiplier)
    strides : int or tuple, default 1
    padding : {"valid", "same"}, default "valid"
    data_format : {"channels_last", "channels_first"}, optional
    dilation_rate : int or tuple, default 1

    Returns
    -------
    ndarray or Tensor of shape (batch, *out_spatial, channels * multiplier); output
    channel ``c * multiplier + j`` is channel c filtered by ``kernel[..., c, j]``.
    The DepthwiseConv layers' kernels, gradients to ``inputs`` and ``kernel``.
    """
    x4, rank, first = _channels_last(inputs, data_format, "depthwise_conv")
    w = _kernel_of(kernel, x4, rank, "(*kernel_size, channels, multiplier)", "depthwise_conv")
    if w.shape[-2] != x4.shape[-1]:
        raise ValueError(
            f"ops.depthwise_conv: kernel's axis -2 must be inputs' {x4.shape[-1]} channels, got kernel shape {w.shape}"
        )
    size, stride, dil, pad = _windows(rank, w.shape[:rank], strides, dilation_rate, padding, "depthwise_conv")
    out_sp, pads = output_geometry(_spatial(x4, rank), size, stride, dil, pad, "ops.depthwise_conv")
    geom, (oh, ow) = _kernel_geometry(size, stride, dil, out_sp, pads)
    k4 = w.reshape((1,) * (2 - rank) + w.shape)
    z = np.empty((x4.shape[0], oh, ow, w.shape[-2] * w.shape[-1]), x4.dtype)
    _depthwise.depthwise_conv2d_forward(x4, k4, z, *geom, config.kernel_threads())
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
        dk = np.empty_like(k4)
        dx = np.empty_like(x4) if need_dx else _NO_GATE[x4.dtype]
        _depthwise.depthwise_conv2d_backward(x4, k4, dz, dk, dx, 0.0, need_dx, *geom, config.kernel_threads())
        gx = _restore(dx, rank, first).reshape(x_shape) if need_dx else None
        return gx, dk.reshape(w.shape) if refs[1] is not None else None

    return record(y, refs, backward)


def separable_conv(
    inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None, dilation_rate=1
):
    """Separable convolution (1-D or 2-D): ``depthwise_conv`` then a 1x1 ``conv``.

    Parameters
    ----------
    inputs : array_like, (batch, *spatial, channels) (channels-last)
    depthwise_kernel : array_like, (*kernel_size, channels, multiplier)
    pointwise_kernel : array_like, (*ones, channels * multiplier, filters)
    strides, padding, data_format, dilation_rate
        Of the depthwise step (the pointwise one has stride 1, "valid").

    Returns
    -------
    ndarray or Tensor of shape (batch, *out_spatial, filters), with gradients
    to all three inputs (through the two recorded steps).
    """
    mid = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(mid, pointwise_kernel, 1, "valid", data_format, 1)


def _pooling(inputs, pool_size, strides, padding, data_format, is_max, op):
    x4, rank, first = _channels_last(inputs, data_format, op)
    size, stride, _, pad = _windows(rank, pool_size, strides, 1, padding, op)
    out_sp, pads = output_geometry(_spatial(x4, rank), size, stride, (1,) * rank, pad, f"ops.{op}")
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
