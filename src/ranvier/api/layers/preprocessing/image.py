"""Image preprocessing: Resizing and CenterCrop, as linear maps with a transposed backward.

Both are separable: the output is ``Mh @ image @ Mw.T`` per channel, with one
small dense matrix per axis (each row holds TF's interpolation weights), so
the backward pass is ``Mh.T @ dy @ Mw``. Images are ``channels_last``:
``(batch, height, width, channels)``.
"""

import numpy as np

from ..._conv_geometry import check_channels_last
from ..._errors import UnsupportedArgument
from ...ops._interpolation import resize_matrices, separable
from ._base import FloatPreprocessing, check_choice, check_positive_int

__all__ = ["Resizing", "CenterCrop", "check_image_shape", "check_data_format"]

_INTERPOLATIONS = ("bilinear", "nearest")


def check_data_format(data_format, owner):
    check_channels_last(data_format, owner)
    return "channels_last"


def check_image_shape(shape, owner):
    """Raise unless ``shape`` is ``(batch, height, width, channels)``."""
    if len(shape) != 4:
        raise ValueError(
            f"{owner}: inputs must be images of shape (batch, height, width, channels), got shape {tuple(shape)}"
        )


class _SeparableResize(FloatPreprocessing):
    """A layer whose output is ``Mh @ image @ Mw.T``: subclasses give the two matrices for an input size."""

    def _matrices(self, h, w, dtype):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        check_image_shape(input_shape, type(self).__name__)
        return (input_shape[0], self.height, self.width, input_shape[3])

    def call(self, inputs, training=False):
        check_image_shape(inputs.shape, type(self).__name__)
        mh, mw = self._matrices(inputs.shape[1], inputs.shape[2], inputs.dtype)
        return separable(inputs, mh, mw), (mh, mw)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        mh, mw = cache
        return np.ascontiguousarray(separable(dy, mh.T, mw.T))


class Resizing(_SeparableResize):
    """Resize images to ``(height, width)`` as ``tf.image.resize`` does (half-pixel centres, no antialiasing).

    Parameters
    ----------
    height, width : int
        Output size.
    interpolation : {"bilinear", "nearest"}, default "bilinear"
    crop_to_aspect_ratio : bool, default False
        Resize the largest centred window with the output's aspect ratio (no distortion).
    pad_to_aspect_ratio : bool, default False
        Only False is supported (ValueError otherwise).
    fill_mode, fill_value
        Keras' arguments of ``pad_to_aspect_ratio``; accepted, unused.
    antialias : bool, default False
        Only False is supported.
    data_format : {"channels_last", None}

    Notes
    -----
    Input ``(batch, H, W, C)`` float, output ``(batch, height, width, C)``.
    """

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.height = check_positive_int(height, "height", "Resizing")
        self.width = check_positive_int(width, "width", "Resizing")
        self.interpolation = check_choice(interpolation, "interpolation", _INTERPOLATIONS, "Resizing")
        if pad_to_aspect_ratio:
            raise UnsupportedArgument(f"Resizing: pad_to_aspect_ratio is not supported, got {pad_to_aspect_ratio!r}")
        if antialias:
            raise UnsupportedArgument(f"Resizing: antialias is not supported, got {antialias!r}")
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.fill_mode = check_choice(fill_mode, "fill_mode", ("constant",), "Resizing")
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(data_format, "Resizing")

    def _matrices(self, h, w, dtype):
        return resize_matrices(h, w, self.height, self.width, self.interpolation, self.crop_to_aspect_ratio, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": False,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": False,
            "data_format": self.data_format,
        }


class CenterCrop(_SeparableResize):
    """Crop the centre ``(height, width)`` window of images.

    An image smaller than the window on either side is resized to it instead
    (bilinear, cropped to the aspect ratio first), as in Keras.

    Parameters
    ----------
    height, width : int
    data_format : {"channels_last", None}

    Notes
    -----
    Input ``(batch, H, W, C)`` float, output ``(batch, height, width, C)``; the
    window starts at ``((H - height) // 2, (W - width) // 2)``.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = check_positive_int(height, "height", "CenterCrop")
        self.width = check_positive_int(width, "width", "CenterCrop")
        self.data_format = check_data_format(data_format, "CenterCrop")

    def _matrices(self, h, w, dtype):
        if h < self.height or w < self.width:
            return resize_matrices(h, w, self.height, self.width, "bilinear", True, dtype)
        top, left = (h - self.height) // 2, (w - self.width) // 2
        mh = np.eye(self.height, h, top, dtype=dtype)
        mw = np.eye(self.width, w, left, dtype=dtype)
        return mh, mw

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}
