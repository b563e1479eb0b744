"""Saving and the serialization registry (Keras-style import path: ``ranvier.saving``, as ``keras.saving``).

>>> @rv.saving.register_keras_serializable(package="my_package")
... class Scale(rv.layers.Layer): ...
>>> rv.saving.load_model("m.ranvier")   # finds "my_package>Scale" with no custom_objects
"""

from .api.saving import InvalidModelFileError, load_model, load_weights, save_model, save_weights
from .api.serialization import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

__all__ = [
    "register_keras_serializable",
    "get_registered_object",
    "get_registered_name",
    "get_custom_objects",
    "CustomObjectScope",
    "custom_object_scope",
    "serialize_keras_object",
    "deserialize_keras_object",
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "InvalidModelFileError",
]
