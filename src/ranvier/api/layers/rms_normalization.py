"""RMSNormalization (Keras 3): ``x * rsqrt(mean(x ** 2, axis) + epsilon) * scale``."""

import numpy as np

from .base import Layer

__all__ = ["RMSNormalization"]


class RMSNormalization(Layer):
    """Root-mean-square normalisation with a learned ``scale`` (Keras 3's arguments and weight).

    Parameters
    ----------
    axis : int or list of int, default -1
        The axes the mean square is taken over (never the batch axis).
    epsilon : float, default 1e-6
        Added to the mean square.

    Notes
    -----
    Weight ``scale`` of shape ``[input_shape[a] for a in sorted(axis)]``, ones at
    start, as Keras; it broadcasts on the normalised axes.
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise TypeError(f"RMSNormalization: axis must be an integer or a list of integers, got {axis!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon >= 0:
            raise ValueError(f"RMSNormalization: epsilon must be a number >= 0, got {epsilon!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)

    def _resolve(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        resolved = set()
        for a in axes:
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(
                    f"RMSNormalization {self.name!r}: axis {a} is out of bounds (or the batch axis) for inputs "
                    f"of rank {ndim}. Received: axis={self.axis}"
                )
            resolved.add(a % ndim)
        return tuple(sorted(resolved))

    def build(self, input_shape):
        self._axes = self._resolve(len(input_shape))
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ValueError(f"RMSNormalization {self.name!r}: the normalised axes need known sizes, got {input_shape}")
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        self._scale_shape = tuple(input_shape[a] if a in self._axes else 1 for a in range(len(input_shape)))
        self._others = tuple(a for a in range(len(input_shape)) if a not in self._axes)

    def compute_output_shape(self, input_shape):
        self._resolve(len(input_shape))
        return tuple(input_shape)

    def call(self, inputs, training=False, mask=None):
        inv = 1.0 / np.sqrt(np.mean(inputs * inputs, axis=self._axes, keepdims=True) + self.epsilon)
        normed = inputs * inv
        return normed * self.scale.value.reshape(self._scale_shape), (normed, inv)

    def backward(self, dy, cache, need_input_grad=True):
        normed, inv = cache
        if self.trainable:
            self.scale.accumulate_grad(np.sum(dy * normed, axis=self._others).reshape(self.scale.value.shape))
        if not need_input_grad:
            return None
        dn = dy * self.scale.value.reshape(self._scale_shape)
        return inv * (dn - normed * np.mean(dn * normed, axis=self._axes, keepdims=True))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
