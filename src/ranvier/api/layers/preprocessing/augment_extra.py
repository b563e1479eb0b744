"""Random image augmentation, Keras 3's later names: RandomCrop, RandomBrightness, RandomHeight, RandomWidth.

As in ``augment.py``: the identity (RandomCrop: a centred crop) unless called
with ``training=True``, draws from the layer's own generator. The resizing
ones reuse ``image.py``'s separable matrices (``tf.image.resize``'s), so
backward is their transpose.
"""

import numpy as np

from ...ops._interpolation import resize_matrices, separable
from ._base import check_choice, check_positive_int
from .augment import _INTERPOLATIONS, _as_config, _Augmentation, _factor_range
from .image import check_data_format, check_image_shape

__all__ = ["RandomCrop", "RandomBrightness", "RandomHeight", "RandomWidth"]


class _SeparableAugmentation(_Augmentation):
    """Output ``Mh @ image @ Mw.T``: subclasses give the matrices of a call (``None``: the identity)."""

    def _matrices(self, h, w, dtype, training):
        raise NotImplementedError

    def call(self, inputs, training=True):
        check_image_shape(inputs.shape, type(self).__name__)
        matrices = self._matrices(inputs.shape[1], inputs.shape[2], inputs.dtype, training)
        if matrices is None:
            return inputs, None
        return np.ascontiguousarray(separable(inputs, *matrices)), matrices

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:
            return dy
        mh, mw = cache
        return np.ascontiguousarray(separable(dy, mh.T, mw.T))


class RandomCrop(_SeparableAugmentation):
    """Crop a random ``(height, width)`` window (one offset per batch, as Keras), in training.

    At inference, and in training when the image is not larger than the
    window on both sides, the largest centred window with the output's
    aspect ratio is resized (bilinear) to ``(height, width)``, as Keras'
    documentation says.

    Parameters
    ----------
    height, width : int
    seed : int, optional
    data_format : {"channels_last", None}

    Notes
    -----
    Input ``(batch, H, W, C)`` float, output ``(batch, height, width, C)``.
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height = check_positive_int(height, "height", "RandomCrop")
        self.width = check_positive_int(width, "width", "RandomCrop")
        self.data_format = check_data_format(data_format, "RandomCrop")

    def compute_output_shape(self, input_shape):
        check_image_shape(input_shape, "RandomCrop")
        return (input_shape[0], self.height, self.width, input_shape[3])

    def _matrices(self, h, w, dtype, training):
        if training and h > self.height and w > self.width:
            rng = self._generator()
            top = int(rng.uniform(0, h - self.height + 1))
            left = int(rng.uniform(0, w - self.width + 1))
            return np.eye(self.height, h, top, dtype=dtype), np.eye(self.width, w, left, dtype=dtype)
        return resize_matrices(h, w, self.height, self.width, "bilinear", True, dtype)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}


class _RandomSize(_SeparableAugmentation):
    """RandomHeight and RandomWidth (Keras 3's ``keras._legacy.layers``): resize one axis by a random factor."""

    _axis = None  # 1 (height) or 2 (width)

    def __init__(self, factor, interpolation="bilinear", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        owner = type(self).__name__
        self.factor = factor
        self._range = _factor_range(factor, "factor", owner, -1.0, np.inf)
        self.interpolation = check_choice(interpolation, "interpolation", _INTERPOLATIONS, owner)

    def compute_output_shape(self, input_shape):
        check_image_shape(input_shape, type(self).__name__)
        shape = list(input_shape)
        shape[self._axis] = None
        return tuple(shape)

    def _matrices(self, h, w, dtype, training):
        if not training:
            return None
        size = (h, w)[self._axis - 1]
        # One factor per batch; Keras casts factor * size to int32 (truncation). An empty axis cannot be resized.
        new = max(int(self._generator().uniform(1.0 + self._range[0], 1.0 + self._range[1]) * size), 1)
        height, width = (new, w) if self._axis == 1 else (h, new)
        return resize_matrices(h, w, height, width, self.interpolation, False, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": _as_config(self.factor),
            "interpolation": self.interpolation,
        }


class RandomHeight(_RandomSize):
    """Resize the height of a batch by a random factor in ``1 + [lower, upper]``, in training.

    Parameters
    ----------
    factor : float or (float, float)
        ``f`` gives ``(-f, f)``; bounds >= -1.
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    seed : int, optional

    Notes
    -----
    Keras 3 keeps it in ``keras._legacy.layers``. The output height varies per
    call (``None`` in the symbolic shape).
    """

    _axis = 1


class RandomWidth(_RandomSize):
    """Resize the width of a batch by a random factor in ``1 + [lower, upper]``, in training.

    Parameters
    ----------
    factor : float or (float, float)
        ``f`` gives ``(-f, f)``; bounds >= -1.
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    seed : int, optional

    Notes
    -----
    Keras 3 keeps it in ``keras._legacy.layers``. The output width varies per
    call (``None`` in the symbolic shape).
    """

    _axis = 2


class RandomBrightness(_Augmentation):
    """Add a random offset to each image, in training: ``clip(x + f * (high - low), low, high)``.

    Parameters
    ----------
    factor : float or (float, float)
        ``f`` is uniform in ``(-factor, factor)`` or the pair, each in [-1, 1].
    value_range : (float, float), default (0, 255)
        The range of the pixel values (sorted, as Keras): the offset's scale
        and the clip.
    seed : int, optional
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor
        self._range = _factor_range(factor, "factor", "RandomBrightness")
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(
                f"RandomBrightness: value_range must be a (low, high) pair of numbers, got {value_range!r}"
            )
        try:
            self.value_range = sorted(float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(
                f"RandomBrightness: value_range must be a (low, high) pair of numbers, got {value_range!r}"
            ) from None

    def call(self, inputs, training=True):
        check_image_shape(inputs.shape, "RandomBrightness")
        if not training:
            return inputs, None
        b, dt = inputs.shape[0], inputs.dtype
        low, high = self.value_range
        delta = self._generator().uniform(self._range[0], self._range[1], size=b) * (high - low)
        raw = inputs + delta.astype(dt).reshape(b, 1, 1, 1)
        out = np.clip(raw, dt.type(low), dt.type(high))
        return out, out == raw

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        return dy if cache is None else dy * cache

    def get_config(self):
        return {**super().get_config(), "factor": _as_config(self.factor), "value_range": list(self.value_range)}
