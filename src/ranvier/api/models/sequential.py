"""Sequential: a plain stack of layers, each feeding the next."""

import numpy as np

from .. import serialization
from ..layers._symbolic import KerasTensor
from ..layers.base import Layer
from ..layers.core import InputLayer
from . import _pickling
from ._nested import NestedModel
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers (``Sequential([...])`` or ``.add``).

    The input shape comes from a leading ``Input``, from ``input_shape=`` on
    the first layer, from ``build(input_shape)``, or from the first data the
    model sees in ``fit``/``predict``.

    Parameters
    ----------
    layers : list of Layer, optional
    name : str, optional
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._stack = []
        self._input_layer = None
        self._add_all(layers or [])

    def _add_all(self, layers):
        # One build for the whole stack: a build per add would make construction quadratic in depth.
        seen = {id(other) for other in self._stack}
        for layer in layers:
            self._append(layer, seen)
        if self._input_known():
            self.build()

    def add(self, layer, rebuild=True):
        """Append a layer (or set the input with ``rv.layers.Input(shape)``).

        ``rebuild=False`` (Keras 3's argument) leaves the graph to be built later, when the
        model is used or ``build`` is called: adding many layers then costs one build, not one each.
        """
        if self._append(layer, {id(other) for other in self._stack}) and rebuild and self._input_known():
            self.build()

    def _append(self, layer, seen):
        """Stack ``layer`` (or take an Input); ``seen`` holds the ids of the stacked layers.

        Returns whether a layer was stacked.
        """
        if isinstance(layer, KerasTensor):
            if layer.node is not None or not hasattr(layer, "input_layer"):
                raise TypeError("Sequential.add: only an Input tensor or a Layer can be added, got a layer output")
            layer = layer.input_layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("Sequential.add: an Input can only come first")
            self._input_layer = layer
            self._invalidate()
            return False
        if isinstance(layer, Model):
            layer = NestedModel(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer or a Model, got {type(layer).__name__}: {layer!r}")
        if id(layer) in seen:
            raise ValueError(f"Sequential.add: layer {layer.name!r} is already in the model")
        seen.add(id(layer))
        self._stack.append(layer)
        self._invalidate()
        return True

    def _input_known(self):
        return bool(self._stack) and (self._input_layer is not None or self._stack[0]._batch_input_shape is not None)

    def pop(self):
        """Remove and return the last layer."""
        if not self._stack:
            raise IndexError("Sequential.pop: the model has no layers")
        layer = self._stack.pop()
        self._invalidate()
        if self._input_known():
            self.build()
        return layer

    def _invalidate(self):
        self._executor = None
        self._flat_params = None

    @property
    def layers(self):
        return list(self._stack)

    def build(self, input_shape=None, input_dtype=None):
        """Create every layer's weights for inputs of ``input_shape`` (batch dimension included)."""
        if not self._stack:
            raise ValueError("Sequential.build: the model has no layers")
        if input_shape is not None:
            from ..layers.base import normalize_shape

            shape = normalize_shape(input_shape, "input_shape")
            self._input_layer = InputLayer(batch_shape=(None,) + shape[1:], dtype=input_dtype, name=self._input_name())
        elif self._input_layer is None:
            first = self._stack[0]
            if first._batch_input_shape is None:
                raise ValueError(
                    "Sequential.build: the input shape is unknown; give input_shape or put rv.layers.Input(shape) first"
                )
            dtype = getattr(first, "_input_dtype", None)
            self._input_layer = InputLayer(batch_shape=first._batch_input_shape, dtype=dtype, name=self._input_name())
        t = self._input_layer.output
        for layer in self._stack:
            t = layer(t)
            if isinstance(t, list):
                raise ValueError(
                    f"Sequential: layer {layer.name!r} returns several outputs; use the "
                    "functional API (rv.Model) for it"
                )
        self._set_graph(self._input_layer.output, t)
        if self.compiled:
            self._setup_training()

    def _input_name(self):
        return f"{self.name}_input"

    def _ensure_graph(self, x=None):
        if self._executor is None:
            if self._input_layer is None and (not self._stack or self._stack[0]._batch_input_shape is None):
                raise ValueError(
                    f"Sequential model {self.name!r} is not built yet: give the first layer "
                    "input_shape=..., start with rv.layers.Input(shape), or call fit/build first"
                )
            self.build()

    def _build_from_data(self, x):
        if self._executor is not None:
            return
        if self._input_layer is None and self._stack and self._stack[0]._batch_input_shape is None:
            arr = np.asarray(x)
            # Strings for a first layer that reads text (TextVectorization, StringLookup), as in Keras.
            text = arr.dtype.kind in "OUS" and getattr(self._stack[0], "_accepts_text", False)
            if (arr.dtype.kind not in "biuf" and not text) or arr.ndim < 1:
                raise TypeError(
                    f"x must be a numeric array with a batch dimension, got dtype {arr.dtype} and shape {arr.shape}"
                )
            dtype = "string" if text else getattr(self._stack[0], "_input_dtype", None)
            self.build((None,) + arr.shape[1:], input_dtype=dtype)
        else:
            self._ensure_graph()

    def __getstate__(self):
        # Unbuilt, the model has no weights yet and cannot make saved-model bytes: keep its config.
        return super().__getstate__() if self.built else _pickling.config_state(self)

    def get_config(self):
        layers = [self._input_layer] if self._input_layer is not None else []
        return {
            "name": self.name,
            "layers": [serialization.serialize(layer, "layer") for layer in layers + self._stack],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"))
        model._add_all(serialization.deserialize(cfg, "layer", custom_objects) for cfg in config["layers"])
        return model
