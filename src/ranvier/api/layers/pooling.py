"""Pooling layers, channels-last: max and average, windowed and global, 1-D, 2-D and 3-D.

Windowed pooling calls the compiled kernels of ``ranvier.core._pool``; 1-D
pooling runs as 2-D with height 1 and global pooling as one window the size of
the input, so one kernel pair serves every layer. 3-D windows are separable:
a 2-D pool over (rows, cols) of every depth slice, then a (depth x 1) pool of
those over depth (see ``_Pooling3D``). Max pooling keeps the argmax of each
window for its backward pass.
"""

import numpy as np

from ...core import _pool
from .. import config
from .._conv_geometry import (
    check_channels_last,
    check_input_rank,
    normalize_padding,
    normalize_tuple,
    output_geometry,
    spatial_input,
)
from ._buffers import scratch
from ._capabilities import MAXPOOL_2X2, RELU_GRADIENT
from .base import Layer

__all__ = [
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
]


def _pool_buffers(layer, is_max, x_shape, out_hw, dtype):
    """The layer's reused (out, argmax or None) for (n, h, w, c) input."""
    out = scratch(layer, "out", (x_shape[0],) + tuple(out_hw) + (x_shape[3],), dtype)
    return out, scratch(layer, "argmax", out.shape, np.dtype(np.int32)) if is_max else None


def _pool_forward(layer, is_max, x, window, strides, pads, out_hw):
    """Run the pooling kernel on (n, h, w, c) input. Returns (out, argmax or None)."""
    out, argmax = _pool_buffers(layer, is_max, x.shape, out_hw, x.dtype)
    nt = config.kernel_threads()
    if is_max:
        _pool.max_pool2d_forward(x, *window, *strides, *pads, out, argmax, nt)
    else:
        _pool.avg_pool2d_forward(x, *window, *strides, *pads, out, nt)
    return out, argmax


_NO_GATE = {np.dtype(t): np.empty((0, 0, 0, 0), t) for t in ("float32", "float64")}


def _pool_backward(layer, is_max, dy, argmax, window, strides, pads, x_shape, gate=None):
    dx = scratch(layer, "dx", x_shape, dy.dtype)
    nt = config.kernel_threads()
    if is_max:
        _pool.max_pool2d_backward(dy, argmax, _NO_GATE[dy.dtype] if gate is None else gate, dx, nt)
    else:
        _pool.avg_pool2d_backward(dy, *window, *strides, *pads, dx, nt)
    return dx


class _Pooling(Layer):
    """Windowed pooling over ``rank`` spatial axes."""

    rank = None
    _max = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        check_channels_last(data_format, cls)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides", cls)
        self.padding = normalize_padding(padding, cls)

    def _geometry(self, shape):
        where = f"{type(self).__name__} {self.name!r}"
        check_input_rank(shape, self.rank, where)
        return output_geometry(tuple(shape[1:-1]), self.pool_size, self.strides, (1,) * self.rank, self.padding, where)

    def build(self, input_shape):
        self._geometry(tuple(input_shape))

    def compute_output_shape(self, input_shape):
        out, _ = self._geometry(tuple(input_shape))
        return (input_shape[0],) + out + (input_shape[-1],)

    def _kernel_geometry(self, pads):
        """(window, strides, leading padding) as the 2-D kernels take them."""
        return self._as2d(self.pool_size), self._as2d(self.strides), self._as2d(pads, fill=0)

    def _as2d(self, t, fill=1):
        """A 2-D kernel argument from a ``rank``-D one (1-D pooling runs with height 1)."""
        return (fill,) * (2 - self.rank) + tuple(t)

    def call(self, inputs, training=False):
        out_spatial, pads = self._geometry(inputs.shape)
        x = spatial_input(inputs, self.rank)
        geom = self._kernel_geometry(pads)
        out, argmax = _pool_forward(self, self._max, x, *geom, self._as2d(out_spatial))
        cache = (argmax, geom, x.shape, inputs.shape, out if self._max and training else None)
        return out.reshape((inputs.shape[0],) + out_spatial + (inputs.shape[-1],)), cache

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        argmax, geom, x_shape, input_shape, _ = cache
        dy = np.ascontiguousarray(dy).reshape((x_shape[0],) + self._as2d(dy.shape[1:-1]) + (x_shape[3],))
        return _pool_backward(self, self._max, dy, argmax, *geom, x_shape).reshape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class _MaxPooling(_Pooling):
    """Windowed max pooling: the model may fold a ReLU below it into its backward pass."""

    _max = True

    @property
    def capabilities(self):
        # 2-D 2x2 windows, stride 2, "valid": what the conv kernel can pool itself.
        if self.rank == 2 and self.pool_size == (2, 2) and self.strides == (2, 2) and self.padding == "valid":
            return frozenset({RELU_GRADIENT, MAXPOOL_2X2})
        return frozenset({RELU_GRADIENT})

    def call_unstored(self, input_shape, dtype, compute, training=False):
        """Pool an input that is never stored: ``compute(out, argmax)`` writes the pooled values.

        Returns what ``call`` returns (output and cache) for an input of
        ``input_shape`` (batch, rows, cols, channels).
        """
        out_spatial, pads = self._geometry(input_shape)
        out, argmax = _pool_buffers(self, True, input_shape, out_spatial, dtype)
        compute(out, argmax)
        return out, (
            argmax,
            self._kernel_geometry(pads),
            tuple(input_shape),
            tuple(input_shape),
            out if training else None,
        )

    def backward_through_relu(self, dy, cache):
        """The gradient w.r.t. the pre-activation z of inputs ``relu(z)`` (training caches).

        One pass: a window's max is the ReLU output at its argmax, so the ReLU
        passes the gradient exactly where that max is positive. The model calls
        this instead of ``backward`` then the ReLU's backward, which re-read the
        whole input-sized gradient.
        """
        argmax, geom, x_shape, input_shape, out = cache
        dy = np.ascontiguousarray(dy).reshape(out.shape)
        return _pool_backward(self, True, dy, argmax, *geom, x_shape, gate=out).reshape(input_shape)


class _GlobalPooling(Layer):
    """Pooling over all spatial axes: one window the size of the input."""

    rank = None
    _max = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _check(self, shape):
        check_input_rank(shape, self.rank, f"{type(self).__name__} {self.name!r}")

    def build(self, input_shape):
        self._check(tuple(input_shape))

    def compute_output_shape(self, input_shape):
        self._check(tuple(input_shape))
        keep = (1,) * self.rank if self.keepdims else ()
        return (input_shape[0],) + keep + (input_shape[-1],)

    def call(self, inputs, training=False):
        self._check(inputs.shape)
        if any(d == 0 for d in inputs.shape[1:-1]):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: cannot pool an empty input, got shape {inputs.shape}"
            )
        # (batch, rows, cols, channels) with the leading spatial axes merged: one 2-D window serves any rank.
        x = inputs.reshape((inputs.shape[0], int(np.prod(inputs.shape[1:-2])), *inputs.shape[-2:]))
        geom = (x.shape[1:3], (1, 1), (0, 0))
        out, argmax = _pool_forward(self, self._max, x, *geom, (1, 1))
        cache = (argmax, geom, x.shape, inputs.shape)
        keep = (1,) * self.rank if self.keepdims else ()
        return out.reshape((x.shape[0],) + keep + (x.shape[3],)), cache

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        argmax, geom, x_shape, input_shape = cache
        dy = np.ascontiguousarray(dy).reshape(x_shape[0], 1, 1, x_shape[3])
        return _pool_backward(self, self._max, dy, argmax, *geom, x_shape).reshape(input_shape)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class _Pooling3D(_Pooling):
    """Windowed pooling over (depth, rows, cols), as two 2-D kernel calls.

    Max and mean both factor over axes: the max of a box is the max over its
    depth of the (rows, cols) maxima, and a mean over the cells inside the
    input divides by a count that is the product of the per-axis counts. So
    the compiled 2-D kernels pool every depth slice over (rows, cols), then
    pool that result over depth with (depth x 1) windows, and backward runs
    their backwards in reverse: no 3-D kernel, threads and all, and no
    window copies as a NumPy version would make. The intermediate holds
    ``depth`` slices of the pooled size. Among tied maxima the gradient goes
    to one cell, as in Keras and PyTorch, though not always the same one.
    """

    rank = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def call(self, inputs, training=False):
        (od, oh, ow), (pd, ph, pw) = self._geometry(inputs.shape)
        n, d, h, w, c = inputs.shape
        (kd, kh, kw), (sd, sh, sw) = self.pool_size, self.strides
        plane, depth = ((kh, kw), (sh, sw), (ph, pw)), ((kd, 1), (sd, 1), (pd, 0))
        mid, plane_arg = _pool_forward(self, self._max, inputs.reshape(n * d, h, w, c), *plane, (oh, ow))
        out, depth_arg = _pool_forward(self, self._max, mid.reshape(n, d, oh * ow, c), *depth, (od, oh * ow))
        return out.reshape(n, od, oh, ow, c), (plane_arg, depth_arg, plane, depth, mid.shape, inputs.shape)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        plane_arg, depth_arg, plane, depth, mid_shape, input_shape = cache
        n, d, h, w, c = input_shape
        dy = np.ascontiguousarray(dy).reshape(n, -1, mid_shape[1] * mid_shape[2], c)
        dmid = _pool_backward(self, self._max, dy, depth_arg, *depth, (n, d, dy.shape[2], c))
        dx = _pool_backward(self, self._max, dmid.reshape(mid_shape), plane_arg, *plane, (n * d, h, w, c))
        return dx.reshape(input_shape)


class MaxPooling1D(_MaxPooling):
    """Max pooling over steps: ``(batch, steps, channels)``.

    Parameters
    ----------
    pool_size : int or tuple of 1 int, default 2
    strides : int or tuple of 1 int, optional
        Default: ``pool_size``.
    padding : {"valid", "same"}, default "valid"
        "same" pads as Keras (odd cell after); padding never wins a max.
    """

    rank = 1


class AveragePooling1D(_Pooling):
    """Average pooling over steps: ``(batch, steps, channels)``.

    Parameters as ``MaxPooling1D``; padding cells are not counted in the mean (Keras).
    """

    rank, _max = 1, False


class MaxPooling2D(_MaxPooling):
    """Max pooling over rows and columns: ``(batch, rows, cols, channels)``.

    Parameters
    ----------
    pool_size : int or tuple of 2 ints, default (2, 2)
    strides : int or tuple of 2 ints, optional
        Default: ``pool_size``.
    padding : {"valid", "same"}, default "valid"
        "same" pads as Keras (odd cell after); padding never wins a max.
    """

    rank = 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling):
    """Average pooling over rows and columns: ``(batch, rows, cols, channels)``.

    Parameters as ``MaxPooling2D``; padding cells are not counted in the mean (Keras).
    """

    rank, _max = 2, False

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling3D(_Pooling3D):
    """Max pooling over depth, rows and columns: ``(batch, depth, rows, cols, channels)``.

    Parameters
    ----------
    pool_size : int or tuple of 3 ints, default (2, 2, 2)
    strides : int or tuple of 3 ints, optional
        Default: ``pool_size``.
    padding : {"valid", "same"}, default "valid"
        "same" pads as Keras (odd cell after); padding never wins a max.
    data_format : None or "channels_last"
        "channels_first" raises ``UnsupportedArgument``.
    """

    _max = True


class AveragePooling3D(_Pooling3D):
    """Average pooling over depth, rows and columns: ``(batch, depth, rows, cols, channels)``.

    Parameters as ``MaxPooling3D``; padding cells are not counted in the mean (Keras).
    """

    _max = False


def _global_doc(reduction, axes, shape):
    return f"""{reduction} over {axes}: ``{shape} -> (batch, channels)``.

    Parameters
    ----------
    keepdims : bool, default False
        Keep the pooled axes with size 1, as in Keras.
    """


class GlobalMaxPooling1D(_GlobalPooling):
    __doc__ = _global_doc("Maximum", "steps", "(batch, steps, channels)")
    rank, _max = 1, True


class GlobalAveragePooling1D(_GlobalPooling):
    __doc__ = _global_doc("Mean", "steps", "(batch, steps, channels)")
    rank, _max = 1, False


class GlobalMaxPooling2D(_GlobalPooling):
    __doc__ = _global_doc("Maximum", "rows and columns", "(batch, rows, cols, channels)")
    rank, _max = 2, True


class GlobalAveragePooling2D(_GlobalPooling):
    __doc__ = _global_doc("Mean", "rows and columns", "(batch, rows, cols, channels)")
    rank, _max = 2, False


class GlobalMaxPooling3D(_GlobalPooling):
    __doc__ = _global_doc("Maximum", "depth, rows and columns", "(batch, depth, rows, cols, channels)")
    rank, _max = 3, True


class GlobalAveragePooling3D(_GlobalPooling):
    __doc__ = _global_doc("Mean", "depth, rows and columns", "(batch, depth, rows, cols, channels)")
    rank, _max = 3, False


MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D
MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)
