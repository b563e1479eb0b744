"""NumPy twin of ``ranvier.core._norm`` (same signatures, writes into the outputs)."""

import numpy as np

from ._beta import scale_by_beta

__all__ = [
    "batch_norm_train_forward",
    "batch_norm_inference_forward",
    "batch_norm_backward",
    "layer_norm_forward",
    "layer_norm_backward",
]


def _accumulate(grad, value, grad_beta):
    if grad.shape[0]:
        scale_by_beta(grad, grad_beta)
        grad += value


def batch_norm_train_forward(x, gamma, beta, epsilon, momentum, out, mean, var, moving_mean, moving_var, n_threads=1):
    if x.shape[0] == 0:
        raise ValueError("batch_norm_train_forward: the batch statistics need at least one row")
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=0)
    v = ((x64 - mu) ** 2).mean(axis=0)
    mean[:], var[:] = mu, v
    if moving_mean.shape[0]:
        moving_mean[:] = momentum * moving_mean.astype(np.float64) + (1.0 - momentum) * mu
        moving_var[:] = momentum * moving_var.astype(np.float64) + (1.0 - momentum) * v
    out[:] = (x64 - mu) / np.sqrt(v + epsilon) * gamma + beta


def batch_norm_inference_forward(x, mean, var, gamma, beta, epsilon, out, n_threads=1):
    out[:] = (x - mean.astype(np.float64)) / np.sqrt(var.astype(np.float64) + epsilon) * gamma + beta


def batch_norm_backward(
    x, dy, mean, var, gamma, epsilon, dgamma, dbeta, dx, grad_beta, batch_stats, need_dx, n_threads=1
):
    inv = 1.0 / np.sqrt(var.astype(np.float64) + epsilon)
    xhat = (x - mean.astype(np.float64)) * inv
    dy64 = dy.astype(np.float64)
    _accumulate(dgamma, (dy64 * xhat).sum(axis=0), grad_beta)
    _accumulate(dbeta, dy64.sum(axis=0), grad_beta)
    if need_dx:
        g = dy64 * gamma * inv
        if batch_stats:
            g = g - g.mean(axis=0) - xhat * (g * xhat).mean(axis=0)
        dx[:] = g


def layer_norm_forward(x, gamma, beta, epsilon, out, mean, var, n_threads=1):
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=1, keepdims=True)
    v = ((x64 - mu) ** 2).mean(axis=1, keepdims=True)
    mean[:], var[:] = mu[:, 0], v[:, 0]
    out[:] = (x64 - mu) / np.sqrt(v + epsilon) * gamma + beta


def layer_norm_backward(x, dy, mean, var, gamma, epsilon, dgamma, dbeta, dx, grad_beta, need_dx, n_threads=1):
    inv = 1.0 / np.sqrt(var.astype(np.float64)[:, None] + epsilon)
    xhat = (x - mean.astype(np.float64)[:, None]) * inv
    dy64 = dy.astype(np.float64)
    _accumulate(dgamma, (dy64 * xhat).sum(axis=0), grad_beta)
    _accumulate(dbeta, dy64.sum(axis=0), grad_beta)
    if need_dx:
        g = dy64 * gamma
        dx[:] = inv * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
