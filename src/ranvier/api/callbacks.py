"""Callbacks: hooks ``fit``/``evaluate``/``predict`` call at each epoch and batch (Keras interface).

The model drives one :class:`CallbackList`; it calls ``on_train_begin``,
``on_epoch_begin(epoch)``, ``on_train_batch_begin/end(batch, logs)``,
``on_epoch_end(epoch, logs)`` and ``on_train_end``, with ``logs`` a dict of
metric name -> float (``"loss"``, ``"accuracy"``, ``"val_loss"`` ...).
Callbacks read ``self.model`` (``stop_training``, ``get_weights``,
``set_weights``, ``save``, ``save_weights``, ``optimizer.learning_rate``) and
``self.params`` (``verbose``, ``epochs``, ``steps``).
"""

import collections.abc
import csv
import inspect
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from . import _event_file, _training_state
from . import metrics as metrics_module
from ._errors import UnsupportedArgument

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "Progbar",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "BackupAndRestore",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "TensorBoard",
    "RemoteMonitor",
    "TerminateOnNaN",
    "LambdaCallback",
    "SwapEMAWeights",
]


def _check_save_freq(owner, save_freq):
    if save_freq != "epoch" and (
        isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer)) or save_freq < 1
    ):
        raise ValueError(f"{owner}: save_freq must be 'epoch' or a positive integer, got {save_freq!r}")


def _path(owner, arg, value):
    """``value`` as a file-system path string, or a TypeError naming ``owner``'s argument."""
    try:
        return os.fspath(value)
    except TypeError:
        raise TypeError(f"{owner}: {arg} must be a string or a path, got {value!r}") from None


class Callback:
    """Base class: override the hooks you need; every hook does nothing by default.

    ``on_train_batch_begin/end`` call ``on_batch_begin/end`` (the older names), as in Keras.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


def _plain_logs(logs):
    """A fresh dict, keys sorted as Keras does, NumPy scalars turned into Python floats.

    The same dict goes to every callback, so a value one adds (``learning_rate``)
    is seen by the ones after it (History, the progress bar).
    """
    out = {}
    for key in sorted(logs or {}):
        value = logs[key]
        if isinstance(value, (numbers.Real, np.ndarray)) and np.ndim(value) == 0 and not isinstance(value, bool):
            value = float(value)
        out[key] = value
    return out


class CallbackList(Callback):
    """Calls every hook of a list of callbacks in order; the model drives one of these.

    Parameters
    ----------
    callbacks : Callback or list of Callback, optional
    add_history : bool, default False
        Append a :class:`History` unless the list has one.
    add_progbar : bool, default False
        Append a :class:`ProgbarLogger` (kept last) unless the list has one.
    model : Model, optional
    **params
        Passed to every callback's ``set_params`` (``verbose``, ``epochs``, ``steps``).
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            _check_callback(cb)
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        self._progbar_added = self._progbar is None and add_progbar
        if self._progbar_added:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    def append(self, callback):
        """Add a callback (before the progress bar this list added, so the bar prints last)."""
        _check_callback(callback)
        at = len(self.callbacks) - 1 if self._progbar_added else len(self.callbacks)
        self.callbacks.insert(at, callback)
        if isinstance(callback, History):
            self._history = callback
        if self.model is not None:
            self.set_model(self.model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        self.model = model
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook, *args):
        logs = _plain_logs(args[-1])
        for cb in self.callbacks:
            getattr(cb, hook)(*args[:-1], logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


def _check_callback(cb):
    if not isinstance(cb, Callback):
        raise TypeError(f"callbacks must be Callback instances, got {cb!r}")


class History(Callback):
    """Records the logs of every epoch: ``history.history["val_loss"][epoch]``.

    ``model.fit`` returns it. ``history.epoch`` lists the epoch indices run.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


# ------------------------------------------------------------- progress bar
def _format_value(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"
    return str(value)


def _format_duration(seconds, unit):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _format_eta(seconds):
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


class Progbar:
    """A progress bar in Keras' format: ``12/12 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step - loss: 0.3000``.

    In a terminal (``isatty``) the bar redraws in place with ``\\r``, at most
    once per ``interval`` seconds. Written to a file or a pipe, it prints one
    line when it finishes and nothing before: no carriage returns, no colour codes.
    Values are shown as given (the model passes running means already).

    Parameters
    ----------
    target : int or None
        Total number of steps; None if unknown.
    width : int, default 20
        Bar width in characters.
    verbose : {0, 1, 2}, default 1
        0 silent, 1 progress bar, 2 one line when finished.
    interval : float, default 0.05
        Minimum seconds between two redraws.
    unit_name : str, default "step"
    stream : file-like, optional
        Where to write; ``sys.stdout`` at the time of writing if omitted.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step", stream=None):
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0):
            raise ValueError(f"Progbar: target must be a non-negative integer or None, got {target!r}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose must be 0, 1 or 2, got {verbose!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.unit_name = unit_name
        self._stream = stream
        out = self.stream
        self._dynamic = bool(getattr(out, "isatty", None) and out.isatty()) or "ipykernel" in sys.modules
        try:
            "━".encode(getattr(out, "encoding", None) or "utf-8")
            self._bar_char = "━"
        except (UnicodeEncodeError, LookupError):
            self._bar_char = "="
        self._values = {}
        self._seen = 0
        self._start = time.perf_counter()
        self._last_update = -math.inf
        self._time_after_first_step = None
        self._prev_width = 0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current, values=None, finalize=None):
        """Show step ``current`` with ``values``, a list of ``(name, value)`` pairs.

        ``finalize`` (default: ``current >= target``) ends the line.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for key, value in values or ():
            self._values[key] = value
        self._seen = current
        now = time.perf_counter()
        per_step = self._step_duration(current, now)
        if self.verbose == 0:
            return
        if not finalize and (self.verbose == 2 or not self._dynamic or now - self._last_update < self.interval):
            return
        self._last_update = now
        info = "".join(f" - {k}: {_format_value(v)}" for k, v in self._values.items())
        if self.verbose == 2:
            self._write(
                f"{self._count(current)} - {now - self._start:.0f}s - "
                f"{_format_duration(per_step, self.unit_name)}{info}\n"
            )
            return
        if self.target:
            done = min(self.width, int(self.width * current / self.target))
            bar = self._bar_char * done, self._bar_char * (self.width - done)
        else:
            bar = None
        if self.target and not finalize:
            timing = _format_eta(per_step * (self.target - current))
        else:
            timing = f"{now - self._start:.0f}s"
        timing += " " + _format_duration(per_step, self.unit_name)
        plain = self._count(current) + (f" {bar[0]}{bar[1]}" if bar else "") + f" {timing}{info}"
        if not self._dynamic:
            self._write(plain + "\n")
            return
        line = (
            f"\x1b[1m{self._count(current)}\x1b[0m"
            + (f" \x1b[32m{bar[0]}\x1b[0m\x1b[37m{bar[1]}\x1b[0m" if bar else "")
            + f" \x1b[1m{timing}\x1b[0m{info}"
        )
        pad = " " * max(0, self._prev_width - len(plain))
        self._prev_width = len(plain)
        self._write("\r" + line + pad + ("\n" if finalize else ""))

    def add(self, n, values=None):
        self.update(self._seen + n, values)

    def _count(self, current):
        if not self.target:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        return f"{current:{digits}d}/{self.target}"

    def _step_duration(self, current, now):
        # The first step (warm-up, allocation) is left out of the estimate once there are more.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()


class ProgbarLogger(Callback):
    """Prints ``Epoch 1/5`` and a :class:`Progbar` per epoch, as ``fit(verbose=1|2)`` does.

    ``evaluate`` and ``predict`` get a bar too; validation inside ``fit`` is silent.
    """

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.progbar = None
        self._seen = 0
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _new_bar(self):
        self._seen = 0
        self.progbar = Progbar(self.target, verbose=self.verbose)

    def _update(self, batch, logs):
        if self.progbar is None:
            self._new_bar()
        self._seen = batch + 1
        self.progbar.update(self._seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        if self.progbar is None:
            self._new_bar()
        target = self.progbar.target if self.progbar.target is not None else self._seen
        self.progbar.target = target
        self.progbar.update(target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._new_bar()
        if self.verbose and self.epochs > 1:
            self.progbar._write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finalize(None)


# --------------------------------------------------------------- monitoring
def _metric_direction(model, name):
    """ "up", "down" or None for the metric called ``name`` (without ``val_``)."""
    if name == "loss" or name.endswith("_loss"):
        return "down"
    for m in getattr(model, "metrics", None) or ():
        if getattr(m, "name", None) == name and getattr(m, "direction", None):
            return m.direction
    try:
        return metrics_module.get(name).direction
    except (ValueError, TypeError):
        return None


class _MonitorCallback(Callback):
    """Shared by callbacks that watch one entry of the epoch logs for improvement."""

    def __init__(self, monitor, mode, min_delta, baseline):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"{type(self).__name__}: monitor must be a non-empty string, got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        min_delta = float(min_delta)
        if not math.isfinite(min_delta):
            raise ValueError(f"{type(self).__name__}: min_delta must be a finite number, got {min_delta!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.baseline = None if baseline is None else float(baseline)
        self._direction = None
        self._warned = False

    def _lower_is_better(self):
        if self._direction is None:
            if self.mode != "auto":
                self._direction = "down" if self.mode == "min" else "up"
            else:
                name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
                self._direction = _metric_direction(self.model, name)
                if self._direction is None:
                    warnings.warn(
                        f"{type(self).__name__}: cannot tell whether {self.monitor!r} should go "
                        "up or down; assuming down. Pass mode='max' or mode='min'.",
                        stacklevel=3,
                    )
                    self._direction = "down"
        return self._direction == "down"

    def _initial_best(self):
        if self.baseline is not None:
            return self.baseline
        return math.inf if self._lower_is_better() else -math.inf

    def _is_improvement(self, current, reference):
        if self._lower_is_better():
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def _monitor_value(self, logs):
        """The monitored value, or None (with one warning) when the logs lack it."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"{type(self).__name__} is conditioned on metric {self.monitor!r}, which is "
                    f"not available. Available metrics are: {', '.join(logs or {})}",
                    stacklevel=3,
                )
            return None
        return float(value)


class EarlyStopping(_MonitorCallback):
    """Stop training when the monitored quantity stops improving.

    Parameters
    ----------
    monitor : str, default "val_loss"
    min_delta : float, default 0
        A change smaller than this is no improvement.
    patience : int, default 0
        Epochs without improvement before stopping.
    verbose : {0, 1}, default 0
    mode : {"auto", "min", "max"}, default "auto"
        "auto" takes the direction from the metric (loss, errors: min; accuracies: max).
    baseline : float, optional
        Training stops unless the model beats this value within ``patience`` epochs.
    restore_best_weights : bool, default False
        At the end, put back the weights of the best epoch (``model.set_weights``).
    start_from_epoch : int, default 0
        Epochs of warm-up during which nothing is monitored.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta, baseline)
        self.patience = _non_negative_int(patience, "EarlyStopping: patience")
        self.start_from_epoch = _non_negative_int(start_from_epoch, "EarlyStopping: start_from_epoch")
        self.verbose = verbose
        self.restore_best_weights = bool(restore_best_weights)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.best is None:
            self.best = math.inf if self._lower_is_better() else -math.inf
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_weights(self.model)
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _copy_weights(self.model)
            # The patience restarts only when the baseline is beaten too.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _copy_weights(model):
    return [np.array(w, copy=True) for w in model.get_weights()]


def _non_negative_int(value, arg):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{arg} must be a non-negative integer, got {value!r}")
    return int(value)


class ModelCheckpoint(_MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) during training.

    Parameters
    ----------
    filepath : str or PathLike
        May hold ``{epoch:02d}`` (1-based) and log keys such as ``{val_loss:.2f}``.
    monitor : str, default "val_loss"
    verbose : {0, 1}, default 0
    save_best_only : bool, default False
        Save only when the monitored quantity improves.
    save_weights_only : bool, default False
    mode : {"auto", "min", "max"}, default "auto"
    save_freq : "epoch" or int, default "epoch"
        Save at the end of every epoch, or every ``save_freq`` batches.
    initial_value_threshold : float, optional
        The value to beat before the first save when ``save_best_only``.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, 0, initial_value_threshold)
        self.filepath = _path("ModelCheckpoint", "filepath", filepath)
        _check_save_freq("ModelCheckpoint", save_freq)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self.best = None
        self._epoch = 0
        self._batches_since_save = 0

    def on_train_begin(self, logs=None):
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _filepath(self, epoch, batch, logs):
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r} with epoch and the "
                f"logs {sorted(fields)}: {e!r}"
            ) from None

    def _save(self, epoch, batch, logs):
        path = self._filepath(epoch, batch, logs)
        if self.save_best_only:
            current = self._monitor_value(logs)
            if current is not None:
                if self.best is None:
                    self.best = self._initial_best()
                if not self._is_improvement(current, self.best):
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                    return
                if self.verbose > 0:
                    print(
                        f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                        f"{current:.5f}, saving model to {path}"
                    )
                self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"ModelCheckpoint: filepath must name a file, got the directory {path!r}")
        # A diverged model would replace the last good file with one load_model refuses.
        if not _training_state.is_finite(self.model, optimizer=not self.save_weights_only):
            warnings.warn(
                f"ModelCheckpoint: the model has NaN or inf weights at epoch {epoch + 1}; not saving it to {path}",
                stacklevel=3,
            )
            return
        dirname = os.path.dirname(path)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class BackupAndRestore(Callback):
    """Back up the training state so that an interrupted ``fit`` resumes where it stopped.

    Each backup replaces the previous one in ``backup_dir``: the weights, the
    optimizer state, the epoch and step reached, and every random generator
    the run draws from (shuffling, dropout and noise layers, the global
    seed), so the resumed run ends with the weights an uninterrupted run
    would have, bit for bit. A new ``fit`` with this callback restores the
    backup, if there is one, before its first batch. Backups are written
    atomically, so a process killed at any point leaves the last complete
    one; a model with NaN or inf weights is not backed up (warned). Restart
    with the same model architecture, data and ``fit`` arguments (Keras'
    rule); the epoch logs of a run resumed within an epoch cover the batches
    run after the resumption only.

    Parameters
    ----------
    backup_dir : str or PathLike
        A directory for this run's backup only (created when needed).
    save_freq : "epoch" or int, default "epoch"
        Back up at the end of every epoch, or every ``save_freq`` batches
        (and then resume at that batch).
    delete_checkpoint : bool, default True
        Delete the backup when ``fit`` ends (completed or stopped by a callback).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        self.backup_dir = _path("BackupAndRestore", "backup_dir", backup_dir)
        if not self.backup_dir:
            raise ValueError(f"BackupAndRestore: backup_dir must not be empty, got {backup_dir!r}")
        _check_save_freq("BackupAndRestore", save_freq)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self._generation = 0
        self._epoch = 0
        self._epoch_rng_state = None
        self._batches_since_save = 0

    def _loop(self):
        loop = getattr(self.model, "_fit_loop", None)
        if loop is None:
            raise ValueError(
                "BackupAndRestore: works in a minibatch fit only (not with a full-batch optimizer), "
                f"got a model with optimizer {type(getattr(self.model, 'optimizer', None)).__name__}"
            )
        return loop

    def on_train_begin(self, logs=None):
        loop = self._loop()
        self._batches_since_save = 0
        restored = _training_state.read(self.model, self.backup_dir)
        if restored is not None:
            self._generation, loop.epoch, loop.step, state = restored
            loop.rng.bit_generator.state = state

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        # The epoch's data order comes from this state: a resumption within the epoch draws it again.
        self._epoch_rng_state = self._loop().rng.bit_generator.state

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save((self._epoch, batch + 1), self._epoch_rng_state)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save((epoch + 1, 0), self._loop().rng.bit_generator.state)

    def _save(self, position, fit_rng_state):
        if not _training_state.is_finite(self.model):
            warnings.warn(
                f"BackupAndRestore: the model has NaN or inf weights at epoch {position[0] + 1}; "
                f"keeping the previous backup in {self.backup_dir}",
                stacklevel=3,
            )
            return
        self._generation += 1
        _training_state.write(self.model, self.backup_dir, self._generation, position, fit_rng_state)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            _training_state.remove(self.backup_dir)


def _learning_rate(optimizer):
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"The optimizer must have a 'learning_rate' attribute, got {optimizer!r}")
    try:
        return float(optimizer.learning_rate)
    except TypeError:
        raise TypeError(
            "The optimizer's learning_rate must be a number to be scheduled by a callback, got "
            f"{optimizer.learning_rate!r}"
        ) from None


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, lr) -> float`` (epoch from 0) or ``schedule(epoch) -> float``.
    verbose : {0, 1}, default 0
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        try:
            inspect.signature(schedule).bind(0, 0.0)
            self._takes_lr = True
        except TypeError:
            self._takes_lr = False
        except ValueError:  # no signature (some builtins): try the two-argument form
            self._takes_lr = True

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = _learning_rate(optimizer)
        new_lr = self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)
        if isinstance(new_lr, bool) or not isinstance(new_lr, numbers.Real) or not math.isfinite(new_lr) or new_lr < 0:
            raise ValueError(
                f"LearningRateScheduler: schedule must return a finite float >= 0, got {new_lr!r} at epoch {epoch}"
            )
        optimizer.learning_rate = float(new_lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model.optimizer)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` when the monitored quantity stops improving.

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float in (0, 1), default 0.1
    patience : int, default 10
        Epochs without improvement before reducing.
    verbose : {0, 1}, default 0
    mode : {"auto", "min", "max"}, default "auto"
    min_delta : float, default 1e-4
    cooldown : int, default 0
        Epochs to wait after a reduction before counting again.
    min_lr : float, default 0
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta, None)
        factor = float(factor)
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        min_lr = float(min_lr)
        if not (math.isfinite(min_lr) and min_lr >= 0):
            raise ValueError(f"ReduceLROnPlateau: min_lr must be a finite number >= 0, got {min_lr!r}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = _non_negative_int(patience, "ReduceLROnPlateau: patience")
        self.cooldown = _non_negative_int(cooldown, "ReduceLROnPlateau: cooldown")
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = _learning_rate(optimizer)
        current = self._monitor_value(logs)
        if current is None:
            return
        if self.best is None:
            self.best = self._initial_best()
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old_lr = _learning_rate(optimizer)
            # Compared in float32 as Keras does, so a float32 optimizer at min_lr stops here.
            if old_lr > np.float32(self.min_lr):
                new_lr = max(old_lr * self.factor, self.min_lr)
                optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class CSVLogger(Callback):
    """Write the logs of every epoch as a row of a CSV file (``epoch`` from 0, then keys sorted).

    Parameters
    ----------
    filename : str or PathLike
    separator : str, default ","
    append : bool, default False
        Append to an existing file (no second header) instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = _path("CSVLogger", "filename", filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be a single character, got {separator!r}")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._write_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._write_header = not f.readline()
        self.on_train_end()
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            # Validation keys missing from the first epoch (validation_freq > 1) still get a column.
            for name in getattr(self.model, "metrics_names", None) or ():
                if name.startswith("val_") and name not in self.keys:
                    self.keys.append(name)
        if self._writer is None:
            self._writer = csv.DictWriter(
                self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep, extrasaction="ignore"
            )
            if self._write_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = None


def _csv_value(value):
    if isinstance(value, str) or np.ndim(value) == 0 or not isinstance(value, (collections.abc.Iterable, np.ndarray)):
        return value
    return f"[{', '.join(map(str, value))}]"


def _scalar_or_none(value):
    """``value`` as a float if it is one real number (a log entry TensorBoard can plot), else None."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray)) or np.size(value) != 1:
        return None
    if isinstance(value, np.ndarray) and value.dtype.kind not in "iuf":
        return None
    return float(np.asarray(value).reshape(()))


class TensorBoard(Callback):
    """Write TensorBoard event files: losses, metrics, learning rate and weight histograms.

    The files are written by ranvier itself (no TensorFlow or tensorboard
    package needed) in Keras' layout, so ``tensorboard --logdir <log_dir>``
    shows two runs:

    - ``<log_dir>/train``: ``epoch_<name>`` for every training log
      (``epoch_loss``, ``epoch_accuracy`` ...) and ``epoch_learning_rate``, at
      step ``epoch`` (from 0); ``<weight name>/histogram`` (e.g.
      ``dense/kernel/histogram``, 30 equal-width buckets of the finite
      entries) every ``histogram_freq`` epochs; ``batch_<name>`` every
      ``update_freq`` batches, at step = batches run since ``fit`` began (from 1).
    - ``<log_dir>/validation``: ``epoch_<name>`` for every ``val_<name>`` log at
      step ``epoch``, and ``evaluation_<name>_vs_iterations`` at step
      ``optimizer.iterations``.

    Records are flushed at the end of every epoch and the files closed when
    ``fit`` ends; a run killed mid-way leaves every flushed record readable.
    Each ``fit`` writes new files (one per run directory).

    Parameters
    ----------
    log_dir : str or PathLike, default "logs"
        Created if missing; use one per experiment (TensorBoard shows every file in it).
    histogram_freq : int, default 0
        Epochs between two weight histograms (epochs 0, f, 2f ...); 0 writes none.
    write_graph : bool, default True
        Accepted for Keras compatibility; no graph is written (ranvier has no
        TensorFlow graph to show).
    write_images : bool, default False
        Must be False: writing weights as images is not implemented
        (``UnsupportedArgument``).
    write_steps_per_second : bool, default False
        Also write ``epoch_steps_per_second`` (and ``batch_steps_per_second``
        with the batch scalars).
    update_freq : "epoch", "batch" or int, default "epoch"
        Write the batch logs (``batch_loss`` ...) every this many batches
        ("batch" is 1); "epoch" writes epoch scalars only.
    profile_batch : int, default 0
        Must be 0: there is no profiler (``UnsupportedArgument``, as Keras
        raises for its torch and NumPy backends).
    embeddings_freq : int, default 0
        Must be 0: the embedding projector is not written (``UnsupportedArgument``).
    embeddings_metadata : dict or str, optional
        Accepted and unused (it matters only with ``embeddings_freq > 0``).

    Notes
    -----
    As in Keras, ``on_test_end`` (which ``fit`` calls after each validation)
    writes the ``evaluation_<name>_vs_iterations`` scalars.
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        self.log_dir = _path("TensorBoard", "log_dir", log_dir)
        if not self.log_dir:
            raise ValueError(f"TensorBoard: log_dir must not be empty, got {log_dir!r}")
        self.histogram_freq = _non_negative_int(histogram_freq, "TensorBoard: histogram_freq")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, (int, np.integer)) or update_freq < 1
        ):
            raise ValueError(
                f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, got {update_freq!r}"
            )
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        if write_images:
            raise UnsupportedArgument(
                f"TensorBoard: writing weights as images is not implemented; write_images must be False, "
                f"got {write_images!r}"
            )
        if not (isinstance(profile_batch, (int, np.integer)) and profile_batch == 0):
            raise UnsupportedArgument(
                f"TensorBoard: profiling is not implemented; profile_batch must be 0, got {profile_batch!r}"
            )
        if _non_negative_int(embeddings_freq, "TensorBoard: embeddings_freq"):
            raise UnsupportedArgument(
                f"TensorBoard: the embedding projector is not implemented; embeddings_freq must be 0, "
                f"got {embeddings_freq!r}"
            )
        self.write_graph = bool(write_graph)
        self.write_images = False
        self.write_steps_per_second = bool(write_steps_per_second)
        self.profile_batch = 0
        self.embeddings_freq = 0
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._global_train_batch = 0
        self._epoch_batches = 0
        self._epoch_start = self._batch_start = 0.0
        self._evaluated = False

    def _writer(self, run):
        writer = self._writers.get(run)
        if writer is None:
            # Made when first written to, as in Keras: a fit without validation has no validation run.
            writer = self._writers[run] = _event_file.EventFileWriter(os.path.join(self.log_dir, run))
        return writer

    def _write_scalars(self, run, logs, prefix, step, suffix=""):
        for name, value in logs.items():
            value = _scalar_or_none(value)
            if value is not None:
                self._writer(run).add_scalar(f"{prefix}{name}{suffix}", value, step)

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _iterations(self):
        return int(getattr(getattr(self.model, "optimizer", None), "iterations", 0) or 0)

    def on_train_begin(self, logs=None):
        self._close_writers()
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_batches = 0
        self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._epoch_batches += 1
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        logs = dict(logs or {})
        if self.write_steps_per_second:
            logs["steps_per_second"] = 1.0 / max(time.perf_counter() - self._batch_start, 1e-9)
        self._write_scalars("train", logs, "batch_", self._global_train_batch)

    def on_test_end(self, logs=None):
        self._write_scalars("validation", logs or {}, "evaluation_", self._iterations(), "_vs_iterations")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {name: value for name, value in logs.items() if not name.startswith("val_")}
        val = {name[4:]: value for name, value in logs.items() if name.startswith("val_")}
        try:
            train["learning_rate"] = float(self.model.optimizer.learning_rate)
        except (AttributeError, TypeError, ValueError):  # no optimizer, or one without a numeric rate (L-BFGS)
            pass
        if self.write_steps_per_second and self._epoch_batches:
            train["steps_per_second"] = self._epoch_batches / max(time.perf_counter() - self._epoch_start, 1e-9)
        self._write_scalars("train", train, "epoch_", epoch)
        if val:
            self._write_scalars("validation", val, "epoch_", epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _write_histograms(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.name.replace(":", "_")
                writer.add_histogram(f"{name}/histogram", getattr(weight, "value", weight), epoch)


# A server that never answers must not stall training (Keras waits as long).
_REMOTE_MONITOR_TIMEOUT = 10.0


def _check_url(root, path):
    """Keras' checks, before any request: an http(s) URL whose host ``path`` cannot change."""
    from urllib.parse import urlparse  # pathlib imports it already; kept local with its one user

    parsed = urlparse(root)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"RemoteMonitor: root must be an http:// or https:// URL, got {root!r}")
    if not parsed.hostname:
        raise ValueError(f"RemoteMonitor: root must name a host, got {root!r}")
    if urlparse(root + path).hostname != parsed.hostname:
        raise ValueError(f"RemoteMonitor: path must not change the host of root {root!r}, got {path!r}")


def _link_local(hostname):
    """Whether ``hostname`` resolves to a link-local address (cloud metadata services live there)."""
    import ipaddress
    import socket

    for info in socket.getaddrinfo(hostname, None):
        try:
            if ipaddress.ip_address(info[4][0].split("%")[0]).is_link_local:
                return True
        except ValueError:
            continue
    return False


def _json_value(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item() if value.size == 1 else value.tolist()
    return value


class RemoteMonitor(Callback):
    """POST the logs of every epoch to a server (Keras' ``RemoteMonitor``, with the standard library).

    The body is ``{"epoch": epoch, <log name>: value, ...}`` as JSON, sent as
    a form field ``field=<json>`` (``application/x-www-form-urlencoded``) or,
    with ``send_as_json``, as the request body (``application/json``). A
    failed request (unreachable server, HTTP error status, no answer within
    10 seconds) warns and training goes on.

    Parameters
    ----------
    root : str, default "http://localhost:9000"
        An ``http://`` or ``https://`` URL.
    path : str, default "/publish/epoch/end/"
        Appended to ``root``; it must not change the host.
    field : str, default "data"
        The form field holding the JSON (form requests only).
    headers : dict of str to str, optional
        Extra HTTP headers (they override the ``Content-Type`` set here).
    send_as_json : bool, default False

    Notes
    -----
    Like Keras, a host that resolves to a link-local address (169.254.0.0/16,
    fe80::/10: cloud instance-metadata services) gets no request; Keras
    raises there, ranvier warns and goes on, as for any other failure.
    Keras uses ``requests``; ranvier uses ``urllib`` (imported when a request
    is first sent), with the same proxy settings from the environment.
    """

    def __init__(
        self,
        root="http://localhost:9000",
        path="/publish/epoch/end/",
        field="data",
        headers=None,
        send_as_json=False,
    ):
        super().__init__()
        for arg, value in (("root", root), ("path", path), ("field", field)):
            if not isinstance(value, str):
                raise TypeError(f"RemoteMonitor: {arg} must be a string, got {value!r}")
        if headers is not None and not (
            isinstance(headers, collections.abc.Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise TypeError(f"RemoteMonitor: headers must be a dict of strings or None, got {headers!r}")
        _check_url(root, path)
        self.root = root
        self.path = path
        self.field = field
        self.headers = None if headers is None else dict(headers)
        self.send_as_json = bool(send_as_json)

    def on_epoch_end(self, epoch, logs=None):
        import http.client
        import json
        import urllib.parse
        import urllib.request

        send = {"epoch": epoch}
        send.update((name, _json_value(value)) for name, value in (logs or {}).items())
        if self.send_as_json:
            body, content_type = json.dumps(send, default=str), "application/json"
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send, default=str)})
            content_type = "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, **(self.headers or {})}
        url = self.root + self.path
        try:
            if _link_local(urllib.parse.urlparse(url).hostname):
                warnings.warn(
                    f"RemoteMonitor: not sending to {url}: its host resolves to a link-local address",
                    stacklevel=2,
                )
                return
            request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=_REMOTE_MONITOR_TIMEOUT) as response:
                response.read()
        except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts, resolver errors
            warnings.warn(f"RemoteMonitor: could not reach the server at {url}: {exc}", stacklevel=2)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite (it prints the epoch and batch, from 1)."""

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Epoch {self._epoch + 1}, batch {batch + 1}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Any hook of :class:`Callback` may be given (``on_train_begin``, ``on_batch_end``,
    ``on_test_end`` ...), each with that hook's arguments.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = set(kwargs) - set(_HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {', '.join(sorted(unknown))}; known: {', '.join(_HOOKS)}")
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
            **kwargs,
        )
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {fn!r}")
            setattr(self, name, fn)


class SwapEMAWeights(Callback):
    """Evaluate with the optimizer's moving average of the weights (Keras 3's callback).

    Needs an optimizer with ``use_ema=True``. Before validation (``on_test_begin``)
    the model's weights and their moving average trade places; after it
    (``on_test_end``) they trade back. With ``swap_on_epoch=True`` they also
    trade at each epoch's end and back at the next epoch's start, so that
    callbacks placed after this one (``ModelCheckpoint``) see the averages.

    Parameters
    ----------
    swap_on_epoch : bool, default False
    """

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = bool(swap_on_epoch)
        self._ema_weights_in_model = False

    def _buffers(self):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "use_ema", False):
            raise ValueError(
                "SwapEMAWeights must be used with an optimizer created with use_ema=True, "
                f"got use_ema={getattr(optimizer, 'use_ema', None)!r}"
            )
        return optimizer._ema_buffers()

    def _swap(self, to_average):
        if self._ema_weights_in_model != to_average:
            weights, average = self._buffers()
            held = weights.copy()
            weights[...] = average
            average[...] = held
            self._ema_weights_in_model = to_average

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._swap(False)

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._swap(True)
            if epoch == self.params.get("epochs", 0) - 1:
                # fit ends with finalize_variable_values (weights = average): keep the averages there.
                weights, average = self._buffers()
                average[...] = weights

    def on_test_begin(self, logs=None):
        self._swap(True)

    def on_test_end(self, logs=None):
        self._swap(False)

    def on_predict_begin(self, logs=None):
        self._swap(True)

    def on_predict_end(self, logs=None):
        self._swap(False)
