"""Learning-rate schedules against their closed forms (Keras' documented formulas)."""

import json
import math

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
