"""Learning-rate schedules (Keras names, arguments and formulas).

A schedule is a callable ``schedule(step) -> float`` of the optimizer's step
count (``optimizer.iterations``, starting at 0). Pass one as the
``learning_rate`` of any optimizer::

    lr = ExponentialDecay(1e-2, decay_steps=1000, decay_rate=0.9, staircase=True)
    opt = ranvier.optimizers.SGD(lr)
"""

import bisect
import math
import numbers

from . import serialization

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "InverseTimeDecay",
    "PolynomialDecay",
    "serialize",
    "deserialize",
    "get",
]


def _number(owner, name, value, low=None, *, strict=False):
    """``value`` as a float, checked finite and above ``low`` (``> low`` if strict)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{owner}: {name} must be {'>' if strict else '>='} {low}, got {value!r}")
    return float(value)


def _step(owner, step):
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not step >= 0:
        raise ValueError(f"{owner}: step must be a number >= 0, got {step!r}")
    return float(step)


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``.

    ``cls.from_config(schedule.get_config())`` rebuilds the schedule, so that
    optimizers with a schedule can be saved.
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule {type(self).__name__!r} must override __call__(self, step)")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule {type(self).__name__!r} must override get_config() to be serializable"
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: rate, steps, staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, 0)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, 0, strict=True)
        self.decay_rate = _number(owner, "decay_rate", decay_rate, 0)
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, step):
        p = _step(type(self).__name__, step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``: the
    step decay of the lecture notes (the rate drops every ``decay_steps``).
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored if staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        owner = type(self).__name__
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"{owner}: values must have one more entry than boundaries, got "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        self.boundaries = [_number(owner, "boundaries", b) for b in boundaries]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"{owner}: boundaries must be strictly increasing, got {boundaries!r}")
        self.values = [_number(owner, "values", v, 0) for v in values]
        self.name = name

    def __call__(self, step):
        return self.values[bisect.bisect_left(self.boundaries, _step(type(self).__name__, step))]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay to ``alpha`` times the peak rate.

    Without ``warmup_target``: ``lr(step) = initial_learning_rate * ((1 - alpha) * c + alpha)``
    with ``c = 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))``.
    With it: the rate rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps``, then decays from ``warmup_target``.
    """

    def __init__(
        self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None, warmup_steps=0
    ):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, 0)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, 0, strict=True)
        self.alpha = _number(owner, "alpha", alpha, 0)
        self.name = name
        self.warmup_target = None if warmup_target is None else _number(owner, "warmup_target", warmup_target, 0)
        self.warmup_steps = _number(owner, "warmup_steps", warmup_steps, 0)

    def __call__(self, step):
        step = _step(type(self).__name__, step)
        peak = self.initial_learning_rate
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                fraction = step / self.warmup_steps
                return (self.warmup_target - self.initial_learning_rate) * fraction + peak
            peak, step = self.warmup_target, step - self.warmup_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return peak * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, step capped at decay_steps.

    With ``cycle=True`` decay_steps grows to the first multiple of itself at or above step.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, 0)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, 0, strict=True)
        self.end_learning_rate = _number(owner, "end_learning_rate", end_learning_rate, 0)
        self.power = _number(owner, "power", power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        step = _step(type(self).__name__, step)
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = (1.0 - step / decay_steps) ** self.power
        return (self.initial_learning_rate - self.end_learning_rate) * fraction + self.end_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


serialization.register_family(
    "schedule",
    LearningRateSchedule,
    (ExponentialDecay, PiecewiseConstantDecay, CosineDecay, InverseTimeDecay, PolynomialDecay),
    title="learning rate schedule",
)


def serialize(schedule):
    """``{"class_name": ..., "config": ...}``, JSON-able."""
    return serialization.serialize(schedule, "schedule")


def deserialize(config, custom_objects=None):
    """The schedule a ``serialize`` dict describes."""
    return serialization.deserialize(config, "schedule", custom_objects)


def get(identifier):
    """A schedule from an instance, a class name with a config dict (``serialize``'s form) or a class."""
    return serialization.get(identifier, "schedule")
