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
    "CosineDecayRestarts",
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


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov and Hutter 2016), Keras formula.

    Period ``i`` (from 0) lasts ``first_decay_steps * t_mul**i`` steps and
    starts at the rate ``initial_learning_rate * m_mul**i``; within it, at
    the fraction ``f`` of the period done,
    ``lr = initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)``.

    Parameters
    ----------
    initial_learning_rate : float >= 0
    first_decay_steps : float > 0
    t_mul : float > 0, default 2.0
        Each period is this many times longer than the one before (below 1,
        the periods end after ``first_decay_steps / (1 - t_mul)`` steps: a
        later step is an error).
    m_mul : float >= 0, default 1.0
        Each restart's peak is this many times the one before.
    alpha : float >= 0, default 0.0
        The floor, as a fraction of ``initial_learning_rate``.
    name : str, default "SGDRDecay"

    Notes
    -----
    The period of a step is Keras' closed form ``floor(log(1 - f (1 - t_mul)) / log(t_mul))``
    (``f = step / first_decay_steps``), corrected by one where rounding puts
    a step exactly at a restart into the period before.
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        owner = type(self).__name__
        self.initial_learning_rate = _number(owner, "initial_learning_rate", initial_learning_rate, 0)
        self.first_decay_steps = _number(owner, "first_decay_steps", first_decay_steps, 0, strict=True)
        self.t_mul = _number(owner, "t_mul", t_mul, 0, strict=True)
        self.m_mul = _number(owner, "m_mul", m_mul, 0)
        self.alpha = _number(owner, "alpha", alpha, 0)
        self.name = name

    def _start(self, i):
        """Where period ``i`` starts, in units of ``first_decay_steps``."""
        t = self.t_mul
        return float(i) if t == 1.0 else (1.0 - t**i) / (1.0 - t)

    def __call__(self, step):
        done = _step(type(self).__name__, step) / self.first_decay_steps
        t = self.t_mul
        if t < 1.0 and done >= 1.0 / (1.0 - t):
            # Shrinking periods sum to first_decay_steps / (1 - t_mul); Keras gives NaN past it.
            raise ValueError(
                f"{type(self).__name__}: with t_mul={t!r} < 1 the restarts end at step "
                f"{self.first_decay_steps / (1.0 - t):g}, got step {step!r}"
            )
        i = math.floor(done) if t == 1.0 else math.floor(math.log(1.0 - done * (1.0 - t)) / math.log(t))
        if self._start(i + 1) <= done:
            i += 1
        elif self._start(i) > done:
            i -= 1
        fraction = (done - self._start(i)) / t**i
        cosine = 0.5 * self.m_mul**i * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
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
    (ExponentialDecay, PiecewiseConstantDecay, CosineDecay, CosineDecayRestarts, InverseTimeDecay, PolynomialDecay),
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
