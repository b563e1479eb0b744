"""NumPy twins of ``ranvier.core._losses`` (same signatures, same kind codes)."""

import numpy as np
from scipy.special import expit, log_softmax, softmax

__all__ = ["ELEMENTWISE", "CATEGORICAL", "SPARSE", "elementwise_loss", "categorical_loss", "sparse_categorical_loss"]

ELEMENTWISE = {
    "mean_squared_error": 0,
    "mean_absolute_error": 1,
    "half_squared_error": 2,
    "binary_crossentropy": 3,
    "binary_crossentropy_logits": 4,
    "binary_crossentropy_fused": 5,
    "hinge": 6,
    "squared_hinge": 7,
    "huber": 8,
    "log_cosh": 9,
    "kl_divergence": 10,
}
CATEGORICAL = {
    "categorical_crossentropy": 0,
    "categorical_crossentropy_logits": 1,
    "categorical_crossentropy_fused": 2,
    "categorical_hinge": 3,
}
SPARSE = {
    "sparse_categorical_crossentropy": 0,
    "sparse_categorical_crossentropy_logits": 1,
    "sparse_categorical_crossentropy_fused": 2,
}
_E = {v: k for k, v in ELEMENTWISE.items()}
_C = {v: k for k, v in CATEGORICAL.items()}


def _elementwise(name, t, p, c):
    """(per-element loss, derivative w.r.t. p)."""
    e = p - t
    if name == "mean_squared_error":
        return e * e, 2 * e
    if name == "mean_absolute_error":
        return np.abs(e), np.sign(e)
    if name == "half_squared_error":
        return 0.5 * e * e, e
    if name in ("binary_crossentropy", "binary_crossentropy_fused"):
        q = np.clip(p, c, 1 - c)
        d = p - t if name.endswith("fused") else np.where(q == p, (q - t) / (q * (1 - q)), 0)
        return -(t * np.log(q) + (1 - t) * np.log1p(-q)), d
    if name == "binary_crossentropy_logits":
        return np.logaddexp(0, p) - p * t, expit(p) - t
    if name in ("hinge", "squared_hinge"):
        m = np.maximum(1 - t * p, 0)
        return (m, np.where(m > 0, -t, 0)) if name == "hinge" else (m * m, -2 * t * m)
    if name == "huber":
        small = np.abs(e) <= c
        return np.where(small, 0.5 * e * e, c * (np.abs(e) - 0.5 * c)), np.where(small, e, c * np.sign(e))
    if name == "log_cosh":
        return np.logaddexp(e, -e) - np.log(2), np.tanh(e)
    q, tq = np.clip(p, c, 1), np.clip(t, c, 1)
    return tq * np.log(tq / q), np.where(q == p, -tq / q, 0)


def _finish(values, derivs, sample_weight, scale, losses, grad, need_grad):
    w = sample_weight if len(sample_weight) else np.ones(len(losses), losses.dtype)
    losses[...] = w * values
    if need_grad:
        grad[...] = (scale * w)[:, None] * derivs
    return float(np.sum(losses, dtype=np.float64))


def elementwise_loss(kind, y_true, y_pred, sample_weight, c, scale, losses, grad, need_grad, n_threads):
    """See ``ranvier.core._losses.elementwise_loss``."""
    name = _E[kind]
    v, d = _elementwise(name, y_true, y_pred, c)
    norm = 1.0 if name in ("kl_divergence", "half_squared_error") else 1.0 / y_pred.shape[1]
    return _finish(norm * v.sum(axis=1), norm * d, sample_weight, scale, losses, grad, need_grad)


def _normalised(p, c):
    s = p.sum(axis=1, keepdims=True)
    s = np.where(s > 0, s, 1)
    q = p / s
    return s, q, np.clip(q, c, 1 - c)


def categorical_loss(kind, y_true, y_pred, sample_weight, eps, scale, losses, grad, need_grad, n_threads):
    """See ``ranvier.core._losses.categorical_loss``."""
    name, t, p = _C[kind], y_true, y_pred
    tsum = t.sum(axis=1, keepdims=True)
    if name == "categorical_crossentropy_logits":
        v = -(t * log_softmax(p, axis=1)).sum(axis=1)
        d = tsum * softmax(p, axis=1) - t
    elif name == "categorical_hinge":
        pos = (t * p).sum(axis=1)
        neg_all = (1 - t) * p
        v = np.maximum(neg_all.max(axis=1) - pos + 1, 0)
        top = np.zeros_like(p)
        np.put_along_axis(top, neg_all.argmax(axis=1)[:, None], 1, axis=1)
        d = np.where(v[:, None] > 0, -t + (1 - t) * top, 0)
    else:
        s, q, qc = _normalised(p, eps)
        v = -(t * np.log(qc)).sum(axis=1)
        inside = qc == q
        if name.endswith("fused"):
            d = tsum * p - t
        else:
            d = ((t * inside).sum(axis=1, keepdims=True) - np.where(inside, t / q, 0)) / s
    return _finish(v, d, sample_weight, scale, losses, grad, need_grad)


def sparse_categorical_loss(kind, labels, y_pred, sample_weight, eps, scale, losses, grad, need_grad, n_threads):
    """See ``ranvier.core._losses.sparse_categorical_loss``."""
    k = y_pred.shape[1]
    if len(labels) and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"sparse_categorical_loss: labels must be in [0, {k}), got {labels.max()}")
    onehot = np.zeros_like(y_pred)
    onehot[np.arange(len(labels)), labels] = 1
    return categorical_loss(kind, onehot, y_pred, sample_weight, eps, scale, losses, grad, need_grad, n_threads)
