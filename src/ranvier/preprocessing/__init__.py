"""Keras 3's ``keras.preprocessing`` names that ranvier has (``import ranvier as keras`` scripts).

Only ``sequence.pad_sequences`` (``ranvier.utils.pad_sequences``): Keras'
``image`` helpers (``load_img``, ``img_to_array``, ...) and the
``*_dataset_from_directory`` / ``timeseries_dataset_from_array`` builders
have no ranvier counterpart yet, so they are absent rather than stubs
(docs/from_keras.md lists them).
"""

from . import sequence

__all__ = ["sequence"]
