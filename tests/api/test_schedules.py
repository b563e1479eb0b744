"""Learning-rate schedules against their closed forms (Keras' documented formulas)."""

import json
import math

import numpy as np
import pytest

from ranvier.api import schedules

STEPS = [0, 1, 7, 10, 25, 99, 100, 101, 350]


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    for step in STEPS:
        p = step // 10 if staircase else step / 10
        assert s(step) == pytest.approx(0.1 * 0.5**p, rel=1e-14)
    assert s(15) == (0.05 if staircase else pytest.approx(0.1 * 0.5**1.5))


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    s = schedules.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=staircase)
    for step in STEPS:
        p = step // 4 if staircase else step / 4
        assert s(step) == pytest.approx(0.1 / (1 + 0.5 * p), rel=1e-14)


def test_piecewise_constant_decay_boundaries_belong_to_the_left():
    s = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [s(t) for t in (0, 9, 10, 10.5, 11, 20, 21, 1000)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_cosine_decay(alpha):
    s = schedules.CosineDecay(0.1, decay_steps=100, alpha=alpha)
    for step in STEPS:
        c = 0.5 * (1 + math.cos(math.pi * min(step, 100) / 100))
        assert s(step) == pytest.approx(0.1 * ((1 - alpha) * c + alpha), rel=1e-14, abs=1e-16)
    assert s(0) == pytest.approx(0.1) and s(500) == pytest.approx(0.1 * alpha, abs=1e-16)


def test_cosine_decay_with_warmup():
    s = schedules.CosineDecay(0.0, decay_steps=100, alpha=0.1, warmup_target=0.2, warmup_steps=10)
    assert s(0) == 0.0
    assert s(5) == pytest.approx(0.1)
    assert s(10) == pytest.approx(0.2)
    c = 0.5 * (1 + math.cos(math.pi * 50 / 100))
    assert s(60) == pytest.approx(0.2 * (0.9 * c + 0.1))
    assert s(10_000) == pytest.approx(0.02)


@pytest.mark.parametrize("cycle", [False, True])
def test_polynomial_decay(cycle):
    s = schedules.PolynomialDecay(0.1, decay_steps=100, end_learning_rate=0.01, power=2.0, cycle=cycle)
    for step in STEPS:
        if cycle:
            steps = 100 * (1 if step == 0 else math.ceil(step / 100))
            frac = step / steps
        else:
            frac = min(step, 100) / 100
        assert s(step) == pytest.approx(0.09 * (1 - frac) ** 2 + 0.01, rel=1e-14)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
        schedules.InverseTimeDecay(0.1, 10, 0.9),
        schedules.PiecewiseConstantDecay([5, 10], [0.3, 0.2, 0.1]),
        schedules.CosineDecay(0.0, 50, alpha=0.1, warmup_target=0.1, warmup_steps=5),
        schedules.PolynomialDecay(0.1, 30, 0.001, power=0.5, cycle=True),
    ],
)
def test_config_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    again = schedules.deserialize(config)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(t) for t in STEPS] == [schedule(t) for t in STEPS]
    assert schedules.get(config).get_config() == schedule.get_config()
    assert schedules.get(schedule) is schedule


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps must be > 0, got 0"),
        (lambda: schedules.ExponentialDecay(-0.1, 10, 0.5), "initial_learning_rate must be >= 0, got -0.1"),
        (lambda: schedules.InverseTimeDecay(0.1, 10, float("nan")), "decay_rate must be a finite number"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0]), "one more entry than boundaries"),
        (lambda: schedules.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1]), "strictly increasing"),
        (lambda: schedules.CosineDecay(0.1, -5), "decay_steps must be > 0, got -5"),
        (lambda: schedules.PolynomialDecay(0.1, 10, end_learning_rate=-1), "end_learning_rate must be >= 0"),
        (lambda: schedules.deserialize({"class_name": "Nope"}), "Unknown learning rate schedule"),
        (lambda: schedules.ExponentialDecay(0.1, 10, 0.5)(-1), "step must be a number >= 0, got -1"),
    ],
)
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_base_class_and_get_type_errors():
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(TypeError, match="got 0.1"):
        schedules.get(0.1)


def _restarts_by_walking(step, first, t_mul, m_mul, alpha, lr):
    """SGDR by walking the periods one by one: period i lasts first * t_mul**i steps."""
    start, length, i = 0.0, float(first), 0
    while step >= start + length:
        start, length, i = start + length, length * t_mul, i + 1
    fraction = (step - start) / length
    return lr * ((1 - alpha) * 0.5 * m_mul**i * (1 + math.cos(math.pi * fraction)) + alpha)


def _restarts_keras_numpy(steps, first, t_mul, m_mul, alpha, lr):
    """Keras' closed form, vectorized in NumPy (float64)."""
    done = np.asarray(steps, dtype=np.float64) / first
    if t_mul == 1.0:
        i = np.floor(done)
        done = done - i
    else:
        i = np.floor(np.log(1.0 - done * (1.0 - t_mul)) / np.log(t_mul))
        done = (done - (1.0 - t_mul**i) / (1.0 - t_mul)) / t_mul**i
    return lr * ((1 - alpha) * 0.5 * m_mul**i * (1.0 + np.cos(np.pi * done)) + alpha)


@pytest.mark.parametrize(
    "first,t_mul,m_mul,alpha",
    [(10, 2.0, 1.0, 0.0), (10, 1.0, 0.5, 0.1), (7, 1.5, 0.8, 0.05), (20, 0.5, 1.0, 0.0), (3, 3.0, 0.9, 0.2)],
)
def test_cosine_decay_restarts(first, t_mul, m_mul, alpha):
    s = schedules.CosineDecayRestarts(0.1, first, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    end = 39 if t_mul < 1 else 300
    steps = list(range(end))
    walked = [_restarts_by_walking(t, first, t_mul, m_mul, alpha, 0.1) for t in steps]
    assert [s(t) for t in steps] == pytest.approx(walked, rel=1e-12, abs=1e-15)
    # Keras' closed form agrees off the restart steps (where rounding may pick either side).
    inner = [t + 0.5 for t in steps]
    assert [s(t) for t in inner] == pytest.approx(list(_restarts_keras_numpy(inner, first, t_mul, m_mul, alpha, 0.1)))
    restarts = sum(1 for a, b in zip(walked, walked[1:]) if b > a)
    assert restarts >= 3, "the steps must cover several restarts"


def test_cosine_decay_restarts_restart_values():
    s = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    assert [s(0), s(10), s(30), s(70)] == pytest.approx([1.0, 0.5, 0.25, 0.125], rel=1e-14)
    assert s(5) == pytest.approx(0.5, rel=1e-14) and s(20) == pytest.approx(0.25, rel=1e-14)


def test_cosine_decay_restarts_config_and_errors():
    s = schedules.CosineDecayRestarts(0.1, 5, t_mul=1.5, m_mul=0.9, alpha=0.01, name="sgdr")
    again = schedules.deserialize(json.loads(json.dumps(schedules.serialize(s))))
    assert type(again) is schedules.CosineDecayRestarts and again.get_config() == s.get_config()
    assert [again(t) for t in range(40)] == [s(t) for t in range(40)]
    assert schedules.CosineDecayRestarts(0.1, 5).get_config() == {
        "initial_learning_rate": 0.1,
        "first_decay_steps": 5.0,
        "t_mul": 2.0,
        "m_mul": 1.0,
        "alpha": 0.0,
        "name": "SGDRDecay",
    }
    with pytest.raises(ValueError, match="first_decay_steps must be > 0, got 0"):
        schedules.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match="t_mul must be > 0, got -1"):
        schedules.CosineDecayRestarts(0.1, 5, t_mul=-1)
    with pytest.raises(ValueError, match="restarts end at step 10, got step 10"):
        schedules.CosineDecayRestarts(0.1, 5, t_mul=0.5)(10)
