"""``ranvier.ops.image`` (Keras 3 ``ops.image``): ``resize``, ``rgb_to_grayscale``, ``affine_transform``.

Images are ``(batch, height, width, channels)`` or one ``(height, width,
channels)`` image (``data_format="channels_first"`` puts channels before the
spatial axes). ``resize`` is the Resizing layer's linear map (one interpolation
matrix per axis: ``Mh @ image @ Mw.T``, backward ``Mh.T @ dy @ Mw``);
``affine_transform`` samples each output pixel from (at most) four input
pixels, and its backward adds dy back to them with the same weights.
"""

import numpy as np

from ._dispatch import TRACED, floating, value
from ._elementwise import copy
from ._interpolation import resize_matrices, separable
from ._linalg import tensordot
from ._shape import expand_dims
from ._tape import record, recording, wrap

__all__ = ["resize", "rgb_to_grayscale", "affine_transform"]

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

    y = restore(separable(x4, mh, mw))
    if not isinstance(images, TRACED):
        return y
    refs = recording(images)
    if refs is None:
        return wrap(y, images)

    def backward(dy):
        d4 = dy if batched else dy[None]
        d4 = np.ascontiguousarray(np.moveaxis(d4, 1, -1) if first else d4)
        return (restore(separable(d4, mh.T, mw.T)),)

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


_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _fix(i, n, mode):
    """Indices ``i`` mapped into ``[0, n)`` by the fill mode (Keras' ``map_coordinates``), and a mask
    of the real pixels ("constant" mode: the others read ``fill_value``; None when all are real)."""
    if mode == "constant":
        return np.clip(i, 0, n - 1), (i >= 0) & (i < n)
    if mode == "nearest":
        return np.clip(i, 0, n - 1), None
    if mode == "wrap":
        return np.mod(i, n), None
    if mode == "mirror":  # d c b | a b c d | c b a: period 2(n - 1), edges not repeated
        period = 2 * (n - 1) if n > 1 else 1
        j = np.mod(i, period)
        return np.where(j >= n, period - j, j), None
    j = np.mod(i, 2 * n)  # "reflect": d c b a | a b c d | d c b a, edges repeated
    return np.where(j >= n, 2 * n - 1 - j, j), None


def _taps(coord, n, interpolation, mode):
    """[(index, weight, mask)] along one axis: one tap (nearest) or two (bilinear) per output pixel."""
    if interpolation == "nearest":
        # Halves round up, as SciPy's order-0 map_coordinates (Keras' NumPy backend) and TF.
        return [(*_fix(np.floor(coord + 0.5).astype(np.intp), n, mode), np.ones_like(coord))]
    lo = np.floor(coord)
    frac = coord - lo
    lo = lo.astype(np.intp)
    return [(*_fix(lo, n, mode), 1 - frac), (*_fix(lo + 1, n, mode), frac)]


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0, data_format=None):
    """Images sampled through projective transforms (Keras ``ops.image.affine_transform``).

    The output pixel (x, y) reads the input at ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``
    with ``k = c0 x + c1 y + 1``, for ``transform = [a0, a1, a2, b0, b1, b2, c0, c1]`` (the
    output-to-input map, as ``tf.raw_ops.ImageProjectiveTransformV3``; ``c0 = c1 = 0`` for an
    affine map).

    Parameters
    ----------
    images : array_like, (batch, H, W, C) or (H, W, C) (channels-first: C before H, W)
    transform : array_like, (8,) or (batch, 8)
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    fill_mode : {"constant", "nearest", "wrap", "mirror", "reflect"}, default "constant"
        How points outside the input read it: ``fill_value``, the nearest edge pixel,
        the input tiled, mirrored about the edge pixels, or reflected about the edges.
    fill_value : float, default 0
    data_format : {"channels_last", "channels_first"}, optional

    Returns
    -------
    ndarray or Tensor of ``images``' shape and dtype. Gradient: to ``images`` (each
    output pixel's interpolation weights, transposed); none to ``transform``.
    """
    a, first = _layout(images, data_format, "affine_transform")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"ops.image.affine_transform: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
        )
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"ops.image.affine_transform: fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}")
    t = np.asarray(value(transform), np.float64)
    batched = a.ndim == 4
    x4 = floating(a if batched else a[None], "affine_transform", "images")
    if first:
        x4 = np.moveaxis(x4, 1, -1)
    b, h, w, _ = x4.shape
    t = t[None] if t.ndim == 1 else t
    if t.ndim != 2 or t.shape[1] != 8 or t.shape[0] not in (1, b):
        raise ValueError(
            f"ops.image.affine_transform: transform must have shape (8,) or ({b}, 8), "
            f"got shape {np.shape(value(transform))}"
        )
    t = np.broadcast_to(t, (b, 8))[:, :, None, None]
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    k = t[:, 6] * xs + t[:, 7] * ys + 1
    src_x = (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / k
    src_y = (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / k
    batch = np.arange(b)[:, None, None]
    # Every (row tap, column tap) pair: pixel indices, weight (with the mask folded in) and the
    # weight that reads fill_value instead (constant mode, outside the input).
    pairs = []
    for iy, my, wy in _taps(src_y, h, interpolation, fill_mode):
        for ix, mx, wx in _taps(src_x, w, interpolation, fill_mode):
            weight = wy * wx
            masks = [m for m in (my, mx) if m is not None]
            inside = masks[0] & masks[-1] if masks else None
            pairs.append((iy, ix, weight if inside is None else weight * inside, inside, weight))
    out = np.zeros(x4.shape, np.float64)
    for iy, ix, wt, inside, weight in pairs:
        out += wt[..., None] * x4[batch, iy, ix]
        if inside is not None and fill_value:
            out += (weight * ~inside)[..., None] * fill_value
    y4 = out.astype(x4.dtype)

    def restore(v):
        v = np.moveaxis(v, -1, 1) if first else v
        return v if batched else v[0]

    y = restore(y4)
    if a.dtype.kind != "f":
        return wrap(y.astype(a.dtype), images)
    if not isinstance(images, TRACED):
        return y
    refs = recording(images)
    if refs is None:
        return wrap(y, images)

    def backward(dy):
        d4 = np.asarray(dy if batched else dy[None])
        d4 = np.moveaxis(d4, 1, -1) if first else d4
        g = np.zeros(x4.shape, np.float64)
        for iy, ix, wt, _, _ in pairs:
            np.add.at(g, (np.broadcast_to(batch, iy.shape), iy, ix), wt[..., None] * d4)
        return (restore(g.astype(x4.dtype)),)

    return record(y, refs, backward)
