"""EinsumDense (Keras 3): ``activation(einsum(equation, inputs, kernel) + bias)``."""

import math
import re
import string

import numpy as np

from .. import activations, regularizers
from .._errors import UnsupportedArgument
from ._buffers import scratch
from ._dense_products import dense_forward, dense_grads
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["EinsumDense"]

_FORMS = (
    # (pattern on the equation with "..." written "0", ellipsis on the left)
    (r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
    (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
    (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False),
)


def _parse(equation):
    """``(input_spec, weight_spec, output_spec, left_elided)`` of one of Keras' three equation forms."""
    if not isinstance(equation, str):
        raise TypeError(f"EinsumDense: equation must be a string, got {equation!r}")
    flat = equation.replace("...", "0")
    for pattern, left in _FORMS:
        match = re.fullmatch(pattern, flat)
        if match:
            ins, ws, outs = match.groups()
            for spec in (ins, ws, outs):
                if len(set(spec)) != len(spec):
                    raise ValueError(f"EinsumDense: a letter repeats in one operand of equation {equation!r}")
            return ins, ws, outs, left
    raise ValueError(
        f"Invalid einsum equation '{equation}'. Equations must be in the form "
        "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...."
    )


def _shapes(equation, bias_axes, input_shape, partial_output_shape):
    """Keras' ``_analyze_split_string``: ``(kernel_shape, bias_shape or None, full_output_shape)``."""
    ins, ws, outs, left = _parse(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(ins)
    output_shape = [input_shape[0], *partial_output_shape]
    if elided > 0 and left:
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])
    elif elided > 0:
        output_shape.extend(input_shape[len(input_shape) - elided :])
    if left:
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(ins)}
        out_map = {d: i + elided for i, d in enumerate(outs)}
    else:
        in_map = {d: i for i, d in enumerate(ins)}
        out_map = {d: i for i, d in enumerate(outs)}
    for d in ins:
        if d not in out_map:
            continue
        if output_shape[out_map[d]] is None:  # Keras leaves it None: the input knows it
            output_shape[out_map[d]] = input_shape[in_map[d]]
        elif input_shape[in_map[d]] is not None and output_shape[out_map[d]] != input_shape[in_map[d]]:
            raise ValueError(
                f"Input shape and output shape do not match at shared dimension '{d}'. Input shape is "
                f"{input_shape[in_map[d]]}, and output shape is {output_shape[out_map[d]]}."
            )
    for d in outs:
        if d not in ins and d not in ws:
            raise ValueError(
                f"Dimension '{d}' was specified in the output '{outs}' but has no corresponding dim in the "
                f"input spec '{ins}' or weight spec '{ws}'"
            )
    kernel_shape = []
    for d in ws:
        if d in out_map:
            kernel_shape.append(output_shape[out_map[d]])
        elif d in in_map:
            kernel_shape.append(input_shape[in_map[d]])
        else:
            raise ValueError(
                f"Weight dimension '{d}' did not have a match in either the input spec '{ins}' or the output "
                f"spec '{outs}'. For this layer, the weight must be fully specified."
            )
    if any(d is None for d in kernel_shape):
        raise ValueError(f"EinsumDense: the kernel shape {tuple(kernel_shape)} has an unknown dimension")
    bias_shape = None
    if bias_axes is not None:
        shift = elided if left else 0
        sizes = {d: output_shape[i + shift] for i, d in enumerate(outs)}
        for d in bias_axes:
            if d not in outs:
                raise ValueError(f"Bias dimension '{d}' was requested, but is not part of the output spec '{outs}'")
        first = min(outs.find(d) for d in bias_axes)
        bias_shape = [sizes[d] if d in bias_axes else 1 for d in outs[first:]]
        if not left:
            bias_shape.extend([1] * elided)
    return tuple(kernel_shape), bias_shape, tuple(output_shape)


class EinsumDense(Layer):
    """A dense layer whose product is ``np.einsum(equation, inputs, kernel)`` (Keras 3's arguments).

    Parameters
    ----------
    equation : str
        ``"ab,bc->ac"``, ``"...ab,bc->...ac"`` or ``"ab...,bc->ac..."`` forms (letters
        of the three operands).
    output_shape : int or tuple
        The output shape without the batch axis and the elided axes (``None``
        where the input gives it).
    activation : optional
    bias_axes : str, optional
        Output letters the bias spans (its shape: Keras', from the first of them
        to the end of the output, 1 on the others).
    kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
    activity_regularizer, kernel_constraint, bias_constraint : as Dense

    Notes
    -----
    Weights ``kernel`` (the weight operand's shape) and ``bias``, as Keras. An
    equation that is a matrix product on the trailing axes (``"abc,cd->abd"``,
    ``"...x,xy->...y"``: input = rows + contracted letters, kernel = contracted +
    new letters, output = rows + new letters) runs on Dense's kernels; any other
    on ``np.einsum``, forward and backward. ``lora_rank`` and quantization are
    not implemented.
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        activity_regularizer=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if lora_rank or lora_alpha:
            raise UnsupportedArgument(f"EinsumDense: LoRA is not implemented, got lora_rank={lora_rank!r}")
        if quantization_config is not None:
            raise UnsupportedArgument(
                f"EinsumDense: quantization is not implemented, got quantization_config={quantization_config!r}"
            )
        _parse(equation)
        self.equation = equation
        shape = (output_shape,) if isinstance(output_shape, (int, np.integer)) else tuple(output_shape)
        if any(d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1) for d in shape):
            raise ValueError(f"EinsumDense: output_shape must hold positive integers or None, got {output_shape!r}")
        self.partial_output_shape = tuple(None if d is None else int(d) for d in shape)
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise TypeError(f"EinsumDense: bias_axes must be a string or None, got {bias_axes!r}")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        self._bias = WeightSpec("bias", bias_initializer, bias_regularizer, bias_constraint)

    def build(self, input_shape):
        kernel_shape, bias_shape, self.full_output_shape = _shapes(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        self.kernel = self._kernel.add_to(self, kernel_shape)
        self.bias = None if bias_shape is None else self._bias.add_to(self, tuple(bias_shape))
        ins, ws, outs, left = _parse(self.equation)
        # The matrix-product form: input = rows + C, kernel = C + N, output = rows + N.
        c = sum(d in ins for d in ws)
        rows = ins[: len(ins) - c]
        self._matmul = (
            0 < c < len(ws)
            and (left or len(ins) == len(input_shape))
            and ins.endswith(ws[:c])
            and outs == rows + ws[c:]
        )
        self._contracted = c
        # The bias as Dense's: one value per output unit (every new letter, only those).
        self._dense_bias = self._matmul and bias_shape is not None and tuple(bias_shape) == kernel_shape[c:]

    def compute_output_shape(self, input_shape):
        return _shapes(self.equation, self.bias_axes, input_shape, self.partial_output_shape)[2]

    def call(self, inputs, training=False):
        w = self.kernel.value
        if self._matmul:
            k = math.prod(w.shape[: self._contracted])
            x = inputs.reshape(-1, k)
            units = w.size // k
            z = scratch(self, "z", (x.shape[0], units), x.dtype)
            out_shape = inputs.shape[: inputs.ndim - self._contracted] + w.shape[self._contracted :]
            if self.bias is None or self._dense_bias:  # Dense's case: the one x @ kernel + bias forward
                bias = None if self.bias is None else self.bias.value.reshape(-1)
                y = dense_forward(x, w.reshape(k, units), z, bias, self.activation)
                return y.reshape(out_shape), (x, z, y, inputs.shape, out_shape)
            dense_forward(x, w.reshape(k, units), z)
        else:
            x = inputs
            z = np.ascontiguousarray(np.einsum(self.equation, inputs, w))
            out_shape = z.shape
        if self.bias is not None:  # a bias over other axes than the kernel's outputs, broadcast
            z = z.reshape(out_shape)
            z += self.bias.value
        act = self.activation
        y = act.forward(z, out=None if act.needs_input else z)
        return y.reshape(out_shape), (x, z, y, inputs.shape, out_shape)

    def backward(self, dy, cache, need_input_grad=True):
        x, z, y, input_shape, out_shape = cache
        dy = dy.reshape(y.shape)
        if activations.is_plain(self.activation, "linear"):
            dz = np.ascontiguousarray(dy)
        else:
            dz = self.activation.backward(dy, z, y, out=scratch(self, "dz", y.shape, y.dtype))
        trains = self.trainable and self.kernel.trainable
        if self.bias is not None and not self._dense_bias and self.trainable and self.bias.trainable:
            self.bias.accumulate_grad(self._bias_grad(dz.reshape(out_shape)))
        if self._matmul:
            w2 = self.kernel.value.reshape(x.shape[1], -1)
            dx = scratch(self, "dx", x.shape, x.dtype) if need_input_grad else None
            bias = self.bias if self._dense_bias and self.trainable else None
            dense_grads(x, w2, dz.reshape(-1, w2.shape[1]), self.kernel, bias, dx, trainable=trains)
            return dx.reshape(input_shape) if need_input_grad else None
        ins, ws, outs, left = _parse(self.equation)
        # The elided axes get letters of their own: np.einsum cannot sum over "...".
        e = "".join(c for c in string.ascii_letters if c not in ins + ws + outs)[: len(input_shape) - len(ins)]
        lhs = e + ins if left else ins + e
        rhs = e + outs if left else outs + e
        dz = dz.reshape(out_shape)
        if trains:
            self.kernel.accumulate_grad(np.einsum(f"{lhs},{rhs}->{ws}", x, dz))
        if not need_input_grad:
            return None
        # Input letters in neither the output nor the kernel were summed over: dx is constant along them.
        kept = "".join(d for d in ins if d in outs or d in ws)
        kept_lhs = e + kept if left else kept + e
        dx = np.einsum(f"{rhs},{ws}->{kept_lhs}", dz, self.kernel.value)
        if kept != ins:
            dx = np.expand_dims(dx, [lhs.index(d) for d in ins if d not in kept])
        return np.ascontiguousarray(np.broadcast_to(dx, input_shape))

    def _bias_grad(self, dz):
        """Sum ``dz`` over the axes the bias broadcasts along."""
        bias_shape = self.bias.value.shape
        lead = dz.ndim - len(bias_shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(bias_shape) if n == 1)
        return np.sum(dz, axis=axes, keepdims=True).reshape(bias_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": self._kernel.get_config()["kernel_initializer"],
            "bias_initializer": self._bias.get_config()["bias_initializer"],
            "kernel_regularizer": self._kernel.get_config()["kernel_regularizer"],
            "bias_regularizer": self._bias.get_config()["bias_regularizer"],
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": self._kernel.get_config()["kernel_constraint"],
            "bias_constraint": self._bias.get_config()["bias_constraint"],
            "quantization_config": None,
        }
