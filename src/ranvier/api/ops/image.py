"""``ranvier.ops.image`` (Keras 3 ``ops.image``): ``resize`` and ``rgb_to_grayscale``.

Images are ``(batch, height, width, channels)`` or one ``(height, width,
channels)`` image (``data_format="channels_first"`` puts channels before the
spatial axes). ``resize`` is the Resizing layer's linear map (one interpolation
matrix per axis: ``Mh @ image @ Mw.T``, backward ``Mh.T @ dy @ Mw``).
"""

import numpy as np

from ._dispatch import TRACED, floating, value
from ._elementwise import copy
from ._linalg import tensordot
from ._shape import expand_dims
from ._tape import record, recording, wrap

__all__ = ["resize", "rgb_to_grayscale"]

_INTERPOLATIONS = ("bilinear", "nearest")


def _layout(images, data_format, op):
    """(array, channels_first?) after checking the rank (3 or 4) and the data format."""
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"ops.image.{op}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
        )
    a = np.asarray(value(images))
    if a.ndim not in (3, 4):
        raise ValueError(f"ops.image.{op}: images must have rank 3 (one image) or 4 (a batch), got shape {a.shape}")
    return a, fmt == "channels_first"


def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format=None,
):
    """Resize images to ``size`` (half-pixel centres, as ``tf.image.resize`` and the Resizing layer).

    Parameters
    ----------
    images : array_like, (batch, H, W, C) or (H, W, C) (channels-first: C before H, W)
    size : (height, width)
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    antialias : bool
        Only False.
    crop_to_aspect_ratio : bool, default False
        Resize the largest centred window with the output's aspect ratio.
    pad_to_aspect_ratio : bool
        Only False.
    fill_mode, fill_value
        Used with ``pad_to_aspect_ratio`` only; accepted.
    data_format : {"channels_last", "channels_first"}, optional

    Returns
    -------
    ndarray or Tensor of ``images``' rank with (height, width) spatial size, float
    (integer images become floatx). The gradient is the transposed map.
    """
    from ..layers.preprocessing.image import _separable, resize_matrices  # late: layers import ops

    a, first = _layout(images, data_format, "resize")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"ops.image.resize: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
    if antialias or pad_to_aspect_ratio:
        raise NotImplementedError(
            f"ops.image.resize: antialias and pad_to_aspect_ratio are not supported, "
            f"got antialias={antialias!r}, pad_to_aspect_ratio={pad_to_aspect_ratio!r}"
        )
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"ops.image.resize: size must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"ops.image.resize: size must be two ints >= 1, got {size!r}")
    x = floating(a, "resize", "images")
    batched = x.ndim == 4
    x4 = x if batched else x[None]
    if first:
        x4 = np.moveaxis(x4, 1, -1)
    x4 = np.ascontiguousarray(x4)
    mh, mw = resize_matrices(x4.shape[1], x4.shape[2], height, width, interpolation, crop_to_aspect_ratio, x4.dtype)

    def restore(t):
        t = np.moveaxis(t, -1, 1) if first else t
        return t if batched else t[0]

    y = restore(_separable(x4, mh, mw))
    if not isinstance(images, TRACED):
        return y
    refs = recording(images)
    if refs is None:
        return wrap(y, images)

    def backward(dy):
        d4 = dy if batched else dy[None]
        d4 = np.ascontiguousarray(np.moveaxis(d4, 1, -1) if first else d4)
        return (restore(_separable(d4, mh.T, mw.T)),)

    return record(y, refs, backward)


# ITU-R 601 luma weights, as tf.image.rgb_to_grayscale and Keras.
_LUMA = (0.2989, 0.5870, 0.1140)


def rgb_to_grayscale(images, data_format=None):
    """Grayscale images: ``0.2989 R + 0.5870 G + 0.1140 B``, keeping a channel axis of 1.

    Parameters
    ----------
    images : array_like, (batch, H, W, 3) or (H, W, 3) (channels-first: 3 before H, W);
        one-channel images are returned as a copy
    data_format : {"channels_last", "channels_first"}, optional

    Returns
    -------
    ndarray or Tensor with 1 channel, ``images``' dtype (integer images are
    rounded down back to it, as Keras' NumPy backend); gradient for float images.
    """
    a, first = _layout(images, data_format, "rgb_to_grayscale")
    axis = -3 if first else -1
    if a.shape[axis] not in (1, 3):
        raise ValueError(f"ops.image.rgb_to_grayscale: images must have 3 (RGB) or 1 channels, got shape {a.shape}")
    if a.shape[axis] == 1:
        return copy(images)
    if a.dtype.kind != "f":
        x = floating(a, "rgb_to_grayscale", "images")
        gray = np.expand_dims(np.tensordot(x, np.asarray(_LUMA, x.dtype), axes=(axis, 0)), axis)
        return wrap(gray.astype(a.dtype), images)
    return expand_dims(tensordot(images, np.asarray(_LUMA, a.dtype), ([axis % a.ndim], [0])), axis)
