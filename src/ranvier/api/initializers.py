"""Weight initializers (Keras names and defaults), seeded and reproducible."""

import math

import numpy as np

from . import config, serialization

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
    "Identity",
    "get",
    "serialize",
    "deserialize",
]


def _fans(shape):
    """(fan_in, fan_out) as Keras computes them: kernels (..., in, out), receptive field first."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype=None) -> ndarray``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _rng(self):
        # A seeded initializer gives the same values at every call, as in Keras.
        seed = getattr(self, "seed", None)
        return np.random.default_rng(seed) if seed is not None else config.rng()


def _dtype(dtype):
    return np.dtype(dtype or config.floatx())


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, _dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, _dtype(dtype))


class Constant(Initializer):
    """Every entry ``value``."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, _dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Draws from ``N(mean, stddev**2)``; ``seed`` fixes the draws."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, shape).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated_normal(rng, shape):
    """Unit normal draws, re-drawn beyond two standard deviations."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return z


class TruncatedNormal(RandomNormal):
    """Normal draws re-drawn beyond two standard deviations."""

    def __call__(self, shape, dtype=None):
        return (self.mean + self.stddev * _truncated_normal(self._rng(), shape)).astype(_dtype(dtype))


class RandomUniform(Initializer):
    """Draws from ``U[minval, maxval)``; ``seed`` fixes the draws."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n`` where n is fan_in, fan_out or their mean."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "normal", "uniform"):
            raise ValueError(
                "VarianceScaling: distribution must be 'truncated_normal', "
                f"'untruncated_normal' or 'uniform', got {distribution!r}"
            )
        if not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be > 0, got {scale!r}")
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            lim = math.sqrt(3.0 * var)
            w = rng.uniform(-lim, lim, shape)
        elif self.distribution == "truncated_normal":
            # 0.8796... is the std of a unit normal truncated at +-2 (Keras' constant).
            w = math.sqrt(var) / 0.87962566103423978 * _truncated_normal(rng, shape)
        else:
            w = rng.normal(0.0, math.sqrt(var), shape)
        return np.asarray(w, dtype=_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _scaling(name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(
        name,
        (VarianceScaling,),
        {
            "__init__": __init__,
            "get_config": get_config,
            "__doc__": f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r}).",
        },
    )


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """Orthogonal matrix (QR of a normal draw) over the last axis, times ``gain``."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = float(gain), seed

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: shape must have at least 2 dimensions, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # unique decomposition, uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity: shape must be 2-D, got {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


serialization.register_family(
    "initializer",
    Initializer,
    [
        Zeros,
        Ones,
        Constant,
        RandomNormal,
        RandomUniform,
        TruncatedNormal,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
        Identity,
    ],
    {"uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros},
    snake_names=True,
    coerce=lambda fn: fn,
)  # any fn(shape, dtype) works as an initializer


def get(identifier):
    """An initializer from a name (``"glorot_uniform"``, ``"GlorotUniform"``), a config dict, a class,
    an instance or a function ``fn(shape, dtype)`` (returned as it is)."""
    return serialization.get(identifier, "initializer")


def serialize(initializer):
    """``{"class_name", "config"}`` of an initializer (JSON types)."""
    return serialization.serialize(initializer, "initializer")


def deserialize(config, custom_objects=None):
    """The initializer a :func:`serialize` dict (or a name) describes."""
    return serialization.deserialize(config, "initializer", custom_objects)
