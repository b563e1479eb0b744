"""Conv3DTranspose: ``transposed.py``'s role swap on ``volumetric.py``'s depth-gathered 2-D convolution.

The convolution this layer transposes maps a volume of the layer's output
shape to one of its input shape. Conv3D runs such a convolution as one 2-D
convolution of the depth-gathered input (each output depth's ``kd`` input
slices side by side on the channels) with the kernel ``(kh, kw, kd * filters,
channels)``. Swapping roles as ``transposed.py`` does:

- forward: ``conv2d_input_grad`` of the inputs gives the gathered gradient,
  whose depth taps are added back into the output (Conv3D's backward scatter);
- input gradient: ``conv2d_forward`` of the gathered output gradient;
- kernel gradient: ``conv2d_backward`` with ``x`` the gathered output gradient
  and ``dz`` the inputs, without its input gradient.

A Keras kernel ``(kd, kh, kw, filters, channels)`` is that convolution's
``(kd, kh, kw, conv_in, conv_out)`` kernel: no weight is rearranged but the
depth axis moved next to the channels for the 2-D kernels (as Conv3D does).
"""

import numpy as np

from ...core import _conv, _dense
from .. import config
from ._buffers import scratch
from .transposed import _EMPTY1, _EMPTY4, _PARAMETERS, _ConvTranspose
from .volumetric import Conv3D

__all__ = ["Conv3DTranspose", "Convolution3DTranspose"]


class Conv3DTranspose(_ConvTranspose):
    __doc__ = (
        """3-D transposed convolution, channels-last: ``activation(conv_transpose(inputs, kernel) + bias)``.

    Input ``(batch, depth, rows, cols, channels)``; output ``(batch, new_depth, new_rows, new_cols, filters)``.
    """
        + _PARAMETERS.format(rank=3, kernel="``(kd, kh, kw, filters, channels)``")
        + """    A PyTorch ``ConvTranspose3d`` weight ``(in, out, kd, kh, kw)`` converts with
    ``w.permute(2, 3, 4, 1, 0)``.
    """
    )

    rank = 3

    # Conv3D's depth bookkeeping (strides, dilation and kernel size along depth: the same attributes here).
    _depth_taps = Conv3D._depth_taps
    _reads = Conv3D._reads
    _is_direct = Conv3D._is_direct
    _gather = Conv3D._gather
    _plane = Conv3D._plane

    def _kernel_2d(self):
        """The (kd, kh, kw, filters, channels) kernel as the 2-D kernels' (kh * kw * kd * filters, channels) matrix."""
        kernel = self.kernel.value
        return np.ascontiguousarray(kernel.transpose(1, 2, 0, 3, 4)).reshape(-1, kernel.shape[-1])

    def call(self, inputs, training=False):
        (od, oh, ow), pads = self._check_shape(inputs.shape)
        n, depth, h, w, c = inputs.shape
        f = self.filters
        taps = self._depth_taps(od, depth, pads[0])
        plane = self._plane(pads)
        threads = config.kernel_threads()
        y = scratch(self, "z", (n, od, oh, ow, f), inputs.dtype)
        if self._is_direct(taps, od):
            _conv.conv2d_input_grad(
                inputs.reshape(n * depth, h, w, c), self._kernel_2d(), y.reshape(-1, oh, ow, f), *plane, threads
            )
        else:
            kd = self.kernel_size[0]
            cols = scratch(self, "tcols", (n, depth, oh, ow, kd, f), inputs.dtype)
            _conv.conv2d_input_grad(
                inputs.reshape(n * depth, h, w, c),
                self._kernel_2d(),
                cols.reshape(n * depth, oh, ow, kd * f),
                *plane,
                threads,
            )
            y.fill(0)
            for a, tap in enumerate(taps):
                lo, m, _ = tap
                if m:
                    y[:, self._reads(tap)] += cols[:, lo : lo + m, :, :, a]
        z2 = y.reshape(-1, f)
        act = self.activation
        out = act.forward(z2, out=None if act.needs_input else z2, bias=self.bias.value if self.use_bias else None)
        return out.reshape(y.shape), (inputs, y, taps, plane, z2, out)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        x, y, taps, plane, _, _ = cache
        n, depth, h, w, c = x.shape
        dz5 = np.ascontiguousarray(dz).reshape(y.shape)
        threads = config.kernel_threads()
        gathered = self._gather(dz5, taps, depth)  # (n * depth, oh, ow, kd * filters)
        kernel = self._kernel_2d()
        x4 = x.reshape(n * depth, h, w, c)
        if self.trainable and self.kernel.trainable:
            dkernel, beta = self.kernel.grad_target()
            kd, kh, kw = self.kernel_size
            dk2 = scratch(self, "dkernel", kernel.shape, x.dtype)
            if beta:
                dk2[...] = np.ascontiguousarray(dkernel.transpose(1, 2, 0, 3, 4)).reshape(kernel.shape)
            _conv.conv2d_backward(
                gathered, kernel, x4, dk2, _EMPTY1[x.dtype], _EMPTY4[x.dtype], beta, False, *plane, threads
            )
            dkernel[...] = dk2.reshape(kh, kw, kd, self.filters, c).transpose(2, 0, 1, 3, 4)
        if self.use_bias and self.trainable and self.bias.trainable:
            _dense.column_sum(dz5.reshape(-1, self.filters), *self.bias.grad_target(), threads)
        if not need_input_grad:
            return None
        dx = scratch(self, "dx", x4.shape, x.dtype)
        _conv.conv2d_forward(gathered, kernel, _EMPTY1[x.dtype], False, dx, *plane, threads)
        return dx.reshape(x.shape)


Convolution3DTranspose = Conv3DTranspose
