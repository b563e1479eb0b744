"""ranvier.api.losses: Keras semantics, the model interface, gradients, errors, PyTorch parity."""

import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax, xlogy

from ranvier.api import losses

RNG = np.random.default_rng(0)
N, T, K = 5, 3, 4
LABELS = RNG.integers(0, K, N)
ONEHOT = np.eye(K)[LABELS]
PROBS = softmax(RNG.standard_normal((N, K)), axis=1)
LOGITS = RNG.standard_normal((N, K)) * 2


def _bce(t, p):
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return np.mean(-(xlogy(t, q) + xlogy(1 - t, 1 - q)), axis=-1)


# (loss, y_true, y_pred, per-sample losses written from the definitions)
CASES = [
    (losses.MeanSquaredError(), ONEHOT, PROBS, np.mean((PROBS - ONEHOT) ** 2, -1)),
    (losses.MeanAbsoluteError(), ONEHOT, PROBS, np.mean(np.abs(PROBS - ONEHOT), -1)),
    (losses.HalfSquaredError(), ONEHOT, PROBS, 0.5 * np.sum((PROBS - ONEHOT) ** 2, -1)),
    (losses.BinaryCrossentropy(), ONEHOT, PROBS, _bce(ONEHOT, PROBS)),
    (losses.BinaryCrossentropy(from_logits=True), ONEHOT, LOGITS, _bce(ONEHOT, expit(LOGITS))),
    (losses.BinaryCrossentropy(label_smoothing=0.2), ONEHOT, PROBS, _bce(ONEHOT * 0.8 + 0.1, PROBS)),
    (losses.CategoricalCrossentropy(), ONEHOT, PROBS, -np.sum(ONEHOT * np.log(PROBS), -1)),
    (
        losses.CategoricalCrossentropy(from_logits=True),
        ONEHOT,
        LOGITS,
        -np.sum(ONEHOT * log_softmax(LOGITS, axis=1), -1),
    ),
    (
        losses.CategoricalCrossentropy(label_smoothing=0.1),
        ONEHOT,
        PROBS,
        -np.sum((ONEHOT * 0.9 + 0.1 / K) * np.log(PROBS), -1),
    ),
    (losses.SparseCategoricalCrossentropy(), LABELS, PROBS, -np.log(PROBS[np.arange(N), LABELS])),
    (
        losses.SparseCategoricalCrossentropy(from_logits=True),
        LABELS,
        LOGITS,
        -log_softmax(LOGITS, axis=1)[np.arange(N), LABELS],
    ),
    (losses.Hinge(), ONEHOT, LOGITS, np.mean(np.maximum(1 - (2 * ONEHOT - 1) * LOGITS, 0), -1)),
    (losses.SquaredHinge(), ONEHOT, LOGITS, np.mean(np.maximum(1 - (2 * ONEHOT - 1) * LOGITS, 0) ** 2, -1)),
    (
        losses.CategoricalHinge(),
        ONEHOT,
        LOGITS,
        np.maximum(np.max((1 - ONEHOT) * LOGITS, -1) - np.sum(ONEHOT * LOGITS, -1) + 1, 0),
    ),
    (
        losses.Huber(delta=0.5),
        ONEHOT,
        LOGITS,
        np.mean(
            np.where(
                np.abs(LOGITS - ONEHOT) <= 0.5, 0.5 * (LOGITS - ONEHOT) ** 2, 0.5 * np.abs(LOGITS - ONEHOT) - 0.125
            ),
            -1,
        ),
    ),
    (losses.LogCosh(), ONEHOT, LOGITS, np.mean(np.log(np.cosh(LOGITS - ONEHOT)), -1)),
    (losses.KLDivergence(), PROBS[::-1], PROBS, np.sum(PROBS[::-1] * np.log(PROBS[::-1] / PROBS), -1)),
]
IDS = [f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("loss,y,p,expected", CASES, ids=IDS)
def test_call_matches_formula_and_reductions(loss, y, p, expected):
    assert loss(y, p) == pytest.approx(expected.mean(), rel=1e-12)
    w = RNG.uniform(0.5, 2, N)
    assert loss(y, p, sample_weight=w) == pytest.approx(np.sum(w * expected) / N, rel=1e-12)
    cfg = loss.get_config()
    for reduction, value in (("sum", np.sum(w * expected)), ("none", w * expected)):
        other = type(loss)(**{**cfg, "reduction": reduction})
        np.testing.assert_allclose(other(y, p, sample_weight=w), value, rtol=1e-12)
    np.testing.assert_allclose(loss.call(y, p), expected, rtol=1e-12)


def _fd(f, x, h=1e-6):
    g = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss,y,p,expected", CASES, ids=IDS)
def test_value_and_grad_matches_finite_differences(loss, y, p, expected, weighted, reduction):
    loss = type(loss)(**{**loss.get_config(), "reduction": reduction})
    # (N, T, K) outputs: one loss per (n, t); weights (N,) broadcast over T.
    p3 = np.repeat(p[:, None, :], T, axis=1) + RNG.uniform(-0.01, 0.01, (N, T, K))
    p3 = p3 / p3.sum(-1, keepdims=True) if loss.fused_activation == "softmax" else p3
    y3 = np.repeat(np.asarray(y)[:, None], T, axis=1)
    w = RNG.uniform(0.5, 2, N) if weighted else None
    yt = loss.prepare_targets(y3, (None, T, K), np.float64)
    value, grad = loss.value_and_grad(yt, p3, sample_weight=w)
    assert grad.shape == p3.shape and grad.dtype == np.float64

    def f(q):
        return loss.value_and_grad(yt, q, sample_weight=w)[0]

    assert value == pytest.approx(f(p3), rel=1e-15)
    assert loss.value(yt, p3, sample_weight=w) == value
    per = losses.get(losses.serialize(loss))
    per.reduction = "none"
    weighted_sum = np.sum(per(y3, p3, sample_weight=w))
    assert value == pytest.approx(weighted_sum * (1 if reduction == "sum" else 1 / (N * T)), rel=1e-12)
    assert _rel(grad, _fd(f, p3)) < 1e-6


@pytest.mark.parametrize(
    "loss,activation",
    [
        (losses.CategoricalCrossentropy(label_smoothing=0.1), lambda z: softmax(z, axis=-1)),
        (losses.SparseCategoricalCrossentropy(), lambda z: softmax(z, axis=-1)),
        (losses.BinaryCrossentropy(label_smoothing=0.05), expit),
    ],
)
def test_wrt_preactivation_is_the_gradient_through_the_activation(loss, activation):
    z = RNG.standard_normal((N, K))
    y = LABELS if isinstance(loss, losses.SparseCategoricalCrossentropy) else ONEHOT
    yt = loss.prepare_targets(y, (None, K), np.float64)
    w = RNG.uniform(0.5, 2, N)
    value, grad = loss.value_and_grad(yt, activation(z), sample_weight=w, wrt_preactivation=True)

    def f(zz):
        return loss.value_and_grad(yt, activation(zz), sample_weight=w)[0]

    assert value == pytest.approx(f(z), rel=1e-15)
    assert _rel(grad, _fd(f, z)) < 1e-6


def test_fused_activation():
    assert losses.CategoricalCrossentropy().fused_activation == "softmax"
    assert losses.SparseCategoricalCrossentropy().fused_activation == "softmax"
    assert losses.BinaryCrossentropy().fused_activation == "sigmoid"
    for loss in (
        losses.CategoricalCrossentropy(from_logits=True),
        losses.BinaryCrossentropy(from_logits=True),
        losses.MeanSquaredError(),
        losses.Hinge(),
    ):
        assert loss.fused_activation is None
    with pytest.raises(ValueError, match="wrt_preactivation needs a loss that fuses"):
        losses.MeanSquaredError().value_and_grad(PROBS, PROBS, wrt_preactivation=True)


def test_prepare_targets_casts_and_reshapes():
    bce = losses.BinaryCrossentropy()
    y = bce.prepare_targets(np.array([True, False, True]), (None, 1), np.float32)
    assert y.dtype == np.float32 and y.shape == (3, 1) and y.tolist() == [[1], [0], [1]]
    assert bce.prepare_targets(np.array([[1], [0]], np.uint8), (None,), np.float64).shape == (2,)
    scce = losses.SparseCategoricalCrossentropy()
    labels = scce.prepare_targets(np.array([[2.0], [0.0]]), (None, 3), np.float32)
    assert labels.dtype == np.intp and labels.tolist() == [2, 0]
    assert scce.prepare_targets(np.zeros((2, T), np.int64), (None, T, K), np.float32).shape == (2, T)
    hinge = losses.Hinge().prepare_targets(np.array([[0, 1]]), (None, 2), np.float64)
    assert hinge.tolist() == [[-1, 1]]


@pytest.mark.parametrize(
    "loss,y,shape,exc,msg",
    [
        (losses.SparseCategoricalCrossentropy(), [0, 3], (None, 3), ValueError, r"labels in \[0, 3\), got 3"),
        (losses.SparseCategoricalCrossentropy(), [0, -1], (None, 3), ValueError, r"labels in \[0, 3\), got -1"),
        (losses.SparseCategoricalCrossentropy(), [0.5, 1], (None, 3), ValueError, "integer class labels, got 0.5"),
        (losses.SparseCategoricalCrossentropy(), [[0, 1]], (None, 3), ValueError, r"got shape \(1, 2\)"),
        (losses.MeanSquaredError(), [[np.nan, 1.0]], (None, 2), ValueError, "y contains NaN or inf, got nan"),
        (losses.MeanSquaredError(), [[np.inf, 1.0]], (None, 2), ValueError, "NaN or inf, got inf"),
        (
            losses.MeanSquaredError(),
            np.zeros((2, 3)),
            (None, 2),
            ValueError,
            r"y must have the shape of the model output \(None, 2\), got shape \(2, 3\)",
        ),
        (losses.CategoricalCrossentropy(), [0, 2, 1], (None, 4), ValueError, "use sparse_categorical_crossentropy"),
        (losses.MeanSquaredError(), np.array(["a", "b"]), (None, 1), TypeError, "y must be numeric.*got dtype <U1"),
    ],
)
def test_bad_targets(loss, y, shape, exc, msg):
    with pytest.raises(exc, match=msg):
        loss.prepare_targets(np.asarray(y), shape, np.float32)


def test_bad_call_arguments():
    mse = losses.MeanSquaredError()
    with pytest.raises(ValueError, match="y_pred contains NaN or inf"):
        mse(ONEHOT, np.full((N, K), np.nan))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(5,\), got shape \(4,\)"):
        mse(ONEHOT, PROBS, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"must have shape \(2, 3\) or \(2,\), got shape \(3,\)"):
        mse(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight contains NaN or inf"):
        mse(ONEHOT, PROBS, sample_weight=np.full(N, np.nan))
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.MeanSquaredError(reduction="mean")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 2"):
        losses.BinaryCrossentropy(label_smoothing=2)
    with pytest.raises(ValueError, match="delta must be a finite number > 0"):
        losses.Huber(delta=0)


def test_extreme_logits_are_finite():
    big = np.array([[1e4, -1e4, 0.0]], np.float32)
    for loss, y in (
        (losses.CategoricalCrossentropy(from_logits=True), [[0, 1, 0]]),
        (losses.SparseCategoricalCrossentropy(from_logits=True), [1]),
        (losses.BinaryCrossentropy(from_logits=True), [[0, 1, 1]]),
    ):
        value, grad = loss.value_and_grad(loss.prepare_targets(np.array(y), big.shape, np.float32), big)
        assert np.isfinite(value) and np.isfinite(grad).all()
    assert losses.SparseCategoricalCrossentropy(from_logits=True)([1], big) == pytest.approx(2e4)


def test_functions_aliases_get_serialize():
    np.testing.assert_allclose(losses.mse(ONEHOT, PROBS), np.mean((PROBS - ONEHOT) ** 2, -1))
    np.testing.assert_allclose(losses.mean_absolute_error(ONEHOT, PROBS), np.mean(np.abs(PROBS - ONEHOT), -1))
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True),
        -log_softmax(LOGITS, axis=1)[np.arange(N), LABELS],
    )
    np.testing.assert_allclose(losses.kld(PROBS, PROBS), 0, atol=1e-12)
    for name, cls in (
        ("mse", losses.MeanSquaredError),
        ("MAE", losses.MeanAbsoluteError),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("Huber", losses.Huber),
        ("logcosh", losses.LogCosh),
        ("half_squared_error", losses.HalfSquaredError),
    ):
        assert type(losses.get(name)) is cls
    assert type(losses.get(losses.categorical_crossentropy)) is losses.CategoricalCrossentropy
    loss = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum", name="b")
    again = losses.deserialize(losses.serialize(loss))
    assert again.get_config() == loss.get_config() and type(again) is losses.BinaryCrossentropy
    with pytest.raises(ValueError, match=r"Unknown loss: 'msee'. Known: \[.*'mse'"):
        losses.get("msee")
    # A plain function is a loss too: its gradient comes from tracing the ops it uses.
    assert type(losses.get(lambda y, p: 0.0)) is losses.LossFunctionWrapper


def test_pytorch_parity():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = RNG.standard_normal((6, 5)) * 3
    labels = RNG.integers(0, 5, 6)
    t = torch.tensor(logits, requires_grad=True)
    pairs = [
        (
            losses.SparseCategoricalCrossentropy(from_logits=True),
            labels,
            lambda x: F.cross_entropy(x, torch.tensor(labels)),
        ),
        (
            losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            np.eye(5)[labels],
            lambda x: F.cross_entropy(x, torch.tensor(labels), label_smoothing=0.1),
        ),
        (
            losses.BinaryCrossentropy(from_logits=True),
            (logits > 0.3).astype(float),
            lambda x: F.binary_cross_entropy_with_logits(x, torch.tensor((logits > 0.3).astype(float))),
        ),
        (losses.MeanSquaredError(), np.tanh(logits), lambda x: F.mse_loss(x, torch.tensor(np.tanh(logits)))),
        (losses.MeanAbsoluteError(), np.tanh(logits), lambda x: F.l1_loss(x, torch.tensor(np.tanh(logits)))),
        (losses.Huber(delta=0.7), np.tanh(logits), lambda x: F.huber_loss(x, torch.tensor(np.tanh(logits)), delta=0.7)),
    ]
    for loss, y, torch_fn in pairs:
        value, grad = loss.value_and_grad(loss.prepare_targets(y, logits.shape, np.float64), logits)
        t.grad = None
        out = torch_fn(t)
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-12), type(loss).__name__
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)
    probs = 1 / (1 + np.exp(-logits))
    y = (logits > 0.3).astype(float)
    bce = losses.BinaryCrossentropy()
    value, grad = bce.value_and_grad(bce.prepare_targets(y, probs.shape, np.float64), probs)
    tp = torch.tensor(probs, requires_grad=True)
    out = F.binary_cross_entropy(tp, torch.tensor(y))
    out.backward()
    assert value == pytest.approx(out.item(), rel=1e-6)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-6)
