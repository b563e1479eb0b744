"""Keras 3's generic recurrent API: ``RNN(cell)``, the built-in cells and ``StackedRNNCells``.

A cell computes one timestep: ``call(inputs, states) -> (output, new_states)``
with a ``state_size`` (and optionally ``output_size``). ``RNN`` runs it over
the time axis.

- ``RNN(SimpleRNNCell(u))``, ``RNN(LSTMCell(u))``, ``RNN(GRUCell(u))`` run
  the compiled time loop of ``SimpleRNN`` / ``LSTM`` / ``GRU``
  (``recurrent.run_forward`` / ``run_backward`` on the cell's weights):
  the RNN is then a hand-written layer, as fast as those layers.
- Any other cell (a user's ``Layer``, ``StackedRNNCells``, a subclass of a
  built-in cell that overrides ``call``) runs a Python loop over the
  timesteps: the RNN is then a traced layer (every step's ops on the tape).

Called directly (``cell(x_t, states)``) a built-in cell computes its step
with ``ranvier.ops``, eagerly or traced, as in Keras.
"""

import numpy as np

from .. import ops, serialization, tree
from .._errors import UnsupportedArgument
from ._tracing import value_of
from .base import Layer
from .recurrent import (
    _dropout_mask,
    _GRUStep,
    _LSTMStep,
    _SimpleRNNStep,
    _StepWeights,
    recurrent_mask,
    recurrent_output_shape,
    run_backward,
    run_forward,
)

__all__ = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"]

_ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": ops.tanh,
    "sigmoid": ops.sigmoid,
    "relu": ops.relu,
    "hard_sigmoid": ops.hard_sigmoid,
}


class _Cell(_StepWeights, Layer):
    """What the built-in cells share: Keras' constructor arguments, weights, dropout masks, config."""

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
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
        self.output_size = self.units
        # Set by RNN's Python loop: one dropout mask per sequence, as Keras draws them (None: per call).
        self._sequence_masks = None

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects input of shape (batch, features) "
                f"with known features, got {tuple(input_shape)}"
            )
        self._build_step(input_shape[-1])

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [np.zeros((batch_size, d), self.dtype) for d in sizes]

    def _dropped(self, x, rate, kind, training):
        """``x`` times an inverted-dropout mask (training, ``rate`` > 0), else ``x``."""
        if not training or rate == 0:
            return x
        masks = self._sequence_masks if self._sequence_masks is not None else {}
        if kind not in masks:
            masks[kind] = _dropout_mask(self._rng, rate, tuple(x.shape), value_of(x).dtype)
        return ops.multiply(x, masks[kind])

    def _inputs_and_state(self, inputs, states, training):
        """(dropped-out inputs, the recurrent product of the dropped-out h) and the previous h."""
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x = self._dropped(inputs, self.dropout, "input", training)
        h_rec = self._dropped(h_prev, self.recurrent_dropout, "recurrent", training)
        return ops.matmul(x, self.kernel), ops.matmul(h_rec, self.recurrent_kernel), h_prev

    def get_config(self):
        return {**super().get_config(), **self._step_config()}


class SimpleRNNCell(_SimpleRNNStep, _Cell):
    """One step of :class:`SimpleRNN`: ``h = activation(x @ kernel + h_prev @ recurrent_kernel + bias)``.

    Parameters
    ----------
    units : int
    activation : default "tanh"
    **kwargs
        ``use_bias``, ``kernel_initializer``, ``recurrent_initializer``, ``bias_initializer``,
        the regularizers and constraints, ``dropout``, ``recurrent_dropout``, ``seed``: as for
        :class:`SimpleRNN`.

    Notes
    -----
    ``call(sequence, states, training=False)`` returns ``(h, [h])`` (``(h, h)``
    when ``states`` is one tensor). ``RNN(SimpleRNNCell(u))`` runs
    ``SimpleRNN``'s compiled loop.
    """

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)
        self.state_size = self.units

    def call(self, sequence, states, training=False):
        xk, hk, _ = self._inputs_and_state(sequence, states, training)
        z = ops.add(xk, self.bias) if self.bias is not None else xk
        h = _ACTIVATIONS[self.activation](ops.add(z, hk))
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        cfg = super().get_config()
        del cfg["recurrent_activation"]
        return cfg


class LSTMCell(_LSTMStep, _Cell):
    """One step of :class:`LSTM` (gates i, f, c, o; Keras' weights and initialisation).

    Parameters
    ----------
    units : int
    activation : default "tanh"
    recurrent_activation : default "sigmoid"
    unit_forget_bias : bool, default True
    **kwargs
        ``use_bias``, ``kernel_initializer``, ``recurrent_initializer``, ``bias_initializer``,
        the regularizers and constraints, ``dropout``, ``recurrent_dropout``, ``seed``: as for
        :class:`LSTM`.

    Notes
    -----
    ``call(inputs, states=[h, c], training=False)`` returns ``(h, [h, c])``.
    ``RNN(LSTMCell(u))`` runs ``LSTM``'s compiled loop.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        **kwargs,
    ):
        kwargs.pop("implementation", None)
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def call(self, inputs, states, training=False):
        xk, hk, _ = self._inputs_and_state(inputs, states, training)
        z = ops.add(xk, hk)
        if self.bias is not None:
            z = ops.add(z, self.bias)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=1)
        gate, act = _ACTIVATIONS[self.recurrent_activation], _ACTIVATIONS[self.activation]
        c = ops.add(ops.multiply(gate(z_f), states[1]), ops.multiply(gate(z_i), act(z_c)))
        h = ops.multiply(gate(z_o), act(c))
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_GRUStep, _Cell):
    """One step of :class:`GRU` (gates z, r, h; ``reset_after=True``; bias (2, 3 units)).

    Parameters
    ----------
    units : int
    activation : default "tanh"
    recurrent_activation : default "sigmoid"
    reset_after : True
        Only Keras' default form is implemented.
    **kwargs
        ``use_bias``, ``kernel_initializer``, ``recurrent_initializer``, ``bias_initializer``,
        the regularizers and constraints, ``dropout``, ``recurrent_dropout``, ``seed``: as for
        :class:`GRU`.

    Notes
    -----
    ``call(inputs, states, training=False)`` returns ``(h, [h])`` (``(h, h)``
    when ``states`` is one tensor). ``RNN(GRUCell(u))`` runs ``GRU``'s compiled loop.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        if not reset_after:
            raise UnsupportedArgument(f"GRUCell: only reset_after=True is supported, got reset_after={reset_after!r}")
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = True
        self.state_size = self.units

    def call(self, inputs, states, training=False):
        xk, hk, h_prev = self._inputs_and_state(inputs, states, training)
        if self.bias is not None:
            b_in, b_rec = ops.unstack(self.bias, 2, axis=0)
            xk, hk = ops.add(xk, b_in), ops.add(hk, b_rec)
        x_z, x_r, x_h = ops.split(xk, 3, axis=1)
        r_z, r_r, r_h = ops.split(hk, 3, axis=1)
        gate = _ACTIVATIONS[self.recurrent_activation]
        z = gate(ops.add(x_z, r_z))
        r = gate(ops.add(x_r, r_r))
        hh = _ACTIVATIONS[self.activation](ops.add(x_h, ops.multiply(r, r_h)))
        h = ops.add(ops.multiply(z, h_prev), ops.multiply(ops.subtract(1.0, z), hh))
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        return {**super().get_config(), "reset_after": True}


#: Cells whose ``call`` RNN replaces by their layer's compiled loop.
_COMPILED = {SimpleRNNCell.call, LSTMCell.call, GRUCell.call}


def _check_cell(cell, owner):
    """A cell has ``call`` and a ``state_size`` of positive ints (or lists of them, for a stack)."""
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{owner}: the cell must have a call(inputs, states) method, got cell={cell!r}")
    size = getattr(cell, "state_size", None)
    if size is None:
        raise ValueError(
            f"{owner}: the cell must have a state_size attribute (an integer, or a list of integers, "
            f"one per state tensor), got cell={cell!r}"
        )

    def valid(s, depth):
        if isinstance(s, (list, tuple)) and depth < 2:
            return len(s) > 0 and all(valid(t, depth + 1) for t in s)
        return isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0

    if not valid(size, 0):
        raise ValueError(
            f"{owner}: state_size must be a positive integer or a list of them, got state_size={size!r} "
            f"for cell={cell!r}"
        )


def _output_size(cell):
    """Keras' rule: ``output_size`` if the cell has one, else the size of its first state."""
    size = getattr(cell, "output_size", None)
    if size is not None:
        return int(size)
    first = cell.state_size
    while isinstance(first, (list, tuple)):
        first = first[0]
    return int(first)


class StackedRNNCells(Layer):
    """Cells stacked into one: each cell's output is the next cell's input.

    Parameters
    ----------
    cells : list of cells

    Notes
    -----
    ``state_size`` is the list of the cells' ``state_size``; ``call(inputs,
    states)`` takes and returns one entry per cell. ``RNN([c1, c2])`` stacks
    them itself. A stack always runs as a Python loop over timesteps (traced).
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"StackedRNNCells: cells must be a non-empty list of cells, got cells={cells!r}")
        for cell in cells:
            _check_cell(cell, "StackedRNNCells")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None):
        return [_initial_states(cell, batch_size, self.dtype) for cell in self.cells]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer):
                cell._build_once(shape)
            shape = (shape[0], _output_size(cell))

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, state in zip(self.cells, states):
            nested = isinstance(state, (list, tuple))
            inputs, state = cell(inputs, list(state) if nested else [state], training=training)
            if not nested and isinstance(state, (list, tuple)) and len(state) == 1:
                state = state[0]
            new_states.append(state)
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [serialization.serialize(c, "layer") for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [serialization.deserialize(c, "layer") for c in config["cells"]]
        return cls(**config)


def _initial_states(cell, batch_size, dtype):
    """A cell's zero states, shaped like its ``state_size`` (one array, or a list of them)."""
    size = cell.state_size
    if isinstance(size, (list, tuple)):
        return [np.zeros((batch_size, int(d)), dtype) for d in size]
    return np.zeros((batch_size, int(size)), dtype)


def _pack_states(size, flat):
    """The flat state list in the structure a cell takes (Keras: always a list at the top)."""
    it = iter(flat)
    if not isinstance(size, (list, tuple)):
        return [next(it)]
    return [[next(it) for _ in s] if isinstance(s, (list, tuple)) else next(it) for s in size]


class RNN(Layer):
    """Run a cell over the time axis (Keras 3's ``keras.layers.RNN``).

    Parameters
    ----------
    cell : cell or list of cells
        Built-in cells (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) run their
        layer's compiled loop; any other cell (a ``Layer`` with ``state_size``,
        optional ``output_size`` and ``call(inputs, states) -> (output,
        new_states)`` written with ``ranvier.ops``) runs step by step, its
        gradient from the tape. A list becomes a ``StackedRNNCells``.
    return_sequences : bool, default False
    return_state : bool, default False
        Also return the final states (flat: ``[output, *states]``).
    go_backwards : bool, default False
        Process the sequence in reverse (the output sequence is reversed too).
    stateful : False
        ``True`` raises ``UnsupportedArgument``.
    unroll : bool, default False
        Accepted (the loop is compiled or traced either way).
    zero_output_for_mask : bool, default False
        Masked timesteps of the output sequence are zeros instead of the previous output.

    Notes
    -----
    Call arguments: ``sequences (batch, timesteps, features)``, ``initial_state``
    (a list, one tensor per state), ``mask`` (batch, timesteps), ``training``.
    A masked timestep keeps the previous states and output.
    """

    supports_masking = True

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, "RNN")
        if stateful:
            raise UnsupportedArgument(f"RNN: stateful=True is not supported, got stateful={stateful!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._compiled = getattr(type(cell), "call", None) in _COMPILED
        # A cell without a compiled loop makes this instance a traced layer (Keras' protocol).
        self._traced = not self._compiled

    @property
    def state_size(self):
        return list(self.cell.state_size) if isinstance(self.cell.state_size, (list, tuple)) else [self.cell.state_size]

    def _flat_sizes(self):
        return [int(s) for s in tree.flatten(self.cell.state_size)]

    def _owner(self):
        return f"RNN {self.name!r}"

    def build(self, sequences_shape, initial_state=None):
        if len(sequences_shape) != 3 or sequences_shape[-1] is None:
            raise ValueError(
                f"{self._owner()} expects input of shape (batch, timesteps, features) with known features, "
                f"got {tuple(sequences_shape)}"
            )
        if isinstance(self.cell, Layer):
            self.cell._build_once((sequences_shape[0], sequences_shape[2]))

    def compute_output_shape(self, sequences_shape, initial_state=None):
        shapes = recurrent_output_shape(self, sequences_shape, _output_size(self.cell), 0)
        if self.return_state:
            shapes += [(sequences_shape[0], s) for s in self._flat_sizes()]
        return shapes

    def compute_mask(self, inputs, mask=None):
        return recurrent_mask(self, mask, len(self._flat_sizes()))

    def get_initial_state(self, batch_size):
        make = getattr(self.cell, "get_initial_state", None)
        states = make(batch_size=batch_size) if make is not None else _initial_states(self.cell, batch_size, self.dtype)
        return tree.flatten(states)

    # -------------------------------------------------------------- forward
    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self._compiled:
            outputs, cache = run_forward(self, self.cell, sequences, training, mask, initial_state)
            keep = self._zeroed_steps(mask)
            if keep is not None:
                (outputs[0] if self.return_state else outputs)[...] *= keep
            return outputs, (cache, keep)
        return self._loop(sequences, initial_state, mask, training)

    def backward(self, dy, cache, need_input_grad=True):
        cache, keep = cache
        if keep is not None:
            dy = [dy[0] * keep] + list(dy[1:]) if self.return_state else dy * keep
        return run_backward(self, self.cell, dy, cache, need_input_grad)

    def _zeroed_steps(self, mask):
        """(batch, timesteps, 1) multiplier zeroing the masked outputs (``zero_output_for_mask``), or None."""
        if mask is None or not (self.zero_output_for_mask and self.return_sequences):
            return None
        keep = np.asarray(value_of(mask), bool)
        keep = keep[:, ::-1] if self.go_backwards else keep
        return keep[:, :, None].astype(self.cell.kernel.dtype)

    def _loop(self, sequences, initial_state, mask, training):
        """The cell called once per timestep (traced: each step's ops go on the tape)."""
        shape = tuple(sequences.shape)
        if len(shape) != 3 or shape[0] == 0 or shape[1] == 0:
            raise ValueError(
                f"{self._owner()} expects input of shape (batch, timesteps, features) with at least one "
                f"sample and one timestep, got shape {shape}"
            )
        batch, steps = shape[0], shape[1]
        sizes = self._flat_sizes()
        if initial_state is None:
            states = self.get_initial_state(batch)
        else:
            states = tree.flatten(initial_state)
            if len(states) != len(sizes):
                raise ValueError(f"{self._owner()} expects {len(sizes)} initial state tensor(s), got {len(states)}")
        self._check_states(states, batch, sizes, "initial_state")
        keep = None
        if mask is not None:
            keep = np.asarray(value_of(mask), bool)
            if keep.shape != (batch, steps):
                raise ValueError(
                    f"{self._owner()}: mask must have shape {(batch, steps)} (batch, timesteps), got {keep.shape}"
                )
        cells = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        first = len(sizes) - len(tree.flatten(cells[-1].state_size))  # the last cell's first state
        for c in cells:
            if isinstance(c, _Cell):
                c._sequence_masks = {}
        try:
            outputs, last = [], None
            for t in range(steps - 1, -1, -1) if self.go_backwards else range(steps):
                out, new = self.cell(sequences[:, t, :], _pack_states(self.cell.state_size, states), training=training)
                new = tree.flatten(new)
                if len(new) != len(sizes):
                    raise ValueError(
                        f"{self._owner()}: the cell returned {len(new)} state tensor(s), its state_size "
                        f"{self.cell.state_size!r} says {len(sizes)}"
                    )
                self._check_states(new, batch, sizes, "the cell's new states")
                if keep is not None:
                    k = keep[:, t : t + 1]
                    # Keras reads the previous output from the states: the (last cell's) first state;
                    # a cell whose output is shaped otherwise repeats its previous output (zeros at first).
                    prev = states[first]
                    if tuple(prev.shape) != tuple(out.shape):
                        prev = ops.zeros_like(out) if last is None else last
                    new = [ops.where(k, n, s) for n, s in zip(new, states)]
                    seq_out = ops.where(k, out, 0.0 if self.zero_output_for_mask else prev)
                    out = ops.where(k, out, prev)
                else:
                    seq_out = out
                states, last = new, out
                outputs.append(seq_out)
        finally:
            for c in cells:
                if isinstance(c, _Cell):
                    c._sequence_masks = None
        output = ops.stack(outputs, axis=1) if self.return_sequences else last
        return [output] + list(states) if self.return_state else output

    def _check_states(self, states, batch, sizes, what):
        for i, (s, d) in enumerate(zip(states, sizes)):
            if tuple(s.shape) != (batch, d):
                raise ValueError(
                    f"{self._owner()}: {what}[{i}] must have shape {(batch, d)} (the cell's state_size "
                    f"{self.cell.state_size!r}), got {tuple(s.shape)}"
                )

    # ---------------------------------------------------------------- config
    def get_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": False,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": serialization.serialize(self.cell, "layer"),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = serialization.deserialize(config["cell"], "layer")
        return cls(**config)
