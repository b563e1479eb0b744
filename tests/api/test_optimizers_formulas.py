"""Nadam, Adamax, Lion, Ftrl, Adafactor, clipping and EMA against Keras 3's formulas in NumPy.

Each optimizer runs on a flat buffer holding several variables; the expected
values come from Keras' per-variable ``update_step`` written out in NumPy
below (with Keras' gradient clipping first), not from ranvier's kernels or
their reference twins. PyTorch parity where torch's formula is the same.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from ranvier.api import optimizers as opt
from ranvier.api import schedules

SHAPES = [(3, 4), (5, 2), (4,)]
ADAFACTOR_SHAPES = [(2, 3, 4), (5, 2), (4,), (1, 6)]


def _layout(shapes):
    sizes = [math.prod(s) for s in shapes]
    stops = np.cumsum(sizes)
    return [(int(b - k), int(b)) for k, b in zip(sizes, stops)], int(stops[-1])


def _split(flat, shapes):
    slices, _ = _layout(shapes)
    return [flat[a:b].reshape(s).copy() for (a, b), s in zip(slices, shapes)]


# --- Keras 3, written out in NumPy ------------------------------------------------------------


def _keras_clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        return [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in grads]
    if global_clipnorm:
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * (global_clipnorm * min(1 / norm, 1 / global_clipnorm)) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def _nadam(hp):
    b1, b2, eps = hp.get("beta_1", 0.9), hp.get("beta_2", 0.999), hp.get("epsilon", 1e-7)
    u_product = [1.0]

    def step(ws, gs, state, t, lr):
        u_product[0] *= b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_t, u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1)), b1 * (1 - 0.5 * 0.96 ** (t + 2))
        for i, (w, g) in enumerate(zip(ws, gs)):
            m, v = state.setdefault(i, [np.zeros_like(w), np.zeros_like(w)])
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            m_hat = u_next * m / (1 - u_product[0] * u_next) + (1 - u_t) * g / (1 - u_product[0])
            w -= m_hat * lr / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)

    return step


def _adamax(hp):
    b1, b2, eps = hp.get("beta_1", 0.9), hp.get("beta_2", 0.999), hp.get("epsilon", 1e-7)

    def step(ws, gs, state, t, lr):
        for i, (w, g) in enumerate(zip(ws, gs)):
            m, u = state.setdefault(i, [np.zeros_like(w), np.zeros_like(w)])
            m += (g - m) * (1 - b1)
            u[...] = np.maximum(b2 * u, np.abs(g))
            w -= lr * m / ((1 - b1 ** (t + 1)) * (u + eps))

    return step


def _lion(hp):
    b1, b2 = hp.get("beta_1", 0.9), hp.get("beta_2", 0.99)

    def step(ws, gs, state, t, lr):
        for i, (w, g) in enumerate(zip(ws, gs)):
            (m,) = state.setdefault(i, [np.zeros_like(w)])
            w -= lr * np.sign(m * b1 + g * (1 - b1))
            m[...] = m * b2 + g * (1 - b2)

    return step


def _ftrl(hp):
    p = hp.get("learning_rate_power", -0.5)
    l1 = hp.get("l1_regularization_strength", 0.0)
    l2_strength = hp.get("l2_regularization_strength", 0.0)
    shrink = hp.get("l2_shrinkage_regularization_strength", 0.0)
    beta, init = hp.get("beta", 0.0), hp.get("initial_accumulator_value", 0.1)

    def step(ws, gs, state, t, lr):
        l2 = l2_strength + beta / (2.0 * lr)
        for i, (w, g) in enumerate(zip(ws, gs)):
            accum, linear = state.setdefault(i, [np.full_like(w, init), np.zeros_like(w)])
            new_accum = accum + g * g
            linear += g + 2 * shrink * w - (new_accum**-p - accum**-p) / lr * w
            quadratic = new_accum**-p / lr + 2 * l2
            w[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
            accum[...] = new_accum

    return step


def _adafactor(hp, constant_lr=True):
    decay, eps1, eps2 = hp.get("beta_2_decay", -0.8), hp.get("epsilon_1", 1e-30), hp.get("epsilon_2", 1e-3)
    clip_threshold, relative = hp.get("clip_threshold", 1.0), hp.get("relative_step", True)

    def rms(x):
        return np.sqrt(np.mean(np.square(x)))

    def step(ws, gs, state, t, lr):
        local = t + 1.0
        if constant_lr and relative:
            lr = min(lr, 1 / np.sqrt(local))
        for i, (w, g) in enumerate(zip(ws, gs)):
            if w.ndim >= 2:
                r, c, v = state.setdefault(
                    i, [np.zeros(w.shape[:-1]), np.zeros(w.shape[:-2] + w.shape[-1:]), np.zeros_like(w)]
                )
            else:
                r, c, v = state.setdefault(i, [None, None, np.zeros_like(w)])
            rho = min(lr, 1 / np.sqrt(local))
            alpha = max(eps2, rms(w)) * rho
            square = g * g + eps1
            beta = 1 - local**decay
            if w.ndim >= 2:
                r[...] = beta * r + (1 - beta) * square.mean(axis=-1)
                c[...] = beta * c + (1 - beta) * square.mean(axis=-2)
                v[...] = np.expand_dims(r / r.mean(axis=-1, keepdims=True), -1) * np.expand_dims(c, -2)
            else:
                v[...] = beta * v + (1 - beta) * square
            u = g / np.sqrt(v)
            w -= alpha * u / max(1.0, rms(u) / clip_threshold)

    return step


KERAS = {"Nadam": _nadam, "Adamax": _adamax, "Lion": _lion, "Ftrl": _ftrl, "Adafactor": _adafactor}

CASES = [
    ("Nadam", dict(learning_rate=0.01)),
    ("Nadam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-4)),
    ("Adamax", dict(learning_rate=0.01)),
    ("Adamax", dict(learning_rate=0.02, beta_1=0.5, beta_2=0.9, epsilon=1e-3)),
    ("Lion", dict(learning_rate=0.01)),
    ("Lion", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9)),
    ("Ftrl", dict(learning_rate=0.1)),
    (
        "Ftrl",
        dict(
            learning_rate=0.2,
            learning_rate_power=-0.8,
            initial_accumulator_value=0.5,
            l1_regularization_strength=0.05,
            l2_regularization_strength=0.1,
            l2_shrinkage_regularization_strength=0.2,
            beta=0.3,
        ),
    ),
    ("Adafactor", dict(learning_rate=0.01)),
    ("Adafactor", dict(learning_rate=0.5, beta_2_decay=-0.5, epsilon_2=1e-2, clip_threshold=0.5)),
    ("Adafactor", dict(learning_rate=0.5, relative_step=False, epsilon_1=1e-3)),
]
CLIPS = [{}, {"clipnorm": 0.8}, {"clipvalue": 0.3}, {"global_clipnorm": 1.5}]


def _run(name, hp, clip, shapes, steps=5, seed=0, dtype=np.float64):
    """(ranvier's weights, Keras' weights) after ``steps`` updates of the same gradients."""
    rng = np.random.default_rng(seed)
    slices, n = _layout(shapes)
    w = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(steps)]
    o = getattr(opt, name)(**hp, **clip)
    variables = [SimpleNamespace(shape=s) for s in shapes]
    o.build(w, n_decay=0, slices=slices, flat_grads=np.zeros_like(w), variables=variables)
    ws, state, step = _split(w, shapes), {}, KERAS[name](hp)
    for t, g in enumerate(grads):
        lr = o.learning_rate
        o.apply_flat(w, g)
        step(ws, _keras_clip(_split(g, shapes), **clip), state, t, lr)
    return w, np.concatenate([x.reshape(-1) for x in ws])


@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: next(iter(c), "noclip"))
@pytest.mark.parametrize("name,hp", CASES, ids=[f"{n}{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras_formula(name, hp, clip):
    shapes = ADAFACTOR_SHAPES if name == "Adafactor" else SHAPES
    got, want = _run(name, hp, clip, shapes)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,hp", CASES[::2], ids=lambda x: x if isinstance(x, str) else "")
def test_float32_follows_float64(name, hp):
    shapes = ADAFACTOR_SHAPES if name == "Adafactor" else SHAPES
    got32, _ = _run(name, hp, {}, shapes, dtype=np.float32)
    got64, _ = _run(name, hp, {}, shapes)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, got64, rtol=1e-4, atol=1e-5)


def test_adafactor_schedule_skips_relative_step():
    """Keras caps the rate at 1/sqrt(t) twice for a constant rate (relative_step), once for a schedule."""
    slices, n = _layout(SHAPES)
    rng = np.random.default_rng(5)
    w = rng.standard_normal(n)
    g = rng.standard_normal(n)
    o = opt.Adafactor(schedules.ExponentialDecay(0.5, 10, 0.9))
    o.build(w, slices=slices, variables=[SimpleNamespace(shape=s) for s in SHAPES])
    ws, state = _split(w, SHAPES), {}
    for t in range(3):
        lr = o.learning_rate
        o.apply_flat(w, g)
        _adafactor({}, constant_lr=False)(ws, _split(g, SHAPES), state, t, lr)
    np.testing.assert_allclose(w, np.concatenate([x.reshape(-1) for x in ws]), rtol=1e-12)


def test_adafactor_factors_only_rank_2_and_more():
    slices, n = _layout(ADAFACTOR_SHAPES)
    o = opt.Adafactor()
    o.build(np.zeros(n), slices=slices, variables=[SimpleNamespace(shape=s) for s in ADAFACTOR_SHAPES])
    state = o.get_state()
    assert state["row_mean"].shape == (2 * 3 + 5 + 1,)
    assert state["column_mean"].shape == (2 * 4 + 2 + 6,)
    assert state["velocity"].shape == (n,)
    with pytest.raises(ValueError, match=r"variables must match slices one to one in size, got shapes \[\(2, 2\)"):
        opt.Adafactor().build(np.zeros(4), slices=[(0, 4)], variables=[SimpleNamespace(shape=(2, 2))] * 2)


def test_nadam_continues_after_set_state():
    """Nadam's momentum product depends on the step count only: a restored optimizer continues exactly."""
    slices, n = _layout(SHAPES)
    rng = np.random.default_rng(6)
    w = rng.standard_normal(n)
    grads = [rng.standard_normal(n) for _ in range(6)]
    a = opt.Nadam(0.01)
    for g in grads[:3]:
        a.apply_flat(w, g)
    b = opt.Nadam(0.01)
    b.set_state(a.get_state())
    w_b = w.copy()
    for g in grads[3:]:
        a.apply_flat(w, g)
        b.apply_flat(w_b, g)
    np.testing.assert_array_equal(w, w_b)


# --- weight decay: ranvier's coupled L2 on the kernels --------------------------------------


@pytest.mark.parametrize("name", ["Nadam", "Adamax", "Lion", "Ftrl", "Adafactor"])
def test_weight_decay_is_coupled_l2_on_kernels(name):
    """``weight_decay`` adds ``wd * w`` to the gradient of the first n_decay entries."""
    slices, n = _layout(SHAPES)
    n_decay = slices[1][1]
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal(n)
    g = rng.standard_normal(n)
    a, b = getattr(opt, name)(0.05, weight_decay=0.3), getattr(opt, name)(0.05)
    w_a, w_b = w0.copy(), w0.copy()
    variables = [SimpleNamespace(shape=s) for s in SHAPES]
    a.build(w_a, n_decay, slices, variables=variables)
    b.build(w_b, n_decay, slices, variables=variables)
    a.apply_flat(w_a, g)
    decayed = g.copy()
    decayed[:n_decay] += 0.3 * w0[:n_decay]
    b.apply_flat(w_b, decayed)
    np.testing.assert_allclose(w_a, w_b, rtol=1e-13, atol=1e-15)


# --- PyTorch parity ------------------------------------------------------------------------


def _torch_run(torch_opt, ours, steps=6):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    w0 = rng.standard_normal(40)
    grads = [rng.standard_normal(40) for _ in range(steps)]
    p = torch.nn.Parameter(torch.tensor(w0.copy()))
    # torch keeps scalar state (NAdam's mu_product, step) in the default dtype.
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        t_opt = torch_opt(torch, [p])
        w = w0.copy()
        for g in grads:
            p.grad = torch.tensor(g)
            t_opt.step()
            ours.apply_flat(w, g)
    finally:
        torch.set_default_dtype(default)
    return w, p.detach().numpy()


def test_nadam_matches_torch_with_momentum_decay_one():
    w, want = _torch_run(
        lambda torch, ps: torch.optim.NAdam(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-7, momentum_decay=1.0),
        opt.Nadam(0.01),
    )
    np.testing.assert_allclose(w, want, rtol=1e-12, atol=1e-14)


def test_adamax_matches_torch_for_small_epsilon():
    """torch puts epsilon inside the max, Keras outside: with epsilon 1e-12 they agree to ~1e-12."""
    w, want = _torch_run(
        lambda torch, ps: torch.optim.Adamax(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-12),
        opt.Adamax(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-12),
    )
    np.testing.assert_allclose(w, want, rtol=1e-10, atol=1e-12)


# --- EMA ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("frequency", [None, 3])
@pytest.mark.parametrize("momentum", [0.99, 0.5])
def test_ema_follows_keras_formula(momentum, frequency):
    rng = np.random.default_rng(9)
    w = rng.standard_normal(12)
    grads = [rng.standard_normal(12) for _ in range(7)]
    o = opt.SGD(0.1, momentum=0.9, use_ema=True, ema_momentum=momentum, ema_overwrite_frequency=frequency)
    plain = opt.SGD(0.1, momentum=0.9)
    w_plain, average = w.copy(), None
    for t, g in enumerate(grads):
        o.apply_flat(w, g)
        plain.apply_flat(w_plain, g)
        mu = momentum if t else 0.0
        average = w_plain.copy() if average is None else mu * average + (1 - mu) * w_plain
        if frequency and (t + 1) % frequency == 0:
            w_plain[...] = average
        np.testing.assert_allclose(w, w_plain, rtol=1e-13)
        np.testing.assert_allclose(o.get_state()["average"], average, rtol=1e-13)
    assert not np.allclose(average, w_plain), "the average must differ from the weights"
    o.finalize_variable_values(w)
    np.testing.assert_array_equal(w, o.get_state()["average"])


def test_ema_off_by_default_and_in_config():
    o = opt.Adam()
    assert (o.use_ema, o.ema_momentum, o.ema_overwrite_frequency) == (False, 0.99, None)
    w = np.ones(3)
    o.apply_flat(w, np.ones(3))
    assert "average" not in o.get_state()
    before = w.copy()
    o.finalize_variable_values(w)  # no EMA: nothing to do, as Keras
    np.testing.assert_array_equal(w, before)
    config = opt.Lion(use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=5).get_config()
    assert (config["use_ema"], config["ema_momentum"], config["ema_overwrite_frequency"]) == (True, 0.9, 5)
    assert opt.deserialize(opt.serialize(opt.Nadam(use_ema=True))).use_ema is True


def test_finalize_with_model_variables():
    w = np.arange(6.0)
    variables = [SimpleNamespace(shape=(2, 2)), SimpleNamespace(shape=(2,))]
    o = opt.SGD(1.0, use_ema=True, ema_momentum=0.5)
    o.build(w, slices=[(0, 4), (4, 6)], flat_grads=np.zeros(6), variables=variables)
    o.apply_flat(w, np.ones(6))
    o.apply_flat(w, np.ones(6))
    np.testing.assert_allclose(o.get_state()["average"], np.arange(6.0) - 1.5)
    with pytest.raises(ValueError, match="var_list must be all 2 trainable variables of the model, got 1"):
        o.finalize_variable_values(variables[:1])
    o.finalize_variable_values(variables)
    np.testing.assert_allclose(w, np.arange(6.0) - 1.5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(ema_momentum=1.5), r"ema_momentum must be a number in \[0, 1\], got 1.5"),
        (dict(ema_overwrite_frequency=0), "ema_overwrite_frequency must be an integer >= 1 or None, got 0"),
        (dict(ema_overwrite_frequency=2.5), "ema_overwrite_frequency must be an integer >= 1 or None, got 2.5"),
    ],
)
def test_ema_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        opt.SGD(use_ema=True, **kwargs)


def test_ema_buffers_need_use_ema_and_build():
    with pytest.raises(ValueError, match="needs use_ema=True, got use_ema=False"):
        opt.SGD()._ema_buffers()
    with pytest.raises(ValueError, match="before it is built"):
        opt.SGD(use_ema=True)._ema_buffers()


# --- constructor validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: opt.Nadam(beta_1=1.0), r"Nadam: beta_1 must be a number in \[0, 1\), got 1.0"),
        (lambda: opt.Adamax(epsilon=0), r"Adamax: epsilon must be a number in \(0, inf\], got 0"),
        (lambda: opt.Lion(beta_1=0.0), r"Lion: beta_1 must be a number in \(0, 1\], got 0.0"),
        (lambda: opt.Lion(beta_2=1.1), r"Lion: beta_2 must be a number in \[0, 1\], got 1.1"),
        (lambda: opt.Ftrl(learning_rate_power=0.5), r"learning_rate_power must be a number in \[-inf, 0\], got 0.5"),
        (lambda: opt.Ftrl(initial_accumulator_value=-1), r"initial_accumulator_value .*got -1"),
        (lambda: opt.Ftrl(l1_regularization_strength=-0.1), r"l1_regularization_strength .*got -0.1"),
        (lambda: opt.Adafactor(beta_2_decay=0.5), r"beta_2_decay must be a number in \[-inf, 0\], got 0.5"),
        (lambda: opt.Adafactor(clip_threshold=0), r"clip_threshold must be a number in \(0, inf\], got 0"),
    ],
)
def test_new_optimizer_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_keras_defaults():
    n = opt.Nadam()
    assert (n.learning_rate, n.beta_1, n.beta_2, n.epsilon, n.name) == (0.001, 0.9, 0.999, 1e-7, "nadam")
    a = opt.Adamax()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon, a.name) == (0.001, 0.9, 0.999, 1e-7, "adamax")
    lion = opt.Lion()
    assert (lion.learning_rate, lion.beta_1, lion.beta_2, lion.name) == (0.001, 0.9, 0.99, "lion")
    f = opt.Ftrl().get_config()
    assert {k: f[k] for k in f if k not in opt.SGD().get_config()} == {
        "learning_rate_power": -0.5,
        "initial_accumulator_value": 0.1,
        "l1_regularization_strength": 0.0,
        "l2_regularization_strength": 0.0,
        "l2_shrinkage_regularization_strength": 0.0,
        "beta": 0.0,
    }
    f = opt.Adafactor().get_config()
    assert (f["beta_2_decay"], f["epsilon_1"], f["epsilon_2"], f["clip_threshold"], f["relative_step"]) == (
        -0.8,
        1e-30,
        1e-3,
        1.0,
        True,
    )


def test_ftrl_zero_learning_rate_is_a_clear_error():
    o = opt.Ftrl(0.0)
    w = np.ones(3)
    with pytest.raises(ValueError, match="learning_rate must be > 0 .*got 0.0"):
        o.apply_flat(w, np.ones(3))
    np.testing.assert_array_equal(w, 1.0)


# --- clipping: every optimizer clips as Keras does, before its update -----------------------

ALL_FIRST_ORDER = [
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "AdamW",
    "Nadam",
    "Adamax",
    "Lion",
    "Ftrl",
    "Adafactor",
]


@pytest.mark.parametrize("clip", CLIPS[1:], ids=lambda c: next(iter(c)))
@pytest.mark.parametrize("name", ALL_FIRST_ORDER)
def test_clipping_equals_update_with_keras_clipped_gradient(name, clip):
    """Clipped steps equal unclipped steps on the gradient clipped by Keras' rule in NumPy."""
    slices, n = _layout(SHAPES)
    rng = np.random.default_rng(10)
    w_a = rng.standard_normal(n)
    w_b = w_a.copy()
    variables = [SimpleNamespace(shape=s) for s in SHAPES]
    a, b = getattr(opt, name)(0.05, **clip), getattr(opt, name)(0.05)
    a.build(w_a, 0, slices, variables=variables)
    b.build(w_b, 0, slices, variables=variables)
    for _ in range(3):
        g = 2 * rng.standard_normal(n)
        a.apply_flat(w_a, g)
        b.apply_flat(w_b, np.concatenate([x.reshape(-1) for x in _keras_clip(_split(g, SHAPES), **clip)]))
    np.testing.assert_allclose(w_a, w_b, rtol=1e-12, atol=1e-14)
