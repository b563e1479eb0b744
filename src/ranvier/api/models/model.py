"""Model: construction, compile and summary of a graph of layers (Keras functional API).

What runs the graph lives beside it: ``_executor`` (the plan of steps, forward
and backward), ``_fusion`` (fused steps from the capabilities layers declare)
and ``training`` (fit / evaluate / predict, mixed in as ``Trainer``).
"""
import numpy as np

from .. import losses, optimizers, saving
from .. import metrics as metrics_module
from ..layers._buffers import ScratchPool
from ..layers._symbolic import KerasTensor, topological_nodes
from ._executor import Executor
from ._functional_config import functional_config, functional_from_config
from .training import Trainer

__all__ = ["Model"]


class Model(Trainer):
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
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        if type(self) is Model and (inputs is None or outputs is None):
            raise ValueError("Model(inputs, outputs): both are required (KerasTensors from "
                             f"rv.layers.Input and layer calls), got inputs={inputs!r}, outputs={outputs!r}")
        self.name = name or "model"
        self.trainable = trainable
        self.compiled = False
        self.stop_training = False
        self.optimizer = None
        self.loss = None
        self.history = None
        self._executor = None
        self._flat_params = None
        self._scratch = ScratchPool()  # the layers' work arrays of a training step
        if inputs is not None:
            self._set_graph(inputs, outputs)

    # ------------------------------------------------------------------ graph
    def _set_graph(self, inputs, outputs):
        ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for t in ins + outs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be KerasTensors, got {type(t).__name__}")
        for t in ins:
            if t.node is not None:
                raise ValueError("Model inputs must come from rv.layers.Input, got a layer output")
        self._inputs, self._outputs = ins, outs
        self._nodes = topological_nodes(ins, outs)
        self._layers = []
        for node in self._nodes:
            if all(node.layer is not l for l in self._layers):
                self._layers.append(node.layer)
        self._executor = Executor(ins, outs, self._nodes)
        self._flat_params = None

    @property
    def layers(self):
        self._ensure_graph()
        return list(self._layers)

    def _ensure_graph(self, x=None):
        if self._executor is None:
            raise ValueError(f"Model {self.name!r} has no inputs yet: call build(input_shape) or fit it")

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

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
        raise ValueError(f"No layer named {name!r}; layers are {[l.name for l in layers]}")

    # ---------------------------------------------------------------- weights
    @property
    def weights(self):
        return self._collect(lambda l: l.weights)

    @property
    def trainable_weights(self):
        return self._collect(lambda l: l.trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return self._collect(lambda l: l.non_trainable_weights)

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
        """Set every weight from a list in ``get_weights`` order (shapes are checked first)."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"set_weights: the model has {len(own)} weight arrays, got {len(weights)}")
        arrays = [np.asarray(w) for w in weights]
        for var, w in zip(own, arrays):
            if w.shape != var.shape:
                raise ValueError(f"set_weights: {var.name} has shape {var.shape}, got {w.shape}")
        for var, w in zip(own, arrays):
            var.assign(w)

    def count_params(self):
        return int(sum(v.size for v in self.weights))

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
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
        jit_compile : {"auto", False}
            ranvier has no graph compiler; ``True`` raises ``NotImplementedError``.
        """
        if steps_per_execution not in (1, None):
            raise NotImplementedError("compile: steps_per_execution other than 1 is not supported, "
                                      f"got steps_per_execution={steps_per_execution!r}")
        if jit_compile not in ("auto", False, None):
            raise NotImplementedError(f"compile: ranvier has no JIT compiler, got jit_compile={jit_compile!r}")
        if loss is None:
            raise ValueError("compile: loss is required, e.g. loss='sparse_categorical_crossentropy', got None")
        if loss_weights is not None or weighted_metrics:
            raise ValueError("compile: loss_weights and weighted_metrics are not supported (single-output "
                             f"models), got loss_weights={loss_weights!r}, weighted_metrics={weighted_metrics!r}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics) and not isinstance(metrics, list):
            metrics = [metrics]
        self._metric_ids = list(metrics or [])
        self.compiled = True
        self._compile_config = {"optimizer": optimizers.serialize(self.optimizer),
                                "loss": losses.serialize(self.loss),
                                "metrics": [m if isinstance(m, str) else metrics_module.serialize(m)
                                            for m in self._metric_ids]}
        if self._executor is not None:
            self._setup_training()

    def __call__(self, x, training=False):
        """The model's output for the array ``x`` (``training=True`` runs dropout etc.)."""
        if isinstance(x, KerasTensor):
            raise NotImplementedError("Calling a model on symbolic tensors (nesting models) is not supported")
        x, _, _ = self._prepare(x)
        return self._forward(x, training=training)[0]

    # ---------------------------------------------------------------- summary
    def summary(self, line_length=80, print_fn=None):
        """Print a table of layers, output shapes and parameter counts."""
        print_fn = print_fn or print
        self._ensure_graph()
        widths = (int(line_length * 0.45), int(line_length * 0.35), line_length - int(line_length * 0.8))
        row = lambda cols: "".join(str(c)[:w - 1].ljust(w) for c, w in zip(cols, widths))
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        print_fn(row(["Layer (type)", "Output Shape", "Param #"]))
        print_fn("=" * line_length)
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
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return functional_from_config(cls, config, custom_objects)

    def __getstate__(self):
        return {"ranvier_model_bytes": saving.to_bytes(self)}

    def __setstate__(self, state):
        other = saving.from_bytes(state["ranvier_model_bytes"])
        self.__class__ = other.__class__
        self.__dict__.update(other.__dict__)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"

