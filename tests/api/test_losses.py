"""ranvier.api.losses: Keras semantics, the model interface, gradients, errors, PyTorch parity."""

import itertools
import json

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
Y_POS = RNG.uniform(0.5, 2, (N, K))
COUNTS = RNG.integers(0, 4, (N, K)).astype(float)
BPROBS = expit(LOGITS * 0.5)  # room for the tests' +-0.01 noise inside [0, 1]
SOFT = softmax(LOGITS * 0.3, axis=1)
EPS = 1e-7


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


def _bfocal(y, p, gamma=2.0, alpha=0.25, balance=False, ls=0.0):
    """Keras' binary focal crossentropy from its definition (probabilities)."""
    y = y * (1 - ls) + 0.5 * ls
    q = np.clip(p, EPS, 1 - EPS)
    bce = -(xlogy(y, q) + xlogy(1 - y, 1 - q))
    p_t = y * p + (1 - y) * (1 - p)
    w = alpha * y + (1 - alpha) * (1 - y) if balance else 1.0
    return np.mean(w * (1 - p_t) ** gamma * bce, -1)


def _cfocal(y, p, gamma=2.0, alpha=0.25, ls=0.0):
    """Keras' categorical focal crossentropy from its definition (probabilities)."""
    y = y * (1 - ls) + ls / y.shape[-1]
    o = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.sum(np.asarray(alpha) * (1 - o) ** gamma * y * np.log(o), -1)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# The losses computed in NumPy (reduced over the last axis here).
CASES += [
    (
        losses.MeanAbsolutePercentageError(),
        Y_POS,
        LOGITS,
        100 * np.mean(np.abs(Y_POS - LOGITS) / Y_POS, -1),
    ),
    (
        losses.MeanSquaredLogarithmicError(),
        Y_POS,
        LOGITS,  # negative predictions are clipped to eps
        np.mean((np.log1p(np.maximum(LOGITS, EPS)) - np.log1p(Y_POS)) ** 2, -1),
    ),
    (losses.Poisson(), COUNTS, Y_POS, np.mean(Y_POS - COUNTS * np.log(Y_POS + EPS), -1)),
    (losses.CosineSimilarity(), Y_POS, LOGITS, -np.sum(_unit(Y_POS) * _unit(LOGITS), -1)),
    (losses.BinaryFocalCrossentropy(), ONEHOT, BPROBS, _bfocal(ONEHOT, BPROBS)),
    (
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.3, gamma=0.5, label_smoothing=0.1),
        ONEHOT,
        BPROBS,
        _bfocal(ONEHOT, BPROBS, 0.5, 0.3, True, 0.1),
    ),
    (
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, gamma=3.0, from_logits=True),
        ONEHOT,
        LOGITS,
        _bfocal(ONEHOT, expit(LOGITS), 3.0, 0.25, True),
    ),
    (losses.BinaryFocalCrossentropy(gamma=0.0), ONEHOT, BPROBS, _bce(ONEHOT, BPROBS)),
    (losses.CategoricalFocalCrossentropy(), ONEHOT, SOFT, _cfocal(ONEHOT, SOFT)),
    (
        losses.CategoricalFocalCrossentropy(alpha=[0.1, 0.2, 0.3, 0.4], gamma=1.5, label_smoothing=0.2),
        ONEHOT,
        SOFT * 2,  # normalised to sum to 1 first
        _cfocal(ONEHOT, SOFT, 1.5, [0.1, 0.2, 0.3, 0.4], 0.2),
    ),
    (
        losses.CategoricalFocalCrossentropy(gamma=0.5, from_logits=True),
        ONEHOT,
        LOGITS,
        _cfocal(ONEHOT, softmax(LOGITS, axis=1), 0.5),
    ),
    (
        losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=0.0, from_logits=True),
        ONEHOT,
        LOGITS,
        -np.sum(ONEHOT * log_softmax(LOGITS, axis=1), -1),
    ),
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
    with pytest.raises(ValueError, match=r"sample_weight contains NaN or inf, got nan at index \(0,\)"):
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


# ---------------------------------------------------------------- issue 15: the new losses
def test_keras_documented_values():
    # The examples of Keras 3's docstrings (keras/src/losses/losses.py), rounded as printed there.
    assert losses.MeanAbsolutePercentageError()([100.0, 200.0, 300.0], [90.0, 210.0, 310.0]) == pytest.approx(
        6.111111, rel=1e-6
    )
    y, z = np.array([0, 1, 0, 0.0]), np.array([-18.6, 0.51, 2.94, -12.8])
    assert losses.BinaryFocalCrossentropy(gamma=2, from_logits=True)(y, z) == pytest.approx(0.691, abs=5e-4)
    balanced = losses.BinaryFocalCrossentropy(apply_class_balancing=True, gamma=2, from_logits=True)
    assert balanced(y, z) == pytest.approx(0.51, abs=5e-3)
    y, z = y.reshape(2, 2), np.array([[-18.6, 0.51], [2.94, -12.8]])
    assert losses.BinaryFocalCrossentropy(gamma=3, from_logits=True)(y, z, [0.8, 0.2]) == pytest.approx(0.133, abs=5e-4)
    np.testing.assert_allclose(
        losses.BinaryFocalCrossentropy(gamma=5, from_logits=True, reduction="none")(y, z), [0.0017, 1.1561], atol=5e-5
    )
    yt = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
    yp = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
    np.testing.assert_allclose(losses.Dice(axis=(1, 2, 3), reduction="none")(yt, yp), [0.5, 0.75757575], rtol=1e-6)
    assert losses.Dice()(yt, yp) == pytest.approx(0.6164384, rel=1e-6)


def _region_losses(y, p, axes, alpha, beta):
    """Dice and Tversky from their definitions, reduced over ``axes``."""
    tp = np.sum(y * p, axes)
    dice = 1 - 2 * tp / (np.sum(y, axes) + np.sum(p, axes) + EPS)
    fp, fn = np.sum((1 - y) * p, axes), np.sum(y * (1 - p), axes)
    return dice, 1 - tp / (tp + alpha * fp + beta * fn + EPS)


@pytest.mark.parametrize("axis", [None, (1, 2, 3), -1, (2, 1)])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_dice_tversky_formula_reductions_gradients(axis, reduction):
    y = (RNG.uniform(size=(3, 4, 5, 2)) > 0.6).astype(float)
    p = RNG.uniform(0.05, 0.95, (3, 4, 5, 2))
    axes = tuple(range(4)) if axis is None else tuple(a % 4 for a in np.atleast_1d(axis))
    dice, tversky = _region_losses(y, p, axes, 0.7, 0.3)
    w = None if axis is None else RNG.uniform(0.5, 2, 3)
    for loss, expected in (
        (losses.Dice(reduction, axis=axis), dice),
        (losses.Tversky(0.7, 0.3, reduction, axis=axis), tversky),
    ):
        np.testing.assert_allclose(loss.call(y, p), expected, rtol=1e-12)
        weighted = expected if w is None else expected * w.reshape((3,) + (1,) * (expected.ndim - 1))
        want = {"sum": np.sum(weighted), "none": weighted}.get(reduction, np.mean(weighted))
        np.testing.assert_allclose(loss(y, p, sample_weight=w), want, rtol=1e-12)
        value, grad = loss.value_and_grad(y, p, sample_weight=w)
        assert value == pytest.approx(np.sum(weighted) * (1 if reduction == "sum" else 1 / np.size(expected)))

        def f(q, loss=loss):
            return loss.value(y, q, sample_weight=w)

        assert _rel(grad, _fd(f, p)) < 1e-6
        assert type(losses.deserialize(losses.serialize(loss))) is type(loss)
        assert losses.deserialize(losses.serialize(loss)).get_config() == loss.get_config()


def test_tversky_with_half_weights_is_dice():
    y = (RNG.uniform(size=(4, 6)) > 0.5).astype(float)
    p = RNG.uniform(size=(4, 6))
    np.testing.assert_allclose(losses.tversky(y, p, axis=-1), losses.dice(y, p, axis=-1), rtol=1e-6)


@pytest.mark.parametrize(
    "loss",
    [
        losses.CosineSimilarity(axis=1),
        losses.CosineSimilarity(axis=(1, 2)),
        losses.BinaryFocalCrossentropy(axis=1, from_logits=True),
        losses.CategoricalFocalCrossentropy(axis=1, gamma=1.0),
    ],
    ids=["cos-1", "cos-12", "bfocal-1", "cfocal-1"],
)
def test_axis_other_than_last(loss):
    # The loss over axis 1 of (N, K, M) is the loss over the last axis of its transpose (N, M, K).
    y = RNG.uniform(0.1, 1, (3, 4, 5))
    y = y / y.sum(1, keepdims=True) if isinstance(loss, losses.CategoricalFocalCrossentropy) else y
    p = RNG.uniform(0.1, 1, (3, 4, 5))
    last = type(loss)(**{**loss.get_config(), "axis": -1 if loss.axis == 1 else (-2, -1)})
    np.testing.assert_allclose(loss.call(y, p), last.call(np.swapaxes(y, 1, 2), np.swapaxes(p, 1, 2)), rtol=1e-12)
    w = RNG.uniform(0.5, 2, 3)
    value, grad = loss.value_and_grad(y, p, sample_weight=w)
    assert _rel(grad, _fd(lambda q: loss.value(y, q, sample_weight=w), p)) < 1e-6


def _ctc_brute_force(labels, logits):
    """-log of the summed probability of every path that collapses to ``labels`` (enumerated)."""
    steps, classes = logits.shape
    logp = log_softmax(logits, axis=-1)
    target = [int(v) for v in labels if v != 0]
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        collapsed = [c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]
        if collapsed == target:
            total += np.exp(sum(logp[t, c] for t, c in enumerate(path)))
    return -np.log(total)


CTC_LABELS = np.array([[1, 2, 0], [2, 2, 0], [0, 0, 0], [3, 1, 2]])
CTC_LOGITS = RNG.standard_normal((4, 5, 4)) * 1.5


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_ctc_matches_enumerated_paths_and_finite_differences(reduction):
    expected = np.array([_ctc_brute_force(lab, z) for lab, z in zip(CTC_LABELS, CTC_LOGITS)])
    loss = losses.CTC(reduction=reduction)
    np.testing.assert_allclose(loss.call(CTC_LABELS, CTC_LOGITS), expected, rtol=1e-12)
    np.testing.assert_allclose(losses.ctc(CTC_LABELS, CTC_LOGITS), expected, rtol=1e-12)
    w = RNG.uniform(0.5, 2, 4)
    want = {"sum": np.sum(w * expected), "none": w * expected}.get(reduction, np.mean(w * expected))
    np.testing.assert_allclose(loss(CTC_LABELS, CTC_LOGITS, sample_weight=w), want, rtol=1e-12)
    y = loss.prepare_targets(CTC_LABELS, (None, 5, 4), np.float64)
    value, grad = loss.value_and_grad(y, CTC_LOGITS, sample_weight=w)
    assert value == pytest.approx(np.sum(w * expected) * (1 if reduction == "sum" else 0.25), rel=1e-12)
    assert _rel(grad, _fd(lambda z: loss.value(y, z, sample_weight=w), CTC_LOGITS)) < 1e-6
    value32, grad32 = loss.value_and_grad(y, CTC_LOGITS.astype(np.float32), sample_weight=w)
    assert grad32.dtype == np.float32 and value32 == pytest.approx(value, rel=1e-5)


@pytest.mark.parametrize(
    "labels,shape,msg",
    [
        ([[1, 0, 2]], (1, 5, 4), r"row 0 must be padded with 0 only at the end .*got \[1, 0, 2\]$"),
        ([[1, 4]], (1, 5, 4), r"labels in \[1, 4\) padded with 0, got 4"),
        ([[1, -1]], (1, 5, 4), r"got -1"),
        ([[1.5, 1]], (1, 5, 4), "integer labels, got 1.5"),
        ([[1, 1, 1]], (1, 4, 4), r"sample 0 need at least 5 time steps but y_pred has 4, got labels \[1, 1, 1\]"),
        ([1, 2], (2, 5, 4), r"shape \(batch, max_label_length\) = \(2, L\), got shape \(2,\)"),
        ([[1, 2]], (1, 4), r"y_pred must have shape \(batch, time, classes\), got shape \(1, 4\)"),
    ],
)
def test_ctc_bad_targets(labels, shape, msg):
    with pytest.raises(ValueError, match=msg):
        losses.CTC().prepare_targets(np.asarray(labels), shape, np.float32)


def test_new_losses_bad_arguments():
    bad = [
        (lambda: losses.BinaryFocalCrossentropy(alpha=1.5), r"alpha must be in \[0, 1\], got 1.5"),
        (lambda: losses.BinaryFocalCrossentropy(gamma=-1), "gamma must be a finite number >= 0, got -1"),
        (lambda: losses.BinaryFocalCrossentropy(label_smoothing=-0.1), r"label_smoothing must be in \[0, 1\]"),
        (lambda: losses.BinaryFocalCrossentropy(axis=None), "axis must be an int or a tuple of ints, got None"),
        (lambda: losses.CategoricalFocalCrossentropy(axis=(1, 2)), r"axis must be an int \(the class axis\)"),
        (lambda: losses.CategoricalFocalCrossentropy(alpha=[[1.0]]), "alpha must be a float or a list of floats"),
        (lambda: losses.CategoricalFocalCrossentropy(gamma=float("nan")), "gamma must be a finite number"),
        (lambda: losses.CosineSimilarity(axis="last"), "axis must be an int or a tuple of ints, got 'last'"),
        (lambda: losses.Dice(axis=1.0), "axis must be an int, a tuple of ints or None, got 1.0"),
        (lambda: losses.Tversky(alpha=-1), "alpha must be a finite number >= 0, got -1"),
        (lambda: losses.CTC(reduction="mean"), "reduction must be one of"),
        (lambda: losses.Dice(axis=3)(ONEHOT, PROBS), r"axis must be within the 2 axes of y_pred, got axis=3"),
        (lambda: losses.Dice()(ONEHOT, PROBS, sample_weight=np.ones(N)), "sample_weight needs one loss per sample"),
        (lambda: losses.Poisson()(ONEHOT, -PROBS), "y_pred must be rates >= 0"),
        (lambda: losses.BinaryFocalCrossentropy()(ONEHOT, LOGITS), r"probabilities in \[0, 1\] .*from_logits"),
        (
            lambda: losses.CategoricalFocalCrossentropy(alpha=[1.0, 2.0])(ONEHOT, PROBS),
            r"one weight per class \(4\), got 2 weights \[1.0, 2.0\]$",
        ),
        (lambda: losses.MeanSquaredLogarithmicError()(ONEHOT, np.zeros((N, K + 1))), "shape of the model output"),
    ]
    for make, msg in bad:
        with pytest.raises(ValueError, match=msg):
            make()


def test_new_names_aliases_functions():
    expected = {
        "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
        "mape": losses.MeanAbsolutePercentageError,
        "MAPE": losses.MeanAbsolutePercentageError,
        "msle": losses.MeanSquaredLogarithmicError,
        "MSLE": losses.MeanSquaredLogarithmicError,
        "poisson": losses.Poisson,
        "cosine_similarity": losses.CosineSimilarity,
        "huber": losses.Huber,
        "kld": losses.KLDivergence,
        "logcosh": losses.LogCosh,
        "bce": losses.BinaryCrossentropy,
        "binary_focal_crossentropy": losses.BinaryFocalCrossentropy,
        "CategoricalFocalCrossentropy": losses.CategoricalFocalCrossentropy,
        "dice": losses.Dice,
        "Tversky": losses.Tversky,
        "ctc": losses.CTC,
        "CTC": losses.CTC,
    }
    for name, cls in expected.items():
        assert type(losses.get(name)) is cls, name
    # Keras' default names.
    for cls, name in (
        (losses.Huber, "huber_loss"),
        (losses.MeanSquaredLogarithmicError, "mean_squared_logarithmic_error"),
        (losses.BinaryFocalCrossentropy, "binary_focal_crossentropy"),
        (losses.CTC, "ctc"),
    ):
        assert cls().name == name
    for fn, cls in (
        (losses.mape, losses.MeanAbsolutePercentageError),
        (losses.poisson, losses.Poisson),
        (losses.cosine_similarity, losses.CosineSimilarity),
        (losses.categorical_focal_crossentropy, losses.CategoricalFocalCrossentropy),
        (losses.tversky, losses.Tversky),
    ):
        assert type(losses.get(fn)) is cls
    np.testing.assert_allclose(
        losses.binary_focal_crossentropy(ONEHOT, BPROBS, gamma=1.0, label_smoothing=0.1),
        _bfocal(ONEHOT, BPROBS, gamma=1.0, ls=0.1),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        losses.cosine_similarity(Y_POS, LOGITS, axis=0), -np.sum(_unit(Y_POS.T) * _unit(LOGITS.T), -1)
    )
    np.testing.assert_allclose(losses.msle(Y_POS, Y_POS), 0, atol=1e-15)
    loss = losses.CategoricalFocalCrossentropy(
        alpha=[0.5, 1, 1, 2], gamma=1, from_logits=True, reduction="sum", name="f"
    )
    again = losses.deserialize(json.loads(json.dumps(losses.serialize(loss))))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()
    assert again.get_config()["alpha"] == [0.5, 1, 1, 2]


def test_zero_vectors_and_saturated_focal_are_finite():
    value, grad = losses.CosineSimilarity().value_and_grad(np.zeros((2, 3)), np.zeros((2, 3)))
    assert value == 0 and np.isfinite(grad).all()
    big = np.array([[60.0, -60.0, 0.0]])
    for loss in (
        losses.BinaryFocalCrossentropy(gamma=0.5, from_logits=True),
        losses.CategoricalFocalCrossentropy(gamma=0.5, from_logits=True),
    ):
        value, grad = loss.value_and_grad(np.array([[1.0, 0.0, 0.0]]), big)
        assert np.isfinite(value) and np.isfinite(grad).all()
    value, grad = losses.BinaryFocalCrossentropy(gamma=0.5).value_and_grad(
        np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])
    )
    assert np.isfinite(value) and np.isfinite(grad).all()


def test_pytorch_parity_new_losses():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rates = RNG.uniform(0.1, 3, (6, 5))
    counts = RNG.integers(0, 5, (6, 5)).astype(float)
    p = softmax(RNG.standard_normal((6, 5)), axis=1)
    q = softmax(RNG.standard_normal((6, 5)), axis=1)
    z = RNG.standard_normal((6, 5))
    cases = [
        (
            losses.Poisson(),
            counts,
            rates,
            lambda x: torch.nn.PoissonNLLLoss(log_input=False, full=False, eps=EPS)(x, torch.tensor(counts)),
        ),
        (losses.KLDivergence(), q, p, lambda x: F.kl_div(torch.log(x), torch.tensor(q), reduction="batchmean")),
        (losses.CosineSimilarity(), q, z, lambda x: -F.cosine_similarity(x, torch.tensor(q), dim=-1).mean()),
        (losses.LogCosh(), q, z, lambda x: torch.mean(torch.log(torch.cosh(x - torch.tensor(q))))),
    ]
    for loss, y, x, torch_fn in cases:
        value, grad = loss.value_and_grad(loss.prepare_targets(y, x.shape, np.float64), x)
        t = torch.tensor(x, requires_grad=True)
        out = torch_fn(t)
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-10), type(loss).__name__
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_pytorch_parity_ctc(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    n, steps, classes = 5, 12, 6
    logits = rng.standard_normal((n, steps, classes)) * 2
    labels = np.zeros((n, 6), np.int64)
    for i, length in enumerate([6, 3, 0, 1, 4]):
        labels[i, :length] = rng.integers(1, classes, length)
    labels[0, 2] = labels[0, 1]  # a repeated label
    loss = losses.CTC(reduction=reduction)
    y = loss.prepare_targets(labels, (None, steps, classes), np.float64)
    t = torch.tensor(logits, requires_grad=True)
    out = torch.nn.functional.ctc_loss(
        t.log_softmax(-1).transpose(0, 1),
        torch.tensor(labels),
        torch.full((n,), steps),
        torch.tensor((labels != 0).sum(1)),
        blank=0,
        reduction=reduction,
    )
    np.testing.assert_allclose(loss(labels, logits), out.detach().numpy(), rtol=1e-10)
    if reduction == "sum":
        value, grad = loss.value_and_grad(y, logits)
        out.backward()
        assert value == pytest.approx(out.item(), rel=1e-10)
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "identifier,activation",
    [
        ("mape", None),
        (losses.MeanSquaredLogarithmicError(), "softplus"),
        ("poisson", "softplus"),
        ("cosine_similarity", None),
        (losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=True), None),
        ("binary_focal_crossentropy", "sigmoid"),
        (losses.CategoricalFocalCrossentropy(from_logits=True), None),
        ("categorical_focal_crossentropy", "softmax"),
        (losses.Dice(axis=-1), "sigmoid"),
        ("tversky", "sigmoid"),
    ],
)
def test_compile_and_fit(identifier, activation):
    import ranvier as rv

    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.float32)
    if identifier in ("mape", "cosine_similarity"):
        y = y + 1
    model = rv.Sequential([rv.layers.Input((6,)), rv.layers.Dense(3, activation=activation)])
    model.compile(optimizer=rv.optimizers.SGD(0.05), loss=identifier)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before and np.isfinite(history.history["loss"]).all()
    # evaluate reports the loss of the predictions.
    assert after == pytest.approx(losses.get(identifier)(y, model.predict(x, verbose=0)), rel=1e-4)


def test_ctc_compile_and_fit():
    import ranvier as rv

    rng = np.random.default_rng(4)
    n, steps, features, classes = 32, 10, 5, 4
    x = rng.standard_normal((n, steps, features)).astype(np.float32)
    labels = np.zeros((n, 3), np.int64)
    labels[:, :2] = rng.integers(1, classes, (n, 2))
    model = rv.Sequential([rv.layers.Input((steps, features)), rv.layers.Dense(classes)])
    model.compile(optimizer=rv.optimizers.Adam(0.01), loss="ctc")
    before = model.evaluate(x, labels, verbose=0)
    model.fit(x, labels, epochs=5, batch_size=8, verbose=0)
    after = model.evaluate(x, labels, verbose=0)
    assert after < before
    assert after == pytest.approx(np.mean(losses.ctc(labels, model.predict(x, verbose=0))), rel=1e-4)


def test_model_with_new_losses_saves_and_loads(tmp_path):
    import ranvier as rv

    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 4, 3)).astype(np.float32)
    y = (rng.uniform(size=(16, 4, 5)) > 0.5).astype(np.float32)
    labels = np.zeros((16, 2), np.int64)
    labels[:, 0] = rng.integers(1, 5, 16)
    for loss, target, activation in (
        (losses.Tversky(0.3, 0.7, axis=(1, 2), name="tv"), y, "sigmoid"),
        (losses.CategoricalFocalCrossentropy(alpha=[0.1, 0.2, 0.3, 0.2, 0.2], gamma=1.0), y, "softmax"),
        (losses.CTC(reduction="sum"), labels, None),
    ):
        model = rv.Sequential([rv.layers.Input((4, 3)), rv.layers.Dense(5, activation=activation)])
        model.compile(optimizer="sgd", loss=loss)
        model.fit(x, target, epochs=1, batch_size=8, verbose=0)
        model.save(tmp_path / "m.keras")
        again = rv.models.load_model(tmp_path / "m.keras")
        assert type(again.loss) is type(loss) and again.loss.get_config() == loss.get_config()
        assert again.evaluate(x, target, verbose=0) == model.evaluate(x, target, verbose=0)
