"""Random draws as Keras 3's ``keras.random``: ``normal``, ``uniform``, ``randint``, ``dropout``, ...

Seeds work as in Keras: an int gives the same values at every call (stateless),
a ``SeedGenerator`` gives new values at every call (its state advances), and
None draws from the global generator that ``keras.utils.set_random_seed``
seeds. Draws are NumPy arrays (constants on a tape); ``dropout`` and
``shuffle`` of a recorded tensor are recorded (their gradient reaches it).
"""

import numpy as np

from . import config, ops

__all__ = [
    "SeedGenerator",
    "normal",
    "uniform",
    "truncated_normal",
    "randint",
    "categorical",
    "dropout",
    "shuffle",
    "gamma",
    "binomial",
    "beta",
]


class SeedGenerator:
    """A source of seeds whose state advances at every draw (Keras 3's ``keras.random.SeedGenerator``).

    Parameters
    ----------
    seed : int, optional
        None: seeded from the global generator (``keras.utils.set_random_seed``).
    name : str, optional

    Notes
    -----
    Differs from Keras: the state is not a variable of the layer holding the
    generator, so it is not saved with the model's weights.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"SeedGenerator: seed must be a non-negative integer or None, got {seed!r}")
        self.name = name or "seed_generator"
        self._rng = config.make_rng(None if seed is None else int(seed))

    def next(self):
        """A fresh integer seed (the state advances)."""
        return int(self._rng.integers(2**63))

    def generator(self):
        """The NumPy generator behind the draws (advances with them)."""
        return self._rng


def _generator(seed, what):
    if seed is None:
        return config.rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"random.{what}: seed must be None, a non-negative int or a SeedGenerator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _shape(shape, what):
    shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ValueError(f"random.{what}: shape must hold non-negative ints, got {shape!r}")
    return tuple(int(d) for d in shape)


def _float_dtype(dtype, what):
    dtype = np.dtype(config.floatx() if dtype is None else dtype)
    if dtype.kind != "f":
        raise ValueError(f"random.{what}: dtype must be a float type, got {dtype}")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from N(mean, stddev^2), an array of ``shape``."""
    rng = _generator(seed, "normal")
    return rng.normal(mean, stddev, _shape(shape, "normal")).astype(_float_dtype(dtype, "normal"))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws from U[minval, maxval), an array of ``shape``."""
    rng = _generator(seed, "uniform")
    return rng.uniform(minval, maxval, _shape(shape, "uniform")).astype(_float_dtype(dtype, "uniform"))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from N(mean, stddev^2) redrawn until within two standard deviations of the mean."""
    rng = _generator(seed, "truncated_normal")
    out = rng.standard_normal(_shape(shape, "truncated_normal"))
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (mean + stddev * out).astype(_float_dtype(dtype, "truncated_normal"))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    if maxval <= minval:
        raise ValueError(f"random.randint: maxval must exceed minval, got minval={minval!r}, maxval={maxval!r}")
    rng = _generator(seed, "randint")
    return rng.integers(minval, maxval, _shape(shape, "randint")).astype(dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn from softmax(logits)."""
    z = np.asarray(getattr(logits, "value", logits), np.float64)
    if z.ndim != 2:
        raise ValueError(f"random.categorical: logits must be (batch, classes), got shape {z.shape}")
    rng = _generator(seed, "categorical")
    # Gumbel-max: the argmax of logits plus Gumbel noise is a draw from their softmax.
    g = -np.log(-np.log(rng.uniform(np.finfo(np.float64).tiny, 1.0, (z.shape[0], int(num_samples), z.shape[1]))))
    return np.argmax(z[:, None, :] + g, axis=-1).astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with entries zeroed with probability ``rate``, the rest scaled by 1 / (1 - rate)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"random.dropout: rate must be in [0, 1), got {rate!r}")
    shape = tuple(inputs.shape) if noise_shape is None else _shape(noise_shape, "dropout")
    keep = _generator(seed, "dropout").uniform(size=shape) >= rate
    dtype = np.asarray(getattr(inputs, "value", inputs)).dtype
    return ops.multiply(inputs, (keep / (1.0 - rate)).astype(dtype))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order."""
    perm = _generator(seed, "shuffle").permutation(x.shape[axis])
    return ops.take(x, perm, axis=axis)


def gamma(shape, alpha, dtype=None, seed=None):
    """Draws from Gamma(alpha, 1)."""
    rng = _generator(seed, "gamma")
    return rng.gamma(alpha, 1.0, _shape(shape, "gamma")).astype(_float_dtype(dtype, "gamma"))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Draws from Binomial(counts, probabilities), as floats (Keras' default dtype)."""
    rng = _generator(seed, "binomial")
    return rng.binomial(counts, probabilities, _shape(shape, "binomial")).astype(_float_dtype(dtype, "binomial"))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Draws from Beta(alpha, beta)."""
    rng = _generator(seed, "beta")
    return rng.beta(alpha, beta, _shape(shape, "beta")).astype(_float_dtype(dtype, "beta"))
