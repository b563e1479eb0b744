"""Model: a graph of layers with Keras' compile / fit / evaluate / predict."""
import warnings

import numpy as np

from .. import callbacks as callbacks_module
from .. import activations, config, data, losses, metrics as metrics_module, optimizers
from .._threading import compute_scope
from ..layers._buffers import ScratchPool, aligned_empty, aligned_zeros
from ..layers.base import Layer
from ._graph import KerasTensor, topological_nodes

__all__ = ["Model"]

# predict() batches at or below this many samples skip the BLAS thread scope (latency).
_SMALL_PREDICT = 64


class Model:
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
        self._graph = None
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
        self._plan = _execution_plan(self._nodes, ins)
        self._input_id, self._output_id = id(ins[0]), id(outs[0])
        self._relu_pools, self._conv_pools = _fusions(self._plan, self._output_id)
        self._layers = []
        for node in self._nodes:
            if all(node.layer is not l for l in self._layers):
                self._layers.append(node.layer)
        self._graph = True
        self._flat_params = None

    @property
    def layers(self):
        self._ensure_graph()
        return list(self._layers)

    def _ensure_graph(self, x=None):
        if self._graph is None:
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
        return self._graph is not None

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

    def _flatten_params(self):
        """Lay trainable weights out in one flat buffer: decayed kernels first, then 1-D weights."""
        train = self.trainable_weights
        order = [v for v in train if v.decay] + [v for v in train if not v.decay]
        dtype = np.result_type(*[v.dtype for v in order]) if order else np.dtype(config.floatx())
        total = sum(v.size for v in order)
        params = aligned_empty(total, dtype)
        grads = aligned_zeros(total, dtype)
        slices, start = [], 0
        for v in order:
            stop = start + v.size
            params[start:stop] = v.value.reshape(-1)
            v.value = params[start:stop].reshape(v.shape)
            v.grad = grads[start:stop].reshape(v.shape)
            slices.append((start, stop))
            start = stop
        self._flat_params, self._flat_grads = params, grads
        self._flat_vars = order
        self._flat_slices = slices
        self._n_decay = sum(v.size for v in order if v.decay)
        self._regularized = [v for v in self.weights if v.regularizer is not None]
        self._constrained = [v for v in self.weights if v.constraint is not None]

    # ----------------------------------------------------------- forward/back
    def _forward(self, x, training):
        """Run the graph. Returns (output, caches, activity penalty)."""
        values = {self._input_id: x}
        masks = {}
        caches = []
        penalty = 0.0
        pooled = {}  # plan index of a pool -> its cache, computed with the conv below it
        for index, (node, in_ids, out_ids, _) in enumerate(self._plan):
            if index in pooled:
                caches.append((pooled.pop(index), _POOLED_BELOW))
                continue
            layer = node.layer
            if node.multi_input or node.static_kwargs or node.tensor_kwargs:
                inputs, kwargs = node.rebuild([values[i] for i in in_ids])
            else:
                inputs, kwargs = values[in_ids[0]], {}
            # Masks exist only downstream of a layer that makes one: most graphs skip the lookups.
            if masks:
                in_masks = [masks.get(i) for i in in_ids[:node.n_main]]
                has_mask = any(m is not None for m in in_masks)
            else:
                in_masks, has_mask = [None] * node.n_main, False
            mask = in_masks if node.multi_input else in_masks[0]
            if node.accepts_mask and has_mask:
                kwargs["mask"] = mask
            pool = self._conv_pools.get(index)
            if pool is not None and not masks:
                # Conv, ReLU and 2x2 max pooling in one kernel: the conv output is never stored.
                out, cache, pooled[pool] = layer.call_relu_maxpool(inputs, self._plan[pool][0].layer,
                                                                   training=training)
                values[self._plan[pool][2][0]] = out
                caches.append((cache, _POOLED))
                continue
            out, cache = layer.call(inputs, training=training, **kwargs)
            outs = out if node.multi_output else [out]
            reg = layer.activity_regularizer
            if reg is not None:
                penalty += sum(reg.penalty(o) for o in outs) / max(1, outs[0].shape[0])
            out_mask = layer.compute_mask(inputs, mask) if has_mask \
                or getattr(layer, "_produces_mask", False) else None
            if out_mask is None:
                for t, v in zip(out_ids, outs):
                    values[t] = v
            else:
                for i, (t, v) in enumerate(zip(out_ids, outs)):
                    values[t] = v
                    m = out_mask[i] if isinstance(out_mask, (list, tuple)) else out_mask
                    if m is not None:
                        masks[t] = m
            # Outputs are kept only where backward needs them: activity penalties, unused outputs.
            caches.append((cache, outs if reg is not None or node.multi_output else None))
        return values[self._output_id], caches, penalty

    def _backward(self, dy, caches, fused):
        grads = {self._output_id: dy}
        preactivation = set()  # tensors whose gradient is w.r.t. their producer's pre-activation
        through_pool = {}  # conv output -> the cache of the pool it ran forward with
        last = len(self._plan) - 1
        for i in range(last, -1, -1):
            node, in_ids, out_ids, need = self._plan[i]
            if node.multi_output:
                dys = [grads.pop(t, None) for t in out_ids]
                if all(g is None for g in dys):
                    continue
            else:
                dys = [grads.pop(out_ids[0], None)]
                if dys[0] is None:
                    continue
            cache, outs = caches[i]
            reg = node.layer.activity_regularizer
            if reg is not None:
                for j, o in enumerate(outs):
                    dys[j] = _add_activity_gradient(reg, o, dys[j])
            need_any = need is not None
            if node.multi_output:
                dy_in = [np.zeros_like(o) if g is None else g for g, o in zip(dys, outs)]
            else:
                dy_in = dys[0]
            if outs is _POOLED_BELOW:
                # The conv below ran this pool forward: it takes the pooled gradient and runs both backward.
                through_pool[in_ids[0]] = cache
                grads[in_ids[0]] = dy_in
                continue
            if outs is _POOLED:
                dx = node.layer.backward_through_maxpool(dy_in, cache, through_pool.pop(out_ids[0]),
                                                         need_input_grad=need_any)
            elif i in self._relu_pools:
                # The gradient w.r.t. the ReLU producer's pre-activation, in the pool's one pass.
                dx = node.layer.backward_through_relu(dy_in, cache)
                preactivation.add(in_ids[0])
            elif fused and i == last or out_ids[0] in preactivation:
                dx = node.layer.backward_preactivation(dy_in, cache, need_input_grad=need_any)
            else:
                dx = node.layer.backward(dy_in, cache, need_input_grad=need_any)
            if not need_any:
                continue
            dxs = dx if len(in_ids) > 1 else [dx]
            for t, g, n in zip(in_ids, dxs, need):
                if g is None or not n:
                    continue
                prev = grads.get(t)
                grads[t] = g if prev is None else prev + g

    # ---------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, jit_compile=None, steps_per_execution=None,
                auto_scale_loss=None):
        """Configure training.

        Parameters
        ----------
        optimizer : str or Optimizer, default "rmsprop"
        loss : str or Loss
            E.g. ``"sparse_categorical_crossentropy"``, ``"mse"``.
        metrics : list of str or Metric, optional
            E.g. ``["accuracy"]``.
        """
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
        if self._graph is not None:
            self._setup_training()

    def _setup_training(self):
        if len(self._outputs) != 1 or len(self._inputs) != 1:
            raise ValueError("fit/evaluate support models with one input and one output, got "
                             f"{len(self._inputs)} inputs and {len(self._outputs)} outputs")
        self._flatten_params()
        self.optimizer.build(self._flat_params, self._n_decay, self._flat_slices)
        out_layer = self._outputs[0].node.layer if self._outputs[0].node is not None else None
        act = getattr(out_layer, "activation", None)
        self._fused = bool(out_layer is not None and out_layer._fusable_activation
                           and not self._outputs[0].node.multi_output
                           and self.loss.fused_activation is not None and act is not None
                           and act.name == self.loss.fused_activation)
        self._metrics = [metrics_module.get(m, loss_name=self.loss.name, output_shape=self.output_shape)
                         for m in self._metric_ids]
        self._loss_tracker = metrics_module.Mean(name="loss")

    def _prepare_for_state(self):
        """Build the flat buffers and optimizer slots now (before restoring optimizer state)."""
        self._ensure_graph()
        if self._flat_params is None:
            self._setup_training()

    @property
    def metrics(self):
        """The loss tracker and the compiled metrics (Keras: ``model.metrics``)."""
        if not self.compiled or self._flat_params is None:
            return []
        return [self._loss_tracker] + list(self._metrics)

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _check_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}() (model {self.name!r} is not compiled)")

    def _build_from_data(self, x):
        """Hook for models whose input shape comes from the first data they see (Sequential)."""
        self._ensure_graph()

    def _prepare(self, x, y=None, sample_weight=None, class_weight=None, arg_suffix=""):
        """Validate x (and y, weights) and return arrays ready for the kernels."""
        self._build_from_data(x)
        if self.compiled and self._flat_params is None:
            self._setup_training()
        inp = self._inputs[0]
        x = data.check_x(x, inp.shape, inp.dtype, arg="x" + arg_suffix)
        if y is None:
            return x, None, None
        yarr = np.asarray(y)
        if yarr.dtype.kind not in "biuf":
            raise TypeError(f"y{arg_suffix} must be numeric, got an array of dtype {yarr.dtype}")
        if len(yarr) != len(x):
            raise ValueError(f"x{arg_suffix} and y{arg_suffix} must have the same number of samples, "
                             f"got {len(x)} and {len(yarr)}")
        out_shape = (len(x),) + tuple(self.output_shape[1:])
        yp = self.loss.prepare_targets(yarr, out_shape, self._flat_params.dtype)
        sw = data.check_sample_weight(sample_weight, len(x), "sample_weight" + arg_suffix)
        if class_weight is not None:
            cw = data.class_weights_to_sample_weights(class_weight, yarr)
            sw = cw if sw is None else sw * cw
        return x, yp, sw

    # ------------------------------------------------------------------ train
    def _compute_gradients(self, x, y, sw):
        """Forward, loss, backward and weight penalties: fills the flat gradient buffer.

        The returned output lives in the step's scratch pool: valid until the next step.
        """
        self._scratch.recycle()  # the previous step's work arrays (and output) are free again
        with self._scratch.active():
            out, caches, penalty = self._forward(x, training=True)
            loss_value, dy = self.loss.value_and_grad(y, out, sw, wrt_preactivation=self._fused)
            for v in self._flat_vars:
                v._fresh = True
            self._backward(dy, caches, self._fused)
        for v in self._flat_vars:
            if v._fresh:  # no layer wrote it this step (e.g. an unused branch)
                v.grad[...] = 0
        for v in self._regularized:
            penalty += v.regularizer.penalty(v.value)
            if v.trainable and v.grad is not None:
                v.regularizer.add_gradient(v.value, v.grad)
        return loss_value + penalty, out

    def _train_step(self, x, y, sw):
        loss_value, out = self._compute_gradients(x, y, sw)
        self.optimizer.apply(self._flat_params, self._flat_grads)
        for v in self._constrained:
            v.constraint(v.value)
        return loss_value, out

    def _update_metrics(self, y, out, sw, loss_value, n):
        self._loss_tracker.update_state(loss_value, sample_weight=float(n))
        if self._metrics:
            y = self.loss.metric_targets(y)
        for m in self._metrics:
            m.update_state(y, out, sample_weight=sw)

    def _reset_metrics(self):
        self._loss_tracker.reset_state()
        for m in self._metrics:
            m.reset_state()

    def _logs(self, prefix=""):
        logs = {prefix + "loss": float(self._loss_tracker.result())}
        for m in self._metrics:
            logs[prefix + m.name] = float(m.result())
        return logs

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train the model for ``epochs`` passes over ``(x, y)``.

        Parameters
        ----------
        x : ndarray of shape (n_samples, ...)
        y : ndarray
            Targets: labels of shape (n_samples,) for sparse losses, else shaped like the output.
        batch_size : int, default 32
        epochs : int, default 1
        verbose : {"auto", 0, 1, 2}
            1 draws a progress bar in a terminal (one line per epoch in a log file), 2 one
            line per epoch, 0 nothing.
        validation_split : float in [0, 1)
            Fraction of the data (the last samples, before shuffling) held out for validation.
        validation_data : tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), optional
        shuffle : bool, default True
        class_weight : dict {class: weight}, optional
        sample_weight : ndarray of shape (n_samples,), optional
        callbacks : list of Callback, optional

        Returns
        -------
        History
            ``history.history["loss"]``, ``["val_loss"]``, ``["accuracy"]``...
        """
        self._check_compiled("fit")
        if y is None:
            raise ValueError("fit: y is required (targets), got None")
        batch_size = _check_batch_size(batch_size)
        epochs = _check_positive_int(epochs, "epochs", allow_zero=True)
        if validation_data is not None and validation_split:
            raise ValueError("fit: give validation_data or validation_split, not both")
        x, y_arr, sw = self._prepare(x, y, sample_weight, class_weight)
        if validation_split:
            (x, y_arr, sw), val = data.split_validation([x, y_arr, sw], validation_split)
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                                 f"(x_val, y_val, sample_weight_val), got {type(validation_data).__name__}")
            val = list(self._prepare(*validation_data[:2],
                                     sample_weight=validation_data[2] if len(validation_data) == 3 else None,
                                     arg_suffix="_val"))
        else:
            val = None
        n = len(x)
        if n == 0:
            raise ValueError("fit: x has no samples")
        verbose = _resolve_verbose(verbose)
        steps = (n + batch_size - 1) // batch_size
        self.history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(list(callbacks or []) + [self.history], add_progbar=verbose != 0,
                                            model=self, verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        rng = config.make_rng(None)
        with compute_scope():
            if getattr(self.optimizer, "full_batch", False):
                self._fit_full_batch(x, y_arr, sw, val, epochs, cbs)
                return self.history
            cbs.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                cbs.on_epoch_begin(epoch)
                order = rng.permutation(n) if shuffle else None
                for step, (a, b) in enumerate(data.batch_slices(n, batch_size)):
                    cbs.on_train_batch_begin(step)
                    idx = order[a:b] if order is not None else slice(a, b)
                    xb, yb = x[idx], y_arr[idx]
                    swb = None if sw is None else sw[idx]
                    loss_value, out = self._train_step(xb, yb, swb)
                    self._update_metrics(yb, out, swb, loss_value, b - a)
                    cbs.on_train_batch_end(step, self._logs())
                    if self.stop_training:
                        break
                logs = self._logs()
                if val is not None and (epoch + 1) % validation_freq == 0:
                    logs.update(self._evaluate_arrays(*val, validation_batch_size or batch_size,
                                                      prefix="val_"))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end()
        return self.history

    def _fit_full_batch(self, x, y, sw, val, epochs, cbs):
        """Full-batch optimisers (L-BFGS, CG): one scipy minimisation over the flat parameters.

        Each scipy iteration is reported to the callbacks as one epoch; the
        iteration budget is the optimizer's ``max_iter``, not ``epochs``.
        """
        if epochs != 1:
            warnings.warn(f"fit: {type(self.optimizer).__name__} is a full-batch optimizer and runs up to "
                          f"max_iter={getattr(self.optimizer, 'max_iter', '?')} iterations; epochs={epochs} "
                          "is ignored", stacklevel=3)
        dtype = self._flat_params.dtype

        def fun(flat):
            self._flat_params[...] = flat.astype(dtype, copy=False)
            loss_value, _ = self._compute_gradients(x, y, sw)
            return float(loss_value), self._flat_grads.astype(np.float64)

        cbs.on_train_begin()
        iteration = [0]

        def callback(flat):
            logs = self._evaluate_arrays(x, y, sw, len(x))
            if val is not None:
                logs.update(self._evaluate_arrays(*val, len(val[0]), prefix="val_"))
            cbs.on_epoch_begin(iteration[0])
            cbs.on_epoch_end(iteration[0], logs)
            iteration[0] += 1
            return self.stop_training

        best = self.optimizer.minimize(fun, self._flat_params.astype(np.float64), callback=callback)
        self._flat_params[...] = np.asarray(best, dtype=dtype)
        for v in self._constrained:
            v.constraint(v.value)
        cbs.on_train_end()

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch. Returns the loss (and metrics) on that batch."""
        self._check_compiled("train_on_batch")
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        if getattr(self.optimizer, "full_batch", False):
            raise ValueError(f"train_on_batch: {type(self.optimizer).__name__} is a full-batch optimizer; use fit")
        self._reset_metrics()
        with compute_scope():
            loss_value, out = self._train_step(x, y, sw)
        self._update_metrics(y, out, sw, loss_value, len(x))
        return self._result(self._logs(), return_dict)

    # --------------------------------------------------------------- evaluate
    def _evaluate_arrays(self, x, y, sw, batch_size, prefix=""):
        self._reset_metrics()
        for a, b in data.batch_slices(len(x), batch_size):
            out, _, penalty = self._forward(x[a:b], training=False)
            swb = None if sw is None else sw[a:b]
            loss_value = self.loss.value(y[a:b], out, swb)
            loss_value += penalty + sum(v.regularizer.penalty(v.value) for v in self._regularized)
            self._update_metrics(y[a:b], out, swb, loss_value, b - a)
        return self._logs(prefix)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on ``(x, y)``: a float, or ``[loss, *metrics]`` in compile order."""
        self._check_compiled("evaluate")
        if y is None:
            raise ValueError("evaluate: y is required, got None")
        batch_size = _check_batch_size(batch_size)
        x, y, sw = self._prepare(x, y, sample_weight)
        with compute_scope():
            logs = self._evaluate_arrays(x, y, sw, batch_size)
        if _resolve_verbose(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=max(1, len(x)), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    def _result(self, logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # ---------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` (inference mode: dropout off, batch norm uses moving statistics).

        Unlike Keras, ``verbose`` defaults to 0: services call predict in a loop.
        """
        batch_size = _check_batch_size(batch_size)
        x, _, _ = self._prepare(x)
        n = len(x)
        if n <= batch_size:
            if n <= _SMALL_PREDICT:
                return self._forward(x, training=False)[0]
            with compute_scope():
                return self._forward(x, training=False)[0]
        with compute_scope():
            first = self._forward(x[:batch_size], training=False)[0]
            out = np.empty((n,) + first.shape[1:], first.dtype)
            out[:batch_size] = first
            for a, b in data.batch_slices(n, batch_size)[1:]:
                out[a:b] = self._forward(x[a:b], training=False)[0]
        return out

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(1, len(x)))

    def __call__(self, x, training=False):
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
        from .. import saving

        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights only (``.npz``)."""
        from .. import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        from .. import saving

        saving.load_weights(self, filepath)

    def get_config(self):
        from ..saving import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import functional_from_config

        return functional_from_config(config, custom_objects)

    def __getstate__(self):
        from .. import saving

        return {"ranvier_model_bytes": saving.to_bytes(self)}

    def __setstate__(self, state):
        from .. import saving

        other = saving.from_bytes(state["ranvier_model_bytes"])
        self.__class__ = other.__class__
        self.__dict__.update(other.__dict__)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _execution_plan(nodes, inputs):
    """Per node, what every step reads: (node, input tensor ids, output tensor ids, need).

    ``need`` says which inputs want a gradient (not the model inputs), or is
    None when none does; the graph is fixed once built, so this is computed once.
    """
    input_ids = {id(t) for t in inputs}
    plan = []
    for node in nodes:
        in_ids = tuple(id(t) for t in node.flat_inputs)
        need = tuple(i not in input_ids for i in in_ids)
        plan.append((node, in_ids, tuple(id(t) for t in node.outputs), need if any(need) else None))
    return plan


# Mark the cache entries of a conv that ran the max pool above it (``Layer.call_relu_maxpool``)
# and of that pool, in place of the outputs the entries otherwise keep.
_POOLED = object()
_POOLED_BELOW = object()


def _fusions(plan, output_id):
    """Pairs of nodes that run better together, as (relu_pools, conv_pools).

    ``relu_pools``: plan indices of max-pooling nodes whose input is the
    plain-ReLU output of a layer with a fused activation (``backward_preactivation``),
    used by nothing else and with no activity penalty. The pool returns the
    gradient w.r.t. that layer's pre-activation in its one backward pass, and
    the ReLU backward (a pass over the pool's whole input) is skipped.

    ``conv_pools``: conv node index -> pool node index, for those pairs where
    the conv is a 2-D ``Conv2D`` and the pool 2x2 with stride 2 and no activity
    penalty: one kernel then computes both forward, another both backward, and
    the conv output is never stored.
    """
    producers, uses = {}, {}
    for j, (node, in_ids, out_ids, _) in enumerate(plan):
        for t in in_ids:
            uses[t] = uses.get(t, 0) + 1
        for t in out_ids:
            producers[t] = j
    relu_pools, conv_pools = set(), {}
    for i, (node, in_ids, _, need) in enumerate(plan):
        j = producers.get(in_ids[0])
        src = plan[j][0] if j is not None else None
        if (hasattr(node.layer, "backward_through_relu") and len(in_ids) == 1 and need is not None
                and src is not None and uses[in_ids[0]] == 1 and in_ids[0] != output_id
                and not src.multi_output and src.layer._fusable_activation
                and src.layer.activity_regularizer is None
                and activations.is_plain(getattr(src.layer, "activation", None), "relu")):
            relu_pools.add(i)
            if getattr(src.layer, "rank", None) == 2 and hasattr(src.layer, "call_relu_maxpool") \
                    and node.layer.pools_2x2() and node.layer.activity_regularizer is None:
                conv_pools[j] = i
    return relu_pools, conv_pools


def _add_activity_gradient(reg, out, dy):
    """dy + d(penalty / batch)/d(out): activity penalties are averaged over the batch."""
    g = np.zeros_like(out)
    reg.add_gradient(out, g)
    g *= 1.0 / max(1, out.shape[0])
    return g if dy is None else dy + g


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    return _check_positive_int(batch_size, "batch_size")


def _check_positive_int(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} integer, got {value!r}")
    return int(value)


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return verbose
