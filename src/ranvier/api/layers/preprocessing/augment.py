"""Random image augmentation: RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast.

Each is the identity unless called with ``training=True``. Random draws come
from the layer's own generator (``config.make_rng(seed)``, as Dropout), one
draw per image per call. The geometric layers sample the input at the
points an affine map gives (TensorFlow's ``ImageProjectiveTransformV3``,
which Keras uses: fill modes applied to the coordinate, bilinear reads of
points outside the image give ``fill_value``), written as one sparse matrix
per batch, so backward is its transpose.
"""

import math

import numpy as np

from ..regularization import _RandomLayer
from ._base import FloatPreprocessing, check_choice
from .image import check_data_format, check_image_shape

__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("bilinear", "nearest")


def _factor_range(factor, arg, owner, low=-1.0, high=1.0):
    """``(lower, upper)`` from a number ``f`` (``(-f, f)``) or a pair, each in ``[low, high]``."""
    try:
        pair = (-abs(float(factor)), abs(float(factor))) if np.isscalar(factor) else tuple(float(f) for f in factor)
    except (TypeError, ValueError):
        pair = ()
    if isinstance(factor, bool) or len(pair) != 2 or not low <= pair[0] <= pair[1] <= high:
        raise ValueError(
            f"{owner}: {arg} must be a number or a (lower, upper) pair with {low} <= lower <= upper <= {high}, "
            f"got {factor!r}"
        )
    return pair


def _as_config(factor):
    return list(factor) if isinstance(factor, (tuple, list)) else factor


class _Augmentation(_RandomLayer, FloatPreprocessing):
    """A random layer on images: identity at inference, a draw per image in training.

    ``call``'s ``training`` defaults to True, as in Keras 3: called directly
    (``RandomFlip("horizontal")(images)``, no flag and no enclosing call) the
    layer augments; in a model, ``fit`` augments and ``predict`` does not.
    """

    supports_masking = False

    def _generator(self):
        if self._rng is None:
            self.build(None)
        return self._rng

    def compute_output_shape(self, input_shape):
        check_image_shape(input_shape, type(self).__name__)
        return input_shape


def _map_coordinate(c, size, fill_mode):
    """Coordinates ``c`` mapped into the image by ``fill_mode`` (TF's ``map_coord``); constant leaves them."""
    if fill_mode == "constant" or size <= 1:
        return c if fill_mode == "constant" else np.zeros_like(c)
    if fill_mode == "nearest":
        return np.clip(c, 0, size - 1)
    if fill_mode == "wrap":
        return np.clip(np.mod(c, size), 0, size - 1)
    period = 2 * size  # reflect: (d c b a | a b c d | d c b a)
    c = np.mod(c, period)
    return np.clip(np.where(c >= size, period - c - 1, c), 0, size - 1)


def _affine_matrix(transforms, h, w, interpolation, fill_mode):
    """Sparse ``(B*h*w, B*h*w)`` sampling matrix and the weight each output gives ``fill_value``.

    ``transforms`` is ``(B, 6)``: an output pixel ``(x, y)`` reads the input at
    ``(a0 x + a1 y + a2, b0 x + b1 y + b2)`` (Keras' layout, no projective part).
    """
    b = len(transforms)
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    xs, ys = xs.reshape(1, -1), ys.reshape(1, -1)
    t = np.asarray(transforms, np.float64)
    src_x = _map_coordinate(t[:, 0:1] * xs + t[:, 1:2] * ys + t[:, 2:3], w, fill_mode)
    src_y = _map_coordinate(t[:, 3:4] * xs + t[:, 4:5] * ys + t[:, 5:6], h, fill_mode)
    if interpolation == "nearest":  # std::round: halves away from zero
        taps = [(np.sign(src_y) * np.floor(np.abs(src_y) + 0.5), np.sign(src_x) * np.floor(np.abs(src_x) + 0.5), 1.0)]
    else:
        fy, fx = np.floor(src_y), np.floor(src_x)
        dy, dx = src_y - fy, src_x - fx
        taps = [
            (fy, fx, (1 - dy) * (1 - dx)),
            (fy, fx + 1, (1 - dy) * dx),
            (fy + 1, fx, dy * (1 - dx)),
            (fy + 1, fx + 1, dy * dx),
        ]
    p = h * w
    out_index = np.arange(b * p).reshape(b, p)
    offset = (np.arange(b) * p)[:, None]
    rows, cols, vals = [], [], []
    fill = np.zeros((b, p))
    for ty, tx, wt in taps:
        wt = np.broadcast_to(wt, (b, p))
        inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
        fill += np.where(inside, 0.0, wt)
        keep = inside & (wt != 0)
        rows.append(out_index[keep])
        cols.append((offset + ty.astype(np.int64) * w + tx.astype(np.int64))[keep])
        vals.append(wt[keep])
    import scipy.sparse  # ~100 ms (it imports numpy.testing): only when an image is transformed

    matrix = scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(b * p, b * p)
    )
    return matrix, fill.reshape(-1, 1)


class _AffineAugmentation(_Augmentation):
    """A random affine map per image: subclasses draw the ``(B, 6)`` transforms."""

    def __init__(
        self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **kwargs
    ):
        super().__init__(seed=seed, **kwargs)
        owner = type(self).__name__
        self.fill_mode = check_choice(fill_mode, "fill_mode", _FILL_MODES, owner)
        self.interpolation = check_choice(interpolation, "interpolation", _INTERPOLATIONS, owner)
        if isinstance(fill_value, bool) or not isinstance(fill_value, (int, float)) or not math.isfinite(fill_value):
            raise ValueError(f"{owner}: fill_value must be a finite number, got {fill_value!r}")
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(data_format, owner)

    def _transforms(self, rng, b, h, w):
        raise NotImplementedError

    def call(self, inputs, training=True):
        check_image_shape(inputs.shape, type(self).__name__)
        if not training:
            return inputs, None
        b, h, w, c = inputs.shape
        matrix, fill = _affine_matrix(
            self._transforms(self._generator(), b, h, w), h, w, self.interpolation, self.fill_mode
        )
        matrix = matrix.astype(inputs.dtype)
        out = matrix @ inputs.reshape(b * h * w, c)
        if self.fill_value:
            out += (fill * self.fill_value).astype(inputs.dtype)
        return np.ascontiguousarray(out.reshape(inputs.shape), dtype=inputs.dtype), matrix

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:
            return dy
        return np.ascontiguousarray((cache.T @ dy.reshape(-1, dy.shape[-1])).reshape(dy.shape), dtype=dy.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
            "data_format": self.data_format,
        }


class RandomRotation(_AffineAugmentation):
    """Rotate each image by a random angle about its centre, in training.

    Parameters
    ----------
    factor : float or (float, float)
        Angle range as a fraction of a full turn: ``f`` is ``[-f, f] * 2 pi``.
    fill_mode : {"reflect", "wrap", "constant", "nearest"}, default "reflect"
        Points outside the image: ``"mirror"`` (Keras) is not supported.
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    seed : int, optional
    fill_value : float, default 0.0
        The value outside the image for ``fill_mode="constant"``.
    data_format : {"channels_last", None}

    Notes
    -----
    Input and output ``(batch, H, W, C)`` float.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value, **kwargs)
        self.factor = factor
        self._range = _factor_range(factor, "factor", "RandomRotation", -np.inf, np.inf)

    def _transforms(self, rng, b, h, w):
        angle = rng.uniform(self._range[0] * 2 * np.pi, self._range[1] * 2 * np.pi, size=b)
        cos, sin = np.cos(angle), np.sin(angle)
        x_off = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2.0
        y_off = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2.0
        return np.stack([cos, -sin, x_off, sin, cos, y_off], axis=1)

    def get_config(self):
        return {**super().get_config(), "factor": _as_config(self.factor)}


class _HeightWidth(_AffineAugmentation):
    """RandomZoom and RandomTranslation: a range of factors per axis."""

    def _set_factors(self, height_factor, width_factor, width_optional):
        owner = type(self).__name__
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_range(height_factor, "height_factor", owner)
        skip = width_optional and width_factor is None
        self._w = None if skip else _factor_range(width_factor, "width_factor", owner)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": _as_config(self.height_factor),
            "width_factor": _as_config(self.width_factor),
        }


class RandomZoom(_HeightWidth):
    """Zoom each image in or out about its centre by a random factor, in training.

    Parameters
    ----------
    height_factor : float or (float, float)
        Range of the vertical zoom, a fraction in [-1, 1]: the sampled window is
        ``1 + factor`` times the image (positive zooms out, negative in).
    width_factor : float or (float, float), optional
        Horizontal range; None keeps the aspect ratio (the vertical draw).
    fill_mode, interpolation, seed, fill_value, data_format
        As :class:`RandomRotation`.
    """

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        **kwargs,
    ):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value, **kwargs)
        self._set_factors(height_factor, width_factor, width_optional=True)

    def _transforms(self, rng, b, h, w):
        zh = rng.uniform(1.0 + self._h[0], 1.0 + self._h[1], size=b)
        zw = zh if self._w is None else rng.uniform(1.0 + self._w[0], 1.0 + self._w[1], size=b)
        zero = np.zeros(b)
        return np.stack([zw, zero, (w - 1) / 2.0 * (1.0 - zw), zero, zh, (h - 1) / 2.0 * (1.0 - zh)], axis=1)


class RandomTranslation(_HeightWidth):
    """Shift each image by a random fraction of its size, in training.

    Parameters
    ----------
    height_factor, width_factor : float or (float, float)
        Shift ranges as fractions of the height and width, in [-1, 1]
        (positive shifts down / right).
    fill_mode, interpolation, seed, fill_value, data_format
        As :class:`RandomRotation`.
    """

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        **kwargs,
    ):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed, fill_value=fill_value, **kwargs)
        self._set_factors(height_factor, width_factor, width_optional=False)

    def _transforms(self, rng, b, h, w):
        dy = rng.uniform(self._h[0], self._h[1], size=b) * h
        dx = rng.uniform(self._w[0], self._w[1], size=b) * w
        one, zero = np.ones(b), np.zeros(b)
        return np.stack([one, zero, -dx, zero, one, -dy], axis=1)


class RandomFlip(_Augmentation):
    """Flip each image left-right and/or up-down with probability 1/2, in training.

    Parameters
    ----------
    mode : {"horizontal", "vertical", "horizontal_and_vertical"}, default "horizontal_and_vertical"
    seed : int, optional
    data_format : {"channels_last", None}
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.mode = check_choice(mode, "mode", ("horizontal", "vertical", "horizontal_and_vertical"), "RandomFlip")
        self.data_format = check_data_format(data_format, "RandomFlip")

    def _flip(self, x, flips):
        out = x.copy()
        h, v = flips
        if h is not None:
            out[h] = out[h][:, :, ::-1]
        if v is not None:
            out[v] = out[v][:, ::-1]
        return out

    def call(self, inputs, training=True):
        check_image_shape(inputs.shape, "RandomFlip")
        if not training:
            return inputs, None
        rng, b = self._generator(), inputs.shape[0]
        h = rng.uniform(size=b) <= 0.5 if self.mode != "vertical" else None
        v = rng.uniform(size=b) <= 0.5 if self.mode != "horizontal" else None
        return self._flip(inputs, (h, v)), (h, v)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        return dy if cache is None else self._flip(dy, cache)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "data_format": self.data_format}


class RandomContrast(_Augmentation):
    """Scale each image's deviation from its per-channel mean by a random factor, in training.

    ``y = clip((x - mean) * f + mean, *value_range)`` with ``mean`` over height
    and width, ``f`` uniform in ``[1 - lower, 1 + upper]``.

    Parameters
    ----------
    factor : float or (float, float)
        ``f`` gives ``lower = upper = f``; each in [0, 1].
    value_range : (float, float), default (0, 255)
        The range outputs are clipped to.
    seed : int, optional
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        if np.isscalar(factor) and not isinstance(factor, bool) and isinstance(factor, (int, float)):
            self._range = _factor_range((factor, factor), "factor", "RandomContrast", 0.0, 1.0)
        else:
            self._range = _factor_range(factor, "factor", "RandomContrast", 0.0, 1.0)
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            lo, hi = 1.0, 0.0
        if not lo < hi:
            raise ValueError(
                f"RandomContrast: value_range must be a (low, high) pair with low < high, got {value_range!r}"
            )
        self.value_range = (lo, hi)

    def call(self, inputs, training=True):
        check_image_shape(inputs.shape, "RandomContrast")
        if not training:
            return inputs, None
        b, dt = inputs.shape[0], inputs.dtype
        f = self._generator().uniform(1.0 - self._range[0], 1.0 + self._range[1], size=b).astype(dt).reshape(b, 1, 1, 1)
        mean = inputs.mean(axis=(1, 2), keepdims=True)
        raw = (inputs - mean) * f + mean
        out = np.clip(raw, dt.type(self.value_range[0]), dt.type(self.value_range[1]))
        return out, (f, out == raw)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:
            return dy
        f, passed = cache
        g = dy * passed
        return g * f + (1 - f) * g.mean(axis=(1, 2), keepdims=True)

    def get_config(self):
        return {**super().get_config(), "factor": _as_config(self.factor), "value_range": list(self.value_range)}
