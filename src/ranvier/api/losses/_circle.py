"""Circle loss (Sun et al. 2020; Keras 3's ``Circle``): metric learning on L2-normalised embeddings, in NumPy."""

import numpy as np

from ..activations import _float_input
from ._base import Loss, _row_weights


def _circle(labels, p, gamma, margin, remove_diagonal, need_grad):
    """Per-sample losses of the batch against itself and, when asked, their gradient rows.

    Returns ``(losses (N,), grad)`` where ``grad(c)`` is the gradient of
    ``sum_i c_i * loss_i`` w.r.t. ``p`` for per-sample coefficients ``c``.
    """
    s = p @ p.T
    dist = np.maximum(1 - s, 0)
    pos = labels[:, None] == labels[None, :]
    neg = ~pos
    if remove_diagonal:
        np.fill_diagonal(pos, False)
    # Keras' weighted distances: positives -gamma (m + d)(m - d), negatives gamma max(1 + m - d, 0)(1 - m - d).
    a = -gamma * np.maximum(margin + dist, 0) * (margin - dist)
    b = gamma * np.maximum(1 + margin - dist, 0) * (1 - margin - dist)
    both = pos.any(axis=1) & neg.any(axis=1)  # other rows: logsumexp of nothing, loss softplus(-inf) = 0
    sa, sb = np.where(pos, a, -np.inf), np.where(neg, b, -np.inf)
    ma = np.where(both, sa.max(axis=1), 0)[:, None]
    mb = np.where(both, sb.max(axis=1), 0)[:, None]
    ea, eb = np.exp(sa - ma), np.exp(sb - mb)
    za, zb = ea.sum(axis=1), eb.sum(axis=1)
    with np.errstate(divide="ignore"):
        total = np.where(both, np.log(np.where(both, za, 1)) + ma[:, 0] + np.log(np.where(both, zb, 1)) + mb[:, 0], 0)
    losses = np.where(both, np.logaddexp(0, total), 0).astype(p.dtype)
    if not need_grad:
        return losses, None

    def grad(c):
        sig = np.where(both, np.exp(-np.logaddexp(0, -total)), 0) * c  # c_i * sigmoid(p_i + n_i)
        wa = ea / np.where(both, za, 1)[:, None] * sig[:, None]
        wb = eb / np.where(both, zb, 1)[:, None] * sig[:, None]
        # d a / d dist and d b / d dist (each constant where its weight is clipped at 0).
        da = np.where(margin + dist > 0, 2 * gamma * dist, 0)
        db = np.where(1 + margin - dist > 0, -2 * gamma * (1 - dist), 0)
        g_dist = np.where(pos, wa * da, 0) + np.where(neg, wb * db, 0)
        g_s = -g_dist * (1 - s > 0)
        return (g_s + g_s.T) @ p

    return losses, grad


class Circle(Loss):
    """Circle loss on a batch of L2-normalised embeddings ``y_pred`` with integer labels ``y_true`` (Keras 3).

    Each sample is compared with every other of the batch (cosine distances
    ``max(1 - p_i . p_j, 0)``): same label = positive, else negative.

    Parameters
    ----------
    gamma : float, default 80.0
        Scale.
    margin : float, default 0.4
        Relaxation margin.
    remove_diagonal : bool, default True
        Leave a sample out of its own positives.
    reduction : {"sum_over_batch_size", "sum", "none"}
    name : str, default "circle"

    Notes
    -----
    As Keras, samples without a positive or a negative give 0 and
    ``"sum_over_batch_size"`` averages over the samples whose loss is > 0
    (Keras' mask). ``y_pred`` is ``(N, d)``; ``y_true`` ``(N,)`` or ``(N, 1)``.
    The gradient goes through both sides of every pair (Keras' ``ref_embeddings``
    is ``y_pred``), and through the pair weights, as Keras differentiates them.
    """

    _kernel_name = "circle"

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction="sum_over_batch_size", name="circle"):
        super().__init__(reduction=reduction, name=name)
        for arg, value in (("gamma", gamma), ("margin", margin)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ValueError(f"Circle: {arg} must be a finite number, got {value!r}")
        self.gamma, self.margin = float(gamma), float(margin)
        self.remove_diagonal = bool(remove_diagonal)

    def prepare_targets(self, y_true, output_shape, dtype):
        y = np.asarray(y_true)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.dtype.kind not in "biuf" or y.ndim != 1 or (y.dtype.kind == "f" and np.any(y != np.round(y))):
            raise ValueError(f"Circle: y_true must be integer labels of shape (N,) or (N, 1), got {y_true!r:.80}")
        if len(output_shape) != 2 or output_shape[0] not in (None, len(y)):
            raise ValueError(f"Circle: y_pred must be (N, d) embeddings of the {len(y)} labels, got {output_shape}")
        return y.astype(np.int64)

    def _reduce(self, t, p, sample_weight, need_grad):
        losses, grad = _circle(t, p, self.gamma, self.margin, self.remove_diagonal, need_grad)
        w = None if sample_weight is None else _row_weights(sample_weight, losses.shape, p.dtype, self.name)
        weighted = losses if w is None else losses * w
        if self.reduction == "sum":
            scale = 1.0
        else:  # Keras' mask (loss > 0): the mean over the samples that have a loss
            valid = int(np.count_nonzero(losses > 0))
            scale = 1.0 / valid if valid else 0.0
        value = float(np.sum(weighted, dtype=np.float64)) * scale
        if not need_grad:
            return value, weighted, None
        c = np.full(losses.shape, scale, p.dtype) if w is None else scale * w
        return value, weighted, grad(c).astype(p.dtype)

    def value_and_grad(self, y_true, y_pred, sample_weight=None, wrt_preactivation=False):
        self._check_preactivation(wrt_preactivation)
        value, _, grad = self._reduce(y_true, y_pred, sample_weight, True)
        return value, grad

    def value(self, y_true, y_pred, sample_weight=None):
        return self._reduce(y_true, y_pred, sample_weight, False)[0]

    def _evaluate(self, y_true, y_pred, sample_weight):
        p = _float_input(y_pred, "y_pred")
        t = self.prepare_targets(y_true, p.shape, p.dtype)
        value, weighted, _ = self._reduce(t, p, sample_weight, False)
        return weighted if self.reduction == "none" else value

    def call(self, y_true, y_pred):
        p = _float_input(y_pred, "y_pred")
        return _circle(
            self.prepare_targets(y_true, p.shape, p.dtype), p, self.gamma, self.margin, self.remove_diagonal, False
        )[0]

    def get_config(self):
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "margin": self.margin,
            "remove_diagonal": self.remove_diagonal,
        }


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Per-sample Circle losses, shape ``(N,)`` (Keras 3's ``circle``; reference sets other than the batch
    itself are not supported)."""
    if ref_labels is not None or ref_embeddings is not None:
        raise NotImplementedError("circle: ref_labels / ref_embeddings other than the batch are not supported")
    return Circle(gamma, margin, remove_diagonal, reduction="none")(y_true, y_pred)
