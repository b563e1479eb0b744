"""Optimizers (Keras names, arguments and formulas) over the model's flat parameter buffer.

The model lays every trainable weight out as a view into one flat buffer,
kernels first, then 1-D weights (biases, scales), with a twin flat gradient
buffer. An optimizer keeps its slots (momentum, moments, ...) flat too, and
``apply`` runs gradient clipping, weight decay and the update for every
parameter in one fused, threaded kernel pass (``ranvier.core._optim``)::

    opt = Adam(1e-3)
    opt.build(flat_params, n_decay, slices)    # once
    opt.apply(flat_params, flat_grads)         # every step

Weight decay: ``weight_decay`` of every optimizer here is the *coupled* L2
decay of the lecture notes and of ``torch.optim`` (``g += weight_decay * w``
before the update), applied to the first ``n_decay`` entries only: kernels,
never biases. Keras 3 optimizers instead decouple ``weight_decay``
(``w -= lr * weight_decay * w``); here that is what ``AdamW`` does.

Every first-order optimizer takes Keras 3's ``use_ema``, ``ema_momentum`` and
``ema_overwrite_frequency``: a flat ``average`` slot keeps the moving average
of the weights (``finalize_variable_values`` copies it into them; ``fit``
does so after the last epoch, and ``callbacks.SwapEMAWeights`` swaps it in
for evaluation).

Full-batch optimizers (``LBFGS``, ``ConjugateGradient``) have
``full_batch = True`` and ``minimize(fun, x0, callback)``: ``fit`` hands
them the whole-data loss and gradient instead of calling ``apply``.
"""

import math
import numbers

import numpy as np

from ranvier.core import _optim

from . import config, schedules, serialization
from ._errors import UnsupportedArgument
from .schedules import LearningRateSchedule
from .variables import Variable, flat_layout

__all__ = [
    "Optimizer",
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
    "FullBatchOptimizer",
    "LBFGS",
    "ConjugateGradient",
    "get",
    "serialize",
    "deserialize",
    "schedules",
    # layers2
    "Lamb",
    "LossScaleOptimizer",
]


def _number(owner, name, value, low=-math.inf, high=math.inf, *, low_open=False, high_open=False):
    """``value`` as a float in the interval, or a ValueError naming the argument."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (value > low if low_open else value >= low)
        and (value < high if high_open else value <= high)
    )
    if not ok:
        interval = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise ValueError(f"{owner}: {name} must be a number in {interval}, got {value!r}")
    return float(value)


def _optional_positive(owner, name, value):
    return None if value is None else _number(owner, name, value, 0.0, low_open=True)


def _learning_rate(owner, value):
    if isinstance(value, LearningRateSchedule):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: learning_rate must be a number or a LearningRateSchedule, got {value!r}")
    return _number(owner, "learning_rate", value, 0.0)


def _flat(owner, name, array):
    if not (
        isinstance(array, np.ndarray)
        and array.ndim == 1
        and array.flags.c_contiguous
        and array.dtype in (np.float32, np.float64)
    ):
        desc = (
            f"ndarray of shape {array.shape} and dtype {array.dtype}"
            if isinstance(array, np.ndarray)
            else type(array).__name__
        )
        raise TypeError(f"{owner}: {name} must be a 1-D C-contiguous float32 or float64 ndarray, got {desc}")
    return array


class _Configurable:
    """Name, step count and the config/state plumbing every optimizer shares."""

    full_batch = False

    def __init__(self, name):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, got {name!r}")
        self.name = name or type(self).__name__.lower()
        self.iterations = 0

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class Optimizer(_Configurable):
    """Base class of the first-order optimizers.

    Parameters
    ----------
    learning_rate : float >= 0 or LearningRateSchedule
        A schedule is called with ``iterations`` (0 for the first step).
    weight_decay : float >= 0, optional
        Coupled L2 decay (``g += weight_decay * w``) on kernels only; see the
        module docstring for how this differs from Keras 3.
    clipnorm : float > 0, optional
        Rescale each variable's gradient to this L2 norm at most.
    clipvalue : float > 0, optional
        Clip every gradient entry to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float > 0, optional
        Rescale the whole gradient to this L2 norm at most.
        At most one of ``clipnorm``, ``clipvalue``, ``global_clipnorm`` (as Keras).
    use_ema : bool, default False
        Keep an exponential moving average of the weights, updated after each
        step: ``average = ema_momentum * average + (1 - ema_momentum) * w``
        (``average = w`` at the first step, as Keras).
    ema_momentum : float in [0, 1], default 0.99
    ema_overwrite_frequency : int >= 1, optional
        Every this many steps, overwrite the weights with their average.
    loss_scale_factor, gradient_accumulation_steps : None
        Keras 3's arguments (and config keys); other values raise ``UnsupportedArgument``.
    name : str, optional

    Attributes
    ----------
    learning_rate : float
        The current rate (the schedule's value at ``iterations``); settable
        (callbacks do) unless the optimizer was created with a schedule.
    iterations : int
        Steps applied so far.
    """

    def _slot_spec(self):
        """[(slot name, initial value or None when this configuration does not use it[, size])].

        A slot has one entry per parameter unless its entry gives a ``size``.
        """
        raise NotImplementedError

    def _update(self, w, g, learning_rate, tail):
        """Call the fused kernel; ``tail`` is its common trailing arguments."""
        raise NotImplementedError

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
    ):
        super().__init__(name)
        owner = type(self).__name__
        for arg, value in (
            ("loss_scale_factor", loss_scale_factor),
            ("gradient_accumulation_steps", gradient_accumulation_steps),
        ):
            if value is not None:
                raise UnsupportedArgument(f"{owner}: {arg} is not supported; leave it None, got {value!r}")
        self._learning_rate = _learning_rate(owner, learning_rate)
        self.weight_decay = None if weight_decay is None else _number(owner, "weight_decay", weight_decay, 0.0)
        self.clipnorm = _optional_positive(owner, "clipnorm", clipnorm)
        self.clipvalue = _optional_positive(owner, "clipvalue", clipvalue)
        self.global_clipnorm = _optional_positive(owner, "global_clipnorm", global_clipnorm)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can "
                f"be set, got clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                f"global_clipnorm={global_clipnorm!r}"
            )
        if not isinstance(use_ema, (bool, np.bool_)):
            raise TypeError(f"{owner}: use_ema must be a bool, got {use_ema!r}")
        self.use_ema = bool(use_ema)
        self.ema_momentum = _number(owner, "ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (
            isinstance(ema_overwrite_frequency, bool)
            or not isinstance(ema_overwrite_frequency, numbers.Integral)
            or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                f"{owner}: ema_overwrite_frequency must be an integer >= 1 or None, got {ema_overwrite_frequency!r}"
            )
        self.ema_overwrite_frequency = None if ema_overwrite_frequency is None else int(ema_overwrite_frequency)
        self._slots = None
        self._bound = None
        self._pending_state = None

    # -- learning rate -----------------------------------------------------------------------

    @property
    def learning_rate(self):
        lr = self._learning_rate
        return float(lr(self.iterations)) if isinstance(lr, LearningRateSchedule) else lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, LearningRateSchedule) and not isinstance(value, LearningRateSchedule):
            raise TypeError(
                f"{type(self).__name__} was created with a LearningRateSchedule as its "
                "learning_rate, so its learning rate cannot be set to a number; "
                f"create it with a float learning_rate instead (got {value!r})"
            )
        self._learning_rate = _learning_rate(type(self).__name__, value)

    # -- build / apply -------------------------------------------------------------------------

    @property
    def built(self):
        return self._slots is not None

    def build(self, flat_params, n_decay=None, slices=None, flat_grads=None, variables=None):
        """Allocate the flat slots for a parameter buffer.

        Parameters
        ----------
        flat_params : ndarray of shape (n,), float32 or float64
            The model's flat parameter buffer.
        n_decay : int, optional
            Weight decay applies to ``flat_params[:n_decay]`` (the kernels).
            Default: all of it.
        slices : list of (start, stop), optional
            Each variable's range in the buffer, in order, covering it (for
            ``clipnorm``, which clips per variable). Default: one variable.
        flat_grads : ndarray of shape (n,), optional
            The model's flat gradient buffer, and
        variables : list of Variable, optional
            the variables laid out in both buffers (in ``slices`` order): with
            them, Keras 3's ``apply(grads, trainable_variables)`` works.

        Notes
        -----
        A second call with the same layout keeps the slots; a new layout gets
        fresh ones.
        """
        owner = type(self).__name__
        flat_params = _flat(owner, "flat_params", flat_params)
        n = flat_params.shape[0]
        # (params, grads, variables, owned): owned buffers are this optimizer's copies (apply writes them back).
        self._bound = None if variables is None else (flat_params, flat_grads, list(variables), False)
        n_decay = n if n_decay is None else n_decay
        if isinstance(n_decay, bool) or not isinstance(n_decay, numbers.Integral) or not 0 <= n_decay <= n:
            raise ValueError(f"{owner}.build: n_decay must be an integer in [0, {n}], got {n_decay!r}")
        segments = _segments(owner, slices, n)
        layout = (n, flat_params.dtype, int(n_decay), segments.tobytes())
        if self.built and layout == self._layout:
            return
        self._layout, self._n_decay, self._segments = layout, int(n_decay), segments
        self._whole = np.array([0, n], dtype=np.intp)
        self._ones = np.ones(1)
        self._variable_scale = np.ones(len(segments) - 1)
        self._global_scale = np.ones(1)
        self._squares = np.zeros(len(segments) - 1)
        spec = [(*entry, n)[:3] for entry in self._slot_spec()]
        spec.append(("average", 0.0 if self.use_ema else None, n))
        self._used = [name for name, fill, _ in spec if fill is not None]
        # An unused slot is an empty array: the kernels accept it and never touch it.
        self._slots = {
            name: (np.zeros(0, flat_params.dtype) if fill is None else np.full(size, fill, flat_params.dtype))
            for name, fill, size in spec
        }
        if self._pending_state is not None:
            state, self._pending_state = self._pending_state, None
            self.set_state(state)

    def apply(self, grads, trainable_variables=None):
        """One update step, in Keras 3's form or ranvier's flat one.

        ``apply(grads, trainable_variables)`` (Keras 3): one gradient per
        variable. An optimizer compiled with a model takes all the model's
        trainable variables (the update runs over its flat buffers in one
        pass, so a subset cannot be updated alone). Any other optimizer (a
        GAN's generator and discriminator optimizers) takes the variables of
        its first call, every call: their values are gathered into flat
        buffers of its own, updated in one pass and written back. Variable
        constraints apply after.
        ``apply(flat_params, flat_grads)``: see ``apply_flat``.
        """
        if isinstance(grads, np.ndarray):
            return self.apply_flat(grads, trainable_variables)
        if self._bound is None:
            if trainable_variables is None:
                raise ValueError(
                    f"{type(self).__name__}.apply(grads, trainable_variables) needs the variables: pass them, or "
                    "compile a model with this optimizer and fit or build it first"
                )
            self._bind_own(list(trainable_variables))
        params, flat_grads, variables, owned = self._bound
        given = variables if trainable_variables is None else list(trainable_variables)
        grads = list(grads)
        if len(grads) != len(given):
            raise ValueError(
                f"{type(self).__name__}.apply: one gradient per variable, got {len(grads)} "
                f"gradients for {len(given)} variables"
            )
        if len(given) != len(variables) or {id(v) for v in given} != {id(v) for v in variables}:
            which = "variables of its first call" if owned else "trainable variables of the model"
            raise NotImplementedError(
                f"{type(self).__name__}.apply: trainable_variables must be all {len(variables)} {which}, "
                f"got {len(given)}"
            )
        bounds = self._segments
        position = {id(v): i for i, v in enumerate(variables)}
        for g, v in zip(grads, given):
            i = position[id(v)]
            target = flat_grads[bounds[i] : bounds[i + 1]]
            if g is None:
                target[...] = 0
                continue
            g = np.asarray(getattr(g, "value", g))
            if g.shape != v.shape:
                raise ValueError(
                    f"{type(self).__name__}.apply: the gradient for {v.name} must have shape {v.shape}, got {g.shape}"
                )
            target[...] = g.reshape(-1)
        if owned:
            for i, v in enumerate(variables):  # values may have been set since the last step
                params[bounds[i] : bounds[i + 1]] = v.value.reshape(-1)
        self.apply_flat(params, flat_grads)
        if owned:
            self._write_back()
        for v in variables:
            if v.constraint is not None:
                v.constraint(v.value)

    def _bind_own(self, variables):
        """Flat buffers of this optimizer's own over ``variables`` (decayed kernels first, as a model lays them)."""
        owner = type(self).__name__
        for v in variables:
            if not isinstance(v, Variable):
                raise TypeError(f"{owner}.apply: trainable_variables must be Variables, got {type(v).__name__}")
        if len({id(v) for v in variables}) != len(variables):
            raise ValueError(f"{owner}.apply: a variable is listed twice in trainable_variables")
        order, slices, n_decay, dtype = flat_layout(variables)
        params = np.concatenate([v.value.reshape(-1) for v in order]).astype(dtype) if order else np.zeros(0, dtype)
        self.build(params, n_decay, slices, flat_grads=np.zeros_like(params), variables=order)
        self._bound = self._bound[:3] + (True,)

    def _write_back(self):
        """Own buffers' values into their variables."""
        params, _, variables, _ = self._bound
        bounds = self._segments
        for i, v in enumerate(variables):
            v.value[...] = params[bounds[i] : bounds[i + 1]].reshape(v.shape)

    def apply_gradients(self, grads_and_vars):
        """Keras' ``apply_gradients([(grad, variable), ...])``: ``apply`` with the pairs unzipped."""
        pairs = list(grads_and_vars)
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply_flat(self, flat_params, flat_grads):
        """One step: clip (by norm: a deterministic norm pass first), decay and update, in place.

        Parameters
        ----------
        flat_params : ndarray of shape (n,). IN/OUT.
        flat_grads : ndarray of shape (n,), same dtype. IN.

        Notes
        -----
        Builds with the defaults (decay on every entry, one variable) if
        ``build`` was not called.
        """
        if not self.built:
            self.build(flat_params)
        n, dtype = self._layout[0], self._layout[1]
        for name, a in (("flat_params", flat_params), ("flat_grads", flat_grads)):
            if not (isinstance(a, np.ndarray) and a.shape == (n,) and a.dtype == dtype):
                got = f"{a.shape} {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
                raise ValueError(
                    f"{type(self).__name__}.apply_flat: {name} must be a ({n},) {dtype} ndarray as at build, got {got}"
                )
        n_threads = config.kernel_threads()
        scale, segments = self._gradient_scale(flat_grads, n_threads)
        clipvalue = math.inf if self.clipvalue is None else self.clipvalue
        tail = (clipvalue, self.weight_decay or 0.0, self._n_decay, scale, segments, n_threads)
        self._update(flat_params, flat_grads, self.learning_rate, tail)
        if self.use_ema:
            self._update_average(flat_params)
        self.iterations += 1

    def _update_average(self, w):
        """Keras' EMA of the weights after a step; every ``ema_overwrite_frequency`` steps, w = average."""
        average = self._slots["average"]
        momentum = self.ema_momentum if self.iterations else 0.0
        np.multiply(average, momentum, out=average)
        average += (1.0 - momentum) * w
        frequency = self.ema_overwrite_frequency
        if frequency and (self.iterations + 1) % frequency == 0:
            w[...] = average

    def _ema_buffers(self, flat_params=None):
        """(weights, their moving average) as flat arrays, or a ValueError saying why not."""
        owner = type(self).__name__
        if not self.use_ema:
            raise ValueError(f"{owner}: the moving average needs use_ema=True, got use_ema={self.use_ema!r}")
        if not self.built:
            raise ValueError(f"{owner}: the optimizer has no moving average before it is built (compile and fit)")
        if flat_params is None:
            if self._bound is None:
                raise ValueError(f"{owner}: pass the flat parameter buffer; this optimizer has no model variables")
            flat_params = self._bound[0]
        n, dtype = self._layout[0], self._layout[1]
        if not (isinstance(flat_params, np.ndarray) and flat_params.shape == (n,) and flat_params.dtype == dtype):
            got = (
                f"{flat_params.shape} {flat_params.dtype}"
                if isinstance(flat_params, np.ndarray)
                else type(flat_params).__name__
            )
            raise ValueError(f"{owner}: flat_params must be a ({n},) {dtype} ndarray as at build, got {got}")
        return flat_params, self._slots["average"]

    def finalize_variable_values(self, var_list=None):
        """Keras' end of training: with ``use_ema``, the weights become their moving average.

        Parameters
        ----------
        var_list : list of Variable, ndarray of shape (n,), or None
            The model's trainable variables (all of them: they share the flat
            buffer), the flat parameter buffer itself, or None for the model
            this optimizer was built with. Without ``use_ema`` (or before the
            first step) nothing changes.
        """
        if not self.use_ema or not self.built or self.iterations == 0:
            return
        if var_list is None or isinstance(var_list, np.ndarray):
            params, average = self._ema_buffers(var_list)
        else:
            params, average = self._ema_buffers()
            if {id(v) for v in var_list} != {id(v) for v in self._bound[2]}:
                raise ValueError(
                    f"{type(self).__name__}.finalize_variable_values: var_list must be all "
                    f"{len(self._bound[2])} trainable variables of the model, got {len(list(var_list))}"
                )
        params[...] = average
        if self._bound is not None and self._bound[3]:
            self._write_back()

    def _gradient_scale(self, flat_grads, n_threads):
        """(grad_scale, segments) for the kernel: Keras' clip by norm, ``c / max(norm, c)``."""
        if self.clipnorm is not None:
            limit, segments, scale = self.clipnorm, self._segments, self._variable_scale
        elif self.global_clipnorm is not None:
            limit, segments, scale = self.global_clipnorm, self._whole, self._global_scale
        else:
            return self._ones, self._whole
        squares = self._squares[: len(scale)]
        _optim.sum_squares(flat_grads, segments, squares, n_threads)
        np.divide(limit, np.maximum(np.sqrt(squares), limit), out=scale)
        return scale, segments

    # -- saving --------------------------------------------------------------------------------

    def get_config(self):
        lr = self._learning_rate
        return {
            **super().get_config(),
            "learning_rate": schedules.serialize(lr) if isinstance(lr, LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def get_state(self):
        """``{"iterations": int64 array, slot name: (n,) array}`` (copies), for saving."""
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        if self.built:
            state.update({k: self._slots[k].copy() for k in self._used})
        return state

    def set_state(self, state):
        """Restore ``get_state()``; before ``build`` the state is kept until build."""
        owner = type(self).__name__
        if not isinstance(state, dict) or "iterations" not in state:
            raise ValueError(f"{owner}.set_state: state must be a dict with 'iterations', got {state!r:.200}")
        if not self.built:
            self._pending_state = {k: np.array(v) for k, v in state.items()}
            self.iterations = _iterations(owner, state["iterations"])
            return
        used = set(self._used)
        if set(state) - {"iterations"} != used:
            raise ValueError(
                f"{owner}.set_state: expected slots {sorted(used)}, got {sorted(set(state) - {'iterations'})}"
            )
        for k in used:
            value, shape = np.asarray(state[k]), self._slots[k].shape
            if value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(
                    f"{owner}.set_state: slot {k!r} must be a finite array of shape {shape}, got shape {value.shape}"
                )
        iterations = _iterations(owner, state["iterations"])
        for k in used:
            np.copyto(self._slots[k], state[k], casting="same_kind")
        self.iterations = iterations


def _iterations(owner, value):
    value = np.asarray(value)
    if value.shape != () or value.dtype.kind not in "iu" or value < 0:
        raise ValueError(f"{owner}.set_state: iterations must be a non-negative integer, got {value!r}")
    return int(value)


def _segments(owner, slices, n):
    """The variable boundaries [0, ..., n] from (start, stop) pairs that tile [0, n) in order."""
    if slices is None:
        return np.array([0, n], dtype=np.intp)
    try:
        pairs = [(int(a), int(b)) for a, b in slices]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.build: slices must be a list of (start, stop) pairs, got {slices!r:.200}") from None
    bounds = [0]
    for start, stop in pairs:
        if start != bounds[-1] or stop < start:
            raise ValueError(
                f"{owner}.build: slices must tile the buffer in order from 0; "
                f"got ({start}, {stop}) after a slice ending at {bounds[-1]}"
            )
        bounds.append(stop)
    if bounds[-1] != n or len(bounds) < 2:
        raise ValueError(f"{owner}.build: slices must end at the buffer size {n}, got {bounds[-1]}")
    return np.array(bounds, dtype=np.intp)


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum (Keras formulation).

    ``v = momentum * v - lr * g; w += v``; Nesterov: ``w += momentum * v - lr * g``.
    Equal to ``torch.optim.SGD`` (whose buffer is ``-v / lr``) at a constant rate.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.01
    momentum : float in [0, 1], default 0.0
    nesterov : bool, default False
    **kwargs : weight_decay, clipnorm, clipvalue, global_clipnorm, name (see ``Optimizer``).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _number("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_spec(self):
        return [("velocity", 0.0 if self.momentum else None)]

    def _update(self, w, g, learning_rate, tail):
        _optim.sgd_update(w, g, self._slots["velocity"], learning_rate, self.momentum, self.nesterov, *tail)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """Adagrad (Keras formulation): ``acc += g**2; w -= lr * g / sqrt(acc + epsilon)``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    initial_accumulator_value : float >= 0, default 0.1
    epsilon : float > 0, default 1e-7
    **kwargs : see ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _number("Adagrad", "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.epsilon = _number("Adagrad", "epsilon", epsilon, 0.0, low_open=True)

    def _slot_spec(self):
        return [("accumulator", self.initial_accumulator_value)]

    def _update(self, w, g, learning_rate, tail):
        _optim.adagrad_update(w, g, self._slots["accumulator"], learning_rate, self.epsilon, *tail)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class RMSprop(Optimizer):
    """RMSprop (Keras formulation; epsilon inside the square root).

    ``v = rho * v + (1 - rho) * g**2``; centered subtracts the squared running
    mean of g from v; ``inc = lr * g / sqrt(v + epsilon)``; with momentum
    ``buf = momentum * buf + inc; w -= buf``, else ``w -= inc``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    rho : float in [0, 1), default 0.9
    momentum : float in [0, 1], default 0.0
    epsilon : float > 0, default 1e-7
    centered : bool, default False
    **kwargs : see ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _number("RMSprop", "rho", rho, 0.0, 1.0, high_open=True)
        self.momentum = _number("RMSprop", "momentum", momentum, 0.0, 1.0)
        self.epsilon = _number("RMSprop", "epsilon", epsilon, 0.0, low_open=True)
        self.centered = bool(centered)

    def _slot_spec(self):
        return [
            ("velocity", 0.0),
            ("momentum", 0.0 if self.momentum else None),
            ("average_gradient", 0.0 if self.centered else None),
        ]

    def _update(self, w, g, learning_rate, tail):
        s = self._slots
        _optim.rmsprop_update(
            w,
            g,
            s["velocity"],
            s["momentum"],
            s["average_gradient"],
            learning_rate,
            self.rho,
            self.momentum,
            self.epsilon,
            self.centered,
            *tail,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adadelta(Optimizer):
    """Adadelta (Keras formulation, scaled by ``learning_rate``; Zeiler's original is lr = 1).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    rho : float in [0, 1), default 0.95
    epsilon : float > 0, default 1e-7
    **kwargs : see ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _number("Adadelta", "rho", rho, 0.0, 1.0, high_open=True)
        self.epsilon = _number("Adadelta", "epsilon", epsilon, 0.0, low_open=True)

    def _slot_spec(self):
        return [("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0)]

    def _update(self, w, g, learning_rate, tail):
        s = self._slots
        _optim.adadelta_update(
            w, g, s["accumulated_grad"], s["accumulated_delta_var"], learning_rate, self.rho, self.epsilon, *tail
        )

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class _Moments(Optimizer):
    """Adam, Nadam and Adamax: moment decay rates beta_1, beta_2 in [0, 1) and an epsilon > 0 (Keras' defaults)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        owner = type(self).__name__
        self.beta_1 = _number(owner, "beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _number(owner, "beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _number(owner, "epsilon", epsilon, 0.0, low_open=True)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adam(_Moments):
    """Adam (Keras 3 formulation).

    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` at step ``t = iterations + 1``;
    ``m += (g - m) * (1 - beta_1); v += (g**2 - v) * (1 - beta_2)``;
    ``w -= alpha * m / (sqrt(v) + epsilon)`` (amsgrad: the running max of v).
    ``torch.optim.Adam`` puts epsilon after the bias correction: equal for epsilon -> 0.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    amsgrad : bool, default False
    **kwargs : see ``Optimizer`` (``weight_decay`` is coupled L2; use ``AdamW`` to decouple).
    """

    _kernel = staticmethod(_optim.adam_update)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self.amsgrad = bool(amsgrad)

    def _slot_spec(self):
        return [("momentum", 0.0), ("velocity", 0.0), ("velocity_hat", 0.0 if self.amsgrad else None)]

    def _update(self, w, g, learning_rate, tail):
        s = self._slots
        self._kernel(
            w,
            g,
            s["momentum"],
            s["velocity"],
            s["velocity_hat"],
            learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.iterations + 1,
            self.amsgrad,
            *tail,
        )

    def get_config(self):
        return {**super().get_config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= lr * weight_decay * w`` (kernels only), then Adam.

    Same as Keras 3 ``AdamW`` and ``torch.optim.AdamW``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    weight_decay : float >= 0, default 0.004
    beta_1, beta_2, epsilon, amsgrad, **kwargs : see ``Adam``.
    """

    _kernel = staticmethod(_optim.adamw_update)

    def __init__(
        self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number >= 0, got None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class Nadam(_Moments):
    """Nadam: Adam with Nesterov momentum (Dozat 2015), Keras 3 formulation.

    With ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` at step ``t = iterations + 1``
    and ``U_t = u_1 * ... * u_t``: ``m += (g - m) * (1 - beta_1)``,
    ``v += (g**2 - v) * (1 - beta_2)``,
    ``m_hat = u_{t+1} * m / (1 - U_t * u_{t+1}) + (1 - u_t) * g / (1 - U_t)``,
    ``w -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)``.
    This is ``torch.optim.NAdam`` with ``momentum_decay=1`` (torch's default
    0.004 decays the schedule ``0.96**(0.004 t)`` instead of Keras' ``0.96**t``).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    **kwargs : see ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)
        self._u_cache = (0, 1.0)  # (step, U_step): U depends on the step count only

    def _u_product(self, step):
        done, product = self._u_cache
        if done > step:  # iterations went back (set_state)
            done, product = 0, 1.0
        for t in range(done + 1, step + 1):
            product *= self.beta_1 * (1.0 - 0.5 * 0.96**t)
        self._u_cache = (step, product)
        return product

    def _slot_spec(self):
        return [("momentum", 0.0), ("velocity", 0.0)]

    def _update(self, w, g, learning_rate, tail):
        step = self.iterations + 1
        _optim.nadam_update(
            w,
            g,
            self._slots["momentum"],
            self._slots["velocity"],
            learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            step,
            self._u_product(step),
            *tail,
        )


class Adamax(_Moments):
    """Adamax: Adam with the infinity norm (Kingma and Ba 2014, section 7.1), Keras 3 formulation.

    ``m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|)``;
    ``w -= lr / (1 - beta_1**t) * m / (u + epsilon)`` at step ``t = iterations + 1``.
    ``torch.optim.Adamax`` adds epsilon inside the max (``max(beta_2 * u, |g| + eps)``):
    equal for epsilon -> 0.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
    epsilon : float > 0, default 1e-7
    **kwargs : see ``Optimizer``.
    """

    def _slot_spec(self):
        return [("momentum", 0.0), ("norm", 0.0)]

    def _update(self, w, g, learning_rate, tail):
        s = self._slots
        _optim.adamax_update(
            w,
            g,
            s["momentum"],
            s["norm"],
            learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.iterations + 1,
            *tail,
        )


class Lion(Optimizer):
    """Lion (Chen et al. 2023), Keras 3 formulation: a step of ``lr`` in the sign direction.

    ``w -= lr * sign(beta_1 * m + (1 - beta_1) * g); m = beta_2 * m + (1 - beta_2) * g``.
    Its steps have norm ``lr * sqrt(n)``: use a rate 3-10 times smaller than Adam's.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1 : float in (0, 1], default 0.9
        (Keras rejects 0: Lion would be sign SGD.)
    beta_2 : float in [0, 1], default 0.99
    **kwargs : see ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _number("Lion", "beta_1", beta_1, 0.0, 1.0, low_open=True)
        self.beta_2 = _number("Lion", "beta_2", beta_2, 0.0, 1.0)

    def _slot_spec(self):
        return [("momentum", 0.0)]

    def _update(self, w, g, learning_rate, tail):
        _optim.lion_update(w, g, self._slots["momentum"], learning_rate, self.beta_1, self.beta_2, *tail)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """FTRL-proximal (McMahan et al. 2013), Keras 3 formulation.

    With ``p = -learning_rate_power`` and ``l2 = l2_regularization_strength + beta / (2 lr)``:
    ``a' = a + g**2``; ``linear += g + 2 * l2_shrinkage * w - (a'**p - a**p) / lr * w``;
    ``w = (clip(linear, -l1, l1) - linear) / (a'**p / lr + 2 * l2)``; ``a = a'``.
    The weights are a function of the slots: an l1 strength above ``|linear|``
    makes them exactly 0. The learning rate must be > 0 at every step.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    learning_rate_power : float <= 0, default -0.5
    initial_accumulator_value : float >= 0, default 0.1
    l1_regularization_strength, l2_regularization_strength : float >= 0, default 0.0
    l2_shrinkage_regularization_strength : float >= 0, default 0.0
        Adds ``2 * strength * w`` to the gradient of the linear term only.
    beta : float >= 0, default 0.0
    **kwargs : see ``Optimizer``.
    """

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.learning_rate_power = _number("Ftrl", "learning_rate_power", learning_rate_power, high=0.0)
        self.initial_accumulator_value = _number("Ftrl", "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.l1_regularization_strength = _number("Ftrl", "l1_regularization_strength", l1_regularization_strength, 0.0)
        self.l2_regularization_strength = _number("Ftrl", "l2_regularization_strength", l2_regularization_strength, 0.0)
        self.l2_shrinkage_regularization_strength = _number(
            "Ftrl", "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 0.0
        )
        self.beta = _number("Ftrl", "beta", beta, 0.0)

    def _slot_spec(self):
        return [("accumulator", self.initial_accumulator_value), ("linear", 0.0)]

    def _update(self, w, g, learning_rate, tail):
        _optim.ftrl_update(
            w,
            g,
            self._slots["accumulator"],
            self._slots["linear"],
            learning_rate,
            self.learning_rate_power,
            self.l1_regularization_strength,
            self.l2_regularization_strength,
            self.l2_shrinkage_regularization_strength,
            self.beta,
            *tail,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


class Adafactor(Optimizer):
    """Adafactor (Shazeer and Stern 2018), Keras 3 formulation.

    Per variable, at step ``t = iterations + 1``: ``rho = min(lr, 1 / sqrt(t))``
    (with ``relative_step`` and a constant rate, ``lr`` is first capped the
    same way), ``alpha = max(epsilon_2, rms(w)) * rho``,
    ``beta_2 = 1 - t**beta_2_decay``, ``G = g**2 + epsilon_1``. A variable of
    rank >= 2 keeps factored second moments over its last two axes: row
    means ``r = beta_2 r + (1 - beta_2) mean(G, -1)``, column means
    ``c = beta_2 c + (1 - beta_2) mean(G, -2)``, ``v = r / mean(r, -1) (outer) c``;
    others keep ``v = beta_2 v + (1 - beta_2) G``. Then ``u = g / sqrt(v)``,
    ``w -= alpha * u / max(1, rms(u) / clip_threshold)``.

    The update runs per variable in NumPy (not a fused kernel): factoring
    needs each variable's shape, which ``build`` takes from ``variables``;
    without them every variable (``slices``) is treated as 1-D, unfactored.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_2_decay : float, default -0.8
    epsilon_1 : float > 0, default 1e-30
    epsilon_2 : float > 0, default 1e-3
    clip_threshold : float > 0, default 1.0
        Adafactor's own update clipping, independent of ``clipnorm`` and friends.
    relative_step : bool, default True
    **kwargs : see ``Optimizer``.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_2_decay = _number("Adafactor", "beta_2_decay", beta_2_decay, high=0.0)
        self.epsilon_1 = _number("Adafactor", "epsilon_1", epsilon_1, 0.0, low_open=True)
        self.epsilon_2 = _number("Adafactor", "epsilon_2", epsilon_2, 0.0, low_open=True)
        self.clip_threshold = _number("Adafactor", "clip_threshold", clip_threshold, 0.0, low_open=True)
        self.relative_step = bool(relative_step)
        self._shapes = None

    def build(self, flat_params, n_decay=None, slices=None, flat_grads=None, variables=None):
        """As ``Optimizer.build``; ``variables`` give the shapes that decide the factoring."""
        n = flat_params.shape[0] if isinstance(flat_params, np.ndarray) else 0
        bounds = _segments("Adafactor", slices, n)
        sizes = np.diff(bounds)
        if variables is None:
            shapes = [(int(k),) for k in sizes]
        else:
            shapes = [tuple(int(d) for d in v.shape) for v in variables]
            if len(shapes) != len(sizes) or any(math.prod(s) != k for s, k in zip(shapes, sizes)):
                raise ValueError(
                    f"Adafactor.build: variables must match slices one to one in size, got shapes {shapes} "
                    f"for slice sizes {sizes.tolist()}"
                )
        if shapes != self._shapes:
            self._slots = None  # new factoring: fresh slots
        self._shapes = shapes
        super().build(flat_params, n_decay, slices, flat_grads, variables)

    def _factored(self):
        return [s for s in self._shapes if len(s) >= 2]

    def _slot_spec(self):
        rows = sum(math.prod(s[:-1]) for s in self._factored())
        cols = sum(math.prod(s[:-2]) * s[-1] for s in self._factored())
        # r and c of every factored variable, concatenated in order.
        return [("velocity", 0.0), ("row_mean", 0.0, rows), ("column_mean", 0.0, cols)]

    def _update(self, w, g, learning_rate, tail):
        clipvalue, weight_decay, n_decay, scale, segments, _ = tail
        # One gradient scale per variable (clipnorm) or one for all.
        scales = scale if segments is self._segments else np.full(len(self._shapes), scale[0])
        t = self.iterations + 1
        if self.relative_step and not isinstance(self._learning_rate, LearningRateSchedule):
            learning_rate = min(learning_rate, 1.0 / math.sqrt(t))
        rho = min(learning_rate, 1.0 / math.sqrt(t))
        beta = 1.0 - t**self.beta_2_decay
        factored = iter(self._factor_views())
        for k, shape in enumerate(self._shapes):
            a, b = self._segments[k], self._segments[k + 1]
            r, c = next(factored) if len(shape) >= 2 else (None, None)
            if a == b:
                continue
            wk, vk = w[a:b], self._slots["velocity"][a:b]
            gk = np.clip(g[a:b] * w.dtype.type(scales[k]), -clipvalue, clipvalue)
            if a < n_decay:
                gk[: n_decay - a] += weight_decay * wk[: n_decay - a]
            alpha = max(self.epsilon_2, _rms(wk)) * rho
            square = np.square(gk) + self.epsilon_1
            if r is not None:
                square = square.reshape(shape)
                r[...] = beta * r + (1 - beta) * square.mean(axis=-1)
                c[...] = beta * c + (1 - beta) * square.mean(axis=-2)
                vk[...] = ((r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]).reshape(-1)
            else:
                vk[...] = beta * vk + (1 - beta) * square
            u = gk / np.sqrt(vk)
            u /= max(1.0, _rms(u) / self.clip_threshold)
            wk -= alpha * u

    def _factor_views(self):
        """(r, c) views into the row_mean and column_mean slots, one pair per factored variable."""
        views, r_at, c_at = [], 0, 0
        for shape in self._factored():
            r_size, c_size = math.prod(shape[:-1]), math.prod(shape[:-2]) * shape[-1]
            r = self._slots["row_mean"][r_at : r_at + r_size].reshape(shape[:-1])
            c = self._slots["column_mean"][c_at : c_at + c_size].reshape(shape[:-2] + shape[-1:])
            views.append((r, c))
            r_at, c_at = r_at + r_size, c_at + c_size
        return views

    def get_config(self):
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }


# -- full batch -----------------------------------------------------------------------------


class FullBatchOptimizer(_Configurable):
    """Base of the optimizers that minimise the whole-data loss with scipy.optimize.

    ``fit`` calls ``minimize(fun, flat_params)`` once instead of ``apply``
    per batch; ``max_iter`` plays the role of the epochs.
    """

    full_batch = True
    _method = None

    def __init__(self, max_iter=100, tol=1e-7, name=None):
        super().__init__(name)
        owner = type(self).__name__
        if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
            raise ValueError(f"{owner}: max_iter must be a positive integer, got {max_iter!r}")
        self.max_iter = int(max_iter)
        self.tol = _number(owner, "tol", tol, 0.0)
        self.last_result = None

    def _options(self):
        return {"maxiter": self.max_iter, "gtol": self.tol}

    built = True

    def build(self, flat_params, n_decay=None, slices=None, flat_grads=None, variables=None):
        """Nothing to allocate (no slots); present so the model treats every optimizer alike."""
        _flat(type(self).__name__, "flat_params", flat_params)

    def minimize(self, fun, x0, callback=None):
        """Minimise ``fun`` from ``x0``.

        Parameters
        ----------
        fun : callable ``fun(x) -> (loss, grad)``
            ``x`` and ``grad`` are (n,) arrays of x0's dtype; ``loss`` a float.
        x0 : ndarray of shape (n,), float32 or float64. IN (not modified).
        callback : callable ``callback(x) -> bool or None``, optional
            Called after each iteration with the current point (x0's dtype);
            returning True stops the minimisation there (early stopping).

        Returns
        -------
        ndarray of shape (n,), x0's dtype
            The solution. scipy evaluates in float64; ``last_result`` keeps
            its ``OptimizeResult`` (``nit``, ``message``, ...).
        """
        from scipy import optimize  # lazy: `import ranvier` stays fast

        owner = type(self).__name__
        x0 = _flat(owner, "x0", x0)
        if not callable(fun):
            raise TypeError(f"{owner}.minimize: fun must be callable, got {fun!r}")
        dtype = x0.dtype

        def fun64(x):
            loss, grad = fun(x.astype(dtype))
            return float(loss), np.asarray(grad, dtype=np.float64)

        def step(xk):
            if callback(xk.astype(dtype)):
                raise StopIteration  # scipy ends the run and returns the current point

        result = optimize.minimize(
            fun64,
            x0.astype(np.float64),
            jac=True,
            method=self._method,
            callback=None if callback is None else step,
            options=self._options(),
        )
        self.last_result = result
        self.iterations += int(result.nit)
        return result.x.astype(dtype)

    def get_config(self):
        return {**super().get_config(), "max_iter": self.max_iter, "tol": self.tol}

    def get_state(self):
        return {"iterations": np.array(self.iterations, dtype=np.int64)}

    def set_state(self, state):
        if not isinstance(state, dict) or set(state) != {"iterations"}:
            raise ValueError(
                f"{type(self).__name__}.set_state: state must be {{'iterations': int}}, got {state!r:.200}"
            )
        self.iterations = _iterations(type(self).__name__, state["iterations"])


class LBFGS(FullBatchOptimizer):
    """Limited-memory BFGS (scipy's L-BFGS-B without bounds), full batch.

    Parameters
    ----------
    max_iter : int, default 100
    tol : float, default 1e-7
        Stop when the largest gradient entry is below ``tol`` (scipy's gtol), or
        when an iteration lowers the loss by less than scipy's ftol (2.2e-9, relative).
    history_size : int, default 10
        Correction pairs kept (scipy's ``maxcor``, torch's ``history_size``).
    name : str, optional
    """

    _method = "L-BFGS-B"

    def __init__(self, max_iter=100, tol=1e-7, history_size=10, name=None):
        super().__init__(max_iter, tol, name)
        if isinstance(history_size, bool) or not isinstance(history_size, numbers.Integral) or history_size < 1:
            raise ValueError(f"LBFGS: history_size must be a positive integer, got {history_size!r}")
        self.history_size = int(history_size)

    def _options(self):
        return {**super()._options(), "maxcor": self.history_size}

    def get_config(self):
        return {**super().get_config(), "history_size": self.history_size}


class ConjugateGradient(FullBatchOptimizer):
    """Nonlinear conjugate gradient (Polak-Ribiere, scipy's ``CG``), full batch.

    Parameters
    ----------
    max_iter : int, default 100
    tol : float, default 1e-5
        Stop when the gradient norm is below ``tol`` (scipy's gtol).
    name : str, optional
    """

    _method = "CG"

    def __init__(self, max_iter=100, tol=1e-5, name=None):
        super().__init__(max_iter, tol, name)


# -- lookup ----------------------------------------------------------------------------------

serialization.register_family(
    "optimizer",
    _Configurable,
    (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, Nadam, Adamax, Lion, Ftrl, Adafactor, LBFGS, ConjugateGradient),
    {"l-bfgs": LBFGS, "l_bfgs": LBFGS, "cg": ConjugateGradient, "conjugate_gradient": ConjugateGradient},
    fold_case=True,
)


def serialize(optimizer):
    """``{"class_name": ..., "config": ...}``, JSON-able."""
    return serialization.serialize(optimizer, "optimizer")


def deserialize(config, custom_objects=None):
    """The optimizer a ``serialize`` dict (or a name) describes."""
    return serialization.deserialize(config, "optimizer", custom_objects)


def get(identifier):
    """An optimizer from a name (``"adam"``, case-insensitive, as in Keras 3), a config dict, a class
    or an instance.

    A name gives the optimizer with its Keras defaults.
    """
    return serialization.get(identifier, "optimizer")


# -- layers2: Lamb and LossScaleOptimizer ------------------------------------------------------


class Lamb(Optimizer):
    """LAMB (You et al. 2019), Keras 3 formulation: Adam's step rescaled per variable by ``||w|| / ||step||``.

    Per variable, at step ``t = iterations + 1``: ``m = beta_1 m + (1 - beta_1) g``,
    ``v = beta_2 v + (1 - beta_2) g**2``, ``u = (m / (1 - beta_1**t)) /
    (sqrt(v / (1 - beta_2**t)) + epsilon)``, ``w -= r lr u`` with the trust ratio
    ``r = ||w|| / ||u||`` (1 when either norm is 0).

    The update runs per variable in NumPy over the flat buffers (the trust
    ratio needs each variable's norms; no fused kernel): the variables are
    ``build``'s ``slices`` (a model's weights), or the whole buffer.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1 : float in [0, 1), default 0.9
    beta_2 : float in [0, 1), default 0.999
    epsilon : float > 0, default 1e-7
    **kwargs : see ``Optimizer``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _number("Lamb", "beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _number("Lamb", "beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _number("Lamb", "epsilon", epsilon, 0.0, low_open=True)

    def _slot_spec(self):
        return [("momentum", 0.0), ("velocity", 0.0)]

    def _update(self, w, g, learning_rate, tail):
        clipvalue, weight_decay, n_decay, scale, segments, _ = tail
        scales = scale if segments is self._segments else np.full(len(self._segments) - 1, scale[0])
        t = self.iterations + 1
        bias_1, bias_2 = 1.0 - self.beta_1**t, 1.0 - self.beta_2**t
        m_all, v_all = self._slots["momentum"], self._slots["velocity"]
        for k in range(len(self._segments) - 1):
            a, b = self._segments[k], self._segments[k + 1]
            if a == b:
                continue
            wk, m, v = w[a:b], m_all[a:b], v_all[a:b]
            gk = np.clip(g[a:b] * w.dtype.type(scales[k]), -clipvalue, clipvalue)
            if a < n_decay:
                gk[: n_decay - a] += weight_decay * wk[: n_decay - a]
            m += (gk - m) * (1 - self.beta_1)
            v += (np.square(gk) - v) * (1 - self.beta_2)
            u = (m / bias_1) / (np.sqrt(v / bias_2) + self.epsilon)
            w_norm, u_norm = float(np.linalg.norm(wk)), float(np.linalg.norm(u))
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            wk -= (ratio * learning_rate * u).astype(w.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class LossScaleOptimizer(Optimizer):
    """Keras 3's loss-scaling wrapper: steps with non-finite gradients are skipped, others go to ``inner_optimizer``.

    ranvier computes in float32 or float64 (no float16), where gradients do
    not underflow: the loss is never scaled, ``dynamic_scale`` stays 1.0 and
    ``scale_loss`` is the identity, so the inner optimizer sees the gradients
    unchanged. ``initial_scale`` and ``dynamic_growth_steps`` are checked and
    kept for the config (Keras' keys). As in Keras, a step whose gradients are
    not all finite updates nothing (the inner optimizer's ``iterations`` does
    not move); everything else (``learning_rate``, ``iterations``, state) is
    the inner optimizer's.

    Parameters
    ----------
    inner_optimizer : Optimizer
    initial_scale : float > 0, default 2.0 ** 15
    dynamic_growth_steps : int >= 1, default 2000
    name : str, optional
    """

    _BASE_DEFAULTS = {
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
    }

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set `loss_scale_factor` "
                "directly on the `inner_optimizer`."
            )
        for arg, default in self._BASE_DEFAULTS.items():  # Keras' older configs wrote these: defaults only
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(
                    f"LossScaleOptimizer does not support `{arg}`. Instead, set `{arg}` on the `inner_optimizer`."
                )
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if isinstance(inner_optimizer, dict):
            inner_optimizer = deserialize(inner_optimizer)
        if not isinstance(inner_optimizer, Optimizer) or isinstance(inner_optimizer, LossScaleOptimizer):
            raise TypeError(
                f"LossScaleOptimizer: inner_optimizer must be a first-order Optimizer, got {inner_optimizer!r}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"LossScaleOptimizer: name must be a string, got {name!r}")
        # Not Optimizer.__init__: every setting and all state are the inner optimizer's.
        self.name = name or "loss_scale_optimizer"
        self.inner_optimizer = inner_optimizer
        self.initial_scale = _number("LossScaleOptimizer", "initial_scale", initial_scale, 0.0, low_open=True)
        if (
            isinstance(dynamic_growth_steps, bool)
            or not isinstance(dynamic_growth_steps, numbers.Integral)
            or dynamic_growth_steps < 1
        ):
            raise ValueError(
                f"LossScaleOptimizer: dynamic_growth_steps must be an integer >= 1, got {dynamic_growth_steps!r}"
            )
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.dynamic_scale = 1.0

    def __getattr__(self, name):
        # Settings read by callers (use_ema, clipnorm, ...): the inner optimizer's. Only reached for
        # attributes this object lacks; "inner_optimizer" itself is excluded (it is missing while unpickling).
        if name == "inner_optimizer":
            raise AttributeError(name)
        return getattr(self.inner_optimizer, name)

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        self.inner_optimizer.iterations = value

    @property
    def built(self):
        return self.inner_optimizer.built

    def scale_loss(self, loss):
        """``loss * dynamic_scale``: the loss itself (the scale is 1.0 in float32/float64)."""
        return loss * self.dynamic_scale

    def build(self, flat_params, n_decay=None, slices=None, flat_grads=None, variables=None):
        self.inner_optimizer.build(flat_params, n_decay, slices, flat_grads=flat_grads, variables=variables)

    def apply_flat(self, flat_params, flat_grads):
        if not np.isfinite(flat_grads).all():
            return
        self.inner_optimizer.apply_flat(flat_params, flat_grads)

    def apply(self, grads, trainable_variables=None):
        if isinstance(grads, np.ndarray):
            return self.apply_flat(grads, trainable_variables)
        grads = list(grads)
        if all(g is None or np.isfinite(np.asarray(getattr(g, "value", g))).all() for g in grads):
            self.inner_optimizer.apply(grads, trainable_variables)

    def finalize_variable_values(self, var_list=None):
        self.inner_optimizer.finalize_variable_values(var_list)

    def _ema_buffers(self, flat_params=None):
        return self.inner_optimizer._ema_buffers(flat_params)

    def get_state(self):
        return self.inner_optimizer.get_state()

    def set_state(self, state):
        self.inner_optimizer.set_state(state)

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": serialize(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(deserialize(config.pop("inner_optimizer")), **config)

    def __repr__(self):
        return f"LossScaleOptimizer({self.inner_optimizer!r})"


# The family folds case: its names are stored lower-case.
serialization.register_builtin("optimizer", Lamb, "lamb")
serialization.register_builtin("optimizer", LossScaleOptimizer, "lossscaleoptimizer")
