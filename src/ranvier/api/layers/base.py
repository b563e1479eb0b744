"""Layer: the base class of every layer, and the protocol custom layers follow.

A layer builds its weights from the input shape (``build``), computes its
output and what its backward pass needs (``call`` -> ``(outputs, cache)``),
and turns the gradient of its output into the gradient of its input while
writing its weight gradients (``backward``). See docs/architecture.md.
"""

import functools
import inspect

import numpy as np

from .. import config, initializers
from .._finite import as_finite, check_finite
from .._threading import compute_scope
from ..ops._tensor import Tensor
from ..serialization import snake_case
from ..variables import Variable
from . import _tracing
from ._symbolic import KerasTensor, call_parameters, call_symbolic, check_structure_allowed, split_inputs
from ._weight_budget import charge
from ._weight_spec import WeightSpec
from .input_spec import assert_input_compatibility

__all__ = ["Layer"]

_NAME_COUNTS = {}
# Positional orders of add_weight: Keras 3's, and ranvier's earlier one (a name first).
_KERAS_ARGS = (
    "shape",
    "initializer",
    "dtype",
    "trainable",
    "autocast",
    "regularizer",
    "constraint",
    "aggregation",
    "overwrite_with_gradient",
    "name",
)
_LEGACY_ARGS = ("name", "shape", "initializer", "regularizer", "trainable", "constraint", "dtype")


def _unique_name(base):
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _marks_built(build):
    """Wrap a class's ``build`` so that calling it directly builds the layer once, as in Keras 3.

    Without this a later call would build again and replace the weights ``build`` made.
    """

    @functools.wraps(build)
    def build_and_mark(self, *args, **kwargs):
        result = build(self, *args, **kwargs)
        if self.input_shape is None:
            self.input_shape = args[0] if args else kwargs.get("input_shape")
        self.built = True
        return result

    return build_and_mark


def normalize_shape(shape, arg="input_shape"):
    """A shape tuple of positive ints or None, from an int or an iterable."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{arg} must be a tuple of positive integers or None, got {shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{arg} must contain positive integers or None, got {shape!r}")
    return shape


class Trackable:
    """Layers assigned to attributes become sublayers, as in Keras (``self.dense = Dense(8)``).

    Shared by ``Layer`` and ``Model``: a custom layer or a subclassed model
    that keeps layers in attributes (or in lists of them) owns their weights.
    """

    def __setattr__(self, name, value):
        tracked = self.__dict__.get("_tracked_attributes")
        if _holds_layers(value):
            if tracked is None:
                tracked = {}
                object.__setattr__(self, "_tracked_attributes", tracked)
            tracked[name] = value
        elif tracked and name in tracked:
            del tracked[name]
        object.__setattr__(self, name, value)

    # Keras 3's names for the weight lists, which layers and models define.
    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def _tracked_layers(self):
        """The layers held in attributes, in assignment order, each once."""
        out = []
        for value in (self.__dict__.get("_tracked_attributes") or {}).values():
            for layer in value if isinstance(value, (list, tuple)) else (value,):
                if all(layer is not other for other in out):
                    out.append(layer)
        return out


def _holds_layers(value):
    # Models too (a VAE keeps its encoder and decoder models in attributes): both are Trackable.
    if isinstance(value, Trackable):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, Trackable) for v in value)


class Layer(Trackable):
    """Base class of all layers.

    Parameters
    ----------
    trainable : bool, default True
        Whether the layer's weights are updated by training.
    name : str, optional
        Unique name; derived from the class name if omitted.
    dtype : {"float32", "float64"}, optional
        Compute dtype; defaults to ``ranvier.config.floatx()`` at build time.
    input_shape : tuple, optional
        Shape of one sample (no batch dimension), for the first layer of a
        ``Sequential`` model, as in Keras.
    input_dim : int, optional
        Same as ``input_shape=(input_dim,)``.
    """

    #: Set by layers that accept ``mask=`` in ``call`` and propagate masks.
    supports_masking = False
    #: Set by layers that make a mask from their input alone (``compute_mask`` runs with no input mask).
    _produces_mask = False
    #: Input dtype when it is not the compute dtype (``"int64"`` for token ids).
    _input_dtype = None
    #: Keras' ``InputSpec`` (or a list of them) checked at every call, before build; set by subclasses.
    input_spec = None
    #: Whether gradients come from tracing ``call`` (set per class: a class without ``backward``).
    _traced = True
    #: ``training`` for a call when neither it nor an enclosing call gives one: the default of the
    #: class's ``call`` signature (read once per class), as Keras 3 resolves it (True: Random* layers).
    _default_training = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Defining backward declares the hand-written protocol (call -> (outputs, cache));
        # without it a layer follows Keras' (call -> outputs, built from ops) and is traced.
        cls._traced = cls.backward is Layer.backward
        training = inspect.signature(cls.call).parameters.get("training")
        cls._default_training = training is not None and training.default is True
        if "build" in cls.__dict__:
            cls.build = _marks_built(cls.__dict__["build"])

    def __init__(
        self,
        trainable=True,
        name=None,
        dtype=None,
        input_shape=None,
        input_dim=None,
        batch_input_shape=None,
        batch_size=None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        self.name = name if name is not None else _unique_name(snake_case(type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.trainable = bool(trainable)
        if dtype is not None and np.dtype(dtype).name not in ("float32", "float64"):
            raise ValueError(f"{type(self).__name__}: dtype must be 'float32' or 'float64', got {dtype!r}")
        self._dtype_arg = None if dtype is None else np.dtype(dtype).name
        self._batch_input_shape = None
        if batch_input_shape is not None:
            self._batch_input_shape = normalize_shape(batch_input_shape, "batch_input_shape")
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + normalize_shape(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size,) + normalize_shape((input_dim,), "input_dim")
        self._variables = []
        self._eager_losses = []
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self.activity_regularizer = None

    # ------------------------------------------------------------------ weights
    @property
    def dtype(self):
        return self._dtype_arg or config.floatx()

    @property
    def _output_dtype(self):
        """dtype of the symbolic outputs of a call: the compute dtype (token-id layers say int64)."""
        return self.dtype

    def add_weight(self, *args, **kwargs):
        """Create a weight and register it with the layer.

        Keras 3's signature, ``add_weight(shape=None, initializer=None, dtype=None,
        trainable=True, autocast=True, regularizer=None, constraint=None,
        aggregation="none", overwrite_with_gradient=False, name=None)``; a first
        positional string is read as ranvier's earlier order ``add_weight(name,
        shape, initializer="glorot_uniform", regularizer=None, trainable=True,
        constraint=None, dtype=None)``.

        Parameters
        ----------
        shape : tuple of int, default ()
        initializer : default "glorot_uniform" for float weights, "zeros" otherwise
        dtype : optional
            Default: the layer's dtype.
        trainable : bool, default True
        autocast : bool
            Accepted (ranvier never casts weights).
        regularizer, constraint : optional
        aggregation : "none"
            Other values raise ``NotImplementedError`` (one device, nothing to aggregate).
        overwrite_with_gradient : False
            True raises ``NotImplementedError``.
        name : str, optional
            Default: "variable", "variable_1"...

        Returns
        -------
        Variable
            Use ``var.value`` (ndarray) in ``call``; write the gradient in
            ``backward`` through ``var.grad_target()`` or ``var.accumulate_grad``.
        """
        order = _LEGACY_ARGS if args and isinstance(args[0], str) else _KERAS_ARGS
        if len(args) > len(order):
            raise TypeError(f"add_weight takes at most {len(order)} positional arguments, got {len(args)}")
        for arg, value in zip(order, args):
            if arg in kwargs:
                raise TypeError(f"add_weight got multiple values for argument {arg!r}")
            kwargs[arg] = value
        return self._add_weight(**kwargs)

    def _add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        autocast=True,
        regularizer=None,
        constraint=None,
        aggregation="none",
        overwrite_with_gradient=False,
        name=None,
    ):
        from .. import constraints, regularizers  # late: they import nothing from layers

        if aggregation != "none":
            raise NotImplementedError(
                f"add_weight: aggregation={aggregation!r} is not supported "
                f"(one device: only 'none'), got aggregation={aggregation!r}"
            )
        if overwrite_with_gradient:
            raise NotImplementedError(
                "add_weight: overwrite_with_gradient=True is not supported, "
                f"got overwrite_with_gradient={overwrite_with_gradient!r}"
            )
        if name is None:
            taken = {v.name for v in self._variables}
            name, i = "variable", 0
            while f"{self.name}/{name}" in taken:
                i += 1
                name = f"variable_{i}"
        dtype = np.dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        shape = normalize_shape(() if shape is None else shape, f"{self.name}/{name} shape")
        charge(f"{self.name}/{name}", shape, dtype)  # before the initializer allocates (loading a file)
        value = initializers.get(initializer)(shape, dtype)
        var = Variable(
            f"{self.name}/{name}",
            np.asarray(value, dtype=dtype),
            trainable=trainable and self.trainable,
            regularizer=regularizers.get(regularizer),
            constraint=constraints.get(constraint),
        )
        self._variables.append(var)
        return var

    def __getattr__(self, attribute):
        # Keras layers expose ``kernel_initializer`` etc.: here they live in the layer's WeightSpecs.
        # Only reached when normal lookup fails.
        if attribute.endswith(("_initializer", "_regularizer", "_constraint")):
            key, _, part = attribute.rpartition("_")
            for value in self.__dict__.values():
                if isinstance(value, WeightSpec) and value.key == key:
                    return getattr(value, part)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")

    @property
    def weights(self):
        """All variables: trainable first, as Keras orders them."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [v for v in self._all_variables() if v.trainable]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return list(self._all_variables())
        return [v for v in self._all_variables() if not v.trainable]

    def _all_variables(self):
        """Own variables, then those of nested layers (wrappers override ``_sublayers``)."""
        seen, out = set(), []
        for v in self._variables + [v for sub in self._sublayers() for v in sub._all_variables()]:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def _sublayers(self):
        """Layers whose weights this one owns: those held in attributes (wrappers say it themselves)."""
        return self._tracked_layers()

    def get_weights(self):
        """List of ndarrays (copies), in ``weights`` order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Set weights from a list of arrays in ``weights`` order."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Layer {self.name!r} expects {len(own)} weight arrays, got {len(weights)}")
        for var, w in zip(own, weights):
            var.assign(w)

    def count_params(self):
        return int(sum(v.size for v in self.weights))

    # -------------------------------------------------------------------- build
    def build(self, input_shape):
        """Create weights for inputs of ``input_shape`` (batch dimension included, as None)."""
        self.built = True

    def _build_once(self, input_shape):
        if not self.built:
            self.input_shape = input_shape
            self.build(input_shape)
            self.built = True

    def compute_output_shape(self, input_shape, **tensor_shapes):
        """Output shape for ``input_shape`` (batch dimension included).

        ``tensor_shapes``: the shapes of tensors passed to ``call`` by keyword (or as
        extra positional arguments of a traced layer), by argument name.
        Default: unchanged for a hand-written layer; for a traced one, what
        one eager run of ``call`` on zeros gives.
        """
        if self._traced:
            return _tracing.infer_output_shape(self, input_shape, tensor_shapes)
        return input_shape

    @property
    def capabilities(self):
        """Names from ``layers._capabilities`` this layer supports (fusion with its neighbours)."""
        return frozenset()

    def compute_mask(self, inputs, mask=None):
        """Output mask: the input mask if the layer supports masking, else None."""
        return mask if self.supports_masking else None

    # ----------------------------------------------------------- forward/backward
    def call(self, inputs, training=False):
        """Forward pass.

        A traced layer (Keras' protocol, no ``backward``) returns its outputs,
        computed with ``ranvier.ops`` on the inputs and its weights. A
        hand-written layer returns ``(outputs, cache)``; ``cache`` is what its
        ``backward`` needs.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def add_loss(self, loss):
        """Add a scalar ``loss`` computed in ``call`` (e.g. an activity penalty) to the model's loss."""
        if _tracing.STATE.losses is not None:
            _tracing.STATE.losses.append(loss)
        else:
            self._eager_losses.append(float(_tracing.value_of(loss)))

    @property
    def losses(self):
        """Losses ``add_loss`` received in eager calls since the last ``clear_losses`` (floats)."""
        return list(self._eager_losses)

    def clear_losses(self):
        self._eager_losses.clear()

    def backward(self, dy, cache, need_input_grad=True):
        """Backward pass: write weight gradients, return the input gradient (or None)."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dy, cache)")

    def _check_input_shape(self, shape):
        """Compare a concrete input shape with the one the layer was built for."""
        expected = self.input_shape
        if expected is None or isinstance(expected, list):
            return
        if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected[1:], shape[1:])):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects input of shape {expected}, got shape {tuple(shape)}"
            )

    def __call__(self, *args, **kwargs):
        """Apply the layer: symbolically on a KerasTensor (functional API), eagerly on arrays.

        The first argument (``inputs``, or by the name ``call`` gives it) is one
        tensor, a list of them, or (for a traced layer, as in Keras) a nested
        structure of them such as a dict keyed by feature name.
        """
        if args:
            inputs, args = args[0], args[1:]
        else:
            inputs = self._inputs_by_name(kwargs)
        if args and self._traced:
            kwargs = self._positional_as_keywords(args, kwargs)
            args = ()
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        flat, pack = split_inputs(inputs)
        if any(isinstance(t, KerasTensor) for t in flat):
            return call_symbolic(self, inputs, *args, **kwargs)
        check_structure_allowed(self, inputs)
        # Under a tape, arrays too: a layer called on a constant (``pos_emb(ops.arange(n))`` in a
        # traced call) must still record its weights, or they silently never train.
        if any(type(t) is Tensor for t in flat) or _tracing.taping():
            return self._call_traced_inputs(flat, pack, args, kwargs)
        training = self._resolve_training(kwargs.pop("training", None))
        arrays = [_as_input_array(a, self._input_dtype or self.dtype, self.name) for a in flat]
        self._build_once(pack([(None,) + a.shape[1:] for a in arrays]))
        if len(arrays) == 1 and not isinstance(inputs, (list, tuple, dict)):
            self._check_input_shape(arrays[0].shape)
        arrays = pack(arrays)
        with compute_scope():
            if self._traced:
                if args:
                    raise TypeError(
                        f"Layer {self.name!r}: pass extra arguments to a traced layer by keyword, "
                        f"got {len(args)} positional"
                    )
                return _tracing.run_call_within(self, arrays, training, kwargs)
            outputs, _ = self.call(arrays, *args, training=training, **kwargs)
        return outputs

    def _inputs_by_name(self, kwargs):
        """The first argument passed by keyword (``layer(logits=x)`` for ``call(self, logits)``), popped."""
        params = call_parameters(self)
        name = params[0].name if params else "inputs"
        if name not in kwargs:
            raise TypeError(f"Layer {self.name!r}: missing the first argument of call(), {name!r}")
        return kwargs.pop(name)

    def _positional_as_keywords(self, args, kwargs):
        """``kwargs`` with extra positional arguments named by ``call``'s signature.

        Keras' endpoint pattern calls ``layer(logits, targets)`` on a ``call(self, logits,
        targets=None)``: the functional graph and the tape take extra tensors by name.
        """
        names = [p.name for p in call_parameters(self)[1:] if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(args) > len(names):
            raise TypeError(
                f"Layer {self.name!r}: call() takes {len(names) + 1} positional arguments after self, "
                f"got {len(args) + 1}"
            )
        named = dict(zip(names, args))
        twice = sorted(set(named) & set(kwargs))
        if twice:
            raise TypeError(f"Layer {self.name!r}: call() got multiple values for {twice}")
        return {**named, **kwargs}

    def _call_traced_inputs(self, flat, pack, args, kwargs):
        """Inside traced code (Tensor inputs, or any input under a tape): record a hand-written layer as
        one node, or let a traced one record its ops."""
        if args:
            raise TypeError(
                f"Layer {self.name!r}: pass extra arguments by keyword in traced code, got {len(args)} positional"
            )
        training = self._resolve_training(kwargs.pop("training", None))
        if not all(type(t) is Tensor for t in flat):
            dtype = self._input_dtype or self.dtype
            flat = [t if type(t) is Tensor else _as_input_array(t, dtype, self.name) for t in flat]
        self._build_once(pack([(None,) + tuple(t.shape[1:]) for t in flat]))
        if self._traced:
            return _tracing.run_call_within(self, pack(flat), training, kwargs)
        return _tracing.call_hand_written(self, pack(flat), training, kwargs)

    def _resolve_training(self, training):
        """Keras 3's rule: the call's ``training``, else the enclosing call's, else ``call``'s default."""
        if training is None:
            training = _tracing.STATE.training
        return self._default_training if training is None else training

    # ------------------------------------------------------------------ config
    def get_config(self):
        """JSON-able constructor arguments: ``type(layer)(**layer.get_config())`` rebuilds it."""
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _as_input_array(x, dtype, name):
    """An eager layer input as a C-contiguous array of the layer's dtype."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Layer {name!r}: inputs must be numeric, got dtype {arr.dtype}")
    if np.dtype(dtype).kind == "f":
        return as_finite(arr, dtype, f"Layer {name!r}: input")
    check_finite(arr, np.float64, f"Layer {name!r}: input")
    return np.ascontiguousarray(arr, dtype=dtype)
