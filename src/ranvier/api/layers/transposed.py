"""Transposed convolution layers: Conv1DTranspose and Conv2DTranspose, channels-last, Keras arguments.

A transposed convolution is the input gradient of a convolution, so it runs on
the compiled conv kernels (``core/_conv.pyx``) with the roles swapped: for the
convolution whose input has this layer's output shape and whose output has its
input shape (same kernel, strides, dilation, leading padding),

- forward: ``conv2d_input_grad`` (that convolution's input gradient, blocked,
  no zero insertion);
- input gradient: ``conv2d_forward`` of the output gradient (that convolution);
- kernel gradient: ``conv2d_backward`` with ``x`` the output gradient and ``dz``
  the input (``columns(dy).T @ inputs``), without its input gradient.

A Keras transposed kernel ``(kh, kw, filters, in_channels)`` is exactly that
convolution's kernel ``(kh, kw, conv_in, conv_out)``, so no weight is rearranged.
"""

import numpy as np

from ...core import _conv, _dense
from .. import config
from .._conv_geometry import (
    check_input_rank,
    normalize_tuple,
    positive_int,
    spatial_input,
    transpose_geometry,
)
from ._buffers import scratch
from ._capabilities import PREACTIVATION
from ._conv_args import output_config, parse_output, parse_window
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Convolution1DTranspose", "Convolution2DTranspose"]

_EMPTY4 = {np.dtype(t): np.empty((0, 0, 0, 0), t) for t in ("float32", "float64")}
_EMPTY1 = {np.dtype(t): np.empty(0, t) for t in ("float32", "float64")}


class _ConvTranspose(Layer):
    """Shared implementation of Conv1DTranspose and Conv2DTranspose (``rank`` spatial axes)."""

    rank = None
    capabilities = frozenset({PREACTIVATION})

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.filters = positive_int(filters, "filters", cls)
        parse_window(self, kernel_size, strides, padding, data_format, dilation_rate)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding", cls, minimum=0)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"{cls}: output_padding must be smaller than strides {self.strides} on every axis, "
                    f"got {output_padding!r}"
                )
        parse_output(
            self, activation, use_bias, bias_initializer, bias_regularizer, bias_constraint, activity_regularizer
        )
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)

    # ------------------------------------------------------------------ shapes
    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def _check_shape(self, shape):
        """(output spatial shape, leading paddings) after checking rank and channels."""
        check_input_rank(shape, self.rank, self._where())
        kernel = getattr(self, "kernel", None)
        channels = kernel.shape[-1] if kernel is not None else shape[-1]
        if channels is None:
            raise ValueError(f"{self._where()} needs a known channel count (last axis), got input shape {tuple(shape)}")
        if shape[-1] != channels:
            raise ValueError(
                f"{self._where()} expects inputs with {channels} channels (last axis), got shape {tuple(shape)}"
            )
        return transpose_geometry(
            tuple(shape[1:-1]),
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
            self.output_padding,
            self._where(),
        )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._check_shape(input_shape)
        self.kernel = self._kernel.add_to(self, self.kernel_size + (self.filters, input_shape[-1]))
        self.bias = self._bias.add_to(self, (self.filters,)) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        out, _ = self._check_shape(tuple(input_shape))
        return (input_shape[0],) + out + (self.filters,)

    # --------------------------------------------------------- forward/backward
    def _conv_args(self, pads):
        """(kernel as the convolution's (kh * kw * filters, in) matrix, kh, kw, sh, sw, dh, dw, pt, pl)."""
        lead = (1,) * (2 - self.rank)
        (kh, kw), (sh, sw), (dh, dw) = (lead + t for t in (self.kernel_size, self.strides, self.dilation_rate))
        pt, pl = (0,) * (2 - self.rank) + pads
        kernel = self.kernel.value.reshape(-1, self.kernel.shape[-1])
        return kernel, kh, kw, sh, sw, dh, dw, pt, pl

    def call(self, inputs, training=False):
        out_spatial, pads = self._check_shape(inputs.shape)
        x = spatial_input(inputs, self.rank)
        args = self._conv_args(pads)
        z = scratch(self, "z", (x.shape[0],) + (1,) * (2 - self.rank) + out_spatial + (self.filters,), x.dtype)
        _conv.conv2d_input_grad(x, args[0], z, *args[1:], config.kernel_threads())
        z2 = z.reshape(-1, self.filters)
        act = self.activation
        y = act.forward(z2, out=None if act.needs_input else z2, bias=self.bias.value if self.use_bias else None)
        return y.reshape((inputs.shape[0],) + out_spatial + (self.filters,)), (x, z, pads, inputs.shape, z2, y)

    def backward(self, dy, cache, need_input_grad=True):
        z2, y = cache[-2:]
        dz = self.activation.backward(dy.reshape(y.shape), z2, y, out=scratch(self, "dz", y.shape, y.dtype))
        return self.backward_preactivation(dz, cache, need_input_grad)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, z, pads, input_shape, _, _ = cache
        dz4 = np.ascontiguousarray(dz).reshape(z.shape)
        kernel, *geom = self._conv_args(pads)
        threads = config.kernel_threads()
        if self.trainable and self.kernel.trainable:
            dkernel, beta = self.kernel.grad_target()
            _conv.conv2d_backward(
                dz4,
                kernel,
                x,
                dkernel.reshape(kernel.shape),
                _EMPTY1[x.dtype],
                _EMPTY4[x.dtype],
                beta,
                False,
                *geom,
                threads,
            )
        if self.use_bias and self.trainable and self.bias.trainable:
            _dense.column_sum(dz4.reshape(-1, self.filters), *self.bias.grad_target(), threads)
        if not need_input_grad:
            return None
        dx = scratch(self, "dx", x.shape, x.dtype)
        _conv.conv2d_forward(dz4, kernel, _EMPTY1[x.dtype], False, dx, *geom, threads)
        return dx.reshape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "output_padding": None if self.output_padding is None else list(self.output_padding),
            "data_format": "channels_last",
            "dilation_rate": list(self.dilation_rate),
            **output_config(self, self._kernel),
        }


_PARAMETERS = """
    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or tuple of {rank} int(s)
    strides : int or tuple of {rank} int(s), default 1
    padding : {{"valid", "same"}}, default "valid"
    output_padding : None or int or tuple of {rank} int(s), default None
        Extra cells after the output along each axis, each smaller than its stride.
    data_format : {{None, "channels_last"}}
        "channels_first" raises ``UnsupportedArgument``.
    dilation_rate : int or tuple of {rank} int(s), default 1
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint
        As in ``Dense``.

    Notes
    -----
    Output length per axis (Keras 3, ``span = (kernel - 1) * dilation + 1``): "valid"
    ``(n - 1) * stride + span + output_padding`` (default ``output_padding``:
    ``max(span, stride) - span``); "same" ``n * stride``, or with ``output_padding``
    ``(n - 1) * stride + span % 2 + output_padding``; cells placed as TensorFlow and
    JAX do (Keras' PyTorch backend differs, and warns, when ``span - stride`` is odd).
    The kernel has shape {kernel} as in Keras. Unlike Keras, strides > 1 may be
    combined with dilation > 1. float32 or float64; runs on the conv kernels (module
    docstring).
"""


class Conv1DTranspose(_ConvTranspose):
    __doc__ = (
        """1-D transposed convolution over steps: ``activation(conv_transpose(inputs, kernel) + bias)``.

    Input ``(batch, steps, channels)``; output ``(batch, new_steps, filters)``.
    """
        + _PARAMETERS.format(rank=1, kernel="``(kernel_size, filters, channels)``")
        + """    A PyTorch ``ConvTranspose1d`` weight ``(in, out, k)`` converts with ``w.permute(2, 1, 0)``.
    """
    )

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    __doc__ = (
        """2-D transposed convolution, channels-last: ``activation(conv_transpose(inputs, kernel) + bias)``.

    Input ``(batch, rows, cols, channels)``; output ``(batch, new_rows, new_cols, filters)``.
    """
        + _PARAMETERS.format(rank=2, kernel="``(kh, kw, filters, channels)``")
        + """    A PyTorch ``ConvTranspose2d`` weight ``(in, out, kh, kw)`` converts with ``w.permute(2, 3, 1, 0)``.
    """
    )

    rank = 2


Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
