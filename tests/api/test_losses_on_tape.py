"""Loss objects called on recorded tensors (custom training loops, add_loss): the gradient reaches the weights."""

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops
from ranvier.api.variables import Variable

N, K = 6, 3


def _targets(name, rng):
    if name == "sparse":
        return rng.integers(0, K, N)
    if name == "binary":
        return (rng.random((N, K)) > 0.5).astype(np.float64)
    if name == "counts":
        return rng.integers(0, 4, (N, K)).astype(np.float64)
    return rng.standard_normal((N, K))


def _mean_abs(t, p):
    return ops.mean(ops.abs(t - p), axis=-1)


# (loss, targets kind, activation applied to the logits first)
CASES = [
    (lambda r: rv.losses.MeanSquaredError(reduction=r), "real", None),
    (lambda r: rv.losses.Huber(reduction=r), "real", None),
    (lambda r: rv.losses.BinaryCrossentropy(from_logits=True, reduction=r), "binary", None),
    (lambda r: rv.losses.CategoricalCrossentropy(reduction=r), "binary", "softmax"),
    (lambda r: rv.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=r), "sparse", None),
    (lambda r: rv.losses.Poisson(reduction=r), "counts", "softplus"),  # a NumPy (axis) loss
    (
        lambda r: rv.losses.LossFunctionWrapper(lambda t, p: ops.mean(ops.abs(t - p), axis=-1), reduction=r),
        "real",
        None,
    ),
]


@pytest.mark.parametrize("make, kind, act", CASES)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_tape_gradient_of_a_loss_object_matches_finite_differences(make, kind, act, reduction, weighted):
    rng = np.random.default_rng(0)
    x, a0 = rng.standard_normal((N, 4)), rng.standard_normal((4, K))
    y, sw = _targets(kind, rng), (rng.random(N) if weighted else None)
    loss = make(reduction)

    def total(a, tape=None):
        z = ops.matmul(x, a)
        pred = getattr(ops, act)(z) if act else z
        value = loss(y, pred, sample_weight=sw)
        return ops.sum(value) if reduction == "none" else value

    a = Variable("a", a0.copy())
    with rv.GradientTape() as tape:
        value = total(a)
    assert isinstance(value, rv.ops.Tensor)
    grad = tape.gradient(value, [a])[0]
    expected = np.zeros_like(a0)
    for i in np.ndindex(a0.shape):
        step = np.zeros_like(a0)
        step[i] = 1e-6
        expected[i] = (float(np.asarray(total(a0 + step))) - float(np.asarray(total(a0 - step)))) / 2e-6
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(np.asarray(value), np.asarray(total(a0)), rtol=1e-12)


def test_a_loss_object_outside_a_tape_still_returns_a_float():
    assert isinstance(rv.losses.MeanSquaredError()(np.zeros((2, 3)), np.ones((2, 3))), float)
