"""Reshaping layers, channels-last: ZeroPadding, Cropping and UpSampling (1-D, 2-D and 3-D), Permute.

These only move data, so they are NumPy slicing: padding and cropping are each
other's adjoint (one pair of helpers serves both), nearest upsampling repeats
cells and its gradient sums them back. Bilinear upsampling blends two
neighbours per axis, one axis after the other; its gradient is the exact
adjoint, the same blends scattered back in reverse order.
"""

import numpy as np

from .._conv_geometry import check_channels_last, check_input_rank, normalize_pairs, normalize_tuple
from .base import Layer

__all__ = [
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "Permute",
]


def _embed(a, pairs):
    """``a`` inside zeros, ``pairs[i]`` cells before/after along spatial axis i."""
    out = np.zeros(
        (a.shape[0],) + tuple(n + b + e for n, (b, e) in zip(a.shape[1:-1], pairs)) + (a.shape[-1],), a.dtype
    )
    out[_inner(out.shape, pairs)] = a
    return out


def _inner(shape, pairs):
    """Index of the part of ``shape`` left after dropping ``pairs`` cells per spatial axis."""
    return (slice(None),) + tuple(slice(b, n - e) for n, (b, e) in zip(shape[1:-1], pairs)) + (slice(None),)


def _crop(a, pairs):
    return np.ascontiguousarray(a[_inner(a.shape, pairs)])


def _axis_index(axis, index):
    """Index selecting ``index`` along ``axis`` and everything along the other axes."""
    return (slice(None),) * axis + (index,)


def _bilinear_taps(scale):
    """Per phase r of an upscale by ``scale``: (first neighbour's offset, second neighbour's weight).

    Output cell ``i * scale + r`` sits at input coordinate ``i + (r + 0.5) / scale - 0.5``
    (half-pixel centres, as TensorFlow's and PyTorch's ``align_corners=False``): it blends
    cells ``i + f`` and ``i + f + 1`` with weights ``1 - t`` and ``t``.
    """
    position = (np.arange(scale) + 0.5) / scale - 0.5
    first = np.floor(position)
    return [(int(f), float(t)) for f, t in zip(first, position - first)]


def _split_phases(shape, axis, scale):
    """``shape`` with ``axis`` split into (cells, scale): phase r is index r on ``axis + 1``."""
    return shape[:axis] + (shape[axis] // scale, scale) + shape[axis + 1 :]


def _bilinear(x, axis, scale):
    """Upscale ``x`` by an integer ``scale`` along ``axis``, bilinear with half-pixel centres."""
    n = x.shape[axis]
    # Edge cells repeated once on both sides: a blend that reaches past the border clamps to it.
    padded = np.concatenate([x[_axis_index(axis, slice(0, 1))], x, x[_axis_index(axis, slice(n - 1, n))]], axis)
    out = np.empty(x.shape[:axis] + (n * scale,) + x.shape[axis + 1 :], x.dtype)
    phases = out.reshape(_split_phases(out.shape, axis, scale))
    for r, (f, t) in enumerate(_bilinear_taps(scale)):
        dst = phases[_axis_index(axis + 1, r)]
        np.multiply(padded[_axis_index(axis, slice(1 + f, 1 + f + n))], 1.0 - t, out=dst)
        dst += t * padded[_axis_index(axis, slice(2 + f, 2 + f + n))]
    return out


def _bilinear_adjoint(dy, axis, scale):
    """The adjoint of ``_bilinear``: every output cell's gradient goes back to the two cells it blends."""
    n = dy.shape[axis] // scale
    phases = dy.reshape(_split_phases(dy.shape, axis, scale))
    padded = np.zeros(dy.shape[:axis] + (n + 2,) + dy.shape[axis + 1 :], dy.dtype)
    for r, (f, t) in enumerate(_bilinear_taps(scale)):
        g = phases[_axis_index(axis + 1, r)]
        padded[_axis_index(axis, slice(1 + f, 1 + f + n))] += (1.0 - t) * g
        padded[_axis_index(axis, slice(2 + f, 2 + f + n))] += t * g
    dx = np.ascontiguousarray(padded[_axis_index(axis, slice(1, n + 1))])
    dx[_axis_index(axis, 0)] += padded[_axis_index(axis, 0)]
    dx[_axis_index(axis, n - 1)] += padded[_axis_index(axis, n + 1)]
    return dx


class _SpatialLayer(Layer):
    rank = None

    def _check(self, shape):
        check_input_rank(shape, self.rank, f"{type(self).__name__} {self.name!r}")

    def build(self, input_shape):
        self.compute_output_shape(tuple(input_shape))


class _ZeroPadding(_SpatialLayer):
    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.padding = normalize_pairs(padding, self.rank, "padding", type(self).__name__)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        spatial = tuple(None if n is None else n + b + e for n, (b, e) in zip(input_shape[1:-1], self.padding))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def call(self, inputs, training=False):
        self._check(inputs.shape)
        return _embed(inputs, self.padding), None

    def backward(self, dy, cache, need_input_grad=True):
        return _crop(dy, self.padding) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


class _Cropping(_SpatialLayer):
    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.cropping = normalize_pairs(cropping, self.rank, "cropping", type(self).__name__)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        spatial = []
        for n, (b, e) in zip(input_shape[1:-1], self.cropping):
            if n is not None and n - b - e < 1:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: cropping {self.cropping} leaves "
                    f"nothing of the input, got input shape {tuple(input_shape)}"
                )
            spatial.append(None if n is None else n - b - e)
        return (input_shape[0],) + tuple(spatial) + (input_shape[-1],)

    def call(self, inputs, training=False):
        self.compute_output_shape(inputs.shape)
        return _crop(inputs, self.cropping), None

    def backward(self, dy, cache, need_input_grad=True):
        return _embed(dy, self.cropping) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping]}


class _UpSampling(_SpatialLayer):
    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, self.rank, "size", type(self).__name__)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        spatial = tuple(None if n is None else n * s for n, s in zip(input_shape[1:-1], self.size))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def call(self, inputs, training=False):
        self._check(inputs.shape)
        out = inputs
        for axis, s in enumerate(self.size, start=1):
            out = np.repeat(out, s, axis=axis)
        return out, None

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        n, c = dy.shape[0], dy.shape[-1]
        split = tuple(d for m, s in zip(dy.shape[1:-1], self.size) for d in (m // s, s))
        return dy.reshape((n,) + split + (c,)).sum(axis=tuple(range(2, 2 * self.rank + 1, 2)))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size)}


class ZeroPadding1D(_ZeroPadding):
    """Pad steps with zeros: ``(batch, steps, channels) -> (batch, steps + before + after, channels)``.

    Parameters
    ----------
    padding : int or tuple (before, after), default 1
    """

    rank = 1


class ZeroPadding2D(_ZeroPadding):
    """Pad rows and columns with zeros, channels-last.

    Parameters
    ----------
    padding : int, tuple (rows, cols) or ((top, bottom), (left, right)), default (1, 1)
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Cropping1D(_Cropping):
    """Drop steps at both ends: ``(batch, steps, channels)``.

    Parameters
    ----------
    cropping : int or tuple (before, after), default (1, 1)
    """

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


class Cropping2D(_Cropping):
    """Drop rows and columns at the borders, channels-last.

    Parameters
    ----------
    cropping : int, tuple (rows, cols) or ((top, bottom), (left, right)), default ((0, 0), (0, 0))
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class UpSampling1D(_UpSampling):
    """Repeat each step ``size`` times: ``(batch, steps, channels) -> (batch, steps * size, channels)``.

    Parameters
    ----------
    size : int, default 2
    """

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size, **kwargs)


class UpSampling2D(_UpSampling):
    """Upscale rows and columns by integer factors, channels-last.

    Parameters
    ----------
    size : int or tuple (rows, cols), default (2, 2)
    interpolation : {"nearest", "bilinear"}, default "nearest"
        "nearest" repeats cells; "bilinear" blends the two nearest cells per axis
        with half-pixel centres and clamps at the borders, as Keras/TensorFlow
        (``tf.image.resize(..., "bilinear")``) and PyTorch
        (``F.interpolate(mode="bilinear", align_corners=False)``) do.
    """

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, **kwargs)
        check_channels_last(data_format, "UpSampling2D")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation

    def call(self, inputs, training=False):
        if self.interpolation == "nearest":
            return super().call(inputs, training)
        self._check(inputs.shape)
        out = inputs
        for axis, s in enumerate(self.size, start=1):
            out = _bilinear(out, axis, s)
        return out, None

    def backward(self, dy, cache, need_input_grad=True):
        if self.interpolation == "nearest" or not need_input_grad:
            return super().backward(dy, cache, need_input_grad)
        dx = dy
        for axis, s in reversed(list(enumerate(self.size, start=1))):
            dx = _bilinear_adjoint(dx, axis, s)
        return dx

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


class ZeroPadding3D(_ZeroPadding):
    """Pad depth, rows and columns with zeros, channels-last: ``(batch, depth, rows, cols, channels)``.

    Parameters
    ----------
    padding : int, tuple of 3 ints or tuple of 3 (before, after) pairs, default ((1, 1), (1, 1), (1, 1))
    data_format : None or "channels_last"
        "channels_first" raises ``UnsupportedArgument``.
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Drop cells at the borders of depth, rows and columns, channels-last.

    Parameters
    ----------
    cropping : int, tuple of 3 ints or tuple of 3 (before, after) pairs, default ((1, 1), (1, 1), (1, 1))
    data_format : None or "channels_last"
        "channels_first" raises ``UnsupportedArgument``.
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class UpSampling3D(_UpSampling):
    """Repeat cells along depth, rows and columns: ``(batch, d, h, w, c) -> (batch, d * s0, h * s1, w * s2, c)``.

    Parameters
    ----------
    size : int or tuple of 3 ints, default (2, 2, 2)
    data_format : None or "channels_last"
        "channels_first" raises ``UnsupportedArgument``.
    """

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, **kwargs)
        check_channels_last(data_format, "UpSampling3D")


class Permute(Layer):
    """Permute the non-batch axes: output axis ``i`` is input axis ``dims[i - 1]``.

    Parameters
    ----------
    dims : tuple of int
        A permutation of ``1 .. ndim - 1`` (1-based: the batch axis never moves),
        e.g. ``(2, 1)`` swaps the two axes of ``(batch, steps, features)``.

    Notes
    -----
    Output shape ``(batch, *[input_shape[d] for d in dims])``, any dtype; the
    output is a contiguous copy (the gradient is the inverse permutation).
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            items = tuple(dims)
        except TypeError:
            items = None
        if (
            items is None
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in items)
            or sorted(items) != list(range(1, len(items) + 1))
        ):
            raise ValueError(f"Permute: dims must be a permutation of 1 .. {len(items or ())}, got {dims!r}")
        self.dims = tuple(int(d) for d in items)
        self._inverse = (0,) + tuple(int(i) + 1 for i in np.argsort(self.dims))

    def _check(self, shape):
        if len(shape) != len(self.dims) + 1:
            raise ValueError(
                f"Permute {self.name!r} with dims {self.dims} expects inputs of rank {len(self.dims) + 1}, "
                f"got shape {tuple(shape)}"
            )

    def build(self, input_shape):
        self._check(tuple(input_shape))

    def compute_output_shape(self, input_shape):
        self._check(tuple(input_shape))
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs, training=False):
        self._check(inputs.shape)
        return np.ascontiguousarray(inputs.transpose((0,) + self.dims)), None

    def backward(self, dy, cache, need_input_grad=True):
        return np.ascontiguousarray(dy.transpose(self._inverse)) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}
