"""Activation layers: Activation, ReLU, LeakyReLU, ELU, Softmax, PReLU, Maxout.

``Activation`` and its parametrised forms end with ``self.activation`` and
implement ``backward_preactivation`` (the identity), so the model can fuse a
final softmax or sigmoid with a crossentropy loss. ``PReLU`` learns the
negative slope; ``Maxout`` (Goodfellow et al. 2013) takes the maximum over
``pieces`` affine maps of its input.
"""

import numpy as np

from ...core import _maxout
from .. import activations, config
from ..variables import grad_targets
from ._buffers import scratch
from ._capabilities import PREACTIVATION
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU", "Maxout"]


def _non_negative(layer, arg, value, allow_none=False):
    if allow_none and value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{layer}: {arg} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{layer}: {arg} must be a finite number >= 0, got {value!r}")
    return v


class Activation(Layer):
    """Applies an activation function to its input.

    Parameters
    ----------
    activation : str, Activation or module function
        E.g. ``"relu"``, ``"softmax"``, ``ranvier.activations.gelu``.
    """

    capabilities = frozenset({PREACTIVATION})

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=False):
        # No bias: forward leaves the input untouched and writes a new array.
        y = self.activation.forward(inputs)
        return y, (inputs if self.activation.needs_input else None, y)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        z, y = cache
        return self.activation.backward(np.ascontiguousarray(dy), z, y)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        """The fused loss gradient already is the gradient w.r.t. this layer's input."""
        return dz if need_input_grad else None

    def compute_output_shape(self, input_shape):
        return self.activation.compute_output_shape(input_shape)  # glu halves an axis

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class ReLU(Activation):
    """Keras ``ReLU``: ``x`` above ``threshold`` (capped at ``max_value``), ``negative_slope *
    (x - threshold)`` below."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        self.max_value = _non_negative("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _non_negative("ReLU", "threshold", threshold)
        super().__init__(
            {
                "class_name": "relu",
                "config": {
                    "max_value": self.max_value,
                    "negative_slope": self.negative_slope,
                    "threshold": self.threshold,
                },
            },
            **kwargs,
        )

    def get_config(self):
        cfg = Layer.get_config(self)
        return {**cfg, "max_value": self.max_value, "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Activation):
    """``x`` for x >= 0, ``negative_slope * x`` below (Keras default slope 0.3)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        self.negative_slope = _non_negative("LeakyReLU", "negative_slope", negative_slope)
        super().__init__({"class_name": "leaky_relu", "config": {"negative_slope": self.negative_slope}}, **kwargs)

    def get_config(self):
        return {**Layer.get_config(self), "negative_slope": self.negative_slope}


class ELU(Activation):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__({"class_name": "elu", "config": {"alpha": alpha}}, **kwargs)
        self.alpha = float(alpha)

    def get_config(self):
        return {**Layer.get_config(self), "alpha": self.alpha}


class Softmax(Activation):
    """Softmax along ``axis`` (fusable with a crossentropy loss when ``axis`` is the last one)."""

    _moved = False

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Softmax: axis must be an integer, got {axis!r}")
        super().__init__("softmax", **kwargs)
        self.axis = int(axis)

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"Softmax {self.name!r}: axis {self.axis} is out of range for inputs of shape {tuple(input_shape)}"
            )
        self._moved = self.axis % ndim != ndim - 1

    @property
    def capabilities(self):
        # Only a last-axis softmax is the row-wise one a loss can fuse with.
        return frozenset() if self._moved else frozenset({PREACTIVATION})

    def call(self, inputs, training=False):
        if not self._moved:
            return super().call(inputs, training)
        y = np.ascontiguousarray(np.moveaxis(inputs, self.axis, -1))
        self.activation.forward(y, out=y)
        return np.ascontiguousarray(np.moveaxis(y, -1, self.axis)), (None, y)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad or not self._moved:
            return super().backward(dy, cache, need_input_grad)
        y = cache[1]
        dz = self.activation.backward(np.ascontiguousarray(np.moveaxis(dy, self.axis, -1)), None, y)
        return np.ascontiguousarray(np.moveaxis(dz, -1, self.axis))

    def get_config(self):
        return {**Layer.get_config(self), "axis": self.axis}


class PReLU(Layer):
    """Parametric ReLU: ``max(x, 0) + alpha * min(x, 0)`` with a learned ``alpha``.

    ``alpha`` has the shape of one sample, with size 1 along ``shared_axes``
    (e.g. ``shared_axes=[1, 2]`` for one slope per channel of images).
    """

    def __init__(
        self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None, **kwargs
    ):
        super().__init__(**kwargs)
        self._alpha = WeightSpec("alpha", alpha_initializer, alpha_regularizer, alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = [shared_axes] if isinstance(shared_axes, (int, np.integer)) else list(shared_axes)
            if not all(isinstance(a, (int, np.integer)) and a >= 1 for a in axes):
                raise ValueError(
                    f"PReLU: shared_axes must be positive axis numbers (0 is the batch), got {shared_axes!r}"
                )
            self.shared_axes = sorted(int(a) for a in axes)

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if a > len(shape):
                raise ValueError(
                    f"PReLU {self.name!r}: shared axis {a} is out of range for inputs of shape {tuple(input_shape)}"
                )
            shape[a - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"PReLU {self.name!r}: unshared axes need a known size, got input shape {tuple(input_shape)}"
            )
        self.alpha = self._alpha.add_to(self, shape)
        self._reduce = (0,) + tuple(self.shared_axes or ())

    def call(self, inputs, training=False):
        neg = np.minimum(inputs, 0)
        y = inputs - neg
        y += self.alpha.value * neg
        return y, inputs

    def backward(self, dy, cache, need_input_grad=True):
        x = cache
        alpha = self.alpha
        if alpha.trainable and self.trainable:
            alpha.accumulate_grad(np.sum(dy * np.minimum(x, 0), axis=self._reduce).reshape(alpha.shape))
        if not need_input_grad:
            return None
        return np.where(x > 0, dy, dy * alpha.value)

    def get_config(self):
        return {**super().get_config(), **self._alpha.get_config(), "shared_axes": self.shared_axes}


class Maxout(Layer):
    """Maxout unit (Goodfellow et al. 2013): ``max_k (x @ W_k + b_k)`` over ``pieces`` affine maps.

    One GEMM ``x @ kernel`` with ``kernel`` of shape (in, units * pieces),
    columns grouped by unit (``u * pieces + k``); the winning piece is kept
    for the backward pass.

    Parameters
    ----------
    units : int
    pieces : int, default 2
    """

    def __init__(
        self,
        units,
        pieces=2,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, v in (("units", units), ("pieces", pieces)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Maxout: {arg} must be a positive integer, got {v!r}")
        self.units, self.pieces = int(units), int(pieces)
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        self._bias = WeightSpec("bias", bias_initializer, bias_regularizer, bias_constraint)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Maxout {self.name!r} needs inputs of shape (batch, ..., features) with a "
                f"known last dimension, got input shape {tuple(input_shape)}"
            )
        width = self.units * self.pieces
        self.kernel = self._kernel.add_to(self, (input_shape[-1], width))
        self.bias = self._bias.add_to(self, (width,))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs, training=False):
        x = inputs.reshape(-1, inputs.shape[-1])
        n = x.shape[0]
        z = scratch(self, "z", (n, self.units * self.pieces), x.dtype)
        out = scratch(self, "out", (n, self.units), x.dtype)
        argmax = scratch(self, "argmax", (n, self.units), np.dtype(np.intp))
        _maxout.maxout_forward(x, self.kernel.value, self.bias.value, z, out, argmax, config.kernel_threads())
        return out.reshape(inputs.shape[:-1] + (self.units,)), (x, argmax, inputs.shape)

    def backward(self, dy, cache, need_input_grad=True):
        x, argmax, input_shape = cache
        dy = np.ascontiguousarray(dy).reshape(-1, self.units)
        trainable = self.trainable and self.kernel.trainable
        if trainable:
            (dkernel, dbias), beta = grad_targets(self.kernel, self.bias)
        else:
            dkernel, dbias, beta = (
                scratch(self, "dkernel", self.kernel.shape, x.dtype),
                scratch(self, "dbias", self.bias.shape, x.dtype),
                0.0,
            )
        dz = scratch(self, "dz", (x.shape[0], self.units * self.pieces), x.dtype)
        dx = scratch(self, "dx", x.shape if need_input_grad else (0, 0), x.dtype)
        _maxout.maxout_backward(
            x, self.kernel.value, dy, argmax, beta, dz, dkernel, dbias, dx, need_input_grad, config.kernel_threads()
        )
        return dx.reshape(input_shape) if need_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "pieces": self.pieces,
            **self._kernel.get_config(),
            **self._bias.get_config(),
        }
