"""``keras.preprocessing.image``: the image file helpers of ``ranvier.utils`` and ``smart_resize``."""

from ..api._image_utils import array_to_img, img_to_array, load_img, save_img, smart_resize

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img", "smart_resize"]
