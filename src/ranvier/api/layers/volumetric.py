"""Conv3D, channels-last, as a sum over depth taps of the compiled 2-D convolution.

A 3-D kernel (kd, kh, kw, in, filters) is ``kd`` 2-D kernels (kh, kw, in,
filters). Depth tap ``a`` of output depth ``o`` reads input depth
``o * stride + a * dilation - pad``, so for each tap the output depths whose
input depth lies inside the volume form one run ``[lo, lo + m)``, reading the
input depths ``first, first + stride, ...``. Each tap is then one call of
``core/_conv``'s 2-D kernel on the batch of ``n * m`` gathered depth slices,
added into the output. That reuses the blocked, packed, threaded 2-D kernels
forward and backward (no column matrix is ever stored, gradients bit-identical
for any thread count) at the price of one copy of the slices per tap and one
pass over the output per tap after the first; a 3-D im2col would store a
column matrix ``kd * kh * kw`` times the input. Taps reading only padding
are skipped.
"""

import numpy as np

from ...core import _conv
from .. import config
from ..variables import grad_targets
from ._buffers import scratch
from .convolutional import _EMPTY1, _EMPTY4, _Conv

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
    activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
    bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint
        As in ``Dense``.

    Notes
    -----
    Input shape ``(batch, depth, rows, cols, channels)``, float32 or float64;
    output ``(batch, new_depth, new_rows, new_cols, filters)``. The kernel has
    shape ``(kd, kh, kw, channels, filters)`` as in Keras; a PyTorch
    ``(out, in, kd, kh, kw)`` weight converts with ``w.permute(2, 3, 4, 1, 0)``.
    Unlike Keras, strides > 1 may be combined with dilation > 1.
    """

    rank = 3

    def _taps(self, depth, out_depth, pad):
        """Per depth tap that reads the volume: (tap, first output depth, count, first input depth)."""
        stride, dilation = self.strides[0], self.dilation_rate[0]
        taps = []
        for a in range(self.kernel_size[0]):
            offset = a * dilation - pad  # input depth read by output depth 0
            lo = max(0, -(offset // stride)) if offset < 0 else 0
            hi = min(out_depth, (depth - 1 - offset) // stride + 1) if depth - 1 >= offset else 0
            if hi > lo:
                taps.append((a, lo, hi - lo, lo * stride + offset))
        # A tap that reads every output depth goes first: it writes the output, no zero fill needed.
        taps.sort(key=lambda t: t[2] != out_depth)
        return taps

    def _batch(self, view, slot):
        """A (n, m, ...) view as one C-contiguous (n * m, ...) batch: the view itself when it can be."""
        shape = (view.shape[0] * view.shape[1],) + view.shape[2:]
        if view.flags.c_contiguous:
            return view.reshape(shape)
        out = scratch(self, slot, shape, view.dtype)
        np.copyto(out.reshape(view.shape), view)
        return out

    def _depth_view(self, x, tap):
        """The input depths tap ``(a, lo, m, first)`` reads: a strided (n, m, ...) view of ``x``."""
        _, _, m, first = tap
        return x[:, first : first + (m - 1) * self.strides[0] + 1 : self.strides[0]]

    def _plane(self, pads):
        """The 2-D kernels' geometry (kh, kw, sh, sw, dh, dw, pt, pl) from the (depth, rows, cols) one."""
        return (*self.kernel_size[1:], *self.strides[1:], *self.dilation_rate[1:], *pads[1:])

    def call(self, inputs, training=False):
        (od, oh, ow), pads = self._check_shape(inputs.shape)
        n, f = inputs.shape[0], self.filters
        kernel = self.kernel.value.reshape(self.kernel_size[0], -1, f)
        plane, taps = self._plane(pads), self._taps(inputs.shape[1], od, pads[0])
        nt = config.kernel_threads()
        z = scratch(self, "z", (n, od, oh, ow, f), inputs.dtype)
        if not taps or taps[0][2] != od:
            z.fill(0)
        for i, tap in enumerate(taps):
            a, lo, m, _ = tap
            direct = i == 0 and m == od
            part = z.reshape(n * od, oh, ow, f) if direct else scratch(self, "part", (n * m, oh, ow, f), z.dtype)
            xa = self._batch(self._depth_view(inputs, tap), "slices")
            _conv.conv2d_forward(xa, kernel[a], _EMPTY1[z.dtype], False, part, *plane, nt)
            if not direct:
                z[:, lo : lo + m] += part.reshape(n, m, oh, ow, f)
        z2 = z.reshape(-1, f)
        act = self.activation
        y = act.forward(z2, out=None if act.needs_input else z2, bias=self.bias.value if self.use_bias else None)
        return y.reshape(z.shape), (inputs, z2, y, plane, taps, z.shape)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, _, _, plane, taps, out_shape = cache
        train = self.trainable and self.kernel.trainable
        if not (train or need_input_grad):
            return None
        kd, f = self.kernel_size[0], self.filters
        dz = np.ascontiguousarray(dz).reshape(out_shape)
        if train:
            (dkernel, dbias), beta = grad_targets(self.kernel, self.bias)
        else:
            dkernel, dbias, beta = scratch(self, "dkernel", self.kernel.shape, x.dtype), None, 0.0
        dkernel, kernel = dkernel.reshape(kd, -1, f), self.kernel.value.reshape(kd, -1, f)
        dx = scratch(self, "dx", x.shape, x.dtype) if need_input_grad else None
        if need_input_grad:
            dx.fill(0)
        nt = config.kernel_threads()
        for tap in taps:
            a, lo, m, _ = tap
            xa = self._batch(self._depth_view(x, tap), "slices")
            dxa = scratch(self, "dx_slices", xa.shape, x.dtype) if need_input_grad else _EMPTY4[x.dtype]
            dza = self._batch(dz[:, lo : lo + m], "dz_slices")
            _conv.conv2d_backward(
                xa, kernel[a], dza, dkernel[a], _EMPTY1[x.dtype], dxa, beta, need_input_grad, *plane, nt
            )
            if need_input_grad:
                self._depth_view(dx, tap)[...] += dxa.reshape((x.shape[0], m) + x.shape[2:])
        if beta == 0.0:
            # Taps that read padding only: their kernel slice has no gradient.
            dkernel[sorted(set(range(kd)) - {t[0] for t in taps})] = 0
        if dbias is not None:
            sums = dz.reshape(-1, f).sum(axis=0)
            if beta:
                dbias += sums
            else:
                dbias[...] = sums
        return dx


Convolution3D = Conv3D
