"""ranvier.api.optimizers: lookup, configs, clipping, state, validation, full-batch optimizers."""

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

from ranvier.api import optimizers as opt
from ranvier.api import schedules
from ranvier.reference import optim as ref

# A toy flat buffer: a (3, 4) kernel, a (5, 2) kernel, then a bias of 4.
SLICES = [(0, 12), (12, 22), (22, 26)]
N, N_DECAY = 26, 22

FIRST_ORDER = [
    opt.SGD(0.1),
    opt.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    opt.Adagrad(0.1),
    opt.RMSprop(0.01, momentum=0.5, centered=True, clipvalue=0.5),
    opt.Adadelta(1.0),
    opt.Adam(0.01, amsgrad=True, clipnorm=1.0),
    opt.AdamW(0.01, global_clipnorm=0.5),
    opt.Nadam(0.01, clipnorm=1.0),
    opt.Adamax(0.01, clipvalue=0.5),
    opt.Lion(0.01, global_clipnorm=0.5),
    opt.Ftrl(0.1, l1_regularization_strength=0.01),
    opt.Adafactor(0.01, use_ema=True),
    opt.SGD(0.1, use_ema=True, ema_overwrite_frequency=2),
]


def _buffers(dtype=np.float32, seed=0, steps=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(N).astype(dtype), [rng.standard_normal(N).astype(dtype) for _ in range(steps)])


def _fresh(o):
    return opt.deserialize(opt.serialize(o))


# --- lookup and configs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [
        ("sgd", opt.SGD),
        ("Adam", opt.Adam),
        ("ADAMW", opt.AdamW),
        ("rmsprop", opt.RMSprop),
        ("adagrad", opt.Adagrad),
        ("adadelta", opt.Adadelta),
        ("nadam", opt.Nadam),
        ("Adamax", opt.Adamax),
        ("lion", opt.Lion),
        ("ftrl", opt.Ftrl),
        ("adafactor", opt.Adafactor),
        ("lbfgs", opt.LBFGS),
        ("L-BFGS", opt.LBFGS),
        ("cg", opt.ConjugateGradient),
    ],
)
def test_get_by_name_case_insensitive(name, cls):
    o = opt.get(name)
    assert type(o) is cls
    assert o.full_batch == (cls in (opt.LBFGS, opt.ConjugateGradient))


def test_get_instance_and_dict():
    o = opt.Adam(1e-2)
    assert opt.get(o) is o
    again = opt.get(opt.serialize(o))
    assert type(again) is opt.Adam and again.get_config() == o.get_config()


def test_get_unknown_name_lists_known():
    with pytest.raises(ValueError, match=r"Unknown optimizer: 'adamix'. Known: \[.*'adam'.*'sgd'"):
        opt.get("adamix")
    with pytest.raises(TypeError, match="got 3"):
        opt.get(3)
    with pytest.raises(ValueError, match="class_name"):
        opt.deserialize({"config": {}})


def test_keras_defaults_and_positional_learning_rate():
    assert opt.SGD().learning_rate == 0.01 and opt.Adam().learning_rate == 0.001
    assert opt.Adam(1e-2).learning_rate == 0.01
    a = opt.Adam()
    assert (a.beta_1, a.beta_2, a.epsilon, a.amsgrad) == (0.9, 0.999, 1e-7, False)
    assert opt.AdamW().weight_decay == 0.004
    assert opt.Adagrad().initial_accumulator_value == 0.1
    assert (opt.RMSprop().rho, opt.Adadelta().rho) == (0.9, 0.95)


@pytest.mark.parametrize(
    "o",
    FIRST_ORDER
    + [
        opt.SGD(schedules.ExponentialDecay(0.1, 5, 0.5)),
        opt.LBFGS(max_iter=7, history_size=4),
        opt.ConjugateGradient(max_iter=9),
    ],
    ids=lambda o: type(o).__name__,
)
def test_config_round_trip_is_json(o):
    config = json.loads(json.dumps(opt.serialize(o)))
    again = opt.deserialize(config)
    assert type(again) is type(o) and again.get_config() == o.get_config()


# --- learning rate --------------------------------------------------------------------------


def test_learning_rate_settable_and_used():
    w, grads = _buffers(np.float64)
    o = opt.SGD(0.1)
    o.learning_rate = 0.5
    assert o.learning_rate == 0.5
    before = w.copy()
    o.apply(w, grads[0])
    np.testing.assert_allclose(w, before - 0.5 * grads[0], rtol=1e-15)
    assert o.iterations == 1
    with pytest.raises(ValueError, match="learning_rate must be a number in .*got -1"):
        o.learning_rate = -1


def test_schedule_is_evaluated_at_iterations():
    w, grads = _buffers(np.float64, steps=4)
    sched = schedules.PiecewiseConstantDecay([1], [0.1, 0.01])  # 0.1 for steps 0, 1
    o = opt.SGD(sched)
    lrs = []
    for g in grads:
        lrs.append(o.learning_rate)
        before = w.copy()
        o.apply(w, g)
        np.testing.assert_allclose(w, before - lrs[-1] * g, rtol=1e-15)
    assert lrs == [0.1, 0.1, 0.01, 0.01]
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        o.learning_rate = 0.3
    o.learning_rate = schedules.ExponentialDecay(1.0, 1, 0.5)
    assert o.learning_rate == 0.5**4


# --- one step equals the reference, clipping, decay -----------------------------------------


def test_apply_matches_reference_with_n_decay_and_weight_decay():
    w, grads = _buffers(np.float64)
    o = opt.Adam(0.01, weight_decay=0.1)
    o.build(w, N_DECAY, SLICES)
    want, m, v = w.copy(), np.zeros(N), np.zeros(N)
    for t, g in enumerate(grads, start=1):
        o.apply(w, g)
        ref.adam_update(
            want,
            g,
            m,
            v,
            np.zeros(0),
            0.01,
            0.9,
            0.999,
            1e-7,
            t,
            False,
            np.inf,
            0.1,
            N_DECAY,
            np.ones(1),
            np.array([0, N]),
        )
    np.testing.assert_allclose(w, want, rtol=1e-13)
    assert o.iterations == 3


def _sgd_step(o, w, g):
    """One step of plain SGD (lr 1) through ``o``: returns the gradient it applied."""
    before = w.copy()
    o.apply(w, g)
    return before - w


def test_clipnorm_clips_each_variable():
    w, (g,) = _buffers(np.float64, steps=1)
    g[12:22] *= 1e-3  # this variable's norm stays under the limit
    o = opt.SGD(1.0, clipnorm=0.5)
    o.build(w, N_DECAY, SLICES)
    applied = _sgd_step(o, w, g)
    for start, stop in SLICES:
        norm = np.linalg.norm(g[start:stop])
        np.testing.assert_allclose(applied[start:stop], g[start:stop] * 0.5 / max(norm, 0.5), rtol=1e-12)
    assert np.linalg.norm(applied[12:22]) < 0.5


def test_global_clipnorm_clips_the_whole_gradient():
    w, (g,) = _buffers(np.float64, steps=1)
    o = opt.SGD(1.0, global_clipnorm=0.5)
    o.build(w, N_DECAY, SLICES)
    applied = _sgd_step(o, w, g)
    np.testing.assert_allclose(applied, g * 0.5 / np.linalg.norm(g), rtol=1e-12)
    small = _sgd_step(o, w, g * 1e-3)
    np.testing.assert_allclose(small, g * 1e-3, rtol=1e-12)


def test_clipvalue_and_weight_decay_skips_biases():
    w, (g,) = _buffers(np.float64, steps=1)
    o = opt.SGD(1.0, clipvalue=0.3, weight_decay=0.5)
    o.build(w, N_DECAY, SLICES)
    before = w.copy()
    applied = _sgd_step(o, w, g)
    want = np.clip(g, -0.3, 0.3)
    want[:N_DECAY] += 0.5 * before[:N_DECAY]
    np.testing.assert_allclose(applied, want, rtol=1e-12)


def test_adamw_decays_kernels_only():
    w, _ = _buffers(np.float64)
    o = opt.AdamW(0.1, weight_decay=0.5)
    o.build(w, N_DECAY, SLICES)
    before = w.copy()
    o.apply(w, np.zeros(N))  # zero gradient: only the decoupled decay moves w
    np.testing.assert_allclose(w[:N_DECAY], before[:N_DECAY] * (1 - 0.05), rtol=1e-14)
    np.testing.assert_array_equal(w[N_DECAY:], before[N_DECAY:])


def test_apply_without_build_decays_everything():
    w, (g,) = _buffers(np.float64, steps=1)
    before = w.copy()
    opt.SGD(1.0, weight_decay=0.5).apply(w, g)
    np.testing.assert_allclose(w, before - (g + 0.5 * before), rtol=1e-14)


# --- state ---------------------------------------------------------------------------------


@pytest.mark.parametrize("o", FIRST_ORDER, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("before_build", [False, True])
def test_state_round_trip_continues_identically(o, before_build):
    w, grads = _buffers(np.float32, steps=6)
    a = _fresh(o)
    a.build(w, N_DECAY, SLICES)
    for g in grads[:3]:
        a.apply(w, g)
    state = a.get_state()
    assert int(state["iterations"]) == 3
    b = _fresh(o)
    w_b = w.copy()
    if before_build:
        b.set_state(state)
        b.build(w_b, N_DECAY, SLICES)
    else:
        b.build(w_b, N_DECAY, SLICES)
        b.set_state(state)
    for g in grads[3:]:
        a.apply(w, g)
        b.apply(w_b, g)
    np.testing.assert_array_equal(w, w_b)
    assert b.iterations == 6


def test_get_state_lists_only_used_slots_and_copies():
    w, (g,) = _buffers(steps=1)
    o = opt.RMSprop(centered=True)
    o.build(w)
    o.apply(w, g)
    state = o.get_state()
    assert sorted(state) == ["average_gradient", "iterations", "velocity"]
    state["velocity"][:] = 7
    assert not np.any(o.get_state()["velocity"] == 7)


def test_build_again_keeps_slots_new_layout_resets():
    w, (g,) = _buffers(steps=1)
    o = opt.Adam()
    o.build(w, N_DECAY, SLICES)
    o.apply(w, g)
    m = o.get_state()["momentum"]
    o.build(w, N_DECAY, SLICES)
    np.testing.assert_array_equal(o.get_state()["momentum"], m)
    o.build(w, 0)
    assert not np.any(o.get_state()["momentum"])


@pytest.mark.parametrize(
    "state,match",
    [
        ({"iterations": 3}, r"expected slots \['momentum', 'velocity'\], got \[\]"),
        (
            {"iterations": 3, "momentum": np.zeros(N), "velocity": np.zeros(N - 1)},
            r"slot 'velocity' must be a finite array of shape \(26,\), got shape \(25,\)",
        ),
        ({"iterations": -1, "momentum": np.zeros(N), "velocity": np.zeros(N)}, "non-negative integer"),
        ({"momentum": np.zeros(N)}, "must be a dict with 'iterations'"),
    ],
)
def test_set_state_rejects_bad_state(state, match):
    o = opt.Adam()
    o.build(np.zeros(N, np.float32))
    with pytest.raises(ValueError, match=match):
        o.set_state(state)
    assert o.iterations == 0


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,err,match",
    [
        (lambda: opt.Adam(-1e-3), ValueError, r"Adam: learning_rate must be a number in \[0, inf\], got -0.001"),
        (lambda: opt.Adam("fast"), TypeError, "learning_rate must be a number or a LearningRateSchedule"),
        (lambda: opt.Adam(beta_1=1.0), ValueError, r"beta_1 must be a number in \[0, 1\), got 1.0"),
        (lambda: opt.Adam(beta_2=-0.1), ValueError, "beta_2 must be"),
        (lambda: opt.Adam(epsilon=0), ValueError, r"epsilon must be a number in \(0, inf\]"),
        (lambda: opt.SGD(momentum=1.5), ValueError, r"SGD: momentum must be a number in \[0, 1\], got 1.5"),
        (lambda: opt.RMSprop(rho=1.0), ValueError, "rho must be"),
        (lambda: opt.Adadelta(rho=float("nan")), ValueError, "rho must be"),
        (lambda: opt.SGD(clipnorm=0), ValueError, r"clipnorm must be a number in \(0, inf\], got 0"),
        (lambda: opt.SGD(clipvalue=-1), ValueError, "clipvalue must be"),
        (lambda: opt.SGD(clipnorm=1, clipvalue=1), ValueError, "only one of clipnorm, clipvalue"),
        (lambda: opt.SGD(weight_decay=-0.1), ValueError, "weight_decay must be"),
        (lambda: opt.AdamW(weight_decay=None), ValueError, "AdamW: weight_decay must be"),
        (lambda: opt.LBFGS(max_iter=0), ValueError, "max_iter must be a positive integer, got 0"),
        (lambda: opt.LBFGS(history_size=2.5), ValueError, "history_size must be a positive integer"),
    ],
)
def test_constructor_validation(make, err, match):
    with pytest.raises(err, match=match):
        make()


@pytest.mark.parametrize(
    "args,err,match",
    [
        ((np.zeros(N, np.float32), N + 1, None), ValueError, r"n_decay must be an integer in \[0, 26\], got 27"),
        ((np.zeros(N, np.float32), 0, [(0, 12), (13, 26)]), ValueError, r"got \(13, 26\) after a slice ending at 12"),
        ((np.zeros(N, np.float32), 0, [(0, 12)]), ValueError, "must end at the buffer size 26, got 12"),
        ((np.zeros((2, 13), np.float32), 0, None), TypeError, r"1-D C-contiguous .*shape \(2, 13\)"),
        ((np.zeros(N, np.int64), 0, None), TypeError, "float32 or float64"),
        (([0.0] * N, 0, None), TypeError, "got list"),
    ],
)
def test_build_validation(args, err, match):
    with pytest.raises(err, match=match):
        opt.SGD().build(*args)


def test_apply_validation_before_writing():
    o = opt.Adam()
    w = np.ones(N, np.float32)
    o.build(w)
    with pytest.raises(
        ValueError,
        match=r"flat_grads must be a \(26,\) float32 ndarray as at build, "
        r"got \(26,\) float64",
    ):
        o.apply(w, np.ones(N))
    with pytest.raises(ValueError, match=r"flat_params must be .*got \(25,\) float32"):
        o.apply(np.ones(N - 1, np.float32), np.ones(N, np.float32))
    np.testing.assert_array_equal(w, 1.0)
    assert o.iterations == 0


# --- full batch ------------------------------------------------------------------------------


def _quadratic(dtype):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((8, 8))
    a = q @ q.T + 8 * np.eye(8)
    b = rng.standard_normal(8)

    def fun(x):
        assert x.dtype == dtype
        x64 = x.astype(np.float64)
        return 0.5 * x64 @ a @ x64 - b @ x64, (a @ x64 - b).astype(dtype)

    return fun, np.linalg.solve(a, b)


@pytest.mark.parametrize("cls", [opt.LBFGS, opt.ConjugateGradient])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_batch_minimises_quadratic(cls, dtype):
    fun, solution = _quadratic(dtype)
    x = np.zeros(8, dtype)
    seen = []
    o = cls(max_iter=200)
    x = o.minimize(fun, x, callback=lambda xk: seen.append(xk.dtype))
    # L-BFGS also stops once the loss barely moves (scipy's ftol), so x is accurate
    # to about sqrt(ftol) while the loss is near-optimal.
    np.testing.assert_allclose(x, solution, rtol=1e-4, atol=1e-4)
    assert fun(x)[0] == pytest.approx(fun(solution.astype(dtype))[0], rel=1e-6)
    assert x.dtype == dtype and seen and set(seen) == {np.dtype(dtype)}
    assert o.iterations == o.last_result.nit == len(seen) > 0


@pytest.mark.parametrize("cls", [opt.LBFGS, opt.ConjugateGradient])
def test_full_batch_minimises_rosenbrock(cls):
    x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.5])
    x = cls(max_iter=5000, tol=1e-9).minimize(lambda v: (rosen(v), rosen_der(v)), x0)
    np.testing.assert_allclose(x, np.ones(5), atol=1e-4)
    np.testing.assert_array_equal(x0, [-1.2, 1.0, -0.5, 0.8, 1.5])


def test_lbfgs_respects_max_iter_and_state():
    o = opt.LBFGS(max_iter=3)
    x = o.minimize(lambda v: (rosen(v), rosen_der(v)), np.array([-1.2, 1.0]))
    assert o.iterations <= 3 and not np.allclose(x, 1.0)
    again = opt.LBFGS()
    again.build(np.zeros(2), 1, [(0, 1), (1, 2)])
    again.set_state(o.get_state())
    assert again.iterations == o.iterations
    with pytest.raises(ValueError, match="state must be"):
        again.set_state({"iterations": 1, "momentum": np.zeros(2)})
    with pytest.raises(TypeError, match="fun must be callable"):
        o.minimize(None, x)


@pytest.mark.parametrize("cls", [opt.LBFGS, opt.ConjugateGradient])
def test_callback_returning_true_stops_early(cls):
    points = []

    def callback(xk):
        points.append(xk)
        return len(points) == 4

    o = cls(max_iter=1000)
    x = o.minimize(lambda v: (rosen(v), rosen_der(v)), np.array([-1.2, 1.0]), callback=callback)
    assert len(points) == 4 and o.iterations == 4
    np.testing.assert_array_equal(x, points[-1])


def test_import_does_not_load_scipy_optimize():
    code = "import sys, ranvier.api.optimizers; print('scipy.optimize' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("arg", ["loss_scale_factor", "gradient_accumulation_steps"])
def test_keras_only_arguments_load_as_none_and_refuse_values(arg):
    from ranvier.api._errors import UnsupportedArgument

    config = opt.Adam(**{arg: None}).get_config()
    assert config[arg] is None
    assert opt.Adam.from_config(config).get_config() == config
    with pytest.raises(UnsupportedArgument, match=f"{arg} is not supported.*got 2"):
        opt.SGD(**{arg: 2})
