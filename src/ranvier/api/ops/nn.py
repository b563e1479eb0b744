"""``ranvier.ops.nn``: activations, softmax, normalization, crossentropies (Keras 3 ``ops.nn``).

Activations run ranvier's compiled activation kernels (``core._activations``
through ``api.activations``: one pass forward, one backward, threaded inside
fit). Crossentropies are single nodes with their closed-form gradients
(``softmax - target`` from logits). ``conv``, ``max_pool`` and
``average_pool`` (in ``_conv``) run the Conv2D / pooling layers' kernels.
"""

import functools

import numpy as np

from .. import activations as _activations
from .. import config
from ._conv import average_pool, conv, conv_transpose, depthwise_conv, max_pool, separable_conv
from ._dispatch import TRACED, floating, unary, value
from ._elementwise import divide as _divide
from ._elementwise import maximum as _maximum
from ._elementwise import multiply as _multiply
from ._elementwise import rsqrt as _rsqrt
from ._elementwise import square as _square
from ._reduction import mean as _mean
from ._reduction import norm as _norm
from ._reduction import sum as _sum
from ._reduction import var as _var
from ._shape import reshape as _reshape
from ._shape import squeeze as _squeeze
from ._tape import record, recording, wrap

__all__ = [
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "gelu",
    "silu",
    "swish",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "leaky_relu",
    "hard_sigmoid",
    "log_sigmoid",
    "mish",
    "hard_silu",
    "hard_swish",
    "celu",
    "glu",
    "sparsemax",
    "conv",
    "max_pool",
    "average_pool",
    "moments",
    "batch_normalization",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "one_hot",
    "multi_hot",
    "normalize",
    "conv_transpose",
    "depthwise_conv",
    "separable_conv",
]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _kernel_input(x, op):
    """``x`` as a C-contiguous float32/float64 array (what the activation kernels read)."""
    a = floating(value(x), op)
    if getattr(a, "dtype", None) not in _KERNEL_DTYPES:
        a = np.asarray(a, config.floatx())
    return np.ascontiguousarray(a)


def _run(kernel, x, op):
    a = _kernel_input(x, op)
    y = kernel.forward(a)
    if not isinstance(x, TRACED):
        return y
    refs = recording(x)
    if refs is None:
        return wrap(y, x)
    z = a if kernel.needs_input else None
    return record(y, refs, lambda dy: (kernel.backward(np.ascontiguousarray(dy, y.dtype), z, y),))


def _activation(name, identifier=None, doc=None):
    kernel = _activations.get(identifier or name)

    def op(x):
        return _run(kernel, x, name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or f"``{name}`` (Keras ``ops.{name}``), by ranvier's activation kernel."
    return op


@functools.lru_cache(maxsize=64)
def _parametrised(name, **params):
    return _activations.deserialize({"class_name": name, "config": params})


relu = _activation("relu", doc="``max(x, 0)``.")
relu6 = _activation("relu6", doc="``min(max(x, 0), 6)``.")
sigmoid = _activation("sigmoid", doc="``1 / (1 + exp(-x))``, without overflow.")
tanh = _activation("tanh", doc="Hyperbolic tangent.")
silu = _activation("silu", doc="``x * sigmoid(x)``.")
swish = _activation("swish", doc="``x * sigmoid(x)`` (also named silu).")
selu = _activation("selu", doc="Scaled ELU with the fixed constants of Klambauer et al. (2017).")
softplus = _activation("softplus", doc="``log(1 + exp(x))``, without overflow.")
softsign = _activation("softsign", doc="``x / (1 + |x|)``.")
hard_sigmoid = _activation("hard_sigmoid", doc="``relu6(x + 3) / 6``.")
log_sigmoid = unary(
    "log_sigmoid",
    lambda x: -np.logaddexp(0, -x),
    lambda dy, x, y: -dy * np.expm1(y),
    doc="``log(sigmoid(x)) = -softplus(-x)``, without overflow.",
)
mish = _activation("mish", doc="``x * tanh(softplus(x))``.")
hard_silu = _activation("hard_silu", doc="``x * relu6(x + 3) / 6``.")
hard_swish = _activation("hard_swish", doc="``x * relu6(x + 3) / 6`` (also named hard_silu).")


def celu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha * (exp(x / alpha) - 1)`` below."""
    return _run(_parametrised("celu", alpha=float(alpha)), x, "celu")


def glu(x, axis=-1):
    """Gated linear unit ``a * sigmoid(b)``, ``a, b`` the halves of ``axis``."""
    return _run(_parametrised("glu", axis=axis), x, "glu")


def sparsemax(x, axis=-1):
    """Sparsemax along ``axis``: the projection of ``x`` onto the probability simplex."""
    return _run(_parametrised("sparsemax", axis=axis), x, "sparsemax")


def gelu(x, approximate=True):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate=True`` (Keras ops' default) is the tanh form.

    Note ``rv.activations.gelu`` defaults to the exact form, as Keras' activation does.
    """
    return _run(_parametrised("gelu", approximate=bool(approximate)), x, "gelu")


def elu(x, alpha=1.0):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below."""
    return _run(_parametrised("elu", alpha=float(alpha)), x, "elu")


def leaky_relu(x, negative_slope=0.2):
    """``x`` for x >= 0, ``negative_slope * x`` below."""
    return _run(_parametrised("leaky_relu", negative_slope=float(negative_slope)), x, "leaky_relu")


def _along(kernel, x, axis, op):
    """A last-axis kernel (softmax, log_softmax) applied along ``axis``."""
    a = _kernel_input(x, op)
    if a.ndim == 0:
        raise ValueError(f"ops.{op}: x must have at least one axis, got a scalar")
    if not isinstance(axis, (int, np.integer)) or not -a.ndim <= axis < a.ndim:
        raise ValueError(f"ops.{op}: axis must be an int in [-{a.ndim}, {a.ndim}), got {axis!r}")
    last = axis % a.ndim == a.ndim - 1
    moved = a if last else np.ascontiguousarray(np.moveaxis(a, axis, -1))
    ym = kernel.forward(moved)
    y = ym if last else np.moveaxis(ym, -1, axis)
    if not isinstance(x, TRACED):
        return y if last else np.ascontiguousarray(y)
    refs = recording(x)
    if refs is None:
        return wrap(y, x)

    def backward(dy):
        dym = np.ascontiguousarray(dy if last else np.moveaxis(dy, axis, -1), ym.dtype)
        g = kernel.backward(dym, moved if kernel.needs_input else None, ym)
        return (g if last else np.moveaxis(g, -1, axis),)

    return record(y, refs, backward)


_SOFTMAX = _activations.get("softmax")
_LOG_SOFTMAX = _activations.get("log_softmax")


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, by the softmax kernel."""
    return _along(_SOFTMAX, x, axis, "softmax")


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, by the log-softmax kernel."""
    return _along(_LOG_SOFTMAX, x, axis, "log_softmax")


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Rows of the identity picked by the integer labels ``x`` (negative labels give zeros)."""
    if sparse:
        raise ValueError("ops.one_hot: sparse outputs are not supported, got sparse=True")
    labels = np.asarray(value(x))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"ops.one_hot: x must hold integer labels, got dtype {labels.dtype}")
    out = np.zeros(labels.shape + (int(num_classes),), config.floatx() if dtype is None else dtype)
    flat, idx = out.reshape(-1, int(num_classes)), labels.reshape(-1)
    valid = (idx >= 0) & (idx < num_classes)
    flat[np.nonzero(valid)[0], idx[valid]] = 1
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot vectors: 1 at each class a row's integer labels name (Keras ``ops.multi_hot``).

    Parameters
    ----------
    inputs : int array_like, shape (labels,) or (batch, labels)
    num_classes : int
        (``num_tokens=`` is accepted for it, as Keras.)
    axis : int, default -1
        Where the class axis goes.
    dtype : dtype, optional
        floatx for None.
    sparse : bool
        Only False.

    Returns
    -------
    ndarray of shape (num_classes,) or (batch, num_classes), no gradient.
    """
    if num_classes is None and "num_tokens" in kwargs:
        num_classes = kwargs.pop("num_tokens")
    if kwargs:
        raise TypeError(f"ops.multi_hot: unexpected arguments {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("ops.multi_hot: num_classes must be given, got None")
    labels = np.asarray(value(inputs))
    hot = one_hot(labels.astype(np.int32) if labels.dtype.kind == "f" else labels, num_classes, axis, dtype, sparse)
    return np.max(hot, axis=1 if labels.ndim > 1 else 0)


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x / max(norm(x), epsilon)`` over ``axis`` (Keras ``ops.normalize``).

    Parameters
    ----------
    x : array_like, any shape (a scalar becomes shape (1,))
    axis : int or tuple of ints, default -1
    order : int >= 1, default 2
        The norm's exponent; 2 is computed as ``x * rsqrt(max(sum(x^2), epsilon^2))``.
    epsilon : float, optional
        The least norm; ``config.epsilon()`` for None.

    Returns
    -------
    ndarray or Tensor of ``x``'s shape (float), with gradient.
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"ops.normalize: order must be an int >= 1, got order={order!r}")
    if not isinstance(x, TRACED):
        x = floating(np.asarray(value(x)), "normalize")
    if np.ndim(value(x)) == 0:
        x = _reshape(x, (1,))
    eps = config.epsilon() if epsilon is None else epsilon
    if order == 2:
        inv = _rsqrt(_maximum(_sum(_square(x), axis, True), eps * eps))
        return _multiply(x, inv)
    return _divide(x, _maximum(_norm(x, order, axis, True), eps))


# -------------------------------------------------------------- statistics
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) of ``x`` over ``axes`` (population variance)."""
    if synchronized:
        raise NotImplementedError("ops.moments: synchronized=True (cross-device) is not supported, got True")
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    m, v = _mean(x, axes, True), _var(x, axes, True)
    if keepdims:
        return m, v
    return _squeeze(m, axes), _squeeze(v, axes)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, the statistics along ``axis``.

    One node; gradients for ``x``, ``mean``, ``variance``, ``offset`` and ``scale``.
    """
    a = floating(np.asarray(value(x)), "batch_normalization")
    ax = axis % a.ndim
    bshape = tuple(a.shape[ax] if i == ax else 1 for i in range(a.ndim))
    stats = [None if s is None else np.asarray(value(s)) for s in (mean, variance, offset, scale)]
    for arg, s in zip(("mean", "variance", "offset", "scale"), stats):
        if s is not None and s.size != a.shape[ax]:
            raise ValueError(
                f"ops.batch_normalization: {arg} must have {a.shape[ax]} entries (x's axis {axis}), got shape {s.shape}"
            )
    m, v, o, s = (None if t is None else t.reshape(bshape) for t in stats)
    inv = 1 / np.sqrt(v + epsilon)
    centred = a - m
    gain = inv if s is None else inv * s
    y = centred * gain if o is None else centred * gain + o
    inputs = (x, mean, variance, offset, scale)
    if not any(isinstance(t, TRACED) for t in inputs):
        return y
    refs = recording(*inputs)
    if refs is None:
        return wrap(y, *inputs)
    red = tuple(i for i in range(a.ndim) if i != ax)

    def backward(dy):
        def stat(g, k):
            return None if refs[k] is None else np.sum(g, axis=red).reshape(stats[k - 1].shape)

        gdy = dy * gain
        return (
            gdy if refs[0] is not None else None,
            stat(-gdy, 1),
            stat(dy * centred * (-0.5 * inv**2 * gain), 2),
            stat(dy, 3),
            stat(dy * centred * inv, 4),
        )

    return record(y, refs, backward)


# -------------------------------------------------------------- crossentropies
def _same_shape(t, p, op):
    if t.shape != p.shape:
        raise ValueError(
            f"ops.{op}: target and output must have the same shape, got target.shape={t.shape}, output.shape={p.shape}"
        )


def _log_softmax_np(x, axis):
    top = np.max(x, axis=axis, keepdims=True)
    z = x - top
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))``; ``p = sigmoid(output)`` when ``from_logits``.

    From logits it is computed stably as ``max(x, 0) - x t + log1p(exp(-|x|))``
    (gradient ``sigmoid(x) - t``); probabilities are clipped to
    ``[epsilon, 1 - epsilon]`` as Keras does.
    """
    t = floating(np.asarray(value(target)), "binary_crossentropy", "target")
    p = floating(np.asarray(value(output)), "binary_crossentropy", "output")
    _same_shape(t, p, "binary_crossentropy")
    if from_logits:
        y = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))

        def grads(dy):
            return dy * (1 / (1 + np.exp(-p)) - t), -dy * p
    else:
        eps = config.epsilon()
        c = np.clip(p, eps, 1 - eps)
        log_c, log_1c = np.log(c), np.log1p(-c)
        y = -(t * log_c + (1 - t) * log_1c)

        def grads(dy):
            inside = (p >= eps) & (p <= 1 - eps)
            return dy * ((1 - t) / (1 - c) - t / c) * inside, -dy * (log_c - log_1c)

    return _loss_node(y, target, output, grads)


def _loss_node(y, target, output, grads):
    if not (isinstance(target, TRACED) or isinstance(output, TRACED)):
        return y
    refs = recording(target, output)
    if refs is None:
        return wrap(y, target, output)

    def backward(dy):
        d_output, d_target = grads(dy)
        return (d_target if refs[0] is not None else None, d_output if refs[1] is not None else None)

    return record(y, refs, backward)


def _categorical(t, p, target, output, from_logits, axis, op):
    if p.ndim < 1:
        raise ValueError(f"ops.{op}: output must have at least one axis, got shape {p.shape}")
    if from_logits:
        logp = _log_softmax_np(p, axis)
        y = -np.sum(t * logp, axis=axis)

        def grads(dy):
            dyk = np.expand_dims(dy, axis)
            return dyk * (np.exp(logp) * np.sum(t, axis=axis, keepdims=True) - t), -dyk * logp
    else:
        eps = config.epsilon()
        total = np.sum(p, axis=axis, keepdims=True)
        q = p / total
        c = np.clip(q, eps, 1 - eps)
        logp = np.log(c)
        y = -np.sum(t * logp, axis=axis)

        def grads(dy):
            dyk = np.expand_dims(dy, axis)
            dq = -dyk * t / c * ((q >= eps) & (q <= 1 - eps))
            # q = p / sum(p): dp = (dq - sum(dq * q)) / sum(p).
            return (dq - np.sum(dq * q, axis=axis, keepdims=True)) / total, -dyk * logp

    return _loss_node(y, target, output, grads)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log(p), axis)``; ``p = softmax(output)`` when ``from_logits``, else ``output``
    normalised to sum 1 and clipped to ``[epsilon, 1 - epsilon]`` (as Keras)."""
    t = floating(np.asarray(value(target)), "categorical_crossentropy", "target")
    p = floating(np.asarray(value(output)), "categorical_crossentropy", "output")
    _same_shape(t, p, "categorical_crossentropy")
    return _categorical(t, p, target, output, from_logits, axis, "categorical_crossentropy")


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``categorical_crossentropy`` with integer class labels as ``target`` (no gradient for them)."""
    op = "sparse_categorical_crossentropy"
    labels = np.asarray(value(target))
    p = floating(np.asarray(value(output)), op, "output")
    if labels.ndim == p.ndim and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if p.ndim < 1 or labels.shape != p.shape[: axis % p.ndim] + p.shape[axis % p.ndim + 1 :]:
        raise ValueError(
            f"ops.{op}: target must have output's shape without the class axis, "
            f"got target.shape={np.shape(value(target))}, output.shape={p.shape}"
        )
    labels = labels.astype(np.intp, copy=False)
    if not from_logits:
        t = one_hot(labels, p.shape[axis], axis=axis, dtype=p.dtype)
        return _categorical(t, p, labels, output, from_logits, axis, op)
    # From logits: -log_softmax at the label, on (rows, classes) with the class axis last;
    # gradient softmax - one_hot. Negative labels give 0 (as one_hot's zero rows).
    moved = np.moveaxis(p, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    rows, cols = np.arange(flat.shape[0]), labels.reshape(-1)
    valid = cols >= 0
    logp = _log_softmax_np(flat, -1)
    y = np.where(valid, -logp[rows, np.maximum(cols, 0)], 0).astype(p.dtype, copy=False).reshape(labels.shape)

    def grads(dy):
        g = np.exp(logp)
        g[rows[valid], cols[valid]] -= 1
        g *= np.where(valid, np.reshape(dy, -1), 0)[:, None]
        return np.moveaxis(g.reshape(moved.shape), -1, axis), None

    return _loss_node(y, labels, output, grads)
