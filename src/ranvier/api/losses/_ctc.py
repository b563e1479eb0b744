"""The CTC loss: log-space forward-backward, vectorised over samples and label states."""

import numpy as np

from ._axis import _AxisLoss
from ._base import _finite_targets


class CTC(_AxisLoss):
    """Connectionist temporal classification loss (Graves et al., 2006), as ``keras.losses.CTC``.

    ``y_true`` (N, L): integer labels in ``[1, C)``, padded at the end with
    0, which is also the blank (Keras' ``mask_index=0``). ``y_pred``
    (N, T, C): logits, not softmax outputs (a log-softmax is taken over C).
    The per-sample loss is ``-log P(labels | y_pred)`` summed over every
    alignment, by the forward-backward recursions in log space (float64,
    vectorised over samples and label positions, T steps); every input
    sequence uses all T steps. A label sequence that needs more than T
    steps (its length plus its repeated neighbours) has probability 0: it is
    refused with a ValueError instead of giving an infinite loss.
    """

    _kernel_name = "ctc"

    def _axes(self, ndim):
        return (1, 2)

    def prepare_targets(self, y_true, output_shape, dtype):
        y = np.asarray(y_true)
        _finite_targets(y, self.name, dtype)
        out = tuple(output_shape)
        if len(out) != 3:
            raise ValueError(f"{self.name}: y_pred must have shape (batch, time, classes), got shape {out}")
        if y.ndim != 2 or (out[0] is not None and y.shape[0] != out[0]):
            raise ValueError(
                f"{self.name}: y_true must have shape (batch, max_label_length) = ({out[0]}, L), got shape {y.shape}"
            )
        if y.dtype.kind == "f" and y.size and not np.array_equal(y, np.floor(y)):
            raise ValueError(
                f"{self.name}: y_true must hold integer labels, got {float(y[y != np.floor(y)].flat[0])!r}"
            )
        labels = y.astype(np.intp)
        if labels.size and (labels.min() < 0 or (out[2] is not None and labels.max() >= out[2])):
            bad = int(labels.min() if labels.min() < 0 else labels.max())
            raise ValueError(f"{self.name}: y_true must hold labels in [1, {out[2]}) padded with 0, got {bad!r}")
        after_pad = np.cumsum(labels == 0, axis=1) > 0
        if np.any(after_pad & (labels != 0)):
            row = int(np.argmax(np.any(after_pad & (labels != 0), axis=1)))
            raise ValueError(
                f"{self.name}: y_true row {row} must be padded with 0 only at the end (0 is the blank), "
                f"got {labels[row].tolist()!r}"
            )
        if out[1] is not None:
            _ctc_check_feasible(labels, out[1], self.name)
        return np.ascontiguousarray(labels)

    def _compute(self, t, p, axes, need_grad):
        _ctc_check_feasible(t, p.shape[1], self.name)
        losses, grad = _ctc(t, p, need_grad)
        return losses.astype(p.dtype)[:, None, None], (grad.astype(p.dtype) if need_grad else None)


def _ctc_check_feasible(labels, steps, name):
    """Refuse label sequences no alignment of ``steps`` time steps can produce."""
    repeats = np.sum((labels[:, 1:] == labels[:, :-1]) & (labels[:, 1:] != 0), axis=1)
    needed = np.count_nonzero(labels, axis=1) + repeats
    if needed.size and needed.max() > steps:
        row = int(np.argmax(needed))
        raise ValueError(
            f"{name}: the labels of sample {row} need at least {int(needed[row])} time steps but y_pred has "
            f"{steps}, got labels {labels[row].tolist()!r}"
        )


def _ctc(labels, logits, need_grad):
    """CTC negative log-likelihoods (N,) and their gradient w.r.t. the logits (N, T, C), in float64.

    The extended sequence interleaves blanks with the labels, ``0 l1 0 l2 ... 0``
    (S = 2L + 1 states); ``alpha[t, n, s]`` is the log-probability of the
    prefixes ending in state ``s`` at step ``t`` (its emission included),
    ``beta[t, n, s]`` that of the suffixes after step ``t`` from state ``s``.
    """
    x = logits.astype(np.float64)
    z = x - x.max(axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    n, steps, _ = x.shape
    states = 2 * labels.shape[1] + 1
    ext = np.zeros((n, states), np.intp)
    ext[:, 1::2] = labels
    # A jump s-2 -> s skips a blank: allowed onto a label unlike the one before it.
    skip = np.zeros((n, states), bool)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    emit = np.take_along_axis(logp, np.broadcast_to(ext[:, None, :], (n, steps, states)), axis=2)
    rows = np.arange(n)
    last = 2 * np.count_nonzero(labels, axis=1)  # the final blank
    alpha = np.full((steps, n, states), -np.inf)
    alpha[0, :, :2] = emit[:, 0, :2]
    for t in range(1, steps):
        a = alpha[t - 1]
        prev = a.copy()
        prev[:, 1:] = np.logaddexp(prev[:, 1:], a[:, :-1])
        prev[:, 2:] = np.where(skip[:, 2:], np.logaddexp(prev[:, 2:], a[:, :-2]), prev[:, 2:])
        alpha[t] = prev + emit[:, t]
    end = alpha[steps - 1]
    loglik = np.logaddexp(end[rows, last], np.where(last > 0, end[rows, last - 1], -np.inf))
    if not need_grad:
        return -loglik, None
    beta = np.full((steps, n, states), -np.inf)
    beta[steps - 1, rows, last] = 0
    beta[steps - 1, rows[last > 0], last[last > 0] - 1] = 0
    for t in range(steps - 2, -1, -1):
        b = beta[t + 1] + emit[:, t + 1]
        nxt = b.copy()
        nxt[:, :-1] = np.logaddexp(nxt[:, :-1], b[:, 1:])
        nxt[:, :-2] = np.where(skip[:, 2:], np.logaddexp(nxt[:, :-2], b[:, 2:]), nxt[:, :-2])
        beta[t] = nxt
    # Posterior occupancy of each state, gathered per class: d(-loglik)/dz = softmax - occupancy.
    occupancy = np.exp(alpha + beta - loglik[None, :, None]).transpose(1, 0, 2)
    onehot = np.zeros((n, states, x.shape[2]))
    np.put_along_axis(onehot, ext[:, :, None], 1.0, axis=2)
    return -loglik, np.exp(logp) - occupancy @ onehot
