"""Training and inference: fit / evaluate / predict and the data they take.

``Trainer`` is the part of ``Model`` that runs the executor on data: it lays
the trainable weights out in one flat buffer (``_flatten_params``), runs
forward, loss and backward into the flat gradient buffer, applies the
optimizer, and drives batches, metrics and callbacks. ``Model`` (model.py)
keeps construction, compile and summary; this split follows Keras 3's
``Trainer``.
"""

import itertools
import math
import warnings

import numpy as np

from .. import callbacks as callbacks_module
from .. import config, data, data_adapters
from .. import metrics as metrics_module
from .._threading import compute_scope
from ..layers import _tracing
from ..layers._buffers import aligned_empty, aligned_zeros
from ..layers._capabilities import PREACTIVATION
from ..py_dataset import PyDataset
from ..variables import flat_layout

__all__ = ["Trainer"]

# predict() batches at or below this many samples skip the BLAS thread scope (latency).
_SMALL_PREDICT = 64
# Default evaluate/predict batches: layer outputs of about 16 MiB, 32 to 4096 rows.
_INFERENCE_BYTES = 16 << 20
_MAX_INFERENCE_BATCH = 4096


class Trainer:
    """fit / evaluate / predict over a model's executor (mixed into ``Model``)."""

    def _setup_training(self):
        """Match the compiled loss, loss weights and metrics to the outputs; lay out the flat buffers."""
        outputs = self._output_structure
        n = len(outputs)
        per_loss = outputs.flatten(self.loss, "compile(loss)", allow_broadcast=True, optional=True)
        if self.loss is not None and all(loss is None for loss in per_loss):
            raise ValueError(f"compile(loss): no output of {outputs.names} has a loss, got {self.loss!r}")
        weights = (
            [1.0] * n
            if self._loss_weights is None
            else outputs.flatten(self._loss_weights, "compile(loss_weights)", optional=True)
        )
        self._output_losses = per_loss
        self._loss_weight_list = [1.0 if w is None else _check_weight(w) for w in weights]
        self._flatten_params()
        self.optimizer.build(
            self._flat_params, self._n_decay, self._flat_slices, flat_grads=self._flat_grads, variables=self._flat_vars
        )
        # A loss that folds the output activation (softmax + crossentropy) hands backward dL/dz.
        self._fused = tuple(i for i, loss in enumerate(per_loss) if _folds(loss, self._executor.output_layer(i)))
        self._output_metrics = [
            [metrics_module.get(m, loss_name=None if loss is None else loss.name, output_shape=t.shape) for m in ids]
            for ids, loss, t in zip(self._metrics_per_output(), per_loss, self._outputs)
        ]
        self._metrics = [m for ms in self._output_metrics for m in ms]
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = (
            [metrics_module.Mean(name=f"{name}_loss") for name in outputs.names] if n > 1 else []
        )

    def _metrics_per_output(self):
        """The compiled metrics as one list per output: a dict by output name, a list of lists,
        or one flat list that every output gets (Keras 2's rule; Keras 3 asks for a list per output)."""
        ids, outputs = self._metric_ids, self._output_structure
        if isinstance(ids, dict):
            return [
                [] if m is None else m if isinstance(m, (list, tuple)) else [m]
                for m in outputs.flatten(ids, "compile(metrics)", optional=True)
            ]
        if len(outputs) > 1 and len(ids) == len(outputs) and all(isinstance(m, (list, tuple)) for m in ids):
            return [list(m) for m in ids]
        return [list(ids) for _ in range(len(outputs))]

    def _flatten_params(self):
        """Lay trainable weights out in one flat buffer: decayed kernels first, then 1-D weights."""
        order, slices, n_decay, dtype = flat_layout(self.trainable_weights)
        total = slices[-1][1] if slices else 0
        params = aligned_empty(total, dtype)
        grads = aligned_zeros(total, dtype)
        for v, (start, stop) in zip(order, slices):
            params[start:stop] = v.value.reshape(-1)
            v.value = params[start:stop].reshape(v.shape)
            v.grad = grads[start:stop].reshape(v.shape)
        self._flat_params, self._flat_grads = params, grads
        self._flat_vars = order
        self._flat_slices = slices
        self._n_decay = n_decay
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
        return [self._loss_tracker] + self._output_loss_trackers + list(self._metrics)

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _check_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must call compile() before {what}() (model {self.name!r} is not compiled)")

    def _build_from_data(self, x):
        """Hook for models whose input shape comes from the first data they see (Sequential)."""
        self._ensure_graph()

    def _prepare(self, x, y=None, sample_weight=None, class_weight=None, arg_suffix="", targets_for=None):
        """Validate x (and y, weights): lists with one array per model input (and output) for the kernels.

        ``targets_for`` names the caller (``"fit"``) that needs targets: ``y`` may
        then be None only if no output has a loss (a model compiled with
        ``loss=None`` trains on what its layers add), and ys/sws come back as
        lists of None.

        Returns
        -------
        xs : list of ndarray
        ys : list of ndarray or None (None where an output has no loss), or None without ``y``
        sws : list of ndarray or None, or None without ``y``
        """
        self._build_from_data(x)
        if self.compiled and self._flat_params is None:
            self._setup_training()
        inputs = self._input_structure
        if len(inputs) == 1 and type(x) is np.ndarray:  # the common case, kept short (batch-1 predict)
            t = self._inputs[0]
            xs = [data.check_x(x, t.shape, t.dtype, arg="x" + arg_suffix)]
        else:
            named = len(inputs) > 1
            xs = [
                data.check_x(v, t.shape, t.dtype, arg=f"x{arg_suffix}[{name!r}]" if named else "x" + arg_suffix)
                for v, t, name in zip(inputs.flatten(x, "x" + arg_suffix), self._inputs, inputs.names)
            ]
        n = len(xs[0])
        for v in xs:
            if len(v) != n:
                raise ValueError(
                    f"x{arg_suffix}: every input must have the same number of samples, got "
                    f"{dict(zip(inputs.names, map(len, xs)))}"
                )
        if y is None:
            if targets_for is None:
                return xs, None, None
            if any(loss is not None for loss in self._output_losses):
                raise ValueError(f"{targets_for}: y is required (targets), got None")
            return xs, [None] * len(self._outputs), [None] * len(self._outputs)
        outputs = self._output_structure
        multi = len(outputs) > 1
        ys_given = outputs.flatten(y, "y" + arg_suffix, optional=True)
        sws_given = outputs.flatten(sample_weight, "sample_weight" + arg_suffix, allow_broadcast=True, optional=True)
        cws = self._class_weights(class_weight)
        ys, sws = [], []
        dtype = self._flat_params.dtype
        for i, (name, loss, t) in enumerate(zip(outputs.names, self._output_losses, self._outputs)):
            where = f"[{name!r}]" if multi else ""
            if loss is None or ys_given[i] is None:
                if loss is not None:
                    raise ValueError(
                        f"y{arg_suffix}: the output {name!r} has a loss but no targets; give y for "
                        f"every output of {outputs.names}"
                    )
                ys.append(None)
                sws.append(None)
                continue
            yarr = data.check_y(ys_given[i], n, f"y{arg_suffix}{where}", f"x{arg_suffix}")
            ys.append(loss.prepare_targets(yarr, (n,) + tuple(t.shape[1:]), dtype))
            sw = data.check_sample_weight(sws_given[i], n, f"sample_weight{arg_suffix}{where}", dtype)
            if cws[i] is not None:
                cw = data.class_weights_to_sample_weights(cws[i], yarr)
                sw = cw if sw is None else sw * cw
            sws.append(sw)
        return xs, ys, sws

    def _class_weights(self, class_weight):
        """One ``{class: weight}`` dict (or None) per output."""
        outputs = self._output_structure
        if class_weight is None:
            return [None] * len(outputs)
        if len(outputs) == 1:
            return [class_weight]
        if not (isinstance(class_weight, dict) and set(class_weight) <= set(outputs.names)):
            raise ValueError(
                f"class_weight: a model with outputs {outputs.names} takes a dict "
                f"{{output name: {{class: weight}}}}, got {class_weight!r}"
            )
        return outputs.flatten(class_weight, "class_weight", optional=True)

    def _forward(self, xs, training):
        """(outputs, run) of the executor on one array per input; ``run.penalty`` is the activity penalty."""
        return self._executor.forward(xs, training)

    def _compute_gradients(self, xs, ys, sws):
        """Forward, loss, backward and weight penalties: fills the flat gradient buffer.

        The returned output lives in the model's scratch pool: valid until the next step.
        """
        self._scratch.recycle()  # the previous step's work arrays (and output) are free again
        with self._scratch.active():
            outs, run = self._forward(xs, training=True)
            if self.loss is None and not run.n_penalties and not self._regularized:
                raise ValueError(
                    "No loss to compute: compile(loss=None) trains on what layers add with add_loss, and no "
                    "layer added one; give compile a loss"
                )
            penalty = run.penalty
            loss_value, values, dys = 0.0, [], []
            for i, (loss, weight) in enumerate(zip(self._output_losses, self._loss_weight_list)):
                if loss is None:
                    values.append(0.0)
                    dys.append(None)
                    continue
                value, dy = loss.value_and_grad(ys[i], outs[i], sws[i], wrt_preactivation=i in self._fused)
                if weight != 1.0:
                    dy *= weight
                loss_value += weight * value
                values.append(value)
                dys.append(dy)
            for v in self._flat_vars:
                v._fresh = True
            self._executor.backward(dys, run, self._fused)
        for v in self._flat_vars:
            if v._fresh:  # no layer wrote it this step (e.g. an unused branch)
                v.grad[...] = 0
        for v in self._regularized:
            penalty += v.regularizer.penalty(v.value)
            if v.trainable and v.grad is not None:
                v.regularizer.add_gradient(v.value, v.grad)
        return loss_value + penalty, outs, values

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
        xs, ys, sws = self._prepare(x, y, sw)
        loss_value, outs, values = self._train_step(xs, ys, sws)
        self._update_metrics(ys, outs, sws, loss_value, values, len(xs[0]))
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
        preds = self._output_structure.flatten(y_pred, "y_pred")
        targets = self._output_structure.flatten(y, "y", optional=True)
        for loss, metrics, pred, target in zip(self._output_losses, self._output_metrics, preds, targets):
            if not metrics or target is None:
                continue
            pred = _tracing.value_of(pred)
            target = np.asarray(target)
            if loss is not None:
                target = loss.metric_targets(loss.prepare_targets(target, pred.shape, pred.dtype))
            for m in metrics:
                m.update_state(target, pred, sample_weight=sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """``{name: result}`` of every metric in ``self.metrics``."""
        return {m.name: _log_value(m.result()) for m in self.metrics}

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _train_step(self, xs, ys, sws):
        loss_value, outs, values = self._compute_gradients(xs, ys, sws)
        self.optimizer.apply_flat(self._flat_params, self._flat_grads)
        for v in self._constrained:
            v.constraint(v.value)
        return loss_value, outs, values

    def _update_metrics(self, ys, outs, sws, loss_value, values, n):
        self._loss_tracker.update_state(float(loss_value), sample_weight=float(n))
        for tracker, value in zip(self._output_loss_trackers, values):
            tracker.update_state(float(value), sample_weight=float(n))
        for loss, metrics, y, out, sw in zip(self._output_losses, self._output_metrics, ys, outs, sws):
            if metrics:
                y = loss.metric_targets(y)
                for m in metrics:
                    m.update_state(y, out, sample_weight=sw)

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _logs(self):
        """Keras' log keys: ``loss``, ``<output>_loss`` and ``<output>_<metric>`` (several outputs),
        ``<metric>`` (one); validation prefixes them with ``val_``."""
        logs = {"loss": float(self._loss_tracker.result())}
        for tracker in self._output_loss_trackers:
            logs[tracker.name] = float(tracker.result())
        multi = len(self._output_metrics) > 1
        for name, metrics in zip(self._output_structure.names, self._output_metrics):
            for m in metrics:
                logs[f"{name}_{m.name}" if multi else m.name] = _log_value(m.result())
        return logs

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train the model for ``epochs`` passes over ``(x, y)``.

        Parameters
        ----------
        x : ndarray, list or dict of ndarrays, generator, or ``utils.PyDataset``
            One array of shape (n_samples, ...) per model input (a list in input
            order, or a dict keyed by ``Input`` name). A Python generator or
            iterable of ``(x, y)`` / ``(x, y, sample_weight)`` batches, a
            ``PyDataset`` or an ``np.memmap`` is read batch by batch.
        y : ndarray, list or dict of ndarrays
            Targets per output (dict keys: ``model.output_names``): labels of
            shape (n_samples,) for sparse losses, else shaped like the output.
        batch_size : int, default 32
        epochs : int, default 1
        verbose : {"auto", 0, 1, 2}
            1 draws a progress bar in a terminal (one line per epoch in a log file), 2 one
            line per epoch, 0 nothing.
        validation_split : float in [0, 1)
            Fraction of the data (the last samples, before shuffling) held out for validation.
        validation_data : tuple (x_val, y_val[, sample_weight_val]), generator or PyDataset, optional
        shuffle : bool, default True
        class_weight : dict {class: weight} (or {output: {class: weight}}), optional
        sample_weight : ndarray of shape (n_samples,), or one per output, optional
        steps_per_epoch, validation_steps : int, optional
            Batches per epoch (per validation) when reading a generator; a
            generator is not rewound between epochs.
        callbacks : list of Callback, optional

        Returns
        -------
        History
            ``history.history["loss"]``, ``["val_loss"]``, ``["<output>_loss"]``, ``["accuracy"]``...
        """
        self._check_compiled("fit")
        custom_step = type(self).train_step is not Trainer.train_step
        batch_size = _check_batch_size(batch_size)
        epochs = _check_positive_int(epochs, "epochs", allow_zero=True)
        validation_freq = _check_positive_int(validation_freq, "validation_freq")
        if validation_data is not None and validation_split:
            raise ValueError("fit: give validation_data or validation_split, not both")
        streamed = _streamed(x)
        if streamed:
            if validation_split:
                raise ValueError(f"fit: validation_split needs arrays in memory, got x of type {type(x).__name__}")
            # A memmap comes with its targets; a generator or PyDataset yields them (the adapter checks).
            adapter = data_adapters.get_adapter(
                x,
                y,
                sample_weight,
                batch_size=batch_size,
                steps=steps_per_epoch,
                shuffle=shuffle,
                class_weight=class_weight,
            )
            batches = _Stream(self, adapter)
        elif steps_per_epoch is not None:
            raise NotImplementedError(
                f"fit: steps_per_epoch applies to generators here; with arrays an "
                f"epoch is one pass, got steps_per_epoch={steps_per_epoch!r}"
            )
        elif custom_step and self._graphless():
            # Keras' GAN example: no call, no inputs; train_step gets the data as given.
            if validation_data is not None or validation_split:
                raise NotImplementedError(
                    "fit: validation needs a model with a graph (a call method or inputs); this "
                    f"{type(self).__name__} only has a train_step, got validation data"
                )
            batches = _Arrays(*_unchecked_arrays(x, y, sample_weight))
        else:
            xs, ys, sws = self._prepare(x, y, sample_weight, class_weight, targets_for="fit")
            # A custom train_step gets the targets as given, as in Keras (compute_loss prepares them).
            raw = self._output_structure.flatten(y, "y", optional=True) if custom_step else None
            if validation_split:
                parts, val = data.split_validation(xs + ys + sws + (raw or []), validation_split)
                n_in, n_out = len(xs), len(ys)
                xs, ys, sws = parts[:n_in], parts[n_in : n_in + n_out], parts[n_in + n_out : n_in + 2 * n_out]
                raw = parts[n_in + 2 * n_out :] or None
                validation_data = _Arrays(val[:n_in], val[n_in : n_in + n_out], val[n_in + n_out : n_in + 2 * n_out])
            _check_samples(xs, "fit")
            batches = _Arrays(xs, ys, sws, raw)
        val = self._validation(validation_data, validation_steps, validation_batch_size or batch_size)
        verbose = _resolve_verbose(verbose)
        n_steps = batches.num_batches(batch_size)
        self.history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            _callback_list(callbacks) + [self.history],
            add_progbar=verbose != 0,
            model=self,
            verbose=verbose,
            epochs=epochs,
            steps=n_steps,
        )
        self.stop_training = False
        full_batch = getattr(self.optimizer, "full_batch", False)
        self._fit_loop = None if full_batch else _FitLoop(config.make_rng(None), initial_epoch)
        with compute_scope():
            if full_batch:
                if streamed:
                    raise ValueError(
                        f"fit: {type(self.optimizer).__name__} is a full-batch optimizer; it needs "
                        f"arrays, got x of type {type(x).__name__}"
                    )
                self._fit_full_batch(batches, val, epochs, cbs)
                return self.history
            loop = self._fit_loop
            cbs.on_train_begin()  # BackupAndRestore may move loop.epoch / loop.step and restore loop.rng here
            step_logs = {} if self._graphless() else self._logs()
            nan_seen = False
            for epoch in range(loop.epoch, epochs):
                self._reset_metrics()
                cbs.on_epoch_begin(epoch)
                epoch_batches = batches.epoch(loop.rng, batch_size, shuffle)
                # A run resumed within an epoch draws the same order and skips the batches done.
                first, loop.step = loop.step, 0
                for step, (xs, ys, sws, raw) in enumerate(itertools.islice(epoch_batches, first, None), first):
                    cbs.on_train_batch_begin(step)
                    if custom_step:
                        data_b = _step_data(_single(xs), _single(raw if raw is not None else ys), sws[0])
                        step_logs = _float_logs(self.train_step(data_b))
                    else:
                        loss_value, outs, values = self._train_step(xs, ys, sws)
                        self._update_metrics(ys, outs, sws, loss_value, values, len(xs[0]))
                        step_logs = self._logs()
                    if not nan_seen and not math.isfinite(step_logs.get("loss", 0.0)):
                        nan_seen = True
                        _warn_non_finite(step_logs["loss"], epoch, epochs, step, n_steps)
                    cbs.on_train_batch_end(step, step_logs)
                    if self.stop_training:
                        break
                batches.on_epoch_end()
                # Metrics are running means over the epoch: the last batch's logs are the epoch's.
                logs = dict(step_logs)
                if val is not None and (epoch + 1) % validation_freq == 0:
                    # As Keras' fit: the on_test_* hooks run (SwapEMAWeights validates with the averages).
                    logs.update(self._evaluate_batches(val, prefix="val_", callbacks=cbs))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            self.optimizer.finalize_variable_values()  # Keras: with use_ema, the weights become their average
            cbs.on_train_end()
        return self.history

    def _validation(self, validation_data, steps, batch_size):
        """Validation batches from ``validation_data`` (arrays, a tuple of them, or a stream)."""
        if validation_data is None or isinstance(validation_data, _Arrays):
            return None if validation_data is None else _Batches(validation_data, batch_size)
        if _streamed(validation_data):
            return _Batches(_Stream(self, data_adapters.get_adapter(validation_data, steps=steps)), batch_size)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight_val), a generator or a PyDataset, got {type(validation_data).__name__}"
            )
        if steps is not None:
            raise NotImplementedError(
                f"fit: validation_steps applies to a validation generator here, got validation_steps={steps!r}"
            )
        xs, ys, sws = self._prepare(
            *validation_data[:2],
            arg_suffix="_val",
            sample_weight=validation_data[2] if len(validation_data) == 3 else None,
        )
        _check_samples(xs, "fit", "validation_data")
        return _Batches(_Arrays(xs, ys, sws), batch_size)

    def _fit_full_batch(self, batches, val, epochs, cbs):
        """Full-batch optimisers (L-BFGS, CG): one scipy minimisation over the flat parameters.

        Each scipy iteration is reported to the callbacks as one epoch; the
        iteration budget is the optimizer's ``max_iter``, not ``epochs``.
        """
        if epochs != 1:
            warnings.warn(
                f"fit: {type(self.optimizer).__name__} is a full-batch optimizer and runs up to "
                f"max_iter={getattr(self.optimizer, 'max_iter', '?')} iterations; epochs={epochs} "
                "is ignored",
                stacklevel=3,
            )
        dtype = self._flat_params.dtype
        xs, ys, sws = batches.xs, batches.ys, batches.sws

        def fun(flat):
            self._flat_params[...] = flat.astype(dtype, copy=False)
            loss_value, _, _ = self._compute_gradients(xs, ys, sws)
            return float(loss_value), self._flat_grads.astype(np.float64)

        cbs.on_train_begin()
        iteration = [0]
        whole = _Batches(batches, len(xs[0]))

        def callback(flat):
            logs = self._evaluate_batches(whole)
            if val is not None:
                logs.update(self._evaluate_batches(val, prefix="val_", callbacks=cbs))
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
        xs, ys, sws = self._prepare(x, y, sample_weight, class_weight, targets_for="train_on_batch")
        _check_samples(xs, "train_on_batch")  # a step on nothing would still advance the optimizer
        if getattr(self.optimizer, "full_batch", False):
            raise ValueError(f"train_on_batch: {type(self.optimizer).__name__} is a full-batch optimizer; use fit")
        self._reset_metrics()
        with compute_scope():
            loss_value, outs, values = self._train_step(xs, ys, sws)
        self._update_metrics(ys, outs, sws, loss_value, values, len(xs[0]))
        return self._result(self._logs(), return_dict)

    def _evaluate_batches(self, batches, prefix="", callbacks=None):
        """Loss and metrics over every batch of ``batches`` (a ``_Batches``), as logs.

        ``callbacks`` (a ``CallbackList``) get Keras' ``on_test_begin``,
        ``on_test_batch_begin/end(batch, logs)`` (the running results) and
        ``on_test_end(logs)``, all without ``prefix``; ``model.stop_evaluating``
        set by a callback ends the loop after the batch.
        """
        if callbacks is None:
            callbacks = callbacks_module.CallbackList()
        self.stop_evaluating = False
        batch_logs = _reads_test_batch_logs(callbacks)
        callbacks.on_test_begin()
        self._reset_metrics()
        step = -1
        for step, (xs, ys, sws, _) in enumerate(batches):
            callbacks.on_test_batch_begin(step)
            outs, run = self._forward(xs, training=False)
            loss_value, values = run.penalty + sum(v.regularizer.penalty(v.value) for v in self._regularized), []
            for loss, weight, y, out, sw in zip(self._output_losses, self._loss_weight_list, ys, outs, sws):
                value = 0.0 if loss is None else loss.value(y, out, sw)
                loss_value += weight * value
                values.append(value)
            self._update_metrics(ys, outs, sws, loss_value, values, len(xs[0]))
            callbacks.on_test_batch_end(step, self._logs() if batch_logs else None)
            if self.stop_evaluating:
                break
        if step < 0:  # a loss over no sample is undefined, not 0.0
            what = "validation_data" if prefix else "x"
            raise ValueError(f"{what} gave no batch to evaluate (an empty generator or dataset), got 0 batches")
        logs = self._logs()
        callbacks.on_test_end(logs)
        return {prefix + name: value for name, value in logs.items()} if prefix else logs

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Loss and metrics on ``(x, y)``: a float, or ``[loss, *metrics]`` in compile order.

        Parameters
        ----------
        x, y, sample_weight
            As for ``fit``; ``x`` may be a generator or a ``PyDataset`` (``y`` None).
        batch_size : int, optional
            Rows per batch of arrays; by default the batch whose layer outputs
            take about 16 MiB (``ceil(n / steps)`` with ``steps``, as Keras).
        verbose : {"auto", 0, 1, 2}
            Non-zero adds a ``ProgbarLogger`` to the callbacks.
        steps : int, optional
            Evaluate the first ``steps`` batches only (a "ran out of data"
            warning if there are fewer).
        callbacks : list of Callback or CallbackList, optional
            Called as Keras calls them: ``on_test_begin``, per batch
            ``on_test_batch_begin(batch)`` and ``on_test_batch_end(batch, logs)``
            (the results over the batches so far), ``on_test_end(logs)``. A
            ``CallbackList`` is used as given (no progress bar added). A
            callback setting ``model.stop_evaluating = True`` ends after the batch.
        return_dict : bool, default False
        """
        self._check_compiled("evaluate")
        given = _callback_list(callbacks, "evaluate", accept_list_object=True)
        verbose = _resolve_verbose(verbose)
        if _streamed(x):
            adapter = data_adapters.get_adapter(x, y, sample_weight, batch_size=batch_size, steps=steps)
            batches = _Batches(_Stream(self, adapter), batch_size)
        else:
            xs, ys, sws = self._prepare(x, y, sample_weight, targets_for="evaluate")
            _check_samples(xs, "evaluate")  # a mean over no samples is no loss (it was reported as 0.0)
            if steps is not None:
                size, rows = _rows_for_steps(len(xs[0]), batch_size, steps)
                xs, ys, sws = ([None if v is None else v[:rows] for v in part] for part in (xs, ys, sws))
            else:
                size = self._inference_batch_size(xs) if batch_size is None else _check_batch_size(batch_size)
            batches = _Batches(_Arrays(xs, ys, sws), size)
        cbs = _inference_callbacks(self, given, verbose, batches.num_batches)
        with compute_scope():
            logs = self._evaluate_batches(batches, callbacks=cbs)
        return self._result(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        xs = self._input_structure.flatten(x, "x")
        return self.evaluate(
            x, y, batch_size=max(1, len(xs[0])), verbose=0, sample_weight=sample_weight, return_dict=return_dict
        )

    def _inference_batch_size(self, xs):
        """Rows per forward pass when ``evaluate``/``predict`` get no ``batch_size``.

        Inference keeps no gradient buffers, so larger batches than Keras' 32
        fit in memory and run the GEMMs faster (W1's MLP predicts 1024 rows in
        half the time in one batch than in batches of 32). The batch is the
        one whose layer outputs take about ``_INFERENCE_BYTES``, from 32 up
        to ``_MAX_INFERENCE_BATCH`` rows.
        """
        per_row = sum(_row_size(t.shape, xs[0].shape) for node in self._executor.nodes for t in node.outputs)
        rows = _INFERENCE_BYTES // max(1, per_row * np.dtype(self._outputs[0].dtype).itemsize)
        return int(min(max(rows, 32), _MAX_INFERENCE_BATCH))

    def _result(self, logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for ``x`` (inference mode: dropout off, batch norm uses moving statistics).

        One array for a one-output model, else a list or a dict as the model's
        outputs were given. ``x`` may be a generator or ``PyDataset`` of
        batches. ``steps`` predicts the first ``steps`` batches only (with
        arrays, batches of ``batch_size``, default ``ceil(n / steps)``, as
        Keras). ``callbacks`` (a list of Callback, or a ``CallbackList`` used
        as given) get ``on_predict_begin``, per batch
        ``on_predict_batch_begin(batch)`` and ``on_predict_batch_end(batch,
        {"outputs": ...})`` (that batch's outputs, structured as the result),
        and ``on_predict_end``; ``model.stop_predicting = True`` ends after
        the batch. Unlike Keras, ``verbose`` defaults to 0: services call
        predict in a loop; non-zero adds a ``ProgbarLogger``.
        """
        given = _callback_list(callbacks, "predict", accept_list_object=True)
        verbose = _resolve_verbose(verbose)
        if type(x) is not np.ndarray and _streamed(x):
            adapter = data_adapters.get_adapter(x, batch_size=batch_size, steps=steps)
            batches = (self._prepare(xb)[0] for xb, _, _ in adapter.epoch(None))
            cbs = _inference_callbacks(self, given, verbose, adapter.num_batches)
            return self._predict_batches(batches, cbs, f"x of type {type(x).__name__}")
        xs, _, _ = self._prepare(x)
        n = len(xs[0])
        if steps is not None:
            batch_size, n = _rows_for_steps(n, batch_size, steps)
            xs = [a[:n] for a in xs]
        elif batch_size is None:
            # Every default batch holds 32 rows at least: small inputs (a service's calls) need no sizing.
            batch_size = max(1, n) if n <= 32 else self._inference_batch_size(xs)
        else:
            batch_size = _check_batch_size(batch_size)
        if callbacks is not None or verbose:
            slices = data.batch_slices(n, batch_size) or [(0, 0)]  # no rows: one empty batch, empty outputs
            cbs = _inference_callbacks(self, given, verbose, len(slices))
            return self._predict_batches(([v[a:b] for v in xs] for a, b in slices), cbs, "x")
        if n <= batch_size:
            if n <= _SMALL_PREDICT:
                return self._output_structure.pack(self._forward(xs, training=False)[0])
            with compute_scope():
                return self._output_structure.pack(self._forward(xs, training=False)[0])
        with compute_scope():
            first = self._forward([a[:batch_size] for a in xs], training=False)[0]
            outs = [np.empty((n,) + f.shape[1:], f.dtype) for f in first]
            for out, f in zip(outs, first):
                out[:batch_size] = f
            for a, b in data.batch_slices(n, batch_size)[1:]:
                for out, f in zip(outs, self._forward([v[a:b] for v in xs], training=False)[0]):
                    out[a:b] = f
        return self._output_structure.pack(outs)

    def _predict_batches(self, batches, callbacks, source):
        """Outputs of every batch of ``batches`` (one list of arrays per batch), driving Keras' predict hooks.

        ``source`` names the data for the error when it yields no batch.
        """
        self.stop_predicting = False
        callbacks.on_predict_begin()
        parts = []
        with compute_scope():
            for step, xs in enumerate(batches):
                callbacks.on_predict_batch_begin(step)
                # Copies: the executor may reuse its output buffers, and callbacks may keep the batch.
                outs = [o.copy() for o in self._forward(xs, training=False)[0]]
                parts.append(outs)
                callbacks.on_predict_batch_end(step, {"outputs": self._output_structure.pack(outs)})
                if self.stop_predicting:
                    break
        callbacks.on_predict_end()
        if not parts:
            raise ValueError(f"predict: {source} yielded no batch")
        return self._output_structure.pack([np.concatenate(p) for p in zip(*parts)])

    def predict_on_batch(self, x):
        xs = self._input_structure.flatten(x, "x")
        return self.predict(x, batch_size=max(1, len(xs[0])))


class _FitLoop:
    """Where a minibatch ``fit`` starts and the generator that shuffles its data (``model._fit_loop``).

    Callbacks read and set it in ``on_train_begin`` (``BackupAndRestore``
    restores a backup there): ``epoch`` is the first epoch to run, ``step``
    the batches of it already done, ``rng`` draws each epoch's order.
    """

    def __init__(self, rng, epoch):
        self.rng, self.epoch, self.step = rng, epoch, 0


def _warn_non_finite(loss, epoch, epochs, step, steps):
    """Warn once per fit that the loss is NaN or inf, at the epoch and batch it first was (from 1, as printed)."""
    of_steps = "" if steps is None else f"/{steps}"
    warnings.warn(
        f"fit: the loss is {loss} at epoch {epoch + 1}/{epochs}, batch {step + 1}{of_steps} (the weights "
        "may have diverged: lower the learning rate, check the data; TerminateOnNaN stops training there)",
        RuntimeWarning,
        stacklevel=3,
    )


class _Arrays:
    """In-memory data, validated once: one array per input, target and weight (``raw``: targets as given)."""

    def __init__(self, xs, ys, sws, raw=None):
        self.xs, self.ys, self.sws, self.raw = xs, ys, sws, raw

    def num_batches(self, batch_size):
        return -(-len(self.xs[0]) // batch_size)

    def epoch(self, rng, batch_size, shuffle):
        n = len(self.xs[0])
        order = rng.permutation(n) if shuffle else None
        for a, b in data.batch_slices(n, batch_size):
            idx = order[a:b] if order is not None else slice(a, b)
            yield (
                [v[idx] for v in self.xs],
                [None if v is None else v[idx] for v in self.ys],
                [None if v is None else v[idx] for v in self.sws],
                None if self.raw is None else [None if v is None else np.asarray(v)[idx] for v in self.raw],
            )

    def on_epoch_end(self):
        pass


class _Stream:
    """Batches read from a data adapter (generator, PyDataset, memmap), each validated as it comes."""

    def __init__(self, model, adapter):
        self.model, self.adapter = model, adapter

    def num_batches(self, batch_size):
        return self.adapter.num_batches

    def epoch(self, rng, batch_size, shuffle):
        outputs = self.model._output_structure
        for x, y, sw in self.adapter.epoch(rng):
            if y is None:
                raise ValueError(
                    f"the data yielded a batch without targets (x only); training and evaluation "
                    f"need (x, y) or (x, y, sample_weight) for outputs {outputs.names}"
                )
            xs, ys, sws = self.model._prepare(x, y, sw)
            yield xs, ys, sws, outputs.flatten(y, "y", optional=True)

    def on_epoch_end(self):
        self.adapter.on_epoch_end()


class _Batches:
    """An iterable of batches of ``source`` (``_Arrays`` or ``_Stream``), unshuffled (evaluation)."""

    def __init__(self, source, batch_size):
        self.source, self.batch_size = source, batch_size or 32

    @property
    def num_batches(self):
        """Batches in a pass (None for a stream of unknown length)."""
        return self.source.num_batches(self.batch_size)

    def __iter__(self):
        yield from self.source.epoch(None, self.batch_size, False)


def _streamed(x):
    """Whether ``x`` is read batch by batch (generator, iterator, PyDataset, adapter, memmap)."""
    if isinstance(x, (np.memmap, PyDataset, data_adapters.DataAdapter)):
        return True
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) or np.isscalar(x):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def _unchecked_arrays(x, y, sample_weight):
    """``_Arrays`` parts for a model without a graph: x (an array or a list of them), y and weights as given."""
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    parts = [("x", v) for v in xs] + [("y", y), ("sample_weight", sample_weight)]
    arrays = {}
    for name, v in parts:
        if v is None:
            continue
        a = np.asarray(v)
        if a.dtype.kind not in "biuf" or a.ndim < 1:
            raise TypeError(
                f"fit: {name} must be numeric arrays with a batch axis, got dtype {a.dtype}, shape {a.shape}"
            )
        arrays.setdefault(name, []).append(a)
    lengths = {len(a) for v in arrays.values() for a in v}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"fit: x, y and sample_weight must have one non-zero number of samples, got {sorted(lengths)}")
    xs = arrays["x"]
    return xs, [None], [arrays["sample_weight"][0] if "sample_weight" in arrays else None], [arrays.get("y", [None])[0]]


def _step_data(x, y, sample_weight):
    """What ``train_step`` gets, as Keras packs it: ``x`` alone (``(x,)`` if a tuple or list) when
    there are no targets and weights, else ``(x, y)`` or ``(x, y, sample_weight)``."""
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _single(values):
    """A list of one entry as the entry itself (Keras passes one array for one input)."""
    return values[0] if values is not None and len(values) == 1 else values


def _folds(loss, layer):
    """Whether ``loss`` folds the activation that ``layer`` (an output's producer) ends with."""
    return (
        loss is not None
        and layer is not None
        and loss.fused_activation is not None
        and PREACTIVATION in layer.capabilities
        and layer.activation.name == loss.fused_activation
    )


def _check_samples(xs, where, arg="x"):
    """Refuse inputs of 0 samples: the loss of nothing is no number (and a step on it would still count)."""
    if len(xs[0]) == 0:
        raise ValueError(f"{where}: {arg} has no samples, got an input of shape {xs[0].shape}")


def _check_weight(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
        raise ValueError(f"compile(loss_weights): weights must be finite numbers >= 0, got {value!r}")
    return float(value)


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    return _check_positive_int(batch_size, "batch_size")


def _check_positive_int(value, name, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} integer, got {value!r}")
    return int(value)


def _callback_list(callbacks, where="fit", accept_list_object=False):
    """The callbacks argument as a list (Keras documents a list: a single callback gets a clear error).

    With ``accept_list_object`` a ``CallbackList`` is returned as it is (Keras' evaluate and predict).
    """
    if callbacks is None:
        return []
    if accept_list_object and isinstance(callbacks, callbacks_module.CallbackList):
        return callbacks
    if isinstance(callbacks, callbacks_module.Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"{where}: callbacks must be a list of Callback instances (callbacks=[cb] for one), "
            f"got {type(callbacks).__name__}: {callbacks!r}"
        )
    for cb in callbacks:
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"{where}: callbacks must hold Callback instances, got {type(cb).__name__}: {cb!r}")
    return list(callbacks)


def _inference_callbacks(model, given, verbose, steps):
    """The ``CallbackList`` evaluate/predict drive: ``given`` if it is one (Keras), else one over
    ``given`` with a ``ProgbarLogger`` when ``verbose``, told the number of batches ``steps``."""
    if isinstance(given, callbacks_module.CallbackList):
        return given
    return callbacks_module.CallbackList(
        given, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1, steps=steps
    )


def _reads_test_batch_logs(callbacks):
    """Whether a callback of ``callbacks`` overrides ``on_test_batch_end``: only then are the running
    results computed per batch (a metric's result, AUC's over its thresholds, costs as much as
    the forward pass of a small batch)."""
    base = callbacks_module.Callback.on_test_batch_end
    if type(callbacks).on_test_batch_end is not callbacks_module.CallbackList.on_test_batch_end:
        return True
    return any(getattr(cb.on_test_batch_end, "__func__", None) is not base for cb in callbacks)


def _rows_for_steps(n, batch_size, steps):
    """``(batch_size, rows)``: the first ``steps`` batches of ``n`` rows of arrays, as Keras reads them.

    ``batch_size`` defaults to ``ceil(n / steps)``; asking for more batches
    than there are warns that the input ran out, as Keras' epoch iterator does.
    """
    steps = _check_positive_int(steps, "steps")
    size = max(1, math.ceil(n / steps)) if batch_size is None else _check_batch_size(batch_size)
    if steps > -(-n // size):
        warnings.warn(
            f"Your input ran out of data: {n} samples make {-(-n // size)} batches of {size}, got steps={steps}",
            stacklevel=3,
        )
    return size, min(n, steps * size)


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


def _unpack(data):
    """``(x, y, sample_weight)`` from a batch given as ``(x, y)`` or ``(x, y, sample_weight)``."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(
            f"train_step: data must be (x, y) or (x, y, sample_weight), got {type(data).__name__}"
            + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "")
        )
    return data[0], data[1], data[2] if len(data) == 3 else None


def _float_logs(logs):
    """A ``train_step`` result as floats or arrays (it may hold Tensors or 0-d arrays)."""
    if not isinstance(logs, dict):
        raise TypeError(f"train_step must return a dict of metric values, got {type(logs).__name__}")
    return {k: _log_value(np.asarray(_tracing.value_of(v))) for k, v in logs.items()}


def _log_value(result):
    """A metric result for the logs: a float, or a float64 array for a vector result
    (``F1Score(average=None)``, a list of thresholds), as Keras logs it."""
    result = np.asarray(result)
    return float(result) if result.ndim == 0 else result.astype(np.float64)
