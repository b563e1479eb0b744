"""Lambda: a function of the inputs used as a layer."""

import inspect

from .. import serialization
from .base import Layer

__all__ = ["Lambda"]


class Lambda(Layer):
    """Wrap ``function(inputs, **arguments)`` as a layer (Keras 3's signature).

    The function is written with ``ranvier.ops``: like any layer without a
    hand-written backward it is traced, so its gradient comes from the ops.

    Parameters
    ----------
    function : callable
        ``function(inputs)`` (also given ``mask=`` / ``training=`` if it takes them).
    output_shape : tuple or callable, optional
        The output shape without the batch dimension, or a function of the
        input shape; inferred from one run on zeros when omitted.
    mask : array or callable, optional
        The output mask, or ``mask(inputs, input_mask)``.
    arguments : dict, optional
        Keyword arguments passed to ``function``.

    Notes
    -----
    Saving stores the function by name: register it with
    ``@rv.saving.register_keras_serializable()`` (or pass it in
    ``custom_objects`` when loading). A ``lambda`` expression cannot be saved:
    ranvier never writes or runs code from a model file, the guarantee Keras
    gives only with ``safe_mode=True``.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {function!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict, got {arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self._mask = mask
        self.supports_masking = mask is not None
        parameters = inspect.signature(function).parameters
        self._passes = [name for name in ("mask", "training") if name in parameters]

    def call(self, inputs, mask=None, training=False):
        extra = {"mask": mask, "training": training}
        return self.function(inputs, **self.arguments, **{name: extra[name] for name in self._passes})

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + tuple(self._output_shape)

    def compute_mask(self, inputs, mask=None):
        if callable(self._mask):
            return self._mask(inputs, mask)
        return self._mask

    def get_config(self):
        name = serialization.function_name(self.function, f"Lambda {self.name!r}")
        if self._mask is not None or callable(self._output_shape):
            raise ValueError(
                f"Lambda {self.name!r}: a mask or an output_shape function cannot be saved, got "
                f"mask={self._mask!r}, output_shape={self._output_shape!r}"
            )
        return {
            **super().get_config(),
            "function": name,
            "arguments": self.arguments,
            "output_shape": None if self._output_shape is None else list(self._output_shape),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(serialization.registered_function(config.pop("function"), "Lambda"), **config)
