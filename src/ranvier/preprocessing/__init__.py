"""Keras 3's ``keras.preprocessing`` names (``import ranvier as keras`` scripts).

``sequence.pad_sequences``, the ``image`` helpers (``load_img``, ``img_to_array``, ...,
``smart_resize``) and the data set builders, the same objects as in ``ranvier.utils``.
"""

from ..api.utils import image_dataset_from_directory, text_dataset_from_directory, timeseries_dataset_from_array
from . import image, sequence

__all__ = [
    "image",
    "sequence",
    "image_dataset_from_directory",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
