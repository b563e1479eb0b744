"""NumPy twin of ``ranvier.core._attention`` (same signatures, outputs written in place)."""

import numpy as np

__all__ = ["attention_forward", "attention_backward", "MASKED"]

# Keras' masked softmax adds (1 - mask) * -1e9 to the scores.
MASKED = -1e9


def _check_rate(rate, name):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name}: rate must be in [0, 1), got {rate!r}")


def _dropped(p, keep, rate):
    if keep.shape[0] == 0:
        return p
    return p * (keep * p.dtype.type(1.0 / (1.0 - rate)))


def attention_forward(q, k, v, mask, causal, scale, keep, rate, out, probs, n_threads=1):
    """``out = dropout(softmax(scale * q @ k.T + masked)) @ v``; ``probs`` the softmax.

    See ``ranvier.core._attention.attention_forward`` for the arguments.
    """
    _check_rate(rate, "attention_forward")
    dt = q.dtype.type
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * dt(scale)
    tq, tk = s.shape[-2:]
    attend = np.ones((1, 1, tq, tk), dtype=bool)
    if mask.shape[0] > 0:
        attend = attend & (mask != 0)
    if causal:
        attend = attend & np.tri(tq, tk, dtype=bool)
    s = s + np.where(attend, dt(0), dt(MASKED))
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    probs[...] = e / e.sum(axis=-1, keepdims=True)
    out[...] = np.matmul(_dropped(probs, keep, rate), v)


def attention_backward(q, k, v, probs, keep, rate, dout, scale, dq, dk, dv, n_threads=1):
    """Gradients of ``attention_forward``; see ``ranvier.core._attention.attention_backward``."""
    _check_rate(rate, "attention_backward")
    dv[...] = np.matmul(np.swapaxes(_dropped(probs, keep, rate), -1, -2), dout)
    dp = _dropped(np.matmul(dout, np.swapaxes(v, -1, -2)), keep, rate)
    ds = probs * (dp - (dp * probs).sum(axis=-1, keepdims=True)) * q.dtype.type(scale)
    dq[...] = np.matmul(ds, k)
    dk[...] = np.matmul(np.swapaxes(ds, -1, -2), q)
