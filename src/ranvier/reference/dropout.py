"""NumPy twin of ``ranvier.core._dropout``: the same counter-based random numbers, bit for bit."""

import numpy as np

__all__ = ["keep_mask", "dropout_forward", "dropout_backward", "normal_fill"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_LOW = np.uint64(0xFFFFFFFF)


def _mix(z):
    # uint64 arrays wrap silently (scalars would warn): callers pass arrays.
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _draw(seed, n):
    """The first ``n`` 64-bit hashes of ``seed``."""
    key = _mix(np.array([seed], dtype=np.uint64))
    return _mix(key + (np.arange(n, dtype=np.uint64) + np.uint64(1)) * _GOLDEN)


def _uniform16(seed, n):
    """``n`` 16-bit uniforms (as uint64): the four half-words of each hash, low first."""
    h = _draw(seed, (n + 3) // 4)
    shifts = np.arange(0, 64, 16, dtype=np.uint64)
    return ((h[:, None] >> shifts) & np.uint64(0xFFFF)).reshape(-1)[:n]


def _check_rate(rate, name):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name}: rate must be in [0, 1), got {rate!r}")


def keep_mask(seed, rate, mask, n_threads=1):
    _check_rate(rate, "keep_mask")
    mask[:] = _uniform16(seed, mask.shape[0]) >= np.uint64(int(rate * 65536.0 + 0.5))


def dropout_forward(x, seed, rate, out, mask, n_threads=1):
    keep_mask(seed, rate, mask)
    np.multiply(x, mask * x.dtype.type(1.0 / (1.0 - rate)), out=out)


def dropout_backward(dy, mask, rate, dx, n_threads=1):
    _check_rate(rate, "dropout_backward")
    np.multiply(dy, mask * dy.dtype.type(1.0 / (1.0 - rate)), out=dx)


def normal_fill(seed, mean, stddev, out, n_threads=1):
    if not stddev >= 0:
        raise ValueError(f"normal_fill: stddev must be >= 0, got {stddev!r}")
    h = _draw(seed, out.shape[0])
    u1 = ((h & _LOW).astype(np.float64) + 1.0) / 2.0**32
    u2 = (h >> np.uint64(32)).astype(np.float64) / 2.0**32
    out[:] = mean + stddev * np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)
