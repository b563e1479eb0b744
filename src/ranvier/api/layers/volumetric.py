"""Conv3D, channels-last, as one compiled 2-D convolution over depth-gathered channels.

Depth tap ``a`` of output depth ``o`` reads input depth ``o * stride + a *
dilation - pad``. Gathering, for every output depth, the ``kd`` input depth
slices its taps read side by side on the channel axis turns the input into
``n * out_depth`` images of ``kd * channels`` channels (zeros where a tap
reads padding), and the 3-D convolution into one 2-D convolution of those
with the kernel ``(kh, kw, kd * channels, filters)``: ``core/_conv``'s
blocked, packed, threaded kernels then do all the work forward and backward
(bias and ReLU in the kernel, bias gradient from its blocked column sums,
results bit-identical for any thread count). The price is the gathered copy,
``kd * out_depth / depth`` times the input (kept for backward), and in
backward its gradient added back tap by tap; a full 3-D im2col would be
``kd * kh * kw`` times the input. One 2-D call per depth tap, summed, needs
no copy of the input but ``kd - 1`` more passes over the (usually larger)
output each way: it trained 1.2-1.7x slower.
"""

import numpy as np

from ...core import _conv
from .. import config
from .._errors import UnsupportedArgument
from ..variables import grad_targets
from ._buffers import scratch
from .convolutional import _EMPTY1, _EMPTY4, _Conv, _in_kernel_activation

__all__ = ["Conv3D", "Convolution3D"]


class Conv3D(_Conv):
    """3-D convolution, channels-last: ``activation(conv(inputs, kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Output channels.
    kernel_size : int or tuple of 3 ints
    strides : int or tuple of 3 ints, default 1
    padding : {"valid", "same"}, default "valid"
        "same" pads as Keras: output ceil(size / stride), odd padding cell after.
    data_format : None or "channels_last"
        "channels_first" raises ``UnsupportedArgument``.
    dilation_rate : int or tuple of 3 ints, default 1
    groups : 1
        Other values raise ``UnsupportedArgument``.
    activation : str, callable or None, default None
    use_bias : bool, default True
    kernel_initializer, bias_initializer : initializer, default "glorot_uniform", "zeros"
    kernel_regularizer, bias_regularizer, activity_regularizer : regularizer or None, default None
    kernel_constraint, bias_constraint : constraint or None, default None

    Notes
    -----
    Input shape ``(batch, depth, rows, cols, channels)``, float32 or float64;
    output ``(batch, new_depth, new_rows, new_cols, filters)``. The kernel has
    shape ``(kd, kh, kw, channels, filters)`` as in Keras; a PyTorch
    ``(out, in, kd, kh, kw)`` weight converts with ``w.permute(2, 3, 4, 1, 0)``.
    Unlike Keras, strides > 1 may be combined with dilation > 1.
    """

    rank = 3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1:  # Conv3D runs one 2-D conv over gathered depth slices: no per-group split
            raise UnsupportedArgument(f"Conv3D: only groups=1 is supported, got groups={self.groups!r}")

    def _depth_taps(self, depth, out_depth, pad):
        """Per depth tap: (first output depth reading the volume, how many do, first input depth they read)."""
        stride, dilation = self.strides[0], self.dilation_rate[0]
        taps = []
        for a in range(self.kernel_size[0]):
            offset = a * dilation - pad  # the input depth output depth 0 reads
            lo = min(-(offset // stride), out_depth) if offset < 0 else 0
            hi = min(out_depth, (depth - 1 - offset) // stride + 1) if depth - 1 >= offset else 0
            taps.append((lo, max(hi - lo, 0), lo * stride + offset))
        return taps

    def _reads(self, tap):
        """Index of the input depths ``tap`` reads, along axis 1."""
        _, m, first = tap
        return slice(first, first + (m - 1) * self.strides[0] + 1, self.strides[0])

    def _is_direct(self, taps, depth):
        """Whether the gathered input is the input itself (one tap reading every depth in order)."""
        return len(taps) == 1 and taps[0] == (0, depth, 0)

    def _gather(self, x, taps, out_depth):
        """(n * out_depth, h, w, kd * c) images: output depth o's ``kd`` input slices side by side."""
        n, depth, h, w, c = x.shape
        if self._is_direct(taps, depth):
            return x.reshape(n * depth, h, w, c)
        cols = scratch(self, "cols", (n, out_depth, h, w, len(taps), c), x.dtype)
        for a, tap in enumerate(taps):
            lo, m, _ = tap
            cols[:, :lo, :, :, a] = 0
            cols[:, lo + m :, :, :, a] = 0
            if m:
                cols[:, lo : lo + m, :, :, a] = x[:, self._reads(tap)]
        return cols.reshape(n * out_depth, h, w, len(taps) * c)

    def _plane(self, pads):
        """The 2-D kernels' geometry (kh, kw, sh, sw, dh, dw, pt, pl) from the (depth, rows, cols) one."""
        return (*self.kernel_size[1:], *self.strides[1:], *self.dilation_rate[1:], *pads[1:])

    def _kernel_2d(self, kernel):
        """A Keras (kd, kh, kw, c, f) kernel as the 2-D kernels' (kh * kw * kd * c, f) matrix."""
        return np.ascontiguousarray(kernel.transpose(1, 2, 0, 3, 4)).reshape(-1, self.filters)

    def call(self, inputs, training=False):
        (od, oh, ow), pads = self._check_shape(inputs.shape)
        n, f = inputs.shape[0], self.filters
        taps = self._depth_taps(inputs.shape[1], od, pads[0])
        cols, plane = self._gather(inputs, taps, od), self._plane(pads)
        z = scratch(self, "z", (n * od, oh, ow, f), inputs.dtype)
        act = self.activation
        # The kernel adds the bias and applies a plain ReLU block by block, while the output is in cache.
        in_kernel = _in_kernel_activation(act)
        bias = self.bias.value if self.use_bias else None
        _conv.conv2d_forward(
            cols,
            self._kernel_2d(self.kernel.value),
            _EMPTY1[z.dtype] if bias is None or not in_kernel else bias,
            in_kernel == "relu",
            z,
            *plane,
            config.kernel_threads(),
        )
        z2 = z.reshape(-1, f)
        y = z2 if in_kernel else act.forward(z2, out=None if act.needs_input else z2, bias=bias)
        return y.reshape(n, od, oh, ow, f), (inputs, z2, y, cols, plane, taps, (n, od, oh, ow, f))

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, _, _, cols, plane, taps, (n, od, oh, ow, _) = cache
        train = self.trainable and self.kernel.trainable
        if not (train or need_input_grad):
            return None
        kd, kh, kw = self.kernel_size
        c, f = x.shape[-1], self.filters
        dkernel, dbias, beta = None, None, 0.0
        if train:
            (dkernel, dbias), beta = grad_targets(self.kernel, self.bias)
        dk2 = scratch(self, "dkernel", (kh * kw * kd * c, f), x.dtype)
        if beta:
            dk2[...] = self._kernel_2d(dkernel)
        dcols = scratch(self, "dcols", cols.shape, x.dtype) if need_input_grad else _EMPTY4[x.dtype]
        _conv.conv2d_backward(
            cols,
            self._kernel_2d(self.kernel.value),
            np.ascontiguousarray(dz).reshape(n * od, oh, ow, f),
            dk2,
            _EMPTY1[x.dtype] if dbias is None else dbias,
            dcols,
            beta,
            need_input_grad,
            *plane,
            config.kernel_threads(),
        )
        if train:
            dkernel[...] = dk2.reshape(kh, kw, kd, c, f).transpose(2, 0, 1, 3, 4)
        if not need_input_grad:
            return None
        if self._is_direct(taps, x.shape[1]):
            return dcols.reshape(x.shape)
        dcols = dcols.reshape((n, od) + x.shape[2:4] + (kd, c))
        dx = scratch(self, "dx", x.shape, x.dtype)
        dx.fill(0)
        for a, tap in enumerate(taps):
            lo, m, _ = tap
            if m:
                dx[:, self._reads(tap)] += dcols[:, lo : lo + m, :, :, a]
        return dx


Convolution3D = Conv3D
