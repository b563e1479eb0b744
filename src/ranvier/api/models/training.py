"""Training and inference: fit / evaluate / predict and the data they take.

``Trainer`` is the part of ``Model`` that runs the executor on data: it lays
the trainable weights out in one flat buffer (``_flatten_params``), runs
forward, loss and backward into the flat gradient buffer, applies the
optimizer, and drives batches, metrics and callbacks. ``Model`` (model.py)
keeps construction, compile and summary; this split follows Keras 3's
``Trainer``.
"""
import warnings

import numpy as np

from .. import callbacks as callbacks_module
from .. import config, data
from .. import metrics as metrics_module
from .._threading import compute_scope
from ..layers._buffers import aligned_empty, aligned_zeros
from ..layers import _tracing
from ..layers._capabilities import PREACTIVATION

__all__ = ["Trainer"]

# predict() batches at or below this many samples skip the BLAS thread scope (latency).
_SMALL_PREDICT = 64
# Default evaluate/predict batches: layer outputs of about 16 MiB, 32 to 4096 rows.
_INFERENCE_BYTES = 16 << 20
_MAX_INFERENCE_BATCH = 4096


class Trainer:
    """fit / evaluate / predict over a model's executor (mixed into ``Model``)."""

    def _setup_training(self):
        if len(self._outputs) != 1 or len(self._inputs) != 1:
            raise ValueError("fit/evaluate support models with one input and one output, got "
                             f"{len(self._inputs)} inputs and {len(self._outputs)} outputs")
        self._flatten_params()
        self.optimizer.build(self._flat_params, self._n_decay, self._flat_slices, flat_grads=self._flat_grads,
                             variables=self._flat_vars)
        # A loss that folds the output activation (softmax + crossentropy) hands backward dL/dz.
        out_layer = self._executor.output_layer(0)
        self._fused = bool(out_layer is not None and PREACTIVATION in out_layer.capabilities
                           and self.loss.fused_activation is not None
                           and out_layer.activation.name == self.loss.fused_activation)
        self._metrics = [metrics_module.get(m, loss_name=self.loss.name, output_shape=self.output_shape)
                         for m in self._metric_ids]
        self._loss_tracker = metrics_module.Mean(name="loss")

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

    def _forward(self, x, training):
        """(output, run) of the executor on one input array; ``run.penalty`` is the activity penalty."""
        outs, run = self._executor.forward((x,), training)
        return outs[0], run

    def _compute_gradients(self, x, y, sw):
        """Forward, loss, backward and weight penalties: fills the flat gradient buffer.

        The returned output lives in the model's scratch pool: valid until the next step.
        """
        self._scratch.recycle()  # the previous step's work arrays (and output) are free again
        with self._scratch.active():
            out, run = self._forward(x, training=True)
            penalty = run.penalty
            loss_value, dy = self.loss.value_and_grad(y, out, sw, wrt_preactivation=self._fused)
            for v in self._flat_vars:
                v._fresh = True
            self._executor.backward([dy], run, (0,) if self._fused else ())
        for v in self._flat_vars:
            if v._fresh:  # no layer wrote it this step (e.g. an unused branch)
                v.grad[...] = 0
        for v in self._regularized:
            penalty += v.regularizer.penalty(v.value)
            if v.trainable and v.grad is not None:
                v.regularizer.add_gradient(v.value, v.grad)
        return loss_value + penalty, out

    def train_step(self, data):
        """One optimisation step on a batch; returns the logs (override it as in Keras).

        Parameters
        ----------
        data : tuple
            ``(x, y)`` or ``(x, y, sample_weight)``; ``y`` as the loss prepared it.

        An override typically runs ``self(x, training=True)`` and
        ``self.compute_loss(...)`` under ``rv.GradientTape``, takes
        ``tape.gradient(loss, self.trainable_variables)``, calls
        ``self.optimizer.apply(grads, self.trainable_variables)`` and updates
        ``self.metrics``; ``fit`` calls it for every batch.
        """
        x, y, sw = _unpack(data)
        loss_value, out = self._train_step(x, y, sw)
        self._update_metrics(y, out, sw, loss_value, len(x))
        return self._logs()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``y_pred`` plus weight penalties, as a scalar Tensor a tape can differentiate.

        ``y`` are targets as ``fit`` hands them to ``train_step``; raw labels
        are prepared here the same way.
        """
        self._check_compiled("compute_loss")
        return _tracing.record_loss(self, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with a batch and return every metric's result (Keras)."""
        pred = _tracing.value_of(y_pred)
        targets = self.loss.prepare_targets(np.asarray(y), pred.shape, pred.dtype)
        y_metric = self.loss.metric_targets(targets)
        for m in self._metrics:
            m.update_state(y_metric, pred, sample_weight=sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """``{name: result}`` of every metric in ``self.metrics``."""
        return {m.name: float(m.result()) for m in self.metrics}

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _train_step(self, x, y, sw):
        loss_value, out = self._compute_gradients(x, y, sw)
        self.optimizer.apply_flat(self._flat_params, self._flat_grads)
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
        custom_step = type(self).train_step is not Trainer.train_step
        _unsupported("fit", steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)
        if y is None:
            raise ValueError("fit: y is required (targets), got None")
        batch_size = _check_batch_size(batch_size)
        epochs = _check_positive_int(epochs, "epochs", allow_zero=True)
        if validation_data is not None and validation_split:
            raise ValueError("fit: give validation_data or validation_split, not both")
        x, y_arr, sw = self._prepare(x, y, sample_weight, class_weight)
        # A custom train_step gets the targets as given, as in Keras (compute_loss prepares them).
        y_step = np.asarray(y) if custom_step else y_arr
        if validation_split:
            (x, y_arr, sw, y_step), val = data.split_validation([x, y_arr, sw, y_step], validation_split)
            val = val[:3]
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
                    xb, yb = x[idx], y_step[idx]
                    swb = None if sw is None else sw[idx]
                    if custom_step:
                        step_logs = _float_logs(self.train_step((xb, yb) if swb is None else (xb, yb, swb)))
                    else:
                        loss_value, out = self._train_step(xb, yb, swb)
                        self._update_metrics(yb, out, swb, loss_value, b - a)
                        step_logs = self._logs()
                    cbs.on_train_batch_end(step, step_logs)
                    if self.stop_training:
                        break
                # Metrics are running means over the epoch: the last batch's logs are the epoch's.
                logs = dict(step_logs)
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

    def _evaluate_arrays(self, x, y, sw, batch_size, prefix=""):
        self._reset_metrics()
        for a, b in data.batch_slices(len(x), batch_size):
            out, run = self._forward(x[a:b], training=False)
            swb = None if sw is None else sw[a:b]
            loss_value = self.loss.value(y[a:b], out, swb)
            loss_value += run.penalty + sum(v.regularizer.penalty(v.value) for v in self._regularized)
            self._update_metrics(y[a:b], out, swb, loss_value, b - a)
        return self._logs(prefix)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on ``(x, y)``: a float, or ``[loss, *metrics]`` in compile order."""
        self._check_compiled("evaluate")
        _unsupported("evaluate", steps=steps, callbacks=callbacks)
        if y is None:
            raise ValueError("evaluate: y is required, got None")
        x, y, sw = self._prepare(x, y, sample_weight)
        batch_size = self._inference_batch_size(x) if batch_size is None else _check_batch_size(batch_size)
        with compute_scope():
            logs = self._evaluate_arrays(x, y, sw, batch_size)
        if _resolve_verbose(verbose):
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=max(1, len(x)), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)

    def _inference_batch_size(self, x):
        """Rows per forward pass when ``evaluate``/``predict`` get no ``batch_size``.

        Inference keeps no gradient buffers, so larger batches than Keras' 32
        fit in memory and run the GEMMs faster (W1's MLP predicts 1024 rows in
        half the time in one batch than in batches of 32). The batch is the
        one whose layer outputs take about ``_INFERENCE_BYTES``, from 32 up
        to ``_MAX_INFERENCE_BATCH`` rows.
        """
        per_row = sum(_row_size(t.shape, x.shape) for node in self._executor.nodes for t in node.outputs)
        rows = _INFERENCE_BYTES // max(1, per_row * np.dtype(self._outputs[0].dtype).itemsize)
        return int(min(max(rows, 32), _MAX_INFERENCE_BATCH))

    def _result(self, logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` (inference mode: dropout off, batch norm uses moving statistics).

        Unlike Keras, ``verbose`` defaults to 0: services call predict in a loop.
        """
        _unsupported("predict", steps=steps, callbacks=callbacks)
        x, _, _ = self._prepare(x)
        batch_size = self._inference_batch_size(x) if batch_size is None else _check_batch_size(batch_size)
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


def _row_size(shape, x_shape):
    """Values per sample of a tensor of symbolic ``shape``; unknown dims read as the input's longest."""
    unknown = max(x_shape[1:], default=1)
    size = 1
    for d in shape[1:]:
        size *= unknown if d is None else d
    return size


def _unsupported(where, **arguments):
    """Keras arguments ranvier does not implement yet raise rather than being ignored."""
    for name, value in arguments.items():
        if value is not None:
            raise NotImplementedError(f"{where}: the argument {name} is not supported yet, got {name}={value!r}")


def _unpack(data):
    """``(x, y, sample_weight)`` from a batch given as ``(x, y)`` or ``(x, y, sample_weight)``."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(f"train_step: data must be (x, y) or (x, y, sample_weight), got {type(data).__name__}"
                         + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    return data[0], data[1], data[2] if len(data) == 3 else None


def _float_logs(logs):
    """A ``train_step`` result as floats (it may hold Tensors or 0-d arrays)."""
    if not isinstance(logs, dict):
        raise TypeError(f"train_step must return a dict of metric values, got {type(logs).__name__}")
    return {k: float(np.asarray(_tracing.value_of(v))) for k, v in logs.items()}
