"""Regularisation layers: Dropout and its spatial variants, Gaussian noise, alpha dropout.

Every layer here is the identity at inference (``training=False``). In
training it draws one 64-bit seed per call from its own generator
(``config.make_rng(seed)``, created at build), and the compiled kernels turn
``(seed, element index)`` into random numbers, so a seeded layer repeats its
masks call after call whatever the thread count, and ``backward`` reuses the
forward's mask (kept in the cache).
"""

import math

import numpy as np

from ...core import _dropout
from .. import config, regularizers
from ._buffers import scratch
from .base import Layer

__all__ = [
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
]


def _check_rate(rate, cls):
    if (
        isinstance(rate, bool)
        or not isinstance(rate, (int, float, np.integer, np.floating))
        or not 0.0 <= float(rate) < 1.0
    ):
        raise ValueError(f"{cls}: rate must be a number in [0, 1), got {rate!r}")
    return float(rate)


def _check_seed(seed, cls):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{cls}: seed must be None or a non-negative integer, got {seed!r}")
    return None if seed is None else int(seed)


class _RandomLayer(Layer):
    """A layer that is random in training: a seed, a generator created at build."""

    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _check_seed(seed, type(self).__name__)
        self._rng = None

    def build(self, input_shape):
        self._rng = config.make_rng(self.seed)

    def _next_seed(self):
        """The seed of one call's random numbers."""
        if self._rng is None:
            self._rng = config.make_rng(self.seed)
        return int(self._rng.integers(0, 2**63))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class Dropout(_RandomLayer):
    """Inverted dropout: in training, zero each input with probability ``rate`` and
    scale the others by ``1 / (1 - rate)``, so inference needs no rescaling.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of the inputs to drop.
    noise_shape : tuple, optional
        Shape of the mask, broadcast over the input: ``(batch, 1, features)``
        drops the same features at every timestep. ``None`` entries take the
        input's size. Default: the input's shape.
    seed : int, optional
        Seed of the layer's generator: the same seed repeats the same masks.

    Notes
    -----
    Input and output shape: any, ``(batch, ...)``.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, type(self).__name__)
        if noise_shape is not None:
            try:
                noise_shape = tuple(None if d is None else int(d) for d in noise_shape)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{type(self).__name__}: noise_shape must be a tuple of integers or None, got {noise_shape!r}"
                ) from None
        self.noise_shape = noise_shape

    def _noise_shape(self, shape):
        """The mask's shape for an input of ``shape`` (``shape`` itself when unset)."""
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: noise_shape {self.noise_shape} must have "
                f"one entry per input dimension, got input of shape {tuple(shape)}"
            )
        ns = tuple(s if d is None else d for d, s in zip(self.noise_shape, shape))
        if any(d not in (1, s) for d, s in zip(ns, shape)):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: noise_shape {self.noise_shape} does not "
                f"broadcast to the input shape {tuple(shape)}"
            )
        return ns

    def call(self, inputs, training=False, mask=None):
        if not training or self.rate == 0.0:
            return inputs, None
        shape = self._noise_shape(inputs.shape)
        seed, n_threads = self._next_seed(), config.kernel_threads()
        if shape == inputs.shape:
            out = scratch(self, "out", inputs.shape, inputs.dtype)
            keep = scratch(self, "mask", inputs.shape, np.dtype(np.uint8))
            _dropout.dropout_forward(inputs.reshape(-1), seed, self.rate, out.reshape(-1), keep.reshape(-1), n_threads)
            return out, keep
        keep = scratch(self, "mask", shape, np.dtype(np.uint8))
        _dropout.keep_mask(seed, self.rate, keep.reshape(-1), n_threads)
        factor = keep * inputs.dtype.type(1.0 / (1.0 - self.rate))
        return inputs * factor, factor

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:
            return dy
        if cache.dtype == np.uint8:  # full-shape mask from the fused kernel
            dx = scratch(self, "dx", dy.shape, dy.dtype)
            _dropout.dropout_backward(
                dy.reshape(-1), cache.reshape(-1), self.rate, dx.reshape(-1), config.kernel_threads()
            )
            return dx
        return dy * cache

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
        }


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one mask entry per (sample, channel)."""

    _ndim = None

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"{type(self).__name__}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
            )
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = data_format or "channels_last"

    def build(self, input_shape):
        if len(input_shape) != self._ndim:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs with {self._ndim} "
                f"dimensions, got input shape {tuple(input_shape)}"
            )
        super().build(input_shape)

    def _noise_shape(self, shape):
        ones = (1,) * (len(shape) - 2)
        if self.data_format == "channels_first":
            return (shape[0], shape[1]) + ones
        return (shape[0],) + ones + (shape[-1],)

    def get_config(self):
        cfg = super().get_config()
        del cfg["noise_shape"]
        return {**cfg, "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of ``(batch, steps, channels)`` inputs (Keras SpatialDropout1D)."""

    _ndim = 3

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, data_format=None, seed=seed, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        del cfg["data_format"]
        return cfg


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of ``(batch, rows, cols, channels)`` inputs (NHWC)."""

    _ndim = 4


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature maps of ``(batch, d1, d2, d3, channels)`` inputs."""

    _ndim = 5


class GaussianNoise(_RandomLayer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training.

    Parameters
    ----------
    stddev : float >= 0
    seed : int, optional
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if (
            isinstance(stddev, bool)
            or not isinstance(stddev, (int, float, np.integer, np.floating))
            or not (math.isfinite(stddev) and stddev >= 0)
        ):
            raise ValueError(f"GaussianNoise: stddev must be a finite number >= 0, got {stddev!r}")
        self.stddev = float(stddev)

    def call(self, inputs, training=False, mask=None):
        if not training or self.stddev == 0.0:
            return inputs, None
        out = scratch(self, "out", inputs.shape, inputs.dtype)
        _dropout.normal_fill(self._next_seed(), 0.0, self.stddev, out.reshape(-1), config.kernel_threads())
        out += inputs
        return out, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_RandomLayer):
    """Multiplies the inputs by Gaussian noise of mean 1 and variance ``rate / (1 - rate)`` in training.

    Parameters
    ----------
    rate : float in [0, 1)
    seed : int, optional
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, "GaussianDropout")

    def call(self, inputs, training=False, mask=None):
        if not training or self.rate == 0.0:
            return inputs, None
        noise = scratch(self, "noise", inputs.shape, inputs.dtype)
        _dropout.normal_fill(
            self._next_seed(), 1.0, math.sqrt(self.rate / (1.0 - self.rate)), noise.reshape(-1), config.kernel_threads()
        )
        return inputs * noise, noise

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        return dy if cache is None else dy * cache

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class AlphaDropout(Dropout):
    """Dropout that keeps the mean and variance of SELU activations (Keras AlphaDropout).

    Dropped inputs are set to SELU's negative saturation ``-scale * alpha``, then
    an affine map ``a * x + b`` restores zero mean and unit variance.
    """

    # SELU's alpha * scale: the value SELU tends to for large negative inputs.
    _ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

    def call(self, inputs, training=False, mask=None):
        if not training or self.rate == 0.0:
            return inputs, None
        rate, alpha_p = self.rate, self._ALPHA_P
        keep = scratch(self, "mask", self._noise_shape(inputs.shape), np.dtype(np.uint8))
        _dropout.keep_mask(self._next_seed(), rate, keep.reshape(-1), config.kernel_threads())
        a = ((1.0 - rate) * (1.0 + rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * rate
        factor = keep * inputs.dtype.type(a)
        out = inputs * factor
        out += (1 - keep) * inputs.dtype.type(a * alpha_p) + inputs.dtype.type(b)
        return out, factor


class ActivityRegularization(Layer):
    """The identity, with an L1/L2 penalty on its output (``activity_regularizer``).

    Parameters
    ----------
    l1, l2 : float >= 0
    """

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = self.activity_regularizer.l1, self.activity_regularizer.l2

    def call(self, inputs, training=False, mask=None):
        return inputs, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
