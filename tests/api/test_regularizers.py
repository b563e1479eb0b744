"""Regularizers: penalty values (Keras formulas), gradients by finite differences through a model."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import regularizers
from ranvier.testing import check_gradients

W = np.array([[0.5, -1.5, 2.0], [-0.25, 1.0, -3.0]])


def _orthogonal_penalty(w, factor, mode):
    """The Keras 3 formula, written out pair by pair."""
    v = w if mode == "rows" else w.T
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    n = len(u)
    pairs = [abs(u[i] @ u[j]) for i in range(n) for j in range(i + 1, n)]
    return factor * np.mean(pairs)


@pytest.mark.parametrize(
    "reg,expected",
    [
        (regularizers.L1(0.1), 0.1 * 8.25),
        (regularizers.L2(0.1), 0.1 * (0.25 + 2.25 + 4 + 0.0625 + 1 + 9)),
        (regularizers.L1L2(l1=0.1, l2=0.2), 0.1 * 8.25 + 0.2 * 16.5625),
        (regularizers.L1L2(), 0.0),
        (regularizers.OrthogonalRegularizer(0.3), _orthogonal_penalty(W, 0.3, "rows")),
        (regularizers.OrthogonalRegularizer(0.3, mode="columns"), _orthogonal_penalty(W, 0.3, "columns")),
    ],
)
def test_penalty_values(reg, expected):
    assert reg(W) == pytest.approx(expected, rel=1e-12)
    assert reg.penalty(W.astype(np.float32)) == pytest.approx(expected, rel=1e-6)


def test_keras_defaults_and_aliases():
    assert regularizers.L1().l1 == 0.01 and regularizers.L2().l2 == 0.01
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.l2 is regularizers.L2 and regularizers.l1_l2 is regularizers.L1L2
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    assert isinstance(regularizers.get("L1L2"), regularizers.L1L2)
    assert isinstance(regularizers.get("orthogonal_regularizer"), regularizers.OrthogonalRegularizer)
    assert regularizers.get(None) is None


@pytest.mark.parametrize(
    "reg",
    [
        regularizers.L1(0.3),
        regularizers.L2(0.3),
        regularizers.L1L2(0.1, 0.2),
        regularizers.OrthogonalRegularizer(0.5, "columns"),
    ],
)
def test_serialize_round_trip(reg):
    clone = regularizers.deserialize(regularizers.serialize(reg))
    assert type(clone) is type(reg) and clone.get_config() == reg.get_config()
    assert clone(W) == reg(W)


def _model(**dense_kwargs):
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3, activation="tanh", **dense_kwargs)])
    model.compile(optimizer="sgd", loss="mse")
    return model


REGS = {
    "l1": lambda: regularizers.L1(0.05),
    "l2": lambda: regularizers.L2(0.05),
    "l1l2": lambda: regularizers.L1L2(0.03, 0.07),
    "orthogonal_rows": lambda: regularizers.OrthogonalRegularizer(0.4, "rows"),
    "orthogonal_columns": lambda: regularizers.OrthogonalRegularizer(0.4, "columns"),
}


# The orthogonal regularizer is for 2-D kernels only.
CASES = [
    (name, where)
    for name in sorted(REGS)
    for where in ("kernel", "bias", "activity")
    if where == "kernel" or not name.startswith("orthogonal")
]


@pytest.mark.parametrize("name,where", CASES)
def test_gradients_through_a_model(float64, name, where):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    model = _model(**{f"{where}_regularizer": REGS[name]()})
    # Keep weights away from 0, where |w| has no derivative.
    model.layers[-1].kernel.assign(rng.choice([-1, 1], (4, 3)) * rng.uniform(0.2, 1.0, (4, 3)))
    model.layers[-1].bias.assign(rng.choice([-1, 1], 3) * rng.uniform(0.2, 1.0, 3))
    check_gradients(model, x, y)


def test_penalty_adds_to_the_loss(float64):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    plain, reg = _model(), _model(kernel_regularizer=regularizers.L2(0.1))
    reg.set_weights(plain.get_weights())
    kernel = plain.layers[-1].kernel.value
    assert reg.evaluate(x, y, verbose=0) == pytest.approx(
        plain.evaluate(x, y, verbose=0) + 0.1 * np.sum(kernel**2), rel=1e-10
    )


def test_add_gradient_matches_closed_form():
    grad = np.zeros_like(W)
    regularizers.L1L2(0.1, 0.2).add_gradient(W, grad)
    np.testing.assert_allclose(grad, 0.1 * np.sign(W) + 0.4 * W)
    grad32 = np.ones_like(W, dtype=np.float32)
    regularizers.L2(0.5).add_gradient(W.astype(np.float32), grad32)
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(grad32, 1 + W, rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="l1 must be a finite number >= 0"):
        regularizers.L1(-0.1)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        regularizers.L1L2(l2=float("inf"))
    with pytest.raises(TypeError, match="must be a number"):
        regularizers.L2("big")
    with pytest.raises(ValueError, match="mode must be"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="2-D kernel"):
        regularizers.OrthogonalRegularizer()(np.ones(3))
    with pytest.raises(ValueError, match="grad must have the shape"):
        regularizers.L2().add_gradient(W, np.zeros(3))
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.get("l3")
    with pytest.raises(TypeError, match="regularizer must be"):
        regularizers.get(0.1)
