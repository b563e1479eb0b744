"""Layer wrappers: Bidirectional (recurrent layers both ways) and TimeDistributed."""

import numpy as np

from .. import serialization
from .base import Layer

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _clone(layer, **changes):
    """A fresh, unbuilt copy of ``layer`` from its config, with ``changes`` applied."""
    cfg = {**layer.get_config(), **changes}
    cfg["dtype"] = layer._dtype_arg
    return type(layer).from_config(cfg)


class Bidirectional(Layer):
    """Run a recurrent layer forwards and backwards in time and merge the outputs.

    Parameters
    ----------
    layer : SimpleRNN, LSTM or GRU
        The forward direction; the layer is cloned from its config (as Keras does).
    merge_mode : {"concat", "sum", "mul", "ave", None}, default "concat"
        How the two outputs combine; ``None`` returns them as a list.
    backward_layer : recurrent layer, optional
        The backward direction (must have the opposite ``go_backwards``);
        default: a clone of ``layer`` with ``go_backwards`` flipped.

    Notes
    -----
    With ``return_sequences=True`` the backward outputs are re-reversed so that
    step t of both directions lines up. With ``return_state=True`` the layer
    returns ``[output] + forward states + backward states`` and takes
    ``initial_state`` as forward states followed by backward states.
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        for arg, lay in (("layer", layer), ("backward_layer", backward_layer)):
            if lay is not None and not all(
                hasattr(lay, a) for a in ("return_sequences", "go_backwards", "return_state", "units")
            ):
                raise TypeError(
                    f"Bidirectional: {arg} must be a recurrent layer (SimpleRNN, LSTM, GRU), got {type(lay).__name__}"
                )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        self.merge_mode = merge_mode
        self.forward_layer = _clone(layer, name=f"forward_{layer.name}")
        if backward_layer is None:
            self.backward_layer = _clone(layer, name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
        else:
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(
                    "Bidirectional: backward_layer must have go_backwards="
                    f"{not layer.go_backwards}, got {backward_layer.go_backwards}"
                )
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(
                        f"Bidirectional: backward_layer.{attr} must equal layer.{attr} "
                        f"({getattr(layer, attr)}), got {getattr(backward_layer, attr)}"
                    )
            self.backward_layer = backward_layer
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_weights = weights

    def _sublayers(self):
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape):
        self.forward_layer._build_once(input_shape)
        self.backward_layer._build_once(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _merge_shape(self, fwd, bwd):
        if self.merge_mode == "concat":
            return fwd[:-1] + (fwd[-1] + bwd[-1],)
        return fwd if self.merge_mode is not None else [fwd, bwd]

    def compute_output_shape(self, input_shape, initial_state=None):
        fwd = self.forward_layer.compute_output_shape(input_shape)
        bwd = self.backward_layer.compute_output_shape(input_shape)
        if not self.return_state:
            return self._merge_shape(fwd, bwd)
        out = self._merge_shape(fwd[0], bwd[0])
        return (out if isinstance(out, list) else [out]) + list(fwd[1:]) + list(bwd[1:])

    def _n_outputs(self):
        return 2 if self.merge_mode is None else 1

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        if not self.return_state and self.merge_mode is not None:
            return out
        n_states = self.forward_layer._n_states * 2 if self.return_state else 0
        return [out] * self._n_outputs() + [None] * n_states

    def _split(self, values):
        """(forward output, backward output, forward states, backward states) of a flat list."""
        n = self._n_outputs()
        outs, states = values[:n], values[n:]
        half = len(states) // 2
        return outs, states[:half], states[half:]

    def call(self, inputs, training=False, mask=None, initial_state=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            n = self.forward_layer._n_states
            if len(states) != 2 * n:
                raise ValueError(
                    f"Bidirectional {self.name!r} expects {2 * n} initial state tensors "
                    f"(forward then backward), got {len(states)}"
                )
            fwd_state, bwd_state = states[:n], states[n:]
        out_f, cache_f = self.forward_layer.call(inputs, training=training, mask=mask, initial_state=fwd_state)
        out_b, cache_b = self.backward_layer.call(inputs, training=training, mask=mask, initial_state=bwd_state)
        (y_f, *s_f) = out_f if self.return_state else [out_f]
        (y_b, *s_b) = out_b if self.return_state else [out_b]
        if self.return_sequences:
            y_b = np.ascontiguousarray(y_b[:, ::-1])
        if self.merge_mode == "concat":
            y = [np.concatenate([y_f, y_b], axis=-1)]
        elif self.merge_mode == "sum":
            y = [y_f + y_b]
        elif self.merge_mode == "mul":
            y = [y_f * y_b]
        elif self.merge_mode == "ave":
            y = [(y_f + y_b) / 2]
        else:
            y = [y_f, y_b]
        cache = (cache_f, cache_b, y_f, y_b, initial_state is not None)
        if self.return_state or self.merge_mode is None:
            return y + s_f + s_b, cache
        return y[0], cache

    def backward(self, dy, cache, need_input_grad=True):
        cache_f, cache_b, y_f, y_b, has_states = cache
        dys = list(dy) if (self.return_state or self.merge_mode is None) else [dy]
        douts, ds_f, ds_b = self._split(dys)
        if self.merge_mode == "concat":
            u = y_f.shape[-1]
            dy_f, dy_b = douts[0][..., :u], douts[0][..., u:]
        elif self.merge_mode == "sum":
            dy_f = dy_b = douts[0]
        elif self.merge_mode == "mul":
            dy_f, dy_b = douts[0] * y_b, douts[0] * y_f
        elif self.merge_mode == "ave":
            dy_f = dy_b = douts[0] / 2
        else:
            dy_f, dy_b = douts
        if self.return_sequences:
            dy_b = dy_b[:, ::-1]
        dy_f, dy_b = np.ascontiguousarray(dy_f), np.ascontiguousarray(dy_b)
        g_f = self.forward_layer.backward([dy_f] + ds_f if self.return_state else dy_f, cache_f, need_input_grad)
        g_b = self.backward_layer.backward([dy_b] + ds_b if self.return_state else dy_b, cache_b, need_input_grad)
        if not need_input_grad:
            return None
        if not has_states:
            return g_f + g_b
        return [g_f[0] + g_b[0]] + g_f[1:] + g_b[1:]

    def get_config(self):
        cfg = {
            **super().get_config(),
            "layer": serialization.serialize(self.forward_layer, "layer"),
            "merge_mode": self.merge_mode,
        }
        cfg["layer"]["config"]["name"] = self.forward_layer.name[len("forward_") :]
        cfg["backward_layer"] = serialization.serialize(self.backward_layer, "layer")
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = serialization.deserialize(config["layer"], "layer")
        if config.get("backward_layer") is not None:
            config["backward_layer"] = serialization.deserialize(config["backward_layer"], "layer")
        return cls(**config)


class TimeDistributed(Layer):
    """Apply a layer to every timestep: ``(batch, time, ...) -> (batch, time, ...)``.

    The wrapped layer sees ``(batch * time, ...)``: one call, one set of
    weights shared across timesteps.

    Parameters
    ----------
    layer : Layer
        Any layer taking ``(batch, ...)`` inputs (Dense, Conv2D, ...).
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: layer must be a Layer, got {type(layer).__name__}")
        self.layer = layer

    def _sublayers(self):
        return [self.layer]

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed {self.name!r} expects input of shape (batch, time, ...), got {tuple(input_shape)}"
            )
        self.layer._build_once((None,) + tuple(input_shape[2:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def call(self, inputs, training=False, mask=None):
        if inputs.ndim < 3:
            raise ValueError(f"TimeDistributed {self.name!r} expects input of rank >= 3, got shape {inputs.shape}")
        batch, steps = inputs.shape[:2]
        y, cache = self.layer.call(inputs.reshape((batch * steps,) + inputs.shape[2:]), training=training)
        return y.reshape((batch, steps) + y.shape[1:]), (cache, inputs.shape)

    def backward(self, dy, cache, need_input_grad=True):
        inner, shape = cache
        dx = self.layer.backward(dy.reshape((shape[0] * shape[1],) + dy.shape[2:]), inner, need_input_grad)
        return dx.reshape(shape) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "layer": serialization.serialize(self.layer, "layer")}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = serialization.deserialize(config["layer"], "layer")
        return cls(**config)
