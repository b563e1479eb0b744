"""Model: construction, compile and summary of a graph of layers (Keras functional API).

What runs the graph lives beside it: ``_executor`` (the plan of steps, forward
and backward), ``_fusion`` (fused steps from the capabilities layers declare)
and ``training`` (fit / evaluate / predict, mixed in as ``Trainer``).
"""

import inspect
import json
import warnings

import numpy as np

from .. import losses, optimizers, saving, serialization, tree
from .. import metrics as metrics_module
from ..layers import _tracing
from ..layers._buffers import ScratchPool
from ..layers._symbolic import KerasTensor, topological_nodes
from ..layers.base import Layer, Trackable, _unique_name, normalize_shape
from ..layers.core import InputLayer
from ..serialization import snake_case
from ..variables import _check_range
from . import _pickling
from ._executor import Executor
from ._functional_config import functional_config, functional_from_config
from ._nested import NestedModel
from ._structure import Structure, output_names
from ._subgraph import cut_at_inputs
from .training import Trainer

__all__ = ["Model"]


class Model(Trainer, Trackable):
    """A model from symbolic inputs to outputs (Keras functional API).

    Parameters
    ----------
    inputs : KerasTensor or list of KerasTensor
        From ``ranvier.layers.Input``.
    outputs : KerasTensor or list of KerasTensor
    name : str, optional

    Examples
    --------
    >>> import ranvier as rv
    >>> x = rv.layers.Input((4,))
    >>> y = rv.layers.Dense(3, activation="softmax")(rv.layers.Dense(8, activation="relu")(x))
    >>> model = rv.Model(x, y)

    Subclassing, as in Keras: ``__init__`` creates layers (kept in
    attributes), ``call(inputs, training=False)`` composes them; the model is
    built on the first data it sees (or ``build(input_shape)``) and trained
    by tracing ``call`` (``layers._tracing``).
    """

    #: Whether the class composes its layers in its own ``call`` (set per class).
    _subclassed = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._subclassed = cls.call is not Model.call

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        if not self._subclassed and type(self) is Model and (inputs is None or outputs is None):
            raise ValueError(
                "Model(inputs, outputs): both are required (KerasTensors from "
                f"rv.layers.Input and layer calls), got inputs={inputs!r}, outputs={outputs!r}"
            )
        # Keras 3's default names, unique per process: "functional", "functional_1" for
        # Model(inputs, outputs), the snake-cased class name for a subclass ("sequential", "vae").
        self.name = name or _unique_name("functional" if type(self) is Model else snake_case(type(self).__name__))
        self.trainable = trainable
        self.compiled = False
        self.stop_training = False
        self.optimizer = None
        self.loss = None
        self.history = None
        self._executor = None
        self._flat_params = None
        self._scratch = ScratchPool()  # the layers' work arrays of a training step
        self._call_penalty = 0.0  # activity penalties of the last call under a tape (compute_loss)
        self._as_layer = None  # the NestedModel standing for this model in other graphs
        self._build_config = None  # a subclassed model's build arguments (get_build_config)
        if inputs is not None:
            self._set_graph(inputs, outputs)

    # ------------------------------------------------------------------ graph
    def _set_graph(self, inputs, outputs):
        if all(isinstance(t, KerasTensor) for t in tree.flatten((inputs, outputs))):
            inputs, outputs = cut_at_inputs(inputs, outputs)
        in_form, out_form = _form(inputs), _form(outputs)
        ins = _as_list(inputs)
        outs = _as_list(outputs)
        for t in ins + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be KerasTensors, got {type(t).__name__}")
        for t in ins:
            if t.node is not None:
                raise ValueError("Model inputs must come from rv.layers.Input, got a layer output")
        self._inputs, self._outputs = ins, outs
        in_names = list(inputs) if in_form == "dict" else [t.input_layer.name for t in ins]
        self._input_structure = Structure(in_names, in_form, "input")
        self._output_structure = Structure(
            list(outputs) if out_form == "dict" else output_names(outs), out_form, "output"
        )
        self._nodes = topological_nodes(ins, outs)
        self._layers, seen = [], set()
        for node in self._nodes:  # a shared layer once, at its first call (a set: deep graphs)
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                self._layers.append(node.layer)
        self._executor = Executor(ins, outs, self._nodes)
        self._flat_params = None

    @property
    def layers(self):
        """The model's layers; a functional model's start with its ``InputLayer``s, as in Keras 3."""
        if self._subclassed:
            return self._tracked_layers()
        self._ensure_graph()
        return [t.input_layer for t in self._inputs] + list(self._layers)

    def call(self, inputs, training=False):
        """The outputs for ``inputs`` (a functional model runs its graph; subclasses compose layers here)."""
        xs, _, _ = self._prepare(inputs)
        return self._output_structure.pack(self._forward(xs, training=training)[0])

    def build(self, input_shape, input_dtype=None):
        """Build a subclassed model for inputs of ``input_shape`` (batch dimension included).

        ``input_shape`` is one shape or, for a ``call`` taking several inputs
        (Keras' nested inputs), a list or dict of shapes; ``input_dtype`` one
        dtype for all or the same structure of dtypes. Runs ``call`` once on
        zeros, which builds every layer it uses. A functional model is built
        already: nothing happens.
        """
        if not self._subclassed:
            self._ensure_graph()
            return
        dtypes = iter(tree.flatten(input_dtype) if tree.is_nested(input_dtype) else [])
        single = not tree.is_nested(tree.map_shape_structure(lambda s: None, input_shape))  # one shape

        def make_input(shape):
            shape = normalize_shape(shape, "input_shape")
            name = f"{self.name}_input" if single else None
            dtype = next(dtypes, input_dtype) if tree.is_nested(input_dtype) else input_dtype
            return InputLayer(batch_shape=(None,) + shape[1:], dtype=dtype, name=name).output

        inputs = tree.map_shape_structure(make_input, input_shape)
        out = _SubclassCall(self)(inputs)
        self._set_graph(inputs, out)
        self._build_config = {
            "input_shape": tree.map_structure(lambda t: list(t.shape), inputs),
            "input_dtype": tree.map_structure(lambda t: t.input_layer.input_dtype, inputs),
        }
        if self.compiled:
            self._setup_training()

    def _build_from_data(self, x):
        if self._executor is None and self._subclassed:
            nested = isinstance(x, dict) or isinstance(x, (list, tuple)) and all(hasattr(a, "shape") for a in x)
            arrays = tree.map_structure(np.asarray, x) if nested else np.asarray(x)
            for arr in tree.flatten(arrays):
                if arr.dtype.kind not in "biuf" or arr.ndim < 1:
                    raise TypeError(
                        f"x must be a numeric array with a batch dimension, got dtype {arr.dtype} and shape {arr.shape}"
                    )
            self.build(
                tree.map_structure(lambda a: a.shape, arrays) if nested else arrays.shape,
                input_dtype=tree.map_structure(_data_dtype, arrays),
            )
        self._ensure_graph()

    def _ensure_graph(self, x=None):
        if self._executor is None and self._subclassed:
            raise ValueError(
                f"Model {self.name!r} is not built yet: call it on data, fit it, or call build(input_shape) first"
            )
        if self._executor is None:
            raise ValueError(f"Model {self.name!r} has no inputs yet: call build(input_shape) or fit it")

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input(self):
        """The input tensor(s) in the form the model was built with (one, a list or a dict), as Keras."""
        self._ensure_graph()
        return self._input_structure.pack(self._inputs)

    @property
    def output(self):
        """The output tensor(s) in the form the model was built with, as Keras."""
        self._ensure_graph()
        return self._output_structure.pack(self._outputs)

    @property
    def input_names(self):
        return list(self._input_structure.names)

    @property
    def output_names(self):
        """Keras 3's names of the outputs (the layers computing them): keys of dict targets and of the logs."""
        return list(self._output_structure.names)

    @property
    def input_shape(self):
        return self._inputs[0].shape

    @property
    def output_shape(self):
        return self._outputs[0].shape

    @property
    def built(self):
        return self._executor is not None

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at ``index``)."""
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}; layers are {[layer.name for layer in layers]}")

    # ---------------------------------------------------------------- weights
    @property
    def weights(self):
        return self._collect(lambda layer: layer.weights)

    @property
    def trainable_weights(self):
        return self._collect(lambda layer: layer.trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return self._collect(lambda layer: layer.non_trainable_weights)

    def _graphless(self):
        """A Model subclass with neither a graph nor a ``call`` (only a ``train_step``: Keras' GAN example)."""
        return self._executor is None and not self._subclassed

    def _all_variables(self):
        """Every variable, as a layer holding this model in an attribute collects them."""
        return self.weights if self._executor is not None or self._subclassed else []

    def _collect(self, fn):
        seen, out = set(), []
        for layer in self.layers:
            for v in fn(layer):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def get_weights(self):
        """Copies of every weight, layer by layer (Keras order)."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Set every weight from a list in ``get_weights`` order, all or none.

        Every array is checked (shape, and finite once cast to the weight's dtype:
        a float64 1e39 is inf in float32) before any weight is written, so a bad
        array leaves the model as it was.
        """
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"set_weights: the model has {len(own)} weight arrays, got {len(weights)}")
        values = [_weight_value(var, w) for var, w in zip(own, weights)]
        for var, value in zip(own, values):
            var.assign(value)

    def count_params(self):
        return int(sum(v.size for v in self.weights))

    # ---------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ):
        """Configure training.

        Parameters
        ----------
        optimizer : str or Optimizer, default "rmsprop"
        loss : str or Loss
            E.g. ``"sparse_categorical_crossentropy"``, ``"mse"``.
        metrics : list of str or Metric, optional
            E.g. ``["accuracy"]``.
        run_eagerly, auto_scale_loss : bool
            Accepted for Keras scripts: ranvier always runs its compiled kernels
            eagerly, and float32 training needs no loss scaling.
        steps_per_execution : int, default 1
            Only 1 (one Python step per batch) is supported.
        jit_compile : {"auto", True, False}
            Accepted; ``model.jit_compile`` is always False. Keras 3 turns it
            off where the backend cannot compile; ranvier's kernels are
            compiled ahead of time, so ``True`` warns (``UserWarning``) that it
            has no effect.
        """
        if steps_per_execution not in (1, None):
            raise NotImplementedError(
                "compile: steps_per_execution other than 1 is not supported, "
                f"got steps_per_execution={steps_per_execution!r}"
            )
        if jit_compile not in ("auto", True, False, None):
            raise ValueError(f"compile: jit_compile must be True, False or 'auto', got jit_compile={jit_compile!r}")
        if jit_compile is True:
            warnings.warn(
                "compile: ranvier's kernels are compiled ahead of time; jit_compile has no effect", stacklevel=2
            )
        self.jit_compile = False
        if weighted_metrics:
            raise NotImplementedError(f"compile: weighted_metrics is not supported yet, got {weighted_metrics!r}")
        self.optimizer = optimizers.get(optimizer)
        # One loss, a list or a dict (per output): resolved now so unknown names fail here; matched
        # to the outputs once the model is built (_setup_training).
        # None: only what layers add (add_loss, Keras' endpoint layers) is minimised.
        self.loss = None if loss is None else tree.map_structure(losses.get, loss)
        self._loss_weights = loss_weights
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            metrics = [metrics]
        self._metric_ids = metrics if isinstance(metrics, dict) else list(metrics or [])
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": None if loss is None else tree.map_structure(losses.serialize, self.loss),
            "loss_weights": loss_weights,
            "metrics": tree.map_structure(
                lambda m: m if isinstance(m, str) else metrics_module.serialize(m), self._metric_ids
            ),
        }
        self._flat_params = None
        if self._executor is not None:
            try:
                self._setup_training()
            except Exception:
                self.compiled = False  # a refused compile leaves the model as it was: not compiled
                raise

    def __call__(self, x, training=None):
        """The model's output for the array ``x`` (``training=True`` runs dropout etc.).

        ``training`` unset: the enclosing layer call's flag, else each layer's
        own default (False, but True for the Random* augmentation layers), as
        in Keras 3.

        Under an active ``rv.GradientTape`` (a custom ``train_step``) the call
        is recorded as one node whose backward runs the model's own backward
        pass, writing the weight gradients; ``x`` gets its gradient when it is
        a traced Tensor (another model's output: ``decoder(encoder(x))``).
        """
        if any(isinstance(t, KerasTensor) for t in tree.flatten(x)):
            # Nested in another model: one layer stands for this model, the same one each call (shared weights).
            if self._as_layer is None:
                self._as_layer = NestedModel(self)
            if isinstance(x, dict) and self._input_structure.form == "dict":
                # The layer takes the inputs in position order; the dict names them.
                x = self._input_structure.flatten(x, "x")
                x = x if len(x) > 1 else x[0]
            out = self._as_layer(x)
            return self._output_structure.pack(out if isinstance(out, list) else [out])
        xs, _, _ = self._prepare(tree.map_structure(_tracing.value_of, x))
        if training is None:
            training = _tracing.STATE.training
        if not _tracing.taping():
            return self._output_structure.pack(self._forward(xs, training=training)[0])
        sources = self._input_structure.flatten(x, "x")
        return self._output_structure.pack(_tracing.record_model_call(self, xs, training, sources))

    def _plan_for_tape(self, input_grads):
        """The executor a taped call runs: the model's own, or (for traced inputs) one that
        also computes the inputs' gradients, the plan this model has as a nested layer."""
        if not input_grads:
            return self._executor
        if self._as_layer is None:
            self._as_layer = NestedModel(self)
        return self._as_layer._plan

    # ---------------------------------------------------------------- summary
    def summary(self, line_length=80, print_fn=None):
        """Print a table of layers, output shapes and parameter counts."""
        print_fn = print_fn or print
        self._ensure_graph()
        widths = (int(line_length * 0.45), int(line_length * 0.35), line_length - int(line_length * 0.8))

        def row(cols):
            return "".join(str(c)[: w - 1].ljust(w) for c, w in zip(cols, widths))

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        print_fn(row(["Layer (type)", "Output Shape", "Param #"]))
        print_fn("=" * line_length)
        for layer in self.layers:
            if isinstance(layer, InputLayer):  # Keras 3 lists a functional model's inputs first
                print_fn(row([f"{layer.name} (InputLayer)", layer.output.shape, 0]))
        for node in self._nodes:
            shape = [t.shape for t in node.outputs] if node.multi_output else node.outputs[0].shape
            print_fn(row([f"{node.layer.name} ({type(node.layer).__name__})", shape, node.layer.count_params()]))
        print_fn("=" * line_length)
        trainable = sum(v.size for v in self.trainable_weights)
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * line_length)

    # ----------------------------------------------------------------- saving
    def save(self, filepath, overwrite=True):
        """Write the model (architecture, weights, compile settings, optimizer state) to one zip file."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights only (``.npz``)."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def get_config(self):
        """JSON-able config: the graph of a functional model; for a subclassed one, its constructor's
        keyword arguments when they are plain values (override it otherwise, as in Keras)."""
        if not self._subclassed:
            return functional_config(self)
        args, kwargs = self._init_arguments
        config = {"name": self.name, "trainable": self.trainable} if self._init_takes("name") else {}
        config.update(kwargs)
        if args or not _plain(config):
            raise NotImplementedError(
                f"{type(self).__name__}.get_config: the constructor got arguments that are "
                f"not plain keyword values; override get_config, got args={args!r}, "
                f"kwargs={kwargs!r}"
            )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if not cls._subclassed:
            return functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def __new__(cls, *args, **kwargs):
        model = super().__new__(cls)
        # Keras' automatic config of subclassed models: the constructor's arguments.
        object.__setattr__(model, "_init_arguments", (args, kwargs))
        return model

    @classmethod
    def _init_takes(cls, name):
        parameters = inspect.signature(cls.__init__).parameters.values()
        return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (``models.model_from_json`` rebuilds it)."""
        return json.dumps(
            {
                "class_name": serialization.get_registered_name(type(self)),
                "config": self.get_config(),
                "build_config": self.get_build_config(),
            },
            **kwargs,
        )

    def get_build_config(self):
        """What ``build_from_config`` needs to build a loaded model before its weights are set (Keras 3)."""
        if not self.built:
            return None
        if getattr(self, "_build_config", None) is not None:
            return self._build_config
        return {"input_shape": list(self._inputs[0].shape), "input_dtype": self._inputs[0].dtype}

    def build_from_config(self, config):
        if config and not self.built and self._subclassed:
            self.build(config["input_shape"], input_dtype=config.get("input_dtype"))

    def __getstate__(self):
        # The saved-model bytes and the custom classes they name (models/_pickling.py says how
        # unpickling finds those: custom_object_scope, the registry, or the class's module).
        return _pickling.model_state(self)

    def __setstate__(self, state):
        other = _pickling.model_from_state(state)
        self.__class__ = other.__class__
        self.__dict__.update(other.__dict__)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


class _SubclassCall(Layer):
    """A subclassed model's ``call`` as the one traced layer of its graph."""

    def __init__(self, model):
        super().__init__(name=f"{model.name}_call")
        object.__setattr__(self, "model", model)  # not tracked: the model is no layer of itself

    def _sublayers(self):
        return self.model._tracked_layers()

    def call(self, inputs, training=False):
        return self.model.call(inputs, **_tracing.call_arguments(self.model, training, {}))


def _weight_value(var, weight):
    """``weight`` as ``var``'s dtype, checked as ``var.assign`` checks it, before anything is written."""
    arr = np.asarray(weight)
    if arr.shape != var.shape:
        raise ValueError(f"set_weights: {var.name} has shape {var.shape}, got {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"set_weights: {var.name} holds numbers, got an array of dtype {arr.dtype}")
    _check_range(var, arr)  # NaN, inf or beyond the variable's dtype, named with the first bad value
    return arr.astype(var.dtype, copy=False)


def _data_dtype(arr):
    """The model input dtype for data ``arr``: int64 for integers (token ids), else the float default (None)."""
    return "int64" if arr.dtype.kind in "biu" else None


def _plain(value):
    """Whether ``value`` is JSON-able as it is (a subclassed model's automatic config)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _form(value):
    # A one-entry list reads as a single tensor: predict returns an array, as ranvier always did.
    if isinstance(value, dict):
        return "dict"
    return "list" if isinstance(value, (list, tuple)) and len(value) > 1 else "single"


def _as_list(value):
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]
