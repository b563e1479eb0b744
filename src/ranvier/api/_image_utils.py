"""Keras 3's image helpers: ``load_img``, ``save_img``, ``array_to_img``, ``img_to_array``.

Pillow is optional (not a dependency of ranvier): what needs it imports it when
called and, without it, raises Keras' ImportError with the ``pip install pillow``
hint. ``img_to_array`` works on arrays without Pillow, as Keras' does.
"""

import io
import pathlib
import warnings

import numpy as np

from . import config
from ._errors import UnsupportedArgument
from .ops._interpolation import resize_matrices, separable

__all__ = [
    "array_to_img",
    "img_to_array",
    "load_img",
    "save_img",
    "smart_resize",
    "IMAGE_FORMATS",
    "require_pil",
    "load_image",
]

#: The file extensions ``image_dataset_from_directory`` reads (Keras' ALLOWLIST_FORMATS).
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_PIL_RESAMPLING = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def require_pil(what):
    """``PIL.Image``, or Keras' ImportError naming ``what`` and ``pip install pillow``."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f"Could not import PIL.Image. The use of `{what}` requires PIL: install it with `pip install pillow`."
        ) from None
    return Image


def _data_format(data_format, where):
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{where}: data_format must be 'channels_last', 'channels_first' or None, got {data_format!r}")
    return data_format


def _open(path, image_module):
    if isinstance(path, io.BytesIO):
        return image_module.open(path)
    if isinstance(path, (pathlib.Path, bytes, str)):
        with open(path, "rb") as fh:
            return image_module.open(io.BytesIO(fh.read()))
    raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")


def _convert(img, color_mode):
    """Keras' channel rules: grayscale keeps 8/16/32-bit gray images, else converts."""
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    mode = {"rgb": "RGB", "rgba": "RGBA"}.get(color_mode)
    if mode is None:
        raise ValueError(f'color_mode must be "grayscale", "rgb", or "rgba", got {color_mode!r}')
    return img if img.mode == mode else img.convert(mode)


def decode_image(path, channels):
    """The image at ``path`` as a float32 array (height, width, channels), 1, 3 or 4 channels."""
    img = _convert(_open(path, require_pil("load_img")), {1: "grayscale", 3: "rgb", 4: "rgba"}[channels])
    arr = np.asarray(img, dtype=np.float32)
    return arr[:, :, None] if arr.ndim == 2 else arr


def load_image(path, channels, image_size, interpolation, crop_to_aspect_ratio):
    """One image of ``image_dataset_from_directory``: decoded, resized as ``tf.image.resize``.

    Returns a float32 array of shape ``image_size + (channels,)``.
    """
    img = decode_image(path, channels)
    h, w = img.shape[:2]
    mh, mw = resize_matrices(h, w, image_size[0], image_size[1], interpolation, crop_to_aspect_ratio, np.float32)
    return separable(img[None], mh, mw)[0]


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A ``PIL.Image`` of a 3-D array (needs Pillow), as ``keras.utils.array_to_img``.

    Parameters
    ----------
    x : array-like of shape (height, width, channels) (or channels first)
        1 (grayscale), 3 (RGB) or 4 (RGBA) channels.
    data_format : {"channels_last", "channels_first", None}
    scale : bool, default True
        Rescale the values to 0-255 (minimum to 0, maximum to 255).
    dtype : str, optional
        The dtype ``x`` is read as (default: ``ranvier.config.floatx()``).

    Returns
    -------
    PIL.Image.Image

    Raises
    ------
    ImportError
        Without Pillow (``pip install pillow``).
    """
    data_format = _data_format(data_format, "array_to_img")
    dtype = config.floatx() if dtype is None else dtype
    image_module = require_pil("array_to_img")
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    mode = {4: "RGBA", 3: "RGB"}.get(x.shape[2])
    if mode is not None:
        return image_module.fromarray(x.astype("uint8"), mode)
    if x.shape[2] == 1:
        if np.max(x) > 255:  # a 32-bit integer grayscale image: PIL mode "I"
            return image_module.fromarray(x[:, :, 0].astype("int32"), "I")
        return image_module.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {x.shape[2]}")


def img_to_array(img, data_format=None, dtype=None):
    """A ``PIL.Image`` (or any array-like image) as a 3-D NumPy array, as ``keras.utils.img_to_array``.

    Parameters
    ----------
    img : PIL.Image.Image or array-like of shape (height, width) or (height, width, channels)
    data_format : {"channels_last", "channels_first", None}
    dtype : str, optional
        Default ``ranvier.config.floatx()``.

    Returns
    -------
    ndarray of shape (height, width, channels) (``(channels, height, width)`` channels first)
    """
    data_format = _data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=config.floatx() if dtype is None else dtype)
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    if x.ndim == 2:
        return x.reshape((1,) + x.shape if data_format == "channels_first" else x.shape + (1,))
    raise ValueError(f"Unsupported image shape: {x.shape}")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save a 3-D array as an image file (needs Pillow), as ``keras.utils.save_img``.

    Parameters
    ----------
    path : str, path-like or file object
    x : array-like of shape (height, width, channels)
    data_format : {"channels_last", "channels_first", None}
    file_format : str, optional
        Default: the extension of ``path`` (``"jpg"`` is saved as ``"jpeg"``).
    scale : bool, default True
        As in :func:`array_to_img`.
    **kwargs
        Passed to ``PIL.Image.Image.save``.
    """
    data_format = _data_format(data_format, "save_img")
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Load an image file as a ``PIL.Image`` (needs Pillow), as ``keras.utils.load_img``.

    Parameters
    ----------
    path : str, path-like or io.BytesIO
    color_mode : {"rgb", "rgba", "grayscale"}, default "rgb"
    target_size : (int, int), optional
        ``(height, width)`` to resize to (Pillow's resampling).
    interpolation : {"nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"}, default "nearest"
    keep_aspect_ratio : bool, default False
        Crop the centre to the target's aspect ratio before resizing.

    Returns
    -------
    PIL.Image.Image

    Raises
    ------
    ImportError
        Without Pillow (``pip install pillow``).
    """
    image_module = require_pil("load_img")
    img = _convert(_open(path, image_module), color_mode)
    if target_size is None:
        return img
    width_height = (target_size[1], target_size[0])
    if img.size == width_height:
        return img
    if interpolation not in _PIL_RESAMPLING:
        raise ValueError(
            f"Invalid interpolation method {interpolation} specified. Supported methods are "
            f"{', '.join(_PIL_RESAMPLING)}"
        )
    resample = getattr(getattr(image_module, "Resampling", image_module), interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(width_height, resample)
    width, height = img.size
    crop_height = min(height, (width * width_height[1]) // width_height[0])
    crop_width = min(width, (height * width_height[0]) // width_height[1])
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    return img.resize(width_height, resample, box=[left, top, left + crop_width, top + crop_height])


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Resize images without distorting them, as ``keras.preprocessing.image.smart_resize``.

    The largest centred window with the aspect ratio of ``size`` is cut out, then
    resized to ``size`` as ``tf.image.resize`` does (half-pixel centres, no antialiasing).

    Parameters
    ----------
    x : array-like of shape (height, width, channels) or (batch, height, width, channels)
    size : (int, int)
        ``(height, width)`` of the output.
    interpolation : {"bilinear", "nearest"}, default "bilinear"
        Keras' ``"bicubic"``, ``"lanczos3"``, ``"lanczos5"`` raise NotImplementedError.
    data_format : {"channels_last"}

    Returns
    -------
    ndarray of shape ``(size[0], size[1], channels)`` (batch first if ``x`` has one);
    ``x``'s dtype if it is a float, else float32.
    """
    if kwargs:
        raise ValueError(f"smart_resize() got unexpected keyword arguments: {list(kwargs.keys())}")
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    if interpolation not in ("bilinear", "nearest"):
        raise UnsupportedArgument(f"smart_resize: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    if data_format != "channels_last":
        raise UnsupportedArgument(f"smart_resize: data_format must be 'channels_last', got {data_format!r}")
    img = np.asarray(x)
    if not 3 <= img.ndim <= 4:
        raise ValueError(
            "Expected an image array with shape `(height, width, channels)`, or `(batch_size, height, width, "
            f"channels)`, but got input with incorrect rank, of shape {img.shape}."
        )
    dtype = img.dtype if img.dtype.kind == "f" else np.dtype(np.float32)
    batch = img.astype(dtype, copy=False).reshape((-1,) + img.shape[-3:])
    mh, mw = resize_matrices(batch.shape[1], batch.shape[2], size[0], size[1], interpolation, True, dtype)
    out = separable(batch, mh, mw)
    return out if img.ndim == 4 else out[0]
