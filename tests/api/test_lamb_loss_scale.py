"""Lamb against a NumPy transcription of Keras 3's ``update_step``; LossScaleOptimizer's delegation and skips."""

import math

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import optimizers as opt
from ranvier.api.variables import Variable

SHAPES = [(3, 4), (5, 2), (4,)]


def _layout(shapes):
    sizes = [math.prod(s) for s in shapes]
    stops = np.cumsum(sizes)
    return [(int(b - k), int(b)) for k, b in zip(sizes, stops)], int(stops[-1])


def _keras_lamb(ws, grads_per_step, lr, beta_1, beta_2, epsilon, clipnorm=None):
    """Keras 3's Lamb.update_step, one variable at a time (after Keras' per-variable clipnorm)."""
    ws = [w.copy() for w in ws]
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    for step, grads in enumerate(grads_per_step):
        t = step + 1
        if clipnorm:
            grads = [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in grads]
        for i, g in enumerate(grads):
            m[i] += (g - m[i]) * (1 - beta_1)
            v[i] += (g * g - v[i]) * (1 - beta_2)
            update = (m[i] / (1 - beta_1**t)) / (np.sqrt(v[i] / (1 - beta_2**t)) + epsilon)
            w_norm, g_norm = np.sqrt(np.sum(ws[i] ** 2)), np.sqrt(np.sum(update**2))
            ratio = w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0
            ws[i] = ws[i] - ratio * lr * update
    return ws


@pytest.mark.parametrize(
    "hp",
    [
        {},
        {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        {"learning_rate": 0.01, "clipnorm": 0.5},
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lamb_matches_keras_update_step(hp, dtype):
    rng = np.random.default_rng(0)
    slices, n = _layout(SHAPES)
    ws = [rng.standard_normal(s) for s in SHAPES]
    ws[2][:] = 0  # a zero variable: trust ratio 1
    steps = [[rng.standard_normal(s) for s in SHAPES] for _ in range(4)]
    lamb = opt.Lamb(**hp)
    flat = np.concatenate([w.reshape(-1) for w in ws]).astype(dtype)
    lamb.build(flat, slices=slices)
    for grads in steps:
        lamb.apply_flat(flat, np.concatenate([g.reshape(-1) for g in grads]).astype(dtype))
    args = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, **hp}
    lr = args.pop("learning_rate")
    expected = _keras_lamb(ws, steps, lr, args["beta_1"], args["beta_2"], args["epsilon"], args.get("clipnorm"))
    tol = 1e-12 if dtype == "float64" else 2e-5
    for (a, b), want in zip(slices, expected):
        np.testing.assert_allclose(flat[a:b], want.reshape(-1), rtol=tol, atol=tol)
    assert lamb.iterations == 4
    assert sorted(lamb.get_state()) == ["iterations", "momentum", "velocity"]


def test_lamb_keras_apply_form_config_and_errors():
    w = Variable("w", np.array([[1.0, -2.0], [0.5, 3.0]]))
    g = np.array([[0.1, 0.2], [-0.3, 0.4]])
    lamb = opt.Lamb(0.1)
    lamb.apply([g], [w])
    (expected,) = _keras_lamb([np.array([[1.0, -2.0], [0.5, 3.0]])], [[g]], 0.1, 0.9, 0.999, 1e-7)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    config = lamb.get_config()
    assert [config[k] for k in ("beta_1", "beta_2", "epsilon")] == [0.9, 0.999, 1e-7]
    assert isinstance(opt.get("lamb"), opt.Lamb) and isinstance(opt.deserialize(opt.serialize(lamb)), opt.Lamb)
    with pytest.raises(ValueError, match="beta_1"):
        opt.Lamb(beta_1=1.0)
    with pytest.raises(ValueError, match="epsilon"):
        opt.Lamb(epsilon=0.0)


def _model(optimizer, seed=0):
    rv.config.set_random_seed(seed)
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(6, activation="tanh"), rv.layers.Dense(1)])
    model.compile(optimizer, "mse")
    return model


def test_loss_scale_optimizer_is_its_inner_optimizer_on_finite_gradients(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.standard_normal((32, 1)).astype(np.float32)
    plain = _model(opt.Adam(0.01))
    scaled = _model(opt.LossScaleOptimizer(opt.Adam(0.01)))
    plain.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    scaled.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        np.testing.assert_array_equal(a, b)
    lso = scaled.optimizer
    assert lso.iterations == 12 and lso.learning_rate == pytest.approx(0.01)
    lso.learning_rate = 0.5
    assert lso.inner_optimizer.learning_rate == 0.5
    assert lso.dynamic_scale == 1.0 and lso.scale_loss(3.0) == 3.0
    path = tmp_path / "m.keras"
    scaled.save(path)
    loaded = rv.models.load_model(path)
    assert isinstance(loaded.optimizer, opt.LossScaleOptimizer)
    assert loaded.optimizer.iterations == 12


def test_loss_scale_optimizer_skips_non_finite_steps():
    w = Variable("w", np.array([1.0, 2.0]))
    lso = opt.LossScaleOptimizer(opt.SGD(0.1))
    lso.apply([np.array([1.0, 1.0])], [w])
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9])
    lso.apply([np.array([np.nan, 1.0])], [w])
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9])
    assert lso.iterations == 1
    flat, grads = np.array([1.0, 2.0]), np.array([np.inf, 0.0])
    lso2 = opt.LossScaleOptimizer(opt.SGD(0.1))
    lso2.apply_flat(flat, grads)
    np.testing.assert_array_equal(flat, [1.0, 2.0])


def test_loss_scale_optimizer_config_and_arguments():
    lso = opt.LossScaleOptimizer(opt.Lamb(0.02), initial_scale=128.0, dynamic_growth_steps=10, name="lso")
    config = lso.get_config()
    assert list(config) == ["name", "inner_optimizer", "initial_scale", "dynamic_growth_steps"]
    clone = opt.LossScaleOptimizer.from_config(config)
    assert isinstance(clone.inner_optimizer, opt.Lamb) and clone.inner_optimizer.learning_rate == 0.02
    assert clone.initial_scale == 128.0 and clone.dynamic_growth_steps == 10
    opt.LossScaleOptimizer(opt.SGD(), clipnorm=None, use_ema=False)  # Keras' older configs: defaults pass
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        opt.LossScaleOptimizer(opt.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic=False"):
        opt.LossScaleOptimizer(opt.SGD(), dynamic=False)
    with pytest.raises(ValueError, match="does not support arguments: `foo`"):
        opt.LossScaleOptimizer(opt.SGD(), foo=1)
    with pytest.raises(TypeError, match="inner_optimizer"):
        opt.LossScaleOptimizer("adam")
    with pytest.raises(ValueError, match="dynamic_growth_steps"):
        opt.LossScaleOptimizer(opt.SGD(), dynamic_growth_steps=0)
