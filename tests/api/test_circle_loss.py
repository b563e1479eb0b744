"""Circle loss: against a per-pair transcription of Keras' ``circle``, finite differences, reductions, fit."""

import math

import numpy as np
import pytest

import ranvier as rv
from ranvier.losses import Circle, circle


def _keras_circle(labels, p, gamma=80.0, margin=0.4, remove_diagonal=True):
    """Keras' formula, one pair at a time (plain Python floats)."""
    n = len(labels)
    out = []
    for i in range(n):
        pos, neg = [], []
        for j in range(n):
            d = max(1.0 - float(np.dot(p[i], p[j])), 0.0)
            if labels[i] == labels[j] and not (remove_diagonal and i == j):
                pos.append(-gamma * max(margin + d, 0.0) * (margin - d))
            elif labels[i] != labels[j]:
                neg.append(gamma * max(1 + margin - d, 0.0) * (1 - margin - d))
        if not pos or not neg:
            out.append(0.0)
            continue
        lse = math.log(sum(math.exp(v) for v in pos)) + math.log(sum(math.exp(v) for v in neg))
        out.append(math.log1p(math.exp(lse)) if lse < 30 else lse + math.log1p(math.exp(-lse)))
    return np.array(out)


def _embeddings(n=8, d=4, seed=0):
    p = np.random.default_rng(seed).standard_normal((n, d))
    return p / np.linalg.norm(p, axis=1, keepdims=True)


LABELS = np.array([0, 1, 0, 2, 1, 0, 3, 2])  # label 3 has no positive: loss 0, masked out of the mean


@pytest.mark.parametrize("kwargs", [{}, {"gamma": 4.0, "margin": 0.25}, {"gamma": 2.0, "remove_diagonal": False}])
def test_matches_the_keras_formula(kwargs):
    p = _embeddings()
    expected = _keras_circle(LABELS, p, **kwargs)
    np.testing.assert_allclose(circle(LABELS, p, **kwargs), expected, rtol=1e-10)
    loss = Circle(**kwargs)
    valid = expected > 0
    assert valid.sum() < len(expected) or not kwargs.get("remove_diagonal", True)
    np.testing.assert_allclose(loss(LABELS, p), expected.sum() / valid.sum(), rtol=1e-10)
    np.testing.assert_allclose(Circle(reduction="sum", **kwargs)(LABELS[:, None], p), expected.sum(), rtol=1e-10)
    w = np.linspace(0.5, 2.0, len(LABELS))
    np.testing.assert_allclose(loss(LABELS, p, sample_weight=w), (w * expected).sum() / valid.sum(), rtol=1e-10)
    f32 = Circle(**kwargs)(LABELS, p.astype(np.float32))
    np.testing.assert_allclose(f32, expected.sum() / valid.sum(), rtol=1e-4)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
@pytest.mark.parametrize("kwargs", [{"gamma": 4.0}, {"gamma": 8.0, "margin": 0.1, "remove_diagonal": False}])
def test_gradient_is_the_finite_difference_one(reduction, kwargs):
    p = _embeddings(seed=1)
    loss = Circle(reduction=reduction, **kwargs)
    t = loss.prepare_targets(LABELS, p.shape, p.dtype)
    w = np.linspace(0.5, 2.0, len(LABELS))
    value, grad = loss.value_and_grad(t, p, sample_weight=w)
    assert value == pytest.approx(loss.value(t, p, sample_weight=w))
    eps = 1e-6
    numeric = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        q = p.copy()
        q[idx] += eps
        up = loss.value(t, q, sample_weight=w)
        q[idx] -= 2 * eps
        numeric[idx] = (up - loss.value(t, q, sample_weight=w)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_trains_a_model_and_serializes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0)
    inputs = rv.layers.Input((6,))
    emb = rv.layers.UnitNormalization()(rv.layers.Dense(4)(inputs))
    model = rv.Model(inputs, emb)
    model.compile(rv.optimizers.Adam(0.01), loss=Circle(gamma=8.0))
    history = model.fit(x, y, epochs=20, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < history[0]
    config = rv.losses.serialize(Circle(gamma=8.0, remove_diagonal=False))
    assert config["config"] == {
        "name": "circle",
        "reduction": "sum_over_batch_size",
        "gamma": 8.0,
        "margin": 0.4,
        "remove_diagonal": False,
    }
    assert isinstance(rv.losses.get("circle"), Circle)
    assert isinstance(rv.losses.get(circle), Circle)


def test_errors():
    p = _embeddings()
    with pytest.raises(ValueError, match="integer labels"):
        Circle()(np.ones((8, 2)), p)
    with pytest.raises(ValueError, match="embeddings of the 7 labels"):
        Circle()(LABELS[:7], p)
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        Circle(gamma=float("nan"))
    with pytest.raises(NotImplementedError, match="ref_labels"):
        circle(LABELS, p, ref_labels=LABELS)
