"""Merge layers (Keras 3): Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Each takes a list of inputs. The elementwise ones broadcast as Keras does:
the batch axes must agree; an input of lower rank gets size-1 axes right
after the batch axis, then shapes broadcast as in NumPy. Inputs of one shape,
dtype and layout run the compiled kernels of ``ranvier.core._merge`` (one
pass over memory, threads over rows); the others run NumPy, and the gradient
of a broadcast input is summed over the axes it was broadcast along.

Masks follow Keras: the output mask is the logical or of the input masks
(None unless every input has one); ``Maximum``/``Minimum`` never let a
masked entry win and ``Multiply`` treats masked entries as 1 (and zeroes the
output outside the mask when every input has one); ``Add``, ``Subtract`` and
``Average`` only pass the mask on. ``Concatenate`` concatenates the masks,
``Dot`` drops them.
"""

import numpy as np

from ...core import _merge
from .. import config
from ._buffers import scratch
from ._symbolic import KerasTensor
from .base import Layer

__all__ = [
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
    "concatenate",
    "dot",
]


def _described(inputs):
    """How an input that is not a list of arrays is shown in errors (never its values)."""
    shape = getattr(inputs, "shape", None)
    return f"{type(inputs).__name__} of shape {tuple(shape)}" if shape is not None else repr(inputs)


class _Merge(Layer):
    """Base of the merge layers: list checks, Keras' mask rule, the one-gradient-per-input return."""

    supports_masking = True
    #: Bounds of the input count (Subtract and Dot take exactly 2).
    _min_inputs, _max_inputs = 1, None

    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def _count_text(self):
        if self._max_inputs == self._min_inputs:
            return f"exactly {self._min_inputs} inputs"
        return f"a list of at least {self._min_inputs} input"

    def _check_shapes(self, input_shape):
        """``input_shape`` as a list of shape tuples, or an error naming what was received."""
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"{self._where()}: a merge layer should be called on a list of inputs. "
                f"Received: input_shape={input_shape!r} (not a list of shapes)"
            )
        self._check_count(len(input_shape), f"input_shape={list(input_shape)}")
        shapes = [tuple(s) for s in input_shape]
        batch_sizes = {s[0] for s in shapes if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(
                f"{self._where()}: cannot merge tensors with different batch sizes. "
                f"Received tensors with shapes {shapes}"
            )
        return shapes

    def _check_count(self, n, received):
        if n < self._min_inputs or self._max_inputs is not None and n > self._max_inputs:
            raise ValueError(
                f"{self._where()}: a `{type(self).__name__}` layer should be called on "
                f"{self._count_text()}. Received: {received}"
            )

    def _arrays(self, inputs):
        """The call's inputs as a list of arrays, checked like the shapes in ``build``."""
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{self._where()}: a merge layer should be called on a list of inputs. "
                f"Received: inputs={_described(inputs)} (not a list of tensors)"
            )
        xs = [np.asarray(x) for x in inputs]
        self._check_count(len(xs), f"{len(xs)} inputs")
        if len({x.shape[0] if x.ndim else None for x in xs}) > 1 or any(x.ndim == 0 for x in xs):
            raise ValueError(
                f"{self._where()}: cannot merge tensors with different batch sizes. "
                f"Received tensors with shapes {[x.shape for x in xs]}"
            )
        return xs

    def build(self, input_shape):
        self.compute_output_shape(self._check_shapes(input_shape))

    def compute_mask(self, inputs, mask=None):
        """Logical or of the input masks (Keras), None unless every input has a mask."""
        mask = _check_mask_list(inputs, mask)
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, bool) for m in mask])

    @staticmethod
    def _gradients(dxs):
        # The executor takes a bare array from a node with one input, a list otherwise.
        return dxs if len(dxs) > 1 else dxs[0]


def _check_mask_list(inputs, mask):
    """Keras' checks of ``compute_mask`` arguments; the list of masks, or None."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)):
        raise ValueError(f"`mask` should be a list. Received: mask={_described(mask)}")
    if not isinstance(inputs, (list, tuple)):
        raise ValueError(f"`inputs` should be a list. Received: inputs={_described(inputs)}")
    if len(mask) != len(inputs):
        raise ValueError(
            "The lists `inputs` and `mask` should have the same length. Received: "
            f"inputs of length {len(inputs)}, and mask of length {len(mask)}"
        )
    return list(mask)


# ------------------------------------------------------------------ elementwise
def _broadcast_shape(where, shapes):
    """Keras' elementwise output shape (batch axis included) of ``shapes``.

    An unknown (None) dimension broadcast against a known one other than 1 takes the known one
    (Keras leaves it None): at run time it can only be 1 or equal to it.
    """
    ndim = max(len(s) for s in shapes)
    batch = {s[0] for s in shapes} - {None}
    out = [batch.pop() if len(batch) == 1 else None]
    for axis in range(1, ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 1]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"{where}: inputs have incompatible shapes. Received shapes {[tuple(s) for s in shapes]}")
        if None in dims:
            out.append(known.pop() if known else None)
        else:
            out.append(known.pop() if known else 1)
    return tuple(out)


def _expanded(x, ndim):
    """``x`` with size-1 axes after the batch axis up to rank ``ndim`` (Keras' ``expand_dims(x, 1)``)."""
    return x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:])


def _unbroadcast(g, shape):
    """The gradient ``g`` of a broadcast input of ``shape``: summed where it was broadcast."""
    if g.shape == tuple(shape):
        return g
    full = tuple(shape[:1]) + (1,) * (g.ndim - len(shape)) + tuple(shape[1:])
    axes = tuple(i for i, (s, d) in enumerate(zip(full, g.shape)) if s == 1 and d != 1)
    return np.ascontiguousarray(g.sum(axis=axes, keepdims=True).reshape(shape))


def _kernel_rows(xs):
    """(rows, cols) views of inputs of one shape, float dtype and C layout, or None (NumPy path)."""
    first = xs[0]
    if first.dtype not in (np.float32, np.float64) or first.size == 0:
        return None
    for x in xs:
        if x.shape != first.shape or x.dtype != first.dtype or not x.flags.c_contiguous:
            return None
    return [x.reshape(first.shape[0], -1) for x in xs]


def _value_masks(mask, xs):
    """Per input, a boolean mask of the input's shape (or None); None when no input has one."""
    if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
        return None
    out = []
    for x, m in zip(xs, mask):
        if m is not None:
            m = np.asarray(m, bool)
            m = m.reshape(m.shape + (1,) * (x.ndim - m.ndim))
            m = np.broadcast_to(m, x.shape)
        out.append(m)
    return out


class _Elementwise(_Merge):
    """An elementwise merge: the kernel path for equal shapes, NumPy with broadcasting otherwise.

    Subclasses give ``_kernel_forward(rows) -> (out, cache)`` and ``_kernel_backward(dy, cache)``
    on (rows, cols) views, ``_numpy_forward(full, masks)`` and ``_numpy_backward(dy, cache)`` on
    inputs broadcast to the output shape; backward returns one gradient per input.
    """

    #: Whether masks change the values (else they are only passed on).
    _masks_values = False
    _max_kernel_inputs = None

    def compute_output_shape(self, input_shape):
        return _broadcast_shape(self._where(), self._check_shapes(input_shape))

    def call(self, inputs, training=False, mask=None):
        xs = self._arrays(inputs)
        masks = _value_masks(mask, xs) if self._masks_values else None
        fits = masks is None and (self._max_kernel_inputs is None or len(xs) <= self._max_kernel_inputs)
        rows = _kernel_rows(xs) if fits else None
        if rows is not None:
            out, cache = self._kernel_forward(rows)
            return out.reshape(xs[0].shape), (True, [x.shape for x in xs], cache)
        shape = _broadcast_shape(self._where(), [x.shape for x in xs])
        ndim = len(shape)
        dtype = np.result_type(*xs)
        full = [np.broadcast_to(_expanded(x, ndim), shape) for x in xs]
        if masks is not None:
            masks = [None if m is None else np.broadcast_to(_expanded(m, ndim), shape) for m in masks]
        out, cache = self._numpy_forward(full, masks)
        return np.ascontiguousarray(out, dtype=dtype), (False, [x.shape for x in xs], cache)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        on_kernel, shapes, op_cache = cache
        dy = np.ascontiguousarray(dy)
        if on_kernel:
            rows = dy.reshape(dy.shape[0], -1)
            dxs = [g.reshape(s) for g, s in zip(self._kernel_backward(rows, op_cache), shapes)]
        else:
            dxs = [_unbroadcast(g, s) for g, s in zip(self._numpy_backward(dy, op_cache), shapes)]
        return self._gradients(dxs)


class _Linear(_Elementwise):
    """Add, Subtract, Average: input gradients are ``dy`` times a constant; masks are only passed on."""

    def _kernel_forward(self, rows):
        out = scratch(self, "out", rows[0].shape, rows[0].dtype)
        getattr(_merge, self._kernel)(rows, out, config.kernel_threads())
        return out, len(rows)

    def _numpy_forward(self, full, masks):
        return self._fold(full), len(full)

    def _numpy_backward(self, dy, n):
        return self._input_gradients(dy, n)

    def _kernel_backward(self, dy, n):
        return self._input_gradients(dy, n)


class Add(_Linear):
    """Elementwise sum of a list of inputs (Keras ``Add``).

    Input gradients are ``dy`` itself (summed over broadcast axes), not copies.

    Examples
    --------
    >>> a, b = rv.layers.Input((8,)), rv.layers.Input((8,))
    >>> y = rv.layers.Add()([a, b])          # or rv.layers.add([a, b])
    """

    _kernel = "add"

    @staticmethod
    def _fold(full):
        out = np.array(full[0])
        for x in full[1:]:
            out += x
        return out

    @staticmethod
    def _input_gradients(dy, n):
        return [dy] * n


class Subtract(_Linear):
    """``inputs[0] - inputs[1]`` (Keras ``Subtract``): exactly two inputs."""

    _min_inputs = _max_inputs = 2

    def _kernel_forward(self, rows):
        return np.subtract(rows[0], rows[1]), 2

    @staticmethod
    def _fold(full):
        return np.subtract(full[0], full[1])

    @staticmethod
    def _input_gradients(dy, n):
        return [dy, np.negative(dy)]


class Average(_Linear):
    """Elementwise mean of a list of inputs (Keras ``Average``)."""

    _kernel = "average"

    @staticmethod
    def _fold(full):
        return Add._fold(full) / len(full)

    @staticmethod
    def _input_gradients(dy, n):
        g = dy / n
        return [g] * n


class Multiply(_Elementwise):
    """Elementwise product of a list of inputs (Keras ``Multiply``)."""

    _masks_values = True

    def _kernel_forward(self, rows):
        out = scratch(self, "out", rows[0].shape, rows[0].dtype)
        _merge.multiply(rows, out, config.kernel_threads())
        return out, rows

    def _kernel_backward(self, dy, rows):
        dxs = [scratch(self, "dx", dy.shape, dy.dtype) for _ in rows]
        _merge.multiply_backward(dy, rows, dxs, config.kernel_threads())
        return dxs

    def _numpy_forward(self, full, masks):
        keep, out_mask = None, None
        if masks is not None:
            # Keras: masked entries count as 1; with a mask on every input, the output is 0 outside their union.
            keep = masks
            full = [x if m is None else np.where(m, x, np.ones((), x.dtype)) for x, m in zip(full, masks)]
            if all(m is not None for m in masks):
                out_mask = np.logical_or.reduce(masks)
        out = np.array(full[0])
        for x in full[1:]:
            out *= x
        if out_mask is not None:
            out *= out_mask
        return out, (full, keep, out_mask)

    def _numpy_backward(self, dy, cache):
        full, keep, out_mask = cache
        if out_mask is not None:
            dy = dy * out_mask
        dxs = []
        for i in range(len(full)):
            g = np.array(dy)
            for k, x in enumerate(full):
                if k != i:
                    g *= x
            if keep is not None and keep[i] is not None:
                g *= keep[i]
            dxs.append(g)
        return dxs


class _Select(_Elementwise):
    """Maximum and Minimum: the output takes one input's entry; its gradient goes to that input only."""

    _masks_values = True
    # The kernels record the winning input in a uint8.
    _max_kernel_inputs = _merge.MAX_SELECT_INPUTS

    def _kernel_forward(self, rows):
        out = scratch(self, "out", rows[0].shape, rows[0].dtype)
        index = scratch(self, "index", out.shape, np.uint8)
        getattr(_merge, self._kernel)(rows, out, index, config.kernel_threads())
        return out, (index, len(rows))

    def _kernel_backward(self, dy, cache):
        index, n = cache
        dxs = [scratch(self, "dx", dy.shape, dy.dtype) for _ in range(n)]
        _merge.select_backward(dy, index, dxs, config.kernel_threads())
        return dxs

    def _numpy_forward(self, full, masks):
        # Keras' _apply_merge_op_and_or_mask: a masked entry takes the running output's value (and
        # where the running output is masked, it takes the entry), so masked entries never win.
        out, index = full[0], np.zeros(full[0].shape, np.intp)
        out_mask = None if masks is None else masks[0]
        for k in range(1, len(full)):
            x, source = full[k], np.full(full[k].shape, k, np.intp)
            m = None if masks is None else masks[k]
            if m is not None:
                x, source = np.where(m, x, out), np.where(m, source, index)
            if out_mask is not None:
                out, index = np.where(out_mask, out, x), np.where(out_mask, index, source)
            out_mask = out_mask | m if out_mask is not None and m is not None else None
            won = self._better(x, out)
            out, index = np.where(won, x, out), np.where(won, source, index)
        return np.array(out), (index, len(full))

    def _numpy_backward(self, dy, cache):
        index, n = cache
        zero = np.zeros((), dy.dtype)
        return [np.where(index == k, dy, zero) for k in range(n)]


class Maximum(_Select):
    """Elementwise maximum of a list of inputs (Keras ``Maximum``); ties go to the earliest input."""

    _kernel = "maximum"
    _better = staticmethod(np.greater)


class Minimum(_Select):
    """Elementwise minimum of a list of inputs (Keras ``Minimum``); ties go to the earliest input."""

    _kernel = "minimum"
    _better = staticmethod(np.less)


# ------------------------------------------------------------------ concatenate
class Concatenate(_Merge):
    """Concatenate a list of inputs along ``axis`` (Keras ``Concatenate``).

    Parameters
    ----------
    axis : int, default -1
        Every other axis must match across inputs.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Concatenate: axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def _mismatch(self, input_shape):
        return ValueError(
            f"{self._where()}: a `Concatenate` layer requires inputs with matching shapes "
            f"except for the concatenation axis. Received: input_shape={input_shape}"
        )

    def _axis(self, ndim, input_shape):
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"{self._where()}: axis {self.axis} is out of range for inputs of rank {ndim}. "
                f"Received: input_shape={input_shape}"
            )
        return self.axis % ndim

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        if len({len(s) for s in shapes}) > 1:
            raise self._mismatch(shapes)
        axis = self._axis(len(shapes[0]), shapes)
        out = []
        for i, dims in enumerate(zip(*shapes)):
            if i == axis:
                out.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise self._mismatch(shapes)
            out.append(known.pop() if known else None)
        return tuple(out)

    def call(self, inputs, training=False, mask=None):
        xs = self._arrays(inputs)
        self.compute_output_shape([x.shape for x in xs])
        axis = self._axis(xs[0].ndim, [x.shape for x in xs])
        return np.concatenate(xs, axis=axis), (axis, [x.shape[axis] for x in xs])

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        axis, sizes = cache
        parts = np.split(dy, np.cumsum(sizes)[:-1], axis=axis)
        return self._gradients([np.ascontiguousarray(p) for p in parts])

    def compute_mask(self, inputs, mask=None):
        """Keras: the masks (all-true for unmasked inputs) concatenated, then any over the last axis."""
        mask = _check_mask_list(inputs, mask)
        if mask is None or all(m is None for m in mask):
            return None
        shapes = [tuple(x.shape) for x in inputs]
        full = []
        for shape, m in zip(shapes, mask):
            if m is None:
                full.append(np.ones(shape, bool))
                continue
            m = np.asarray(m, bool)
            if m.ndim < len(shape):
                m = np.broadcast_to(m.reshape(m.shape + (1,) * (len(shape) - m.ndim)), shape)
            full.append(m)
        return np.any(np.concatenate(full, axis=self._axis(len(shapes[0]), shapes)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


# ------------------------------------------------------------------------- dot
def _inverse_norm(x, axis, epsilon):
    """``1 / max(||x||, epsilon)`` along ``axis`` (kept), as Keras' ``normalize``."""
    return 1.0 / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), epsilon * epsilon))


class Dot(_Merge):
    """Batchwise dot product of two inputs along ``axes`` (Keras ``Dot``).

    For inputs ``x`` of shape ``(batch, *a)`` and ``y`` of shape ``(batch, *b)``
    the output is ``(batch, *a without axes[0], *b without axes[1])``, and
    ``(batch, 1)`` when that would leave the batch axis alone.

    Parameters
    ----------
    axes : int or tuple of two ints
        Axis of each input to contract (0, the batch axis, is not allowed;
        negative values count from the end).
    normalize : bool, default False
        L2-normalise both inputs along their axis first (``x / max(||x||, epsilon)``,
        epsilon ``ranvier.config.epsilon()``): the output is then the cosine similarity.
    """

    _min_inputs = _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(
                    f"Dot: invalid format for argument `axes`: it should contain two elements. Received: axes={axes!r}"
                )
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
                raise ValueError(
                    f"Dot: invalid format for argument `axes`: list elements should be integers. "
                    f"Received: axes={axes!r}"
                )
            axes = [int(a) for a in axes]
        elif isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
            axes = int(axes)
        else:
            raise TypeError(
                f"Dot: invalid type for argument `axes`: it should be a list or an int. Received: axes={axes!r}"
            )
        if not isinstance(normalize, (bool, np.bool_)):
            raise TypeError(f"Dot: normalize must be True or False, got {normalize!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _pair(self, ndims, shapes):
        """The contracted axis of each input, non-negative, checked."""
        axes = self.axes if isinstance(self.axes, list) else [self.axes] * 2
        out = []
        for a, ndim in zip(axes, ndims):
            if ndim < 2:
                raise ValueError(
                    f"{self._where()}: cannot do batch_dot on inputs with rank < 2. "
                    f"Received inputs with shapes {shapes[0]} and {shapes[1]}"
                )
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"{self._where()}: axes={self.axes!r} is out of range for inputs with "
                    f"shapes {shapes[0]} and {shapes[1]}"
                )
            out.append(a % ndim)
        if 0 in out:
            raise ValueError(
                f"{self._where()}: cannot perform batch_dot over axis 0 (the batch axis). Received: axes={self.axes!r}"
            )
        return out

    def compute_output_shape(self, input_shape):
        s1, s2 = self._check_shapes(input_shape)
        a1, a2 = self._pair((len(s1), len(s2)), (s1, s2))
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(
                f"{self._where()}: incompatible input shapes: axis values {s1[a1]} (at axis {a1}) "
                f"!= {s2[a2]} (at axis {a2}). Full input shapes: {s1}, {s2}"
            )
        out = [d for i, d in enumerate(s1) if i != a1] + [d for i, d in enumerate(s2) if i not in (0, a2)]
        return tuple(out + [1] if len(out) == 1 else out)

    def call(self, inputs, training=False, mask=None):
        x, y = self._arrays(inputs)
        self.compute_output_shape([x.shape, y.shape])
        a1, a2 = self._pair((x.ndim, y.ndim), (x.shape, y.shape))
        inv = None
        if self.normalize:
            eps = config.epsilon()
            inv = (_inverse_norm(x, a1, eps), _inverse_norm(y, a2, eps))
            x, y = x * inv[0], y * inv[1]
        # (batch, P, k) @ (batch, k, Q), as Keras' batch_dot: P and Q are the other axes, flattened.
        xt = np.moveaxis(x, a1, -1)
        yt = np.moveaxis(y, a2, 1)
        x_rest, y_rest = xt.shape[1:-1], yt.shape[2:]
        k = xt.shape[-1]
        x3 = xt.reshape(x.shape[0], -1, k)
        y3 = yt.reshape(y.shape[0], k, -1)
        out = np.matmul(x3, y3).reshape((x.shape[0],) + x_rest + y_rest)
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        return out, (x, y, x3, y3, (a1, a2), inv)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        x, y, x3, y3, (a1, a2), inv = cache
        g = dy.reshape(x3.shape[0], x3.shape[1], y3.shape[2])
        dx = np.matmul(g, y3.transpose(0, 2, 1)).reshape(np.moveaxis(x, a1, -1).shape)
        dy_in = np.matmul(x3.transpose(0, 2, 1), g).reshape(np.moveaxis(y, a2, 1).shape)
        dx, dy_in = np.moveaxis(dx, -1, a1), np.moveaxis(dy_in, 1, a2)
        if inv is not None:
            # x here is the normalised input u = x * inv: d/dx = inv * (g - u * sum(g * u)), where the
            # norm is above epsilon; below it inv is a constant and d/dx = inv * g.
            dx, dy_in = (
                _normalize_backward(d, u, i, a) for d, u, i, a in ((dx, x, inv[0], a1), (dy_in, y, inv[1], a2))
            )
        return [np.ascontiguousarray(dx), np.ascontiguousarray(dy_in)]

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _normalize_backward(g, u, inv, axis):
    eps = config.epsilon()
    unclamped = inv < 1.0 / eps
    return inv * (g - u * np.sum(g * u, axis=axis, keepdims=True) * unclamped)


# ---------------------------------------------------------- functional forms
def add(inputs, **kwargs):
    """Functional form of :class:`Add`: ``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of :class:`Subtract`: ``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of :class:`Multiply`: ``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of :class:`Average`: ``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of :class:`Maximum`: ``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of :class:`Minimum`: ``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of :class:`Concatenate`: ``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """Functional form of :class:`Dot`: ``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


def _symbolic_operator(merge):
    """``a <op> b`` on two KerasTensors as one ``merge`` layer (shapes broadcast as the layer's do)."""

    def operator(a, b):
        return merge()([a, b]) if isinstance(b, KerasTensor) else NotImplemented

    return operator


# Functional code writes residuals as ``x + inputs`` (Keras 3 records an ``add`` op node; here it is
# an Add layer, same values, and the graph saves as layers do). Set here, not in _symbolic, which
# the layers import.
KerasTensor.__add__ = _symbolic_operator(Add)
KerasTensor.__sub__ = _symbolic_operator(Subtract)
KerasTensor.__mul__ = _symbolic_operator(Multiply)
