"""The one forward and the one backward of ``x @ kernel (+ bias)`` that Dense-like layers share.

Dense, MultiHeadAttention's projections, EinsumDense and SeparableConv's
pointwise product all run the same product forward and end in the same three
products backward (weight gradient, bias sums, input gradient); this module
picks the kernels. Forward: BLAS (``_dense.dense_forward``, then the bias and
ReLU pass) or, for many rows against a kernel that fits a core's cache, the
packed micro-kernel with the bias and ReLU applied block by block
(``_dense.dense_forward_packed``). Backward: whole-array
(``_dense.dense_backward``) or row-blocked (``_dense.dense_backward_fused``),
which keeps each block of rows in cache from its bias sums through both
products (W5's attention projections: 3.15 -> 2.1 ms for three of them).
"""

import numpy as np

from ...core import _blas, _dense
from .. import activations, config
from .._threading import in_compute_scope
from ..variables import grad_targets

__all__ = ["EMPTY", "EMPTY2D", "row_blocked", "dense_forward", "dense_grads"]

EMPTY = {np.dtype("float32"): np.empty(0, np.float32), np.dtype("float64"): np.empty(0, np.float64)}
EMPTY2D = {t: e.reshape(0, 0) for t, e in EMPTY.items()}
# Rows from which backward runs row-blocked: below it the whole-array products and
# passes are as fast (W1's 128-sample batches).
_FUSED_MIN_ROWS = 1024
# The packed forward's bounds: enough rows to pay for packing the kernel, a kernel
# small enough for it (``_dense.PACKED_MAX_KERNEL``, the backward's bound too) and at
# least one whole 32-column tile.
_PACKED_MIN_ROWS = 1024
_PACKED_MIN_UNITS = 32
_LINEAR = activations.get("linear")


def _packed(rows, n_in, units):
    return rows >= _PACKED_MIN_ROWS and units >= _PACKED_MIN_UNITS and n_in * units <= _dense.PACKED_MAX_KERNEL


def dense_forward(x, kernel, z, bias=None, activation=None):
    """``y = activation(x @ kernel + bias)`` with ``z`` the pre-activation; returns ``y``.

    ``y`` is ``z`` itself for a linear (None) or plain ReLU activation and any
    activation that does not need its input back; else a new array.

    Parameters
    ----------
    x : ndarray of shape (rows, in), C-contiguous
    kernel : ndarray of shape (in, units), C-contiguous
    z : ndarray of shape (rows, units)
        OUT: the pre-activation (for ReLU and linear, the output itself).
    bias : ndarray of shape (units,), optional
    activation : Activation, optional
        None for linear.
    """
    act = _LINEAR if activation is None else activation
    linear = activations.is_plain(act, "linear")
    if _packed(*x.shape, kernel.shape[1]):
        relu = activations.is_plain(act, "relu")
        b = EMPTY[x.dtype] if bias is None else bias
        _dense.dense_forward_packed(x, kernel, b, relu, z, config.kernel_threads())
        if linear or relu:
            return z
        bias = None  # added by the kernel
    else:
        _dense.dense_forward(x, kernel, z)
        if linear and bias is None:
            return z
    # The activation (on BLAS's path with the bias, in one pass).
    return act.forward(z, out=None if act.needs_input else z, bias=bias)


def row_blocked(rows):
    """Whether a backward over ``rows`` rows runs row-blocked.

    Enough rows, inside the compute scope (BLAS then runs one thread, as the
    blocks' own BLAS calls need), and not deterministic: the blocked weight
    gradients' rounding depends on the thread count. One thread too: the blocks
    stay in cache (W5 on one thread: 58 -> 46-52 ms a step).
    """
    return rows >= _FUSED_MIN_ROWS and in_compute_scope() and not config.is_deterministic()


def dense_grads(x, kernel, dz, kernel_var, bias_var, dx=None, gate=None, dx_beta=0.0, trainable=True):
    """Gradients of ``y = act(x @ kernel + bias)``: weights into their grad targets, and ``dx``.

    Parameters
    ----------
    x : ndarray of shape (rows, in)
        The forward's input, C-contiguous.
    kernel : ndarray of shape (in, units)
        The kernel as a matrix (a view of ``kernel_var.value``).
    dz : ndarray of shape (rows, units)
        C-contiguous: dL/d(x @ kernel + bias), or dL/dy when ``gate`` is given.
    kernel_var : Variable
        Its gradient gets ``x.T @ dz`` (or has it added, as its grad target says).
    bias_var : Variable or None
    dx : ndarray of shape (rows, in), optional
        OUT (IN/OUT with ``dx_beta``): ``dx_beta * dx + dz @ kernel.T``.
    gate : ndarray of shape (rows, units), optional
        The ReLU output ``y``: dz is ``dy`` where ``y > 0``, else 0. Only when
        ``row_blocked(rows)`` (the caller applies the activation otherwise).
    dx_beta : float, default 0.0
        1.0 adds to ``dx`` (an input shared by several products).
    trainable : bool, default True
        The layer's flag: False (or a frozen kernel) computes only ``dx``.
    """
    dt = x.dtype
    need_dx = dx is not None
    if not (trainable and kernel_var.trainable):
        if gate is not None:
            raise ValueError("dense_grads: a ReLU gate needs trainable weights, got a frozen kernel")
        if need_dx:
            _blas.gemm_py(False, True, 1.0, dz, kernel, dx_beta, dx)
        return
    (dkernel, dbias), beta = grad_targets(kernel_var, bias_var)
    args = (
        dkernel.reshape(kernel.shape),
        EMPTY[dt] if dbias is None else dbias.reshape(-1),
        dx if need_dx else EMPTY2D[dt],
        beta,
        need_dx,
        config.kernel_threads(),
        dx_beta,
    )
    if gate is not None or row_blocked(x.shape[0]):
        _dense.dense_backward_fused(x, kernel, dz, EMPTY2D[dt] if gate is None else gate, *args)
    else:
        _dense.dense_backward(x, kernel, dz, *args)
