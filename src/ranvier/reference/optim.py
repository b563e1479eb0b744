"""NumPy twin of ``ranvier.core._optim``: the same updates, unfused, in place."""

import functools
import inspect
import math

import numpy as np

__all__ = [
    "sgd_update",
    "adagrad_update",
    "rmsprop_update",
    "adadelta_update",
    "adam_update",
    "adamw_update",
    "nadam_update",
    "adamax_update",
    "lion_update",
    "ftrl_update",
    "sum_squares",
]

# The arguments every kernel takes after its own, in order (n_threads optional here, unused).
_TAIL = ("clipvalue", "weight_decay", "n_decay", "grad_scale", "segments", "n_threads")


def _gradient(w, g, clipvalue, weight_decay, n_decay, grad_scale, segments):
    """The gradient every update uses: scaled per segment, clipped, plus coupled L2 decay."""
    scale = np.repeat(np.asarray(grad_scale, dtype=w.dtype), np.diff(segments))
    out = np.clip(g * scale, -clipvalue, clipvalue)
    out[:n_decay] += weight_decay * w[:n_decay]
    return out


def _kernel(update):
    """The twin of a kernel from ``update(w, g, *own)``, ``g`` the gradient ``_gradient`` makes of the tail.

    The twin takes the kernel's arguments, ``(w, g, *own, *_TAIL)``, positionally as the kernel does.
    """
    n_own = update.__code__.co_argcount - 2

    @functools.wraps(update)
    def twin(w, g, *args):
        own, tail = args[:n_own], args[n_own : n_own + 5]
        update(w, _gradient(w, g, *tail), *own)

    own = list(inspect.signature(update).parameters.values())
    tail = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in _TAIL]
    tail[-1] = tail[-1].replace(default=1)
    twin.__signature__ = inspect.Signature(own + tail)
    return twin


@_kernel
def sgd_update(w, g, velocity, learning_rate, momentum, nesterov):
    if momentum == 0:
        w -= learning_rate * g
        return
    velocity[...] = momentum * velocity - learning_rate * g
    w += momentum * velocity - learning_rate * g if nesterov else velocity


@_kernel
def adagrad_update(w, g, accumulator, learning_rate, epsilon):
    accumulator += g * g
    w -= learning_rate * g / np.sqrt(accumulator + epsilon)


@_kernel
def rmsprop_update(w, g, velocity, momentum_buffer, average_gradient, learning_rate, rho, momentum, epsilon, centered):
    velocity[...] = rho * velocity + (1 - rho) * g * g
    if centered:
        average_gradient[...] = rho * average_gradient + (1 - rho) * g
        denominator = velocity - average_gradient**2 + epsilon
    else:
        denominator = velocity + epsilon
    increment = learning_rate * g / np.sqrt(denominator)
    if momentum != 0:
        momentum_buffer[...] = momentum * momentum_buffer + increment
        increment = momentum_buffer
    w -= increment


@_kernel
def adadelta_update(w, g, accumulated_grad, accumulated_delta, learning_rate, rho, epsilon):
    accumulated_grad[...] = rho * accumulated_grad + (1 - rho) * g * g
    delta = -np.sqrt(accumulated_delta + epsilon) * g / np.sqrt(accumulated_grad + epsilon)
    accumulated_delta[...] = rho * accumulated_delta + (1 - rho) * delta * delta
    w += learning_rate * delta


@_kernel
def adam_update(w, g, m, v, vhat, learning_rate, beta_1, beta_2, epsilon, step, amsgrad):
    alpha = learning_rate * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
    m += (g - m) * (1 - beta_1)
    v += (g * g - v) * (1 - beta_2)
    second = v
    if amsgrad:
        np.maximum(vhat, v, out=vhat)
        second = vhat
    w -= alpha * m / (np.sqrt(second) + epsilon)


def adamw_update(
    w,
    g,
    m,
    v,
    vhat,
    learning_rate,
    beta_1,
    beta_2,
    epsilon,
    step,
    amsgrad,
    clipvalue,
    weight_decay,
    n_decay,
    grad_scale,
    segments,
    n_threads=1,
):
    """``adam_update`` after decoupled decay of ``w[:n_decay]``, the gradient undecayed."""
    w[:n_decay] -= w[:n_decay] * (learning_rate * weight_decay)
    hyper = (learning_rate, beta_1, beta_2, epsilon, step, amsgrad)
    adam_update(w, g, m, v, vhat, *hyper, clipvalue, 0.0, n_decay, grad_scale, segments)


@_kernel
def nadam_update(w, g, m, v, learning_rate, beta_1, beta_2, epsilon, step, u_product):
    u_t = beta_1 * (1 - 0.5 * 0.96**step)
    u_next = beta_1 * (1 - 0.5 * 0.96 ** (step + 1))
    m += (g - m) * (1 - beta_1)
    v += (g * g - v) * (1 - beta_2)
    m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * g / (1 - u_product)
    v_hat = v / (1 - beta_2**step)
    w -= learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)


@_kernel
def adamax_update(w, g, m, u, learning_rate, beta_1, beta_2, epsilon, step):
    m += (g - m) * (1 - beta_1)
    np.maximum(beta_2 * u, np.abs(g), out=u)
    w -= learning_rate * m / ((1 - beta_1**step) * (u + epsilon))


@_kernel
def lion_update(w, g, m, learning_rate, beta_1, beta_2):
    w -= learning_rate * np.sign(m * beta_1 + g * (1 - beta_1))
    m[...] = m * beta_2 + g * (1 - beta_2)


@_kernel
def ftrl_update(
    w,
    g,
    accumulator,
    linear,
    learning_rate,
    learning_rate_power,
    l1_regularization_strength,
    l2_regularization_strength,
    l2_shrinkage_regularization_strength,
    beta,
):
    l2 = l2_regularization_strength + beta / (2 * learning_rate)
    new_accumulator = accumulator + g * g
    linear += (
        g
        + 2 * l2_shrinkage_regularization_strength * w
        - (new_accumulator**-learning_rate_power - accumulator**-learning_rate_power) / learning_rate * w
    )
    quadratic = new_accumulator**-learning_rate_power / learning_rate + 2 * l2
    l1 = l1_regularization_strength
    w[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
    accumulator[...] = new_accumulator


def sum_squares(x, segments, out, n_threads=1):
    for k in range(len(out)):
        part = x[segments[k] : segments[k + 1]].astype(np.float64)
        out[k] = np.dot(part, part)
