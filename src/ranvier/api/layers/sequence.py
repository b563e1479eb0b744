"""Sequence helpers: RepeatVector and Masking."""

import numpy as np

from .base import Layer

__all__ = ["RepeatVector", "Masking"]


class RepeatVector(Layer):
    """Repeat the input ``n`` times: ``(batch, features) -> (batch, n, features)``.

    Parameters
    ----------
    n : int
        Number of repetitions (e.g. the output length of a sequence decoder).
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer, got {n!r}")
        self.n = int(n)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"RepeatVector {self.name!r} expects input of shape (batch, features), got {tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs, training=False):
        if inputs.ndim != 2:
            raise ValueError(f"RepeatVector {self.name!r} expects input of rank 2, got shape {inputs.shape}")
        return np.repeat(inputs[:, None, :], self.n, axis=1), None

    def backward(self, dy, cache, need_input_grad=True):
        return dy.sum(axis=1) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Masking(Layer):
    """Mask timesteps whose features all equal ``mask_value`` (Keras ``Masking``).

    The output is the input with masked timesteps set to zero; the mask
    ``(batch, timesteps)`` goes to the layers downstream (recurrent layers
    skip those steps).

    Parameters
    ----------
    mask_value : float, default 0.0
    """

    supports_masking = True
    _produces_mask = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != self.mask_value, axis=-1)

    def call(self, inputs, training=False, mask=None):
        keep = self.compute_mask(inputs)[..., None].astype(inputs.dtype)
        return inputs * keep, keep

    def backward(self, dy, cache, need_input_grad=True):
        return dy * cache if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
