"""Wrapper (Keras 3's base class of layers wrapping a layer) and SpectralNormalization."""

import numpy as np

from .. import initializers, serialization
from .base import Layer
from .input_spec import InputSpec

__all__ = ["Wrapper", "SpectralNormalization"]


class Wrapper(Layer):
    """Base class of a layer that wraps another: ``self.layer``, built with the wrapper, saved in its config.

    Subclasses write ``call``/``backward`` (usually around ``self.layer.call``
    and ``self.layer.backward``). The wrapped layer's weights belong to the
    wrapper. TimeDistributed and Bidirectional predate this class and do not
    derive from it.

    Parameters
    ----------
    layer : Layer
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Layer {layer} supplied to Wrapper isn't a supported layer type. Please ensure wrapped layer is "
                "a valid Keras layer."
            )
        super().__init__(**kwargs)
        self.layer = layer

    def _sublayers(self):
        return [self.layer]

    def build(self, input_shape):
        self.layer._build_once(input_shape)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "layer": serialization.serialize(self.layer, "layer")}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = serialization.deserialize(config.pop("layer"), "layer")
        return cls(layer, **config)


def _normalize(v):
    """``v / max(||v||, 1e-12)``: Keras' ``normalize(axis=None)`` (an L2 norm floored at 1e-12)."""
    return v / max(float(np.sqrt(np.sum(v * v))), 1e-12)


class SpectralNormalization(Wrapper):
    """Divide the wrapped layer's kernel by its largest singular value, estimated by power iteration, in training.

    As Keras 3: each training call runs ``power_iterations`` steps on the
    kernel as a ``(-1, kernel.shape[-1])`` matrix from the stored
    ``vector_u``, then *assigns* ``kernel / sigma`` to the kernel and the new
    vector to ``vector_u`` (an all-zero kernel is left alone), and calls the
    layer; the gradient is the layer's, with respect to the assigned kernel
    (no gradient through ``sigma``). Inference calls the layer as it is.

    Parameters
    ----------
    layer : Layer
        A layer with a ``kernel`` (Dense, Conv*, ...) or ``embeddings`` (Embedding).
    power_iterations : int, default 1

    Notes
    -----
    Weight ``vector_u`` of shape ``(1, kernel.shape[-1])`` (not trainable,
    TruncatedNormal(stddev=0.02) at start), after the layer's weights in
    ``weights`` (ranvier lists trainable weights first).
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, (int, np.integer)):
            raise TypeError(f"SpectralNormalization: power_iterations must be an integer, got {power_iterations!r}")
        if power_iterations <= 0:
            raise ValueError(
                f"`power_iterations` should be greater than zero. Received: `power_iterations={power_iterations}`"
            )
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(f"{type(self.layer).__name__} object has no attribute 'kernel' nor 'embeddings'")
        self.kernel = kernel
        self.vector_u = self.add_weight(
            shape=(1, kernel.shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02),
            trainable=False,
            name="vector_u",
            dtype=kernel.value.dtype,
        )

    @property
    def _input_dtype(self):
        return self.layer._input_dtype

    def normalized_weights(self):
        """``(vector_u, kernel / sigma)`` after the power iteration (Keras' method; nothing assigned)."""
        kernel = self.kernel.value
        weights = kernel.reshape(-1, kernel.shape[-1])
        u = self.vector_u.value
        for _ in range(self.power_iterations):
            v = _normalize(u @ weights.T)
            u = _normalize(v @ weights)
        sigma = (v @ weights) @ u.T
        return u, kernel / sigma.reshape(())

    def call(self, inputs, training=False):
        if training and np.any(self.kernel.value):
            u, kernel = self.normalized_weights()
            self.vector_u.value[...] = u
            self.kernel.value[...] = kernel
        return self.layer.call(inputs, training=training)

    def backward(self, dy, cache, need_input_grad=True):
        return self.layer.backward(dy, cache, need_input_grad)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
