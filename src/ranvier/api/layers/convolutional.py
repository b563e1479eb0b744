"""Convolution layers: Conv1D and Conv2D, channels-last, Keras arguments and kernel layout.

The compiled core (``core/_conv.pyx``) gathers receptive fields block by block
into per-thread scratch that stays in cache and multiplies each block at once,
so no column matrix is ever stored: the backward pass gathers again, which
costs less than writing and re-reading the whole matrix from memory.
"""

import functools

import numpy as np

from ...core import _conv, _convpool
from .. import activations, config
from .._conv_geometry import check_input_rank, output_geometry, positive_int, spatial_input
from ..variables import grad_targets
from ._buffers import scratch
from ._capabilities import CONV_MAXPOOL, PREACTIVATION
from ._conv_args import output_config, parse_output, parse_window
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["Conv1D", "Conv2D", "Convolution1D", "Convolution2D"]

_EMPTY4 = {np.dtype(t): np.empty((0, 0, 0, 0), t) for t in ("float32", "float64")}
_EMPTY1 = {np.dtype(t): np.empty(0, t) for t in ("float32", "float64")}


def _in_kernel_activation(act):
    """ "relu" or "linear" when the conv kernel can apply ``act`` itself, else None."""
    return next((name for name in ("relu", "linear") if activations.is_plain(act, name)), None)


def _split_groups(a, groups):
    """(groups, ...) contiguous copy of an array whose last axis holds ``groups`` equal blocks."""
    return np.ascontiguousarray(np.moveaxis(a.reshape(a.shape[:-1] + (groups, -1)), -2, 0))


def _join_groups(parts, out, beta=0.0):
    """``out`` (last axis ``groups`` blocks) = ``beta * out`` + the (groups, ...) ``parts``, block g from part g."""
    view = np.moveaxis(out.reshape(out.shape[:-1] + (parts.shape[0], -1)), -2, 0)
    if beta:
        view += parts
    else:
        view[...] = parts


def _grouped_forward(g, x, kernel, bias, apply_relu, out, *geom_threads):
    """``conv2d_forward`` of a grouped conv: one call per group on contiguous copies of its channels.

    There is no grouped kernel: each group is a plain conv of ``c / groups`` input to
    ``filters / groups`` output channels, so the input, kernel and output are split into
    per-group arrays and joined back (three copies of the data per pass).
    """
    xs, ks = _split_groups(x, g), _split_groups(kernel, g)
    bs = bias.reshape(g, -1) if bias.size else [bias] * g
    zs = np.empty((g,) + out.shape[:-1] + (out.shape[-1] // g,), out.dtype)
    for i in range(g):
        _conv.conv2d_forward(xs[i], ks[i], bs[i], apply_relu, zs[i], *geom_threads)
    _join_groups(zs, out)


def _grouped_backward(g, x, kernel, dz, dkernel, dbias, dx, beta, need_dx, *geom_threads):
    """``conv2d_backward`` of a grouped conv, per group like ``_grouped_forward``."""
    xs, ks, dzs = _split_groups(x, g), _split_groups(kernel, g), _split_groups(dz, g)
    dks, dbs = np.empty_like(ks), np.empty((g, dbias.size // g), dbias.dtype)
    dxs = np.empty_like(xs) if need_dx else [dx] * g
    for i in range(g):
        _conv.conv2d_backward(xs[i], ks[i], dzs[i], dks[i], dbs[i], dxs[i], 0.0, need_dx, *geom_threads)
    _join_groups(dks, dkernel, beta)
    if dbias.size:
        _join_groups(dbs, dbias, beta)
    if need_dx:
        _join_groups(dxs, dx)


class _Conv(Layer):
    """Shared implementation of Conv1D and Conv2D (``rank`` spatial axes)."""

    rank = None

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
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
        self.groups = positive_int(groups, "groups", cls)
        if filters % groups:
            raise ValueError(f"{cls}: filters ({filters}) must be a multiple of groups, got groups={groups!r}")
        modes = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        parse_window(self, kernel_size, strides, padding, data_format, dilation_rate, modes)
        parse_output(
            self, activation, use_bias, bias_initializer, bias_regularizer, bias_constraint, activity_regularizer
        )
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)

    # ------------------------------------------------------------------ shapes
    def _geometry(self, spatial):
        return output_geometry(
            spatial,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
            f"{type(self).__name__} {self.name!r}",
        )

    def _check_shape(self, shape):
        check_input_rank(shape, self.rank, f"{type(self).__name__} {self.name!r}")
        kernel = getattr(self, "kernel", None)
        channels = kernel.shape[-2] * self.groups if kernel is not None else shape[-1]
        if shape[-1] is None or shape[-1] != channels:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs with {channels} channels "
                f"(last axis), got shape {tuple(shape)}"
            )
        return self._geometry(tuple(shape[1:-1]))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        check_input_rank(input_shape, self.rank, f"{type(self).__name__} {self.name!r}")
        if input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs a known channel count (last axis), "
                f"got input shape {input_shape}"
            )
        if input_shape[-1] % self.groups:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the input channels must be a multiple of "
                f"groups={self.groups}, got input shape {input_shape}"
            )
        self._geometry(input_shape[1:-1])
        self.kernel = self._kernel.add_to(self, self.kernel_size + (input_shape[-1] // self.groups, self.filters))
        self.bias = self._bias.add_to(self, (self.filters,)) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        out, _ = self._check_shape(tuple(input_shape))
        return (input_shape[0],) + out + (self.filters,)

    # --------------------------------------------------------- forward/backward
    def _params(self, pads):
        """Kernel-call geometry (kh, kw, sh, sw, dh, dw, pt, pl); 1-D convs run with h = 1."""
        (kh, kw), (sh, sw), (dh, dw) = [
            (1,) * (2 - self.rank) + t for t in (self.kernel_size, self.strides, self.dilation_rate)
        ]
        pt, pl = (0,) * (2 - self.rank) + pads
        return kh, kw, sh, sw, dh, dw, pt, pl

    def call(self, inputs, training=False):
        out_spatial, pads = self._check_shape(inputs.shape)
        x = spatial_input(inputs, self.rank)
        geom = self._params(pads)
        n = x.shape[0]
        oh, ow = (1,) * (2 - self.rank) + out_spatial
        k = self.kernel.value.size // self.filters
        z = scratch(self, "z", (n, oh, ow, self.filters), x.dtype)
        act = self.activation
        # The kernel adds the bias and applies a plain ReLU block by block, while the output is in cache.
        in_kernel = _in_kernel_activation(act)
        bias = self.bias.value if self.use_bias else None
        conv = _conv.conv2d_forward if self.groups == 1 else functools.partial(_grouped_forward, self.groups)
        conv(
            x,
            self.kernel.value.reshape(k, self.filters),
            _EMPTY1[x.dtype] if bias is None or not in_kernel else bias,
            in_kernel == "relu",
            z,
            *geom,
            config.kernel_threads(),
        )
        z2 = z.reshape(-1, self.filters)
        y = z2 if in_kernel else act.forward(z2, out=None if act.needs_input else z2, bias=bias)
        cache = (x, z2, y, geom, (oh, ow), inputs.shape)
        return y.reshape(inputs.shape[: -1 - self.rank] + tuple(out_spatial) + (self.filters,)), cache

    @property
    def capabilities(self):
        fused_pool = self.rank == 2 and self.groups == 1
        return frozenset({PREACTIVATION, CONV_MAXPOOL}) if fused_pool else frozenset({PREACTIVATION})

    def call_relu_maxpool(self, inputs, pool, training=False):
        """This layer (2-D, ReLU) and ``pool`` (a ``MAXPOOL_2X2`` layer) in one kernel call.

        The conv output is never stored. Returns the pooled output, this
        layer's cache and the pool's: enough for ``backward_through_maxpool``,
        which the model then runs for both layers.
        """
        out_spatial, pads = self._check_shape(inputs.shape)
        geom = self._params(pads)
        k = self.kernel.value.size // self.filters
        kernel = self.kernel.value.reshape(k, self.filters)
        bias = self.bias.value if self.use_bias else _EMPTY1[inputs.dtype]
        shape = (inputs.shape[0],) + out_spatial + (self.filters,)
        out, pool_cache = pool.call_unstored(
            shape,
            inputs.dtype,
            lambda o, a: _convpool.conv2d_relu_maxpool_forward(
                inputs, kernel, bias, o, a, *geom, *out_spatial, config.kernel_threads()
            ),
            training,
        )
        return out, (inputs, None, None, geom, out_spatial, inputs.shape), pool_cache

    def backward(self, dy, cache, need_input_grad=True):
        _, z, y, *_ = cache
        dz = self.activation.backward(dy.reshape(y.shape), z, y, out=scratch(self, "dz", y.shape, y.dtype))
        return self.backward_preactivation(dz, cache, need_input_grad)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, _, _, geom, (oh, ow), input_shape = cache
        dz4 = np.ascontiguousarray(dz).reshape(x.shape[0], oh, ow, self.filters)
        conv = _conv.conv2d_backward if self.groups == 1 else functools.partial(_grouped_backward, self.groups)
        return self._backward_with(
            lambda kernel, dkernel, dbias, dx, beta, need_dx: conv(
                x, kernel, dz4, dkernel, dbias, dx, beta, need_dx, *geom, config.kernel_threads()
            ),
            x,
            need_input_grad,
            input_shape,
        )

    def backward_through_maxpool(self, dy, cache, pool_cache, need_input_grad=True):
        """Gradients after ``call_relu_maxpool``, given dy = dL/d(pooled output).

        The pool's and the ReLU's backward run inside the conv kernels: the
        conv output's gradient is rebuilt block by block, never stored.
        """
        x, _, _, geom, (oh, ow), input_shape = cache
        argmax, _, _, _, pooled = pool_cache
        dy = np.ascontiguousarray(dy).reshape(pooled.shape)
        return self._backward_with(
            lambda kernel, dkernel, dbias, dx, beta, need_dx: _convpool.conv2d_maxpool_backward(
                x, kernel, dy, argmax, pooled, dkernel, dbias, dx, beta, need_dx, *geom, oh, ow, config.kernel_threads()
            ),
            x,
            need_input_grad,
            input_shape,
        )

    def _backward_with(self, kernel_call, x, need_input_grad, input_shape):
        """Run ``kernel_call(kernel, dkernel, dbias, dx, beta, need_dx)`` into this step's gradient buffers."""
        train = self.trainable and self.kernel.trainable
        if not (train or need_input_grad):
            return None
        k = self.kernel.value.size // self.filters
        dx = scratch(self, "dx", x.shape, x.dtype) if need_input_grad else _EMPTY4[x.dtype]
        if train:
            (dkernel, dbias), beta = grad_targets(self.kernel, self.bias)
        else:
            dkernel, dbias, beta = scratch(self, "dkernel", self.kernel.shape, x.dtype), None, 0.0
        kernel_call(
            self.kernel.value.reshape(k, self.filters),
            dkernel.reshape(k, self.filters),
            _EMPTY1[x.dtype] if dbias is None else dbias,
            dx,
            beta,
            need_input_grad,
        )
        return dx.reshape(input_shape) if need_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            **output_config(self, self._kernel),
        }


class Conv1D(_Conv):
    """1-D convolution over steps: ``activation(conv(inputs, kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or tuple of 1 int
    strides : int or tuple of 1 int, default 1
    padding : {"valid", "same", "causal"}, default "valid"
        "same" pads as Keras (the odd cell after); "causal" pads only before,
        so output t sees inputs <= t.
    dilation_rate : int or tuple of 1 int, default 1
    groups : int, default 1
        Channel groups: input channels ``[g * c / groups, (g + 1) * c / groups)`` feed only
        filters ``[g * filters / groups, ...)``; both counts must be multiples of ``groups``.
        Runs one conv per group on copies of its channels (no grouped kernel); no fused pooling.
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint
        As in ``Dense``.

    Notes
    -----
    Input shape ``(batch, steps, channels)``; output ``(batch, new_steps, filters)``.
    The kernel has shape ``(kernel_size, channels / groups, filters)`` as in Keras.
    Unlike Keras, strides > 1 may be combined with dilation > 1.
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution, channels-last: ``activation(conv(inputs, kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or tuple of 2 ints
    strides : int or tuple of 2 ints, default 1
    padding : {"valid", "same"}, default "valid"
        "same" pads as Keras: output ceil(size / stride), odd padding cell after.
    dilation_rate : int or tuple of 2 ints, default 1
    groups : int, default 1
        Channel groups: input channels ``[g * c / groups, (g + 1) * c / groups)`` feed only
        filters ``[g * filters / groups, ...)``; both counts must be multiples of ``groups``.
        Runs one conv per group on copies of its channels (no grouped kernel); no fused pooling.
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint
        As in ``Dense``.

    Notes
    -----
    Input shape ``(batch, rows, cols, channels)``; output ``(batch, new_rows, new_cols, filters)``.
    The kernel has shape ``(kh, kw, channels / groups, filters)`` (HWIO) as in Keras; a
    PyTorch ``(out, in, kh, kw)`` weight converts with ``w.permute(2, 3, 1, 0)``.
    Unlike Keras, strides > 1 may be combined with dilation > 1.
    """

    rank = 2


Convolution1D = Conv1D
Convolution2D = Conv2D
