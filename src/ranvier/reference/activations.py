"""NumPy twins of ``ranvier.core._activations`` (same signatures, same kind codes)."""

import numpy as np
from scipy.special import erf, expit, log_softmax, softmax

from ._beta import scale_by_beta

__all__ = [
    "KINDS",
    "NEEDS_INPUT",
    "ROWWISE",
    "SELU_ALPHA",
    "SELU_SCALE",
    "activation_forward",
    "bias_activation_forward",
    "activation_backward",
    "maxout_forward",
    "maxout_backward",
]

KINDS = {
    "linear": 0,
    "sigmoid": 1,
    "tanh": 2,
    "relu": 3,
    "elu": 4,
    "selu": 5,
    "gelu": 6,
    "gelu_tanh": 7,
    "softplus": 8,
    "softsign": 9,
    "swish": 10,
    "hard_sigmoid": 11,
    "exponential": 12,
    "binary_step": 13,
    "softmax": 14,
    "log_softmax": 15,
    "mish": 16,
    "hard_silu": 17,
    "log_sigmoid": 18,
    "celu": 19,
}
_NAMES = {v: k for k, v in KINDS.items()}
NEEDS_INPUT = frozenset(
    KINDS[k]
    for k in (
        "elu",
        "selu",
        "gelu",
        "gelu_tanh",
        "softplus",
        "softsign",
        "swish",
        "hard_sigmoid",
        "mish",
        "hard_silu",
        "celu",
    )
)
ROWWISE = frozenset({KINDS["softmax"], KINDS["log_softmax"]})
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_K0 = np.sqrt(2 / np.pi)
_K1 = 0.044715


def _relu(x, slope, top, threshold):
    return np.where(x > threshold, np.clip(x, 0, top), slope * (x - threshold))


def _f(name, x, a, b, c):
    if name == "linear":
        return x
    if name == "relu":
        return _relu(x, a, b, c)
    if name == "sigmoid":
        return expit(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "elu":
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if name == "gelu":
        return 0.5 * x * (1 + erf(x / np.sqrt(2)))
    if name == "gelu_tanh":
        return 0.5 * x * (1 + np.tanh(_K0 * (x + _K1 * x**3)))
    if name == "softplus":
        return np.logaddexp(0, x)
    if name == "softsign":
        return x / (1 + np.abs(x))
    if name == "swish":
        return x * expit(x)
    if name == "hard_sigmoid":
        return np.clip(x + 3, 0, 6) / 6
    if name == "exponential":
        return np.exp(x)
    if name == "binary_step":
        return (x >= 0).astype(x.dtype)
    if name == "mish":
        return x * np.tanh(np.logaddexp(0, x))
    if name == "hard_silu":
        return x * np.clip(x + 3, 0, 6) / 6
    if name == "log_sigmoid":
        return -np.logaddexp(0, -x)
    if name == "celu":
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0) / a))
    if name == "softmax":
        return softmax(x, axis=-1)
    return log_softmax(x, axis=-1)


def _df(name, dy, z, y, a, b, c):
    if name == "linear":
        return dy
    if name == "relu":
        return dy * np.where((y > 0) & (y < b), 1, np.where(y < 0, a, 0))
    if name == "sigmoid":
        return dy * y * (1 - y)
    if name == "tanh":
        return dy * (1 - y * y)
    if name == "elu":
        return dy * np.where(z > 0, 1, y + a)
    if name == "selu":
        return dy * np.where(z > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)
    if name == "gelu":
        return dy * (0.5 * (1 + erf(z / np.sqrt(2))) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi))
    if name == "gelu_tanh":
        t = np.tanh(_K0 * (z + _K1 * z**3))
        return dy * 0.5 * (1 + t + z * (1 - t * t) * _K0 * (1 + 3 * _K1 * z * z))
    if name == "softplus":
        return dy * expit(z)
    if name == "softsign":
        return dy / (1 + np.abs(z)) ** 2
    if name == "swish":
        s = expit(z)
        return dy * (s + y * (1 - s))
    if name == "hard_sigmoid":
        return dy * np.where((z > -3) & (z < 3), 1 / 6, 0)
    if name == "exponential":
        return dy * y
    if name == "binary_step":
        return np.zeros_like(dy)
    if name == "mish":
        t = np.tanh(np.logaddexp(0, z))
        return dy * (t + z * (1 - t * t) * expit(z))
    if name == "hard_silu":
        return dy * np.where(z < -3, 0, np.where(z <= 3, z / 3 + 0.5, 1))
    if name == "log_sigmoid":
        return -dy * np.expm1(y)
    if name == "celu":
        return dy * np.where(z > 0, 1, y / a + 1)
    if name == "softmax":
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))
    return dy - np.exp(y) * np.sum(dy, axis=-1, keepdims=True)


def activation_forward(kind, z, a, b, c, out, n_threads):
    """out = f(z). See ``ranvier.core._activations.activation_forward``."""
    if out.shape != z.shape:
        raise ValueError(f"activation_forward: out must have shape {z.shape}, got {out.shape}")
    with np.errstate(over="ignore", under="ignore"):
        out[...] = _f(_NAMES[kind], np.asarray(z), a, b, c)


def bias_activation_forward(kind, z, bias, a, b, c, out, n_threads):
    """z += bias; out = f(z). See ``ranvier.core._activations.bias_activation_forward``."""
    z += bias
    activation_forward(kind, z, a, b, c, out, n_threads)


def activation_backward(kind, dy, z, y, a, b, c, out, n_threads):
    """out = dy * f'(.). See ``ranvier.core._activations.activation_backward``."""
    out[...] = _df(_NAMES[kind], dy, z, y, a, b, c)


def maxout_forward(x, kernel, bias, z, out, argmax, n_threads):
    """Maxout forward. See ``ranvier.core._activations.maxout_forward``."""
    units = out.shape[1]
    np.matmul(x, kernel, out=z)
    z += bias
    pieces = z.reshape(len(x), units, -1)
    argmax[...] = pieces.argmax(axis=-1)
    out[...] = pieces.max(axis=-1)


def maxout_backward(x, kernel, dy, argmax, beta, dz, dkernel, dbias, dx, need_dx, n_threads):
    """Maxout backward. See ``ranvier.core._activations.maxout_backward``."""
    n, units = dy.shape
    dz[...] = 0
    pieces = dz.reshape(n, units, -1)
    np.put_along_axis(pieces, argmax[:, :, None], dy[:, :, None], axis=-1)
    scale_by_beta(dkernel, beta)
    dkernel += x.T @ dz
    scale_by_beta(dbias, beta)
    dbias += dz.sum(axis=0)
    if need_dx:
        np.matmul(dz, kernel.T, out=dx)
