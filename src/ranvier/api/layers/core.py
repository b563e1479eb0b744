"""Core layers: Input, InputLayer, Dense, Flatten, Reshape, Identity."""

import math

import numpy as np

from ...core import _dense
from .. import activations, config
from .._conv_geometry import check_channels_last, positive_int
from .._errors import UnsupportedArgument
from ..variables import grad_targets
from ._buffers import scratch
from ._capabilities import DENSE_PAIR, PREACTIVATION
from ._conv_args import output_config, parse_output
from ._dense_products import EMPTY, EMPTY2D, dense_forward, dense_grads, row_blocked
from ._symbolic import KerasTensor
from ._weight_spec import WeightSpec
from .base import Layer, normalize_shape

__all__ = ["Input", "InputLayer", "Dense", "Flatten", "Reshape", "Identity"]


class InputLayer(Layer):
    """The entry point of a model: holds the input shape and dtype.

    Parameters
    ----------
    shape : tuple
        Shape of one sample, without the batch dimension; ``None`` for a
        variable dimension (e.g. sequence length).
    batch_size : int, optional
    dtype : str, optional
        ``"float32"``/``"float64"`` for real inputs, ``"int32"``/``"int64"``
        for token ids (Embedding), ``"string"`` for text (TextVectorization,
        StringLookup: fed as ``str`` or object arrays). Defaults to ``config.floatx()``.
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        batch_shape=None,
        name=None,
        input_shape=None,
        batch_input_shape=None,
        sparse=None,
        **kwargs,
    ):
        if sparse:
            raise UnsupportedArgument("InputLayer: sparse inputs are not supported, got sparse=True")
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape if batch_shape is not None else batch_input_shape
        if batch_shape is not None:
            batch_shape = normalize_shape(batch_shape, "batch_shape")
        elif shape is not None:
            batch_shape = (batch_size,) + normalize_shape(shape, "shape")
        else:
            raise ValueError("InputLayer: give shape=(...) (one sample, no batch dimension), got shape=None")
        # Keras' "string" inputs (TextVectorization, StringLookup) are object arrays of str here.
        dt = (
            np.dtype(object)
            if dtype in ("string", "str", "object", object, str)
            else np.dtype(dtype or config.floatx())
        )
        if dt.kind not in "iufO" or (dt.kind == "f" and dt.name not in ("float32", "float64")):
            raise ValueError(f"InputLayer: dtype must be float32, float64, an integer type or 'string', got {dtype!r}")
        super().__init__(name=name, **kwargs)
        self.batch_shape = batch_shape
        self.input_dtype = "string" if dt.kind == "O" else dt.name
        self.built = True
        self.output = KerasTensor(batch_shape, dt, node=None, name=self.name)
        self.output.input_layer = self

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": self.input_dtype}

    def call(self, inputs, training=False):
        return inputs, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, sparse=None, tensor=None):
    """A symbolic model input (Keras ``keras.Input``).

    Parameters
    ----------
    shape : tuple
        Shape of one sample, without the batch dimension.
    dtype : str, optional
        Input dtype; integer types for token ids, ``"string"`` for text.

    Returns
    -------
    KerasTensor
    """
    if tensor is not None:
        raise UnsupportedArgument("Input: tensor= is not supported, got a tensor")
    return InputLayer(
        shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape, sparse=sparse
    ).output


class Dense(Layer):
    """Densely connected layer: ``output = activation(inputs @ kernel + bias)``.

    On N-D inputs the kernel applies along the last axis (per timestep on
    ``(batch, time, features)``), as in Keras.

    Parameters
    ----------
    units : int
        Output dimension.
    activation : str or Activation, optional
        Default: linear.
    use_bias : bool, default True
    kernel_initializer : default "glorot_uniform"
    bias_initializer : default "zeros"
    kernel_regularizer, bias_regularizer, activity_regularizer : optional
    kernel_constraint, bias_constraint : optional

    Notes
    -----
    Input shape: ``(batch, ..., input_dim)``; output shape: ``(batch, ..., units)``.

    Backward on many rows (``_dense_products.row_blocked``) inside fit / train_on_batch, with
    more than one thread and determinism off, runs row-blocked: each block's
    ReLU gate, bias sum, weight- and input-gradient products while it is in cache.
    """

    capabilities = frozenset({PREACTIVATION, DENSE_PAIR})

    def __init__(
        self,
        units,
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
        self.units = positive_int(units, "units", "Dense")
        parse_output(
            self, activation, use_bias, bias_initializer, bias_regularizer, bias_constraint, activity_regularizer
        )
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r} needs inputs of shape (batch, ..., features) with a "
                f"known last dimension, got input shape {tuple(input_shape)}"
            )
        self.kernel = self._kernel.add_to(self, (input_shape[-1], self.units))
        self.bias = self._bias.add_to(self, (self.units,)) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, inputs, training=False):
        x = inputs.reshape(-1, inputs.shape[-1])
        z = scratch(self, "z", (x.shape[0], self.units), x.dtype)
        y = dense_forward(x, self.kernel.value, z, self.bias.value if self.use_bias else None, self.activation)
        return y.reshape(inputs.shape[:-1] + (self.units,)), (x, z, y, inputs.shape)

    def backward(self, dy, cache, need_input_grad=True):
        x, z, y, _ = cache
        dy = dy.reshape(y.shape)
        if activations.is_plain(self.activation, "linear"):  # dz = dy: no pass over it, no copy
            dz = np.ascontiguousarray(dy)
        elif activations.is_plain(self.activation, "relu") and self._trains() and row_blocked(x.shape[0]):
            # The ReLU gate runs inside the row-blocked kernel, block by block.
            return self._backward(np.ascontiguousarray(dy), cache, need_input_grad, gate=y)
        else:
            dz = self.activation.backward(dy, z, y, out=scratch(self, "dz", y.shape, y.dtype))
        return self.backward_preactivation(dz, cache, need_input_grad)

    def backward_preactivation(self, dz, cache, need_input_grad=True):
        return self._backward(np.ascontiguousarray(dz).reshape(-1, self.units), cache, need_input_grad)

    def _trains(self):
        return self.trainable and self.kernel.trainable

    def _backward(self, dz, cache, need_input_grad, gate=None):
        x, _, _, input_shape = cache
        dx = scratch(self, "dx", x.shape, x.dtype) if need_input_grad else None
        dense_grads(x, self.kernel.value, dz, self.kernel, self.bias, dx, gate=gate, trainable=self.trainable)
        return dx.reshape(input_shape) if need_input_grad else None

    def pair_row_blocked(self, second, rows):
        """Whether ``backward_pair`` with ``second`` runs row-blocked on ``rows`` rows (``DENSE_PAIR``)."""
        return self._trains() and second._trains() and row_blocked(rows)

    def backward_pair(self, second, dy, cache, need_input_grad=True):
        """Backward of this ReLU layer and the linear Dense ``second`` on its output (``DENSE_PAIR``).

        One row-blocked kernel: the gradient between the two layers stays in
        each thread's cache, block by block; both layers' weight gradients
        equal their own ``backward`` calls' bit for bit. Call only where
        ``pair_row_blocked`` holds.
        """
        x, _, a, input_shape = cache
        dx = scratch(self, "dx", x.shape, x.dtype) if need_input_grad else EMPTY2D[x.dtype]
        empty = EMPTY[x.dtype]
        (dkernel2, dbias2), beta2 = grad_targets(second.kernel, second.bias)
        (dkernel1, dbias1), beta1 = grad_targets(self.kernel, self.bias)
        _dense.dense_relu_dense_backward(
            x,
            self.kernel.value,
            a,
            second.kernel.value,
            np.ascontiguousarray(dy).reshape(-1, second.units),
            dkernel1,
            empty if dbias1 is None else dbias1,
            dkernel2,
            empty if dbias2 is None else dbias2,
            dx,
            beta1,
            beta2,
            need_input_grad,
            config.kernel_threads(),
        )
        return dx.reshape(input_shape) if need_input_grad else None

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            **output_config(self, self._kernel),
        }


class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(batch, ...) -> (batch, prod(...))``."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format, "Flatten")

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def call(self, inputs, training=False):
        return inputs.reshape(inputs.shape[0], -1), inputs.shape

    def backward(self, dy, cache, need_input_grad=True):
        return dy.reshape(cache) if need_input_grad else None


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise TypeError(f"Reshape: target_shape must be a tuple of integers, got {target_shape!r}") from None
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(
                f"Reshape: target_shape must have positive entries and at most one -1, got {target_shape!r}"
            )

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            known = math.prod(self.target_shape)
            if None not in rest and math.prod(rest) != known:
                raise ValueError(
                    f"Reshape {self.name!r}: cannot reshape input of shape {tuple(input_shape)} to {self.target_shape}"
                )
            return (input_shape[0],) + self.target_shape
        if None in rest:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        known = -math.prod(self.target_shape)
        total = math.prod(rest)
        if total % known:
            raise ValueError(
                f"Reshape {self.name!r}: cannot reshape input of shape {tuple(input_shape)} to {self.target_shape}"
            )
        return (input_shape[0],) + tuple(total // known if d == -1 else d for d in self.target_shape)

    def call(self, inputs, training=False):
        return inputs.reshape((inputs.shape[0],) + self.target_shape), inputs.shape

    def backward(self, dy, cache, need_input_grad=True):
        return dy.reshape(cache) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Identity(Layer):
    """Returns its input unchanged."""

    supports_masking = True

    def call(self, inputs, training=False):
        return inputs, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy if need_input_grad else None
