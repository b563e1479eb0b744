"""Depthwise and depthwise-separable 2-D convolution layers, channels-last, Keras arguments.

``DepthwiseConv2D`` filters every input channel on its own with
``depth_multiplier`` filters (``ranvier.core._depthwise``: direct loops, no
im2col); ``SeparableConv2D`` follows it with a pointwise (1x1) convolution,
which is one matrix product over all pixels (``ranvier.core._dense``). Bias and
activation are fused in one pass, as in ``Conv2D``.
"""

import numpy as np

from ...core import _dense, _depthwise
from .. import config
from .._conv_geometry import check_input_rank, output_geometry, positive_int, spatial_input
from ._buffers import scratch
from ._capabilities import PREACTIVATION
from ._conv_args import output_config, parse_output, parse_window
from ._dense_products import dense_forward, dense_grads
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D"]

_EMPTY4 = {np.dtype(t): np.empty((0, 0, 0, 0), t) for t in ("float32", "float64")}


class _DepthwiseBase(Layer):
    """The depthwise stage shared by the depthwise and separable layers, and the fused bias + activation.

    ``rank`` spatial axes: 1-D layers run the 2-D kernels on a (batch, 1, steps, channels) view.
    """

    capabilities = frozenset({PREACTIVATION})
    rank = None

    def _parse(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, depthwise):
        """The depthwise stage's arguments; ``depthwise``: (initializer, regularizer, constraint) of its kernel."""
        parse_window(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", type(self).__name__)
        self._depthwise = WeightSpec("depthwise_kernel", *depthwise, key="depthwise")

    # ------------------------------------------------------------------ shapes
    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def _out_channels(self, channels):
        raise NotImplementedError

    def _check_shape(self, shape):
        """(output spatial shape, leading paddings) for an input shape, after checking rank and channels."""
        check_input_rank(shape, self.rank, self._where())
        kernel = getattr(self, "depthwise_kernel", None)
        channels = kernel.shape[-2] if kernel is not None else shape[-1]
        if channels is None:
            raise ValueError(f"{self._where()} needs a known channel count (last axis), got input shape {tuple(shape)}")
        if shape[-1] != channels:
            raise ValueError(
                f"{self._where()} expects inputs with {channels} channels (last axis), got shape {tuple(shape)}"
            )
        return output_geometry(
            tuple(shape[1:-1]), self.kernel_size, self.strides, self.dilation_rate, self.padding, self._where()
        )

    def build(self, input_shape):
        self._check_shape(tuple(input_shape))
        channels = input_shape[-1]
        self.depthwise_kernel = self._depthwise.add_to(self, self.kernel_size + (channels, self.depth_multiplier))
        self._build_pointwise(channels * self.depth_multiplier)
        self.bias = self._bias.add_to(self, (self._out_channels(channels),)) if self.use_bias else None

    def _build_pointwise(self, channels):
        """Weights between the depthwise kernel and the bias (Keras' creation order)."""

    def compute_output_shape(self, input_shape):
        out, _ = self._check_shape(tuple(input_shape))
        return (input_shape[0],) + out + (self._out_channels(input_shape[-1]),)

    # --------------------------------------------------------- forward/backward
    def _as_2d(self, values):
        """Per-axis values as the 2-D kernels take them (a 1-D layer's rows axis has size 1)."""
        return (1,) * (2 - self.rank) + tuple(values)

    def _kernel_2d(self, array):
        """A (kh, kw, channels, m) view of a depthwise kernel (or its gradient)."""
        return array.reshape(self._as_2d(array.shape[:-2]) + array.shape[-2:])

    def _as_output(self, a):
        """A (batch, rows, cols, channels) result in this layer's rank (1-D: the rows axis dropped)."""
        return a if self.rank == 2 else a.reshape(a.shape[0], a.shape[2], a.shape[3])

    def _depthwise_forward(self, x, slot):
        """The depthwise stage into the work array ``slot``: returns (4-D input view, output, geometry)."""
        out, pads = self._check_shape(x.shape)
        oh, ow = self._as_2d(out)
        # kh, kw, sh, sw, dh, dw, pt, pl; 1-D: a leading padding of 0 rows
        geom = sum((self._as_2d(t) for t in (self.kernel_size, self.strides, self.dilation_rate)), ())
        geom += (0,) * (2 - self.rank) + pads
        x = spatial_input(x, self.rank)
        t = scratch(self, slot, (x.shape[0], oh, ow, x.shape[-1] * self.depth_multiplier), x.dtype)
        kernel = self._kernel_2d(self.depthwise_kernel.value)
        _depthwise.depthwise_conv2d_forward(x, kernel, t, *geom, config.kernel_threads())
        return x, t, geom

    def _depthwise_backward(self, x, dt, geom, train, need_input_grad):
        """Depthwise kernel gradient (when ``train``) and the input gradient (or None) in the input's rank."""
        if not (train or need_input_grad):
            return None
        dx = scratch(self, "dx", x.shape, x.dtype) if need_input_grad else _EMPTY4[x.dtype]
        kernel = self.depthwise_kernel
        dkernel, beta = kernel.grad_target() if train else (scratch(self, "dkernel", kernel.shape, x.dtype), 0.0)
        _depthwise.depthwise_conv2d_backward(
            x,
            self._kernel_2d(kernel.value),
            dt,
            self._kernel_2d(dkernel),
            dx,
            beta,
            need_input_grad,
            *geom,
            config.kernel_threads(),
        )
        return self._as_output(dx) if need_input_grad else None

    def _activate(self, z):
        """Bias and activation fused over a (pixels, channels) view; returns y (``z`` itself when in place)."""
        act = self.activation
        return act.forward(z, out=None if act.needs_input else z, bias=self.bias.value if self.use_bias else None)

    def _bias_grad(self, dz):
        if self.trainable and self.use_bias and self.bias.trainable:
            _dense.column_sum(dz, *self.bias.grad_target(), config.kernel_threads())

    def backward(self, dy, cache, need_input_grad=True):
        z, y = cache[-2:]
        dz = self.activation.backward(dy.reshape(y.shape), z, y)
        return self.backward_preactivation(dz, cache, need_input_grad)

    def _trainable(self, var):
        return self.trainable and var.trainable

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "depth_multiplier": self.depth_multiplier,
            "dilation_rate": list(self.dilation_rate),
            **output_config(self, self._depthwise),
        }


class _Depthwise(_DepthwiseBase):
    """DepthwiseConv1D and DepthwiseConv2D: the depthwise stage, bias and activation (Keras' signature)."""

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        depthwise = (depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        self._parse(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, depthwise)
        parse_output(
            self, activation, use_bias, bias_initializer, bias_regularizer, bias_constraint, activity_regularizer
        )

    def _out_channels(self, channels):
        return None if channels is None else channels * self.depth_multiplier

    def call(self, inputs, training=False):
        x, t, geom = self._depthwise_forward(inputs, "z")
        z = t.reshape(-1, t.shape[-1])
        y = self._activate(z)
        return self._as_output(y.reshape(t.shape)), (x, geom, t.shape, z, y)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, geom, out_shape, _, _ = cache
        dz = np.ascontiguousarray(dz).reshape(out_shape)
        dx = self._depthwise_backward(x, dz, geom, self._trainable(self.depthwise_kernel), need_input_grad)
        self._bias_grad(dz.reshape(-1, out_shape[-1]))
        return dx


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution, channels-last: every channel filtered on its own.

    ``activation(depthwise_conv(inputs, depthwise_kernel) + bias)``.

    Parameters
    ----------
    kernel_size : int or tuple of 2 ints
    strides : int or tuple of 2 ints, default 1
    padding : {"valid", "same"}, default "valid"
        "same" pads as Keras: output ceil(size / stride), odd padding cell after.
    depth_multiplier : int, default 1
        Filters per input channel.
    data_format : {None, "channels_last"}
    dilation_rate : int or tuple of 2 ints, default 1
    activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer, bias_constraint
        As in ``Conv2D``.
    depthwise_initializer, depthwise_regularizer, depthwise_constraint
        Of the depthwise kernel (default ``glorot_uniform``).

    Notes
    -----
    Input shape ``(batch, rows, cols, channels)``; output
    ``(batch, new_rows, new_cols, channels * depth_multiplier)``, output channel
    ``c * depth_multiplier + j`` being channel c filtered by ``depthwise_kernel[:, :, c, j]``.
    The kernel has shape ``(kh, kw, channels, depth_multiplier)`` as in Keras; a PyTorch
    ``Conv2d(groups=channels)`` weight ``(channels * m, 1, kh, kw)`` converts with
    ``w.reshape(channels, m, kh, kw).permute(2, 3, 0, 1)``.
    Unlike Keras, strides > 1 may be combined with dilation > 1.
    """

    rank = 2


class _Separable(_DepthwiseBase):
    """SeparableConv1D and SeparableConv2D: the depthwise stage, then a pointwise product, bias, activation."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        depthwise = (depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        self._parse(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, depthwise)
        parse_output(
            self, activation, use_bias, bias_initializer, bias_regularizer, bias_constraint, activity_regularizer
        )
        self.filters = positive_int(filters, "filters", type(self).__name__)
        self._pointwise = WeightSpec(
            "pointwise_kernel", pointwise_initializer, pointwise_regularizer, pointwise_constraint, key="pointwise"
        )

    def _out_channels(self, channels):
        return self.filters

    def _build_pointwise(self, channels):
        self.pointwise_kernel = self._pointwise.add_to(self, (1,) * self.rank + (channels, self.filters))

    def call(self, inputs, training=False):
        x, t, geom = self._depthwise_forward(inputs, "t")
        t2 = t.reshape(-1, t.shape[-1])
        z = scratch(self, "z", (t2.shape[0], self.filters), t.dtype)
        kernel = self.pointwise_kernel.value.reshape(t2.shape[1], self.filters)
        y = dense_forward(t2, kernel, z, self.bias.value if self.use_bias else None, self.activation)
        return self._as_output(y.reshape(t.shape[:-1] + (self.filters,))), (x, geom, t, z, y)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, geom, t, _, _ = cache
        dz = np.ascontiguousarray(dz).reshape(-1, self.filters)
        t2 = t.reshape(-1, t.shape[-1])
        pointwise = self.pointwise_kernel
        kernel = pointwise.value.reshape(t2.shape[1], self.filters)
        train_depthwise = self._trainable(self.depthwise_kernel)
        need_dt = train_depthwise or need_input_grad
        dt = scratch(self, "dt", t.shape, t.dtype) if need_dt else _EMPTY4[t.dtype]
        dt2 = dt.reshape(-1, t2.shape[1]) if need_dt else dt.reshape(0, 0)
        # The bias is the depthwise layer's own (_bias_grad): the product has none.
        dense_grads(t2, kernel, dz, pointwise, None, dt2 if need_dt else None, trainable=self.trainable)
        self._bias_grad(dz)
        return self._depthwise_backward(x, dt, geom, train_depthwise, need_input_grad)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._pointwise.get_config()}


class SeparableConv2D(_Separable):
    """Depthwise-separable 2-D convolution, channels-last: a depthwise then a pointwise (1x1) convolution.

    ``activation(pointwise_conv(depthwise_conv(inputs, depthwise_kernel), pointwise_kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or tuple of 2 ints
    strides : int or tuple of 2 ints, default 1
    padding : {"valid", "same"}, default "valid"
    data_format : {None, "channels_last"}
    dilation_rate : int or tuple of 2 ints, default 1
    depth_multiplier : int, default 1
        Depthwise filters per input channel.
    activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer, bias_constraint
        As in ``Conv2D``.
    depthwise_initializer, pointwise_initializer : default "glorot_uniform"
    depthwise_regularizer, pointwise_regularizer, depthwise_constraint, pointwise_constraint

    Notes
    -----
    Input shape ``(batch, rows, cols, channels)``; output ``(batch, new_rows, new_cols, filters)``.
    Weights as in Keras: ``depthwise_kernel`` ``(kh, kw, channels, depth_multiplier)``,
    ``pointwise_kernel`` ``(1, 1, channels * depth_multiplier, filters)``, ``bias`` ``(filters,)``
    (the depthwise stage has no bias).
    """

    rank = 2


class DepthwiseConv1D(_Depthwise):
    """Depthwise 1-D convolution over steps: every channel filtered on its own.

    ``activation(depthwise_conv(inputs, depthwise_kernel) + bias)``.

    Parameters
    ----------
    kernel_size : int or tuple of 1 int
    strides : int or tuple of 1 int, default 1
    padding : {"valid", "same"}, default "valid"
    depth_multiplier : int, default 1
        Filters per input channel.
    data_format : {None, "channels_last"}
    dilation_rate : int or tuple of 1 int, default 1
    activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
    bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint
        As in ``DepthwiseConv2D``.

    Notes
    -----
    Input shape ``(batch, steps, channels)``; output ``(batch, new_steps, channels * depth_multiplier)``.
    The kernel has shape ``(kernel_size, channels, depth_multiplier)`` as in Keras. Runs the 2-D
    depthwise kernels on a ``(batch, 1, steps, channels)`` view (no copy).
    """

    rank = 1


class SeparableConv1D(_Separable):
    """Depthwise-separable 1-D convolution over steps: a depthwise then a pointwise convolution.

    ``activation(pointwise_conv(depthwise_conv(inputs, depthwise_kernel), pointwise_kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or tuple of 1 int
    strides : int or tuple of 1 int, default 1
    padding : {"valid", "same"}, default "valid"
    data_format : {None, "channels_last"}
    dilation_rate : int or tuple of 1 int, default 1
    depth_multiplier : int, default 1
    activation, use_bias, the initializers, regularizers and constraints
        As in ``SeparableConv2D``.

    Notes
    -----
    Input shape ``(batch, steps, channels)``; output ``(batch, new_steps, filters)``.
    Weights as in Keras: ``depthwise_kernel`` ``(kernel_size, channels, depth_multiplier)``,
    ``pointwise_kernel`` ``(1, channels * depth_multiplier, filters)``, ``bias`` ``(filters,)``.
    Runs the 2-D kernels on a ``(batch, 1, steps, channels)`` view (no copy).
    """

    rank = 1


SeparableConvolution1D = SeparableConv1D
