"""Recurrent layers: SimpleRNN, LSTM and GRU (Keras arguments, compiled time loop).

Inputs are ``(batch, timesteps, features)``; the whole time loop, forward and
backward, runs in ``ranvier.core._recurrent`` (time-major inside, so each
layer transposes once on the way in and once on the way out).

Masking follows Keras: a masked timestep carries the previous state forward,
and its output (``return_sequences=True``) is the previous output. One
difference: with ``go_backwards=True`` and ``return_sequences=True`` the
output mask is reversed like the output sequence (Keras returns it unreversed).
"""

import numpy as np

from ...core import _recurrent
from .. import config, regularizers
from .._errors import UnsupportedArgument
from ..variables import grad_targets
from ._buffers import scratch
from ._weight_spec import WeightSpec
from .base import Layer

__all__ = ["SimpleRNN", "LSTM", "GRU"]

# "None" for the kernels' optional arrays (no mask, no dropout, no sequence gradient...):
# size 0, so nothing ever reads or writes them, and one of each serves every call.
_NO_MASK = np.zeros((0, 0), np.uint8)
_EMPTY = {(np.dtype(t), ndim): np.zeros((0,) * ndim, t) for t in ("float32", "float64") for ndim in (1, 2, 3)}


def _activation_name(value, arg, owner):
    """The kernel name of an activation given as None, a string or an object with ``name``."""
    name = "linear" if value is None else getattr(value, "name", getattr(value, "__name__", value))
    if not isinstance(name, str) or name not in _recurrent.ACTIVATIONS:
        raise ValueError(f"{owner}: {arg} must be one of {sorted(_recurrent.ACTIVATIONS)} or None, got {value!r}")
    return name


def _check_rate(value, arg, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not 0 <= value < 1:
        raise ValueError(f"{owner}: {arg} must be a float in [0, 1), got {value!r}")
    return float(value)


def _dropout_mask(rng, rate, shape, dtype):
    """Inverted-dropout multiplier: 0 with probability ``rate``, else ``1 / (1 - rate)``."""
    return ((rng.random(shape) >= rate) / (1 - rate)).astype(dtype)


def _zeroed(owner, slot, shape, dtype):
    """A zero-filled work array (``scratch``: reused from step to step, a fresh aligned one costs ~5 us)."""
    out = scratch(owner, slot, shape, dtype)
    out.fill(0)
    return out


def time_major_mask(mask, shape, owner, reverse):
    """A Keras (batch, timesteps) boolean mask as the kernels' (T, B) uint8, or an empty one."""
    if mask is None:
        return _NO_MASK
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise ValueError(f"{owner}: mask must have shape {tuple(shape)} (batch, timesteps), got {mask.shape}")
    m = mask.astype(bool).T
    return np.ascontiguousarray(m[::-1] if reverse else m, dtype=np.uint8)


class _StepWeights:
    """Units, activations, weights and dropout of one recurrent step: the layers' and the cells' share.

    A mixin of the layers (``LSTM``...) and of the cells (``LSTMCell``...,
    ``layers/rnn.py``): both hold the same three weights under Keras' names
    and run the same compiled time loop (``run_forward`` / ``run_backward``).
    """

    #: Gate blocks in the kernel matrices (kernel is (in, _gates * units)).
    _gates = 1
    #: Number of state tensors (h, or h and c).
    _n_states = 1

    def _init_step(
        self,
        *,
        units,
        activation,
        recurrent_activation,
        use_bias,
        kernel_initializer,
        recurrent_initializer,
        bias_initializer,
        kernel_regularizer,
        recurrent_regularizer,
        bias_regularizer,
        kernel_constraint,
        recurrent_constraint,
        bias_constraint,
        dropout,
        recurrent_dropout,
        seed,
    ):
        owner = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{owner}: units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = _activation_name(activation, "activation", owner)
        self.recurrent_activation = _activation_name(recurrent_activation, "recurrent_activation", owner)
        self.use_bias = bool(use_bias)
        self._kernel = WeightSpec("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        self._recurrent_kernel = WeightSpec(
            "recurrent_kernel", recurrent_initializer, recurrent_regularizer, recurrent_constraint, key="recurrent"
        )
        self._bias = WeightSpec("bias", bias_initializer, bias_regularizer, bias_constraint)
        self.dropout = _check_rate(dropout, "dropout", owner)
        self.recurrent_dropout = _check_rate(recurrent_dropout, "recurrent_dropout", owner)
        self.seed = seed

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_value(self, shape):
        return self.bias_initializer(shape, self.dtype)

    def _build_step(self, n_in):
        """Create kernel (n_in, gates * units), recurrent_kernel and bias (Keras' order) and the dropout RNG."""
        width = self._gates * self.units
        self.kernel = self._kernel.add_to(self, (n_in, width))
        self.recurrent_kernel = self._recurrent_kernel.add_to(self, (self.units, width))
        if self.use_bias:
            shape = self._bias_shape()
            self.bias = self._bias.add_to(self, shape, initializer="zeros")
            self.bias.value[...] = self._bias_value(shape)
        else:
            self.bias = None
        self._rng = config.make_rng(self.seed)

    def _bias_or_zeros(self, dtype):
        return self.bias.value if self.bias is not None else np.zeros(self._bias_shape(), dtype)

    def _extra_states(self, extra, T):
        return []

    def _step_config(self):
        return {
            "units": self.units,
            "activation": self.activation,
            "recurrent_activation": self.recurrent_activation,
            "use_bias": self.use_bias,
            **self._kernel.get_config(),
            **self._recurrent_kernel.get_config(),
            **self._bias.get_config(),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def _check_call(layer, step, inputs, initial_state):
    """Validated (inputs, initial states) before any kernel runs."""
    owner = f"{type(layer).__name__} {layer.name!r}"
    x = np.asarray(inputs)
    if x.ndim != 3:
        raise ValueError(f"{owner} expects input of rank 3 (batch, timesteps, features), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{owner} needs at least one sample and one timestep, got shape {x.shape}")
    layer._check_input_shape(x.shape)
    x = np.ascontiguousarray(x, dtype=step.kernel.dtype)
    if initial_state is None:
        return x, None
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
    if len(states) != step._n_states:
        raise ValueError(f"{owner} expects {step._n_states} initial state tensor(s), got {len(states)}")
    states = [np.ascontiguousarray(s, dtype=x.dtype) for s in states]
    for s in states:
        if s.shape != (x.shape[0], step.units):
            raise ValueError(f"{owner}: initial states must have shape {(x.shape[0], step.units)}, got {s.shape}")
    return x, states


def run_forward(layer, step, inputs, training, mask, initial_state):
    """The compiled time loop of ``step`` (weights, dropout) over ``inputs``; ``layer`` gives
    ``return_sequences``, ``return_state`` and ``go_backwards``. Returns (outputs, cache)."""
    x, states = _check_call(layer, step, inputs, initial_state)
    B, T, _ = x.shape
    u, dtype = step.units, x.dtype
    m = _NO_MASK if mask is None else time_major_mask(mask, (B, T), layer._owner(), layer.go_backwards)
    xt = np.swapaxes(x, 0, 1)
    xt = np.ascontiguousarray(xt[::-1] if layer.go_backwards else xt)
    in_mask = None
    if training and step.dropout > 0:
        in_mask = _dropout_mask(step._rng, step.dropout, (B, x.shape[2]), dtype)
        xt *= in_mask
    if training and step.recurrent_dropout > 0:
        rm = _dropout_mask(step._rng, step.recurrent_dropout, (B, u), dtype)
        h_rec = scratch(step, "h_rec", (T, B, u), dtype)
    else:
        rm, h_rec = _EMPTY[dtype, 2], _EMPTY[dtype, 3]
    h = scratch(step, "h", (T + 1, B, u), dtype)
    h[0] = 0 if states is None else states[0]
    extra = step._forward(xt, m, rm, h, h_rec, states)
    seq = np.ascontiguousarray(np.swapaxes(h[1:], 0, 1)) if layer.return_sequences else h[T].copy()
    cache = (xt, m, rm, h, h_rec, in_mask, extra, states is not None)
    if layer.return_state:
        return [seq, h[T].copy()] + step._extra_states(extra, T), cache
    return seq, cache


def run_backward(layer, step, dy, cache, need_input_grad):
    """The gradients of ``run_forward``: weights into ``step``'s, inputs (and initial states) returned."""
    xt, m, rm, h, h_rec, in_mask, extra, has_states = cache
    T, B, n_in = xt.shape
    dtype = xt.dtype
    dys = list(dy) if layer.return_state else [dy]
    dys = [np.zeros((B, step.units), dtype) if g is None else g for g in dys]
    dh = _zeroed(step, "dh", (B, step.units), dtype)
    if layer.return_sequences:
        dh_seq = np.ascontiguousarray(np.swapaxes(dys[0], 0, 1), dtype=dtype)
    else:
        dh_seq = _EMPTY[dtype, 3]
        dh += dys[0]
    if layer.return_state:
        dh += dys[1]
    if layer.trainable and step.trainable and step.kernel.trainable:
        (dkernel, drec, dbias), beta = grad_targets(step.kernel, step.recurrent_kernel, step.bias)
    else:
        dkernel, drec, dbias, beta = (
            scratch(step, "dkernel", step.kernel.shape, dtype),
            scratch(step, "drecurrent", step.recurrent_kernel.shape, dtype),
            None,
            0.0,
        )
    dbias = _EMPTY[dtype, 1] if dbias is None else dbias.reshape(-1)
    dx = scratch(step, "dx", xt.shape, dtype) if need_input_grad else _EMPTY[dtype, 3]
    d_states = step._backward(
        xt, m, rm, h, h_rec, extra, dh_seq, dh, dys[2:], dkernel, drec, dbias, dx, beta, need_input_grad
    )
    if not need_input_grad:
        return [None] * (1 + step._n_states) if has_states else None
    if in_mask is not None:
        dx *= in_mask
    dx = np.ascontiguousarray(np.swapaxes(dx[::-1] if layer.go_backwards else dx, 0, 1))
    return [dx] + d_states if has_states else dx


def recurrent_output_shape(layer, input_shape, units, n_states):
    """``(output shape, state shapes...)`` of a recurrent layer with ``units`` outputs and ``n_states`` states."""
    batch, steps = input_shape[0], input_shape[1]
    out = (batch, steps, units) if layer.return_sequences else (batch, units)
    if layer.return_state:
        return [out] + [(batch, units)] * n_states
    return out


def recurrent_mask(layer, mask, n_states):
    """The output mask(s) of a recurrent layer (the sequence's, reversed with it under ``go_backwards``)."""
    out = None
    if mask is not None and layer.return_sequences:
        out = np.asarray(mask)[:, ::-1] if layer.go_backwards else mask
    return [out] + [None] * n_states if layer.return_state else out


class _Recurrent(_StepWeights, Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU (one time loop in the core per call)."""

    supports_masking = True

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self._init_step(
            units=units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )
        if stateful:
            raise UnsupportedArgument(f"{owner}: stateful=True is not supported, got stateful={stateful!r}")
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the loop is compiled anyway

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects input of shape "
                f"(batch, timesteps, features) with known features, got {tuple(input_shape)}"
            )
        self._build_step(input_shape[-1])

    def compute_output_shape(self, input_shape, initial_state=None):
        return recurrent_output_shape(self, input_shape, self.units, self._n_states)

    def compute_mask(self, inputs, mask=None):
        return recurrent_mask(self, mask, self._n_states)

    def _owner(self):
        """How error messages name the layer."""
        return f"{type(self).__name__} {self.name!r}"

    # ------------------------------------------------------- forward/backward
    def call(self, inputs, training=False, mask=None, initial_state=None):
        return run_forward(self, self, inputs, training, mask, initial_state)

    def backward(self, dy, cache, need_input_grad=True):
        return run_backward(self, self, dy, cache, need_input_grad)

    # ---------------------------------------------------------------- config
    def get_config(self):
        cfg = {}
        for key, value in {**super().get_config(), **self._step_config()}.items():
            if key == "dropout":  # the key order of the layers' configs before the cells shared them
                cfg["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
            cfg[key] = value
        return {
            **cfg,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "unroll": self.unroll,
        }


class _SimpleRNNStep(_StepWeights):
    """SimpleRNN's step on the compiled kernels (the layer's and SimpleRNNCell's)."""

    def _forward(self, xt, m, rm, h, h_rec, states):
        z = scratch(self, "gates", h[1:].shape, h.dtype)
        _recurrent.simple_rnn_forward(
            xt,
            self.kernel.value,
            self.recurrent_kernel.value,
            self._bias_or_zeros(xt.dtype),
            m,
            rm,
            z,
            h,
            h_rec,
            _recurrent.ACTIVATIONS[self.activation],
            config.kernel_threads(),
        )
        return None

    def _backward(self, xt, m, rm, h, h_rec, extra, dh_seq, dh, d_extra, dkernel, drec, dbias, dx, beta, need_dx):
        dgates = scratch(self, "dgates", h[1:].shape, h.dtype)
        _recurrent.simple_rnn_backward(
            xt,
            self.kernel.value,
            self.recurrent_kernel.value,
            m,
            rm,
            h,
            h_rec,
            dh_seq,
            dh,
            dgates,
            dkernel,
            drec,
            dbias,
            dx,
            beta,
            need_dx,
            _recurrent.ACTIVATIONS[self.activation],
            config.kernel_threads(),
        )
        return [dh]


class SimpleRNN(_SimpleRNNStep, _Recurrent):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``.

    Parameters
    ----------
    units : int
    activation : {"tanh", "relu", "sigmoid", "hard_sigmoid", "linear"} or None, default "tanh"
    use_bias : bool, default True
    kernel_initializer, recurrent_initializer, bias_initializer : str or Initializer
        Defaults "glorot_uniform", "orthogonal", "zeros".
    dropout, recurrent_dropout : float in [0, 1)
        Dropout of the inputs and of the state fed to the recurrent product
        (one mask per sequence, as in Keras), in training only.
    return_sequences : bool, default False
        Output every step ``(batch, timesteps, units)`` instead of the last ``(batch, units)``.
    return_state : bool, default False
        Also return the final state: ``[output, h]``.
    go_backwards : bool, default False
        Process the sequence in reverse (the output sequence is then reversed too).

    Notes
    -----
    Call arguments: ``inputs (batch, timesteps, features)``, ``mask`` (batch, timesteps)
    boolean, ``initial_state`` (batch, units) or ``[h]``, ``training``.
    """

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        del cfg["recurrent_activation"]
        return cfg


class _LSTMStep(_StepWeights):
    """LSTM's step on the compiled kernels (the layer's and LSTMCell's)."""

    _gates = 4
    _n_states = 2

    def _bias_value(self, shape):
        if not self.unit_forget_bias:
            return super()._bias_value(shape)
        u = self.units
        return np.concatenate(
            [
                self.bias_initializer((u,), self.dtype),
                np.ones(u, self.dtype),
                self.bias_initializer((2 * u,), self.dtype),
            ]
        )

    def _forward(self, xt, m, rm, h, h_rec, states):
        T, B, _ = xt.shape
        gates = scratch(self, "gates", (T, B, 4 * self.units), xt.dtype)
        c = scratch(self, "c", h.shape, h.dtype)
        c[0] = 0 if states is None else states[1]
        act_c = scratch(self, "act_c", h[1:].shape, h.dtype)
        _recurrent.lstm_forward(
            xt,
            self.kernel.value,
            self.recurrent_kernel.value,
            self._bias_or_zeros(xt.dtype),
            m,
            rm,
            gates,
            h,
            c,
            act_c,
            h_rec,
            _recurrent.ACTIVATIONS[self.activation],
            _recurrent.ACTIVATIONS[self.recurrent_activation],
            config.kernel_threads(),
        )
        return gates, c, act_c

    def _extra_states(self, extra, T):
        return [extra[1][T].copy()]

    def _backward(self, xt, m, rm, h, h_rec, extra, dh_seq, dh, d_extra, dkernel, drec, dbias, dx, beta, need_dx):
        gates, c, act_c = extra
        dc = _zeroed(self, "dc", dh.shape, dh.dtype)
        if d_extra:
            dc += d_extra[0]
        dgates = scratch(self, "dgates", gates.shape, gates.dtype)
        _recurrent.lstm_backward(
            xt,
            self.kernel.value,
            self.recurrent_kernel.value,
            m,
            rm,
            gates,
            h,
            c,
            act_c,
            h_rec,
            dh_seq,
            dh,
            dc,
            dgates,
            dkernel,
            drec,
            dbias,
            dx,
            beta,
            need_dx,
            _recurrent.ACTIVATIONS[self.activation],
            _recurrent.ACTIVATIONS[self.recurrent_activation],
            config.kernel_threads(),
        )
        return [dh, dc]


class LSTM(_LSTMStep, _Recurrent):
    """Long short-term memory (Hochreiter 1997), Keras layout and initialisation.

    Gates in the Keras order i, f, c, o: ``kernel (features, 4 units)``,
    ``recurrent_kernel (units, 4 units)`` (orthogonal), ``bias (4 units,)``
    with the forget block set to one (``unit_forget_bias=True``).

    Parameters
    ----------
    units : int
    activation : default "tanh"
        Cell input and output activation.
    recurrent_activation : default "sigmoid"
        Gate activation.
    unit_forget_bias : bool, default True

    Notes
    -----
    Other parameters as in :class:`SimpleRNN`.

    Call arguments: ``inputs``, ``mask``, ``initial_state=[h, c]``, ``training``.
    With ``return_state=True`` the layer returns ``[output, h, c]``.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        kwargs.pop("use_cudnn", None)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class _GRUStep(_StepWeights):
    """GRU's step on the compiled kernels (the layer's and GRUCell's)."""

    _gates = 3

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _forward(self, xt, m, rm, h, h_rec, states):
        T, B, _ = xt.shape
        gates = scratch(self, "gates", (T, B, 3 * self.units), xt.dtype)
        rec = scratch(self, "rec", gates.shape, gates.dtype)
        _recurrent.gru_forward(
            xt,
            self.kernel.value,
            self.recurrent_kernel.value,
            self._bias_or_zeros(xt.dtype),
            m,
            rm,
            gates,
            rec,
            h,
            h_rec,
            _recurrent.ACTIVATIONS[self.activation],
            _recurrent.ACTIVATIONS[self.recurrent_activation],
            config.kernel_threads(),
        )
        return gates, rec

    def _backward(
        self, xt, m, rm, h, h_rec, extra, dh_seq, dh, d_extra, dkernel, drec_kernel, dbias, dx, beta, need_dx
    ):
        gates, rec = extra
        dgates = scratch(self, "dgates", gates.shape, gates.dtype)
        drec = scratch(self, "drec", rec.shape, rec.dtype)
        _recurrent.gru_backward(
            xt,
            self.kernel.value,
            self.recurrent_kernel.value,
            m,
            rm,
            gates,
            rec,
            h,
            h_rec,
            dh_seq,
            dh,
            dgates,
            drec,
            dkernel,
            drec_kernel,
            dbias,
            dx,
            beta,
            need_dx,
            _recurrent.ACTIVATIONS[self.activation],
            _recurrent.ACTIVATIONS[self.recurrent_activation],
            config.kernel_threads(),
        )
        return [dh]


class GRU(_GRUStep, _Recurrent):
    """Gated recurrent unit (Cho 2014), Keras ``reset_after=True`` convention.

    Gates in the Keras order z, r, h: ``kernel (features, 3 units)``,
    ``recurrent_kernel (units, 3 units)``, ``bias (2, 3 units)`` (input bias,
    recurrent bias). ``hh = tanh(x W_h + b_h + r * (h U_h + b'_h))``,
    ``h = z * h_prev + (1 - z) * hh``: the same as PyTorch's ``nn.GRU`` with
    its gates reordered (r, z, n there).

    Parameters
    ----------
    units : int
    activation : default "tanh"
    recurrent_activation : default "sigmoid"
    reset_after : True
        Only the ``reset_after=True`` form (Keras' default) is implemented.

    Notes
    -----
    Other parameters as in :class:`SimpleRNN`.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        kwargs.pop("use_cudnn", None)
        if not reset_after:
            raise UnsupportedArgument(f"GRU: only reset_after=True is supported, got reset_after={reset_after!r}")
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)

    def get_config(self):
        return {**super().get_config(), "reset_after": True}
