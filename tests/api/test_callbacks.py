import csv
import io
import math
import re
import time
import warnings

import numpy as np
import pytest

from ranvier.api import callbacks, metrics


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    """What callbacks use of a model: weights, saving, optimizer, stop_training, metrics."""

    def __init__(self, lr=0.1, metric_list=()):
        self.weights = [np.zeros((2, 2)), np.zeros(2)]
        self.optimizer = FakeOptimizer(lr)
        self.stop_training = False
        self.metrics = list(metric_list)
        self.saved = []

    def get_weights(self):
        return self.weights  # the same arrays: callbacks must copy

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


def run(cbs, epoch_logs, model=None, steps=2, batch_logs=None, **params):
    """Drive callbacks as fit does; the weights hold the epoch index after each epoch.

    Returns (model, epochs run).
    """
    model = model or FakeModel()
    cl = callbacks.CallbackList(
        cbs,
        add_history=True,
        model=model,
        epochs=len(epoch_logs),
        steps=steps,
        verbose=params.pop("verbose", 0),
        **params,
    )
    cl.on_train_begin()
    ran = 0
    for epoch, logs in enumerate(epoch_logs):
        cl.on_epoch_begin(epoch)
        for b in range(steps):
            cl.on_train_batch_begin(b)
            cl.on_train_batch_end(b, dict(batch_logs or {"loss": 1.0}))
        for w in model.weights:
            w[...] = epoch
        cl.on_epoch_end(epoch, dict(logs))
        ran += 1
        if model.stop_training:
            break
    cl.on_train_end()
    return model, ran


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))
        logs["extra"] = 1.0


# ---------------------------------------------------------- CallbackList
def test_callback_list_calls_in_order_and_shares_logs():
    rec = Recorder()
    model, _ = run([rec], [{"val_loss": np.float32(0.5), "loss": np.float64(0.25)}], steps=1)
    kinds = [c[0] for c in rec.calls]
    assert kinds == ["batch_end", "epoch_end"]  # on_train_batch_end falls back to on_batch_end
    logs = rec.calls[1][2]
    assert list(logs) == ["loss", "val_loss"] and all(type(v) is float for v in logs.values())
    # The History after the recorder sees what the recorder added.
    assert model.history.history["extra"] == [1.0]


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="Callback instances, got 3"):
        callbacks.CallbackList([3])
    with pytest.raises(TypeError, match="Callback instances"):
        callbacks.CallbackList().append(object())


def test_append_goes_before_the_progress_bar_and_gets_model_and_params():
    model = FakeModel()
    cl = callbacks.CallbackList(None, add_progbar=True, model=model, verbose=1, epochs=3, steps=4)
    h = callbacks.History()
    cl.append(h)
    assert [type(c) for c in cl] == [callbacks.History, callbacks.ProgbarLogger]
    assert h.model is model and h.params["epochs"] == 3 and model.history is h


def test_history_records_every_epoch():
    model, _ = run([], [{"loss": 3.0}, {"loss": 2.0, "val_loss": 2.5}, {"loss": 1.0, "val_loss": 1.5}])
    assert model.history.history == {"loss": [3.0, 2.0, 1.0], "val_loss": [2.5, 1.5]}
    assert model.history.epoch == [0, 1, 2]


# ------------------------------------------------------------ progress bar
class FakeTTY(io.StringIO):
    def isatty(self):
        return True


_LINE = re.compile(r"^3/3 ━{20} \d+s \d+(us|ms|s)/step - accuracy: 0\.5000 - loss: 0\.2500 - val_loss: 0\.3000$")


def _train_with_progbar(monkeypatch, stream, verbose, epochs=2):
    monkeypatch.setattr("sys.stdout", stream)
    logs = [{"loss": 0.25, "accuracy": 0.5, "val_loss": 0.3}] * epochs
    run([callbacks.ProgbarLogger()], logs, steps=3, batch_logs={"loss": 0.25, "accuracy": 0.5}, verbose=verbose)
    return stream.getvalue()


def test_progbar_in_a_log_file_prints_one_line_per_epoch(monkeypatch):
    out = _train_with_progbar(monkeypatch, io.StringIO(), verbose=1)
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert _LINE.match(lines[1]) and _LINE.match(lines[3]), lines


def test_progbar_in_a_terminal_redraws_in_place(monkeypatch):
    out = _train_with_progbar(monkeypatch, FakeTTY(), verbose=1, epochs=1)
    assert out.count("\n") == 1 and out.endswith("\n")  # one epoch: no "Epoch 1/1", one final line
    frames = out.split("\r")[1:]
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", f).rstrip() for f in frames]
    assert plain[0].startswith("1/3 ") and _LINE.match(plain[-1])
    assert "\x1b[32m" in out  # colours only in a terminal


def test_progbar_rate_limits_redraws():
    slow, fast = FakeTTY(), FakeTTY()
    for stream, interval in ((slow, 3600.0), (fast, 0.0)):
        bar = callbacks.Progbar(50, interval=interval, stream=stream)
        for step in range(1, 51):
            bar.update(step, [("loss", 1.0 / step)])
    assert slow.getvalue().count("\r") == 2  # the first frame and the final one
    assert fast.getvalue().count("\r") == 50


def test_progbar_pads_a_shorter_redraw():
    stream = FakeTTY()
    bar = callbacks.Progbar(3, interval=0.0, stream=stream)
    bar.update(1, [("loss", 123456.0)])
    bar.update(2, [("loss", 1.0)])
    first, second = stream.getvalue().split("\r")[1:]
    visible = [len(re.sub(r"\x1b\[[0-9;]*m", "", f)) for f in (first, second)]
    assert visible[1] >= visible[0]


def test_progbar_verbose_2_prints_one_line_per_epoch(monkeypatch):
    out = _train_with_progbar(monkeypatch, FakeTTY(), verbose=2)
    lines = out.splitlines()
    assert "\r" not in out and len(lines) == 4
    assert re.match(
        r"^3/3 - \d+s - \d+(us|ms|s)/step - accuracy: 0\.5000 - loss: 0\.2500 - val_loss: 0\.3000$", lines[1]
    )


def test_progbar_unknown_target_and_small_values():
    stream = io.StringIO()
    bar = callbacks.Progbar(None, stream=stream)
    bar.update(5, [("loss", 1e-5)], finalize=True)
    assert re.match(r"^ +5/Unknown \d+s \d+(us|ms|s)/step - loss: 1\.0000e-05\n$", stream.getvalue())


def test_progbar_falls_back_to_ascii():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    bar = callbacks.Progbar(2, stream=stream)
    bar.update(2, [("loss", 0.5)])
    stream.seek(0)
    assert "2/2 ====================" in stream.read()


def test_progbar_validates_arguments():
    with pytest.raises(ValueError, match="verbose must be 0, 1 or 2, got 3"):
        callbacks.Progbar(10, verbose=3)
    with pytest.raises(ValueError, match="target must be"):
        callbacks.Progbar(-1)


def test_progbar_logger_evaluate_and_predict(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdout", stream)
    cl = callbacks.CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1, epochs=1, steps=2)
    cl.on_test_begin()
    cl.on_test_batch_end(0, {"loss": 0.5})
    cl.on_test_batch_end(1, {"loss": 0.5})
    cl.on_test_end({"loss": 0.5})
    cl.on_predict_begin()
    cl.on_predict_batch_end(0, {"outputs": np.zeros(3)})
    cl.on_predict_end()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("- loss: 0.5000") and "outputs" not in lines[1]


# ---------------------------------------------------------- EarlyStopping
def _losses(values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


def test_early_stopping_patience():
    model, ran = run([callbacks.EarlyStopping(patience=2)], _losses([1.0, 0.9, 0.95, 0.96, 0.8]))
    # Best at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3.
    assert ran == 4 and model.stop_training


def test_early_stopping_restores_best_weights():
    es = callbacks.EarlyStopping(patience=1, restore_best_weights=True)
    model, ran = run([es], _losses([1.0, 0.5, 0.7, 0.8]))
    assert ran == 3 and es.best_epoch == 1
    assert all(np.all(w == 1) for w in model.weights)  # weights as after epoch 1


def test_early_stopping_min_delta_and_max_mode():
    _, ran = run(
        [callbacks.EarlyStopping(monitor="val_accuracy", patience=0, min_delta=0.05)],
        _losses([0.5, 0.6, 0.62, 0.9], key="val_accuracy"),
    )
    assert ran == 3  # +0.02 < min_delta: no improvement
    _, ran = run(
        [callbacks.EarlyStopping(monitor="val_accuracy", patience=0)], _losses([0.5, 0.6, 0.7, 0.8], key="val_accuracy")
    )
    assert ran == 4  # "auto" knows accuracy goes up


def test_early_stopping_baseline_and_warm_up():
    # As in Keras: an epoch that improves but misses the baseline does not reset the patience.
    values = [0.9, 0.8, 0.85, 0.7, 0.6]
    _, ran = run([callbacks.EarlyStopping(patience=2, baseline=0.5)], _losses(values))
    assert ran == 3
    _, ran = run([callbacks.EarlyStopping(patience=2)], _losses(values))
    assert ran == 5
    _, ran = run([callbacks.EarlyStopping(patience=0, start_from_epoch=3)], _losses([1, 2, 3, 4, 5]))
    assert ran == 5  # epochs 0-2 ignored, then 4 > 3


def test_early_stopping_unknown_monitor_warns_once_and_never_stops():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, ran = run([callbacks.EarlyStopping(monitor="val_acc_typo")], _losses([1, 2, 3]))
    msgs = [str(w.message) for w in caught]
    assert ran == 3 and not model.stop_training
    assert len(msgs) == 1 and "'val_acc_typo'" in msgs[0] and "val_loss" in msgs[0]


def test_direction_comes_from_the_model_metrics():
    class Custom(metrics.Mean):
        direction = "up"

    model = FakeModel(metric_list=[Custom(name="score")])
    _, ran = run([callbacks.EarlyStopping(monitor="val_score")], _losses([1, 2, 3], key="val_score"), model=model)
    assert ran == 3


def test_direction_unknown_warns_and_assumes_min():
    with pytest.warns(UserWarning, match="assuming down"):
        _, ran = run([callbacks.EarlyStopping(monitor="score")], _losses([1, 2, 3], key="score"))
    assert ran == 2


def test_monitor_arguments_are_validated():
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max', got 'up'"):
        callbacks.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience must be a non-negative integer, got -1"):
        callbacks.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="factor must be in"):
        callbacks.ReduceLROnPlateau(factor=1.5)


# --------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_formats_the_path(tmp_path):
    path = str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.2f}.ranvier")
    model, _ = run([callbacks.ModelCheckpoint(path)], _losses([0.5, 0.25]))
    assert model.saved == [
        ("model", str(tmp_path / "ckpt" / "m-01-0.50.ranvier")),
        ("model", str(tmp_path / "ckpt" / "m-02-0.25.ranvier")),
    ]
    assert (tmp_path / "ckpt" / "m-02-0.25.ranvier").read_text() == "model"


def test_model_checkpoint_save_best_only_weights(tmp_path):
    path = str(tmp_path / "w-{epoch}.npz")
    model, _ = run(
        [callbacks.ModelCheckpoint(path, save_best_only=True, save_weights_only=True)], _losses([1.0, 0.5, 0.7, 0.4])
    )
    assert [p for _, p in model.saved] == [str(tmp_path / f"w-{e}.npz") for e in (1, 2, 4)]
    assert {kind for kind, _ in model.saved} == {"weights"}


def test_model_checkpoint_initial_value_threshold_and_max_mode(tmp_path):
    path = str(tmp_path / "best")
    model, _ = run(
        [callbacks.ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True, initial_value_threshold=0.6)],
        _losses([0.5, 0.7, 0.65], key="val_accuracy"),
    )
    assert len(model.saved) == 1


def test_model_checkpoint_every_n_batches(tmp_path):
    path = str(tmp_path / "e{epoch}b{batch}")
    model, _ = run([callbacks.ModelCheckpoint(path, save_freq=3)], _losses([1, 1]), steps=2)
    assert [p for _, p in model.saved] == [str(tmp_path / "e2b1")]


def test_model_checkpoint_bad_path_key(tmp_path):
    with pytest.raises(ValueError, match="cannot format filepath .*val_auc"):
        run([callbacks.ModelCheckpoint(str(tmp_path / "{val_auc}"))], _losses([1.0]))
    with pytest.raises(ValueError, match="save_freq"):
        callbacks.ModelCheckpoint("x", save_freq=0)


# ----------------------------------------------------- learning-rate control
def test_learning_rate_scheduler_two_and_one_argument_forms():
    model, _ = run([callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)], _losses([1, 1, 1]))
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5**3)
    assert model.history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    model, _ = run([callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))], _losses([1, 1]))
    assert model.optimizer.learning_rate == pytest.approx(0.02)


def test_learning_rate_scheduler_rejects_bad_values():
    with pytest.raises(ValueError, match="finite float >= 0, got 'fast'"):
        run([callbacks.LearningRateScheduler(lambda e, lr: "fast")], _losses([1]))
    with pytest.raises(ValueError, match="got nan at epoch 0"):
        run([callbacks.LearningRateScheduler(lambda e, lr: math.nan)], _losses([1]))
    model = FakeModel()
    model.optimizer = object()
    with pytest.raises(ValueError, match="'learning_rate' attribute"):
        run([callbacks.LearningRateScheduler(lambda e: 0.1)], _losses([1]), model=model)


def test_reduce_lr_on_plateau():
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.03)
    model, _ = run([cb], _losses([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    # The logged rate is the one the epoch ran with. Reductions at the end of epochs 1 and 3
    # (the cooldown counts down through the epoch after a reduction, as in Keras), never below min_lr.
    assert model.history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.03, 0.03])
    assert model.optimizer.learning_rate == pytest.approx(0.03)


def test_reduce_lr_counts_only_significant_improvements():
    cb = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.1)
    model, _ = run([cb], _losses([1.0, 0.95, 0.92, 0.5]))
    assert model.optimizer.learning_rate == pytest.approx(0.05)


# ------------------------------------------------------------------ others
def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    run([callbacks.CSVLogger(path)], [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.4, "val_loss": 0.45}])
    rows = list(csv.DictReader(path.open()))
    assert rows == [{"epoch": "0", "loss": "0.5", "val_loss": "0.6"}, {"epoch": "1", "loss": "0.4", "val_loss": "0.45"}]
    run([callbacks.CSVLogger(path, append=True)], [{"loss": 0.3, "val_loss": 0.35}])
    assert path.read_text().count("epoch") == 1 and len(list(csv.DictReader(path.open()))) == 3
    run([callbacks.CSVLogger(path, separator=";")], [{"loss": 0.3}])
    assert path.read_text().splitlines() == ["epoch;loss", "0;0.3"]


def test_lambda_callback():
    seen = []
    cb = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((epoch, logs["val_loss"])),
        on_batch_end=lambda b, logs: seen.append(b),
    )
    run([cb], _losses([0.5, 0.25]), steps=1)
    assert seen == [0, (0, 0.5), 0, (1, 0.25)]
    with pytest.raises(TypeError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        callbacks.LambdaCallback(on_epoch_end=3)


class PoisonWeights(callbacks.Callback):
    """Make the model's weights NaN from epoch ``at`` on (a diverged run)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.at:
            self.model.weights[0][0, 0] = np.nan


def test_model_checkpoint_never_writes_a_non_finite_model(tmp_path):
    path = str(tmp_path / "last.ranvier")
    with pytest.warns(UserWarning) as caught:
        model, _ = run([PoisonWeights(1), callbacks.ModelCheckpoint(path)], _losses([1.0, 0.5, 0.4]))
    # The weights stay poisoned: epochs 2 and 3 are both refused.
    assert [str(w.message) for w in caught] == [
        f"ModelCheckpoint: the model has NaN or inf weights at epoch {epoch}; not saving it to {path}"
        for epoch in (2, 3)
    ]
    assert model.saved == [("model", path)]  # epoch 1 only: the good file stays


def test_model_checkpoint_of_a_diverged_fit_keeps_the_last_good_file(tmp_path):
    import ranvier as rv

    rv.config.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x @ np.ones((4, 1), "float32")
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(8, activation="relu"), rv.layers.Dense(1)])
    model.compile(optimizer=rv.optimizers.SGD(0.01), loss="mse")
    path = tmp_path / "model.ranvier"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(path)])
    good = path.read_bytes()
    model.optimizer.learning_rate = 1e6  # diverges within the next epoch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x * 1e3, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(path)])
    assert not np.isfinite(model.get_weights()[0]).all()
    assert any("not saving it to" in str(w.message) for w in caught)
    assert path.read_bytes() == good
    assert np.isfinite(rv.saving.load_model(path).get_weights()[0]).all()


def test_terminate_on_nan_names_the_epoch_and_batch(capsys):
    cbs = [callbacks.TerminateOnNaN()]
    model, ran = run(cbs, _losses([1, 1, 1]), batch_logs={"loss": float("nan")})
    assert ran == 1 and model.stop_training
    assert "Epoch 1, batch 1: Invalid loss, terminating training" in capsys.readouterr().out


# RemoteMonitor
class _Server:
    """A local HTTP server in a thread recording every POST (path, headers, body); answers ``status``."""

    def __init__(self, status=200, delay=0.0):
        import http.server
        import threading

        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers), body))
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def _fit_tiny(cb, epochs=2):
    import ranvier as rv

    rv.utils.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((2,)), rv.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.arange(16, dtype=np.float32).reshape(8, 2) / 16
    return model.fit(x, x.sum(1), epochs=epochs, batch_size=4, validation_split=0.25, callbacks=[cb], verbose=0)


def test_remote_monitor_posts_epoch_logs_as_a_form(no_proxy):
    import json
    import urllib.parse

    with _Server() as server:
        history = _fit_tiny(callbacks.RemoteMonitor(root=server.root, headers={"X-Run": "7"}))
    assert len(server.requests) == 2
    for epoch, (path, headers, body) in enumerate(server.requests):
        assert path == "/publish/epoch/end/"
        assert headers["Content-Type"] == "application/x-www-form-urlencoded" and headers["X-Run"] == "7"
        form = urllib.parse.parse_qs(body.decode())
        sent = json.loads(form["data"][0])
        assert sent == {"epoch": epoch, **{k: v[epoch] for k, v in history.history.items()}}


def test_remote_monitor_send_as_json(no_proxy):
    import json

    with _Server() as server:
        monitor = callbacks.RemoteMonitor(root=server.root, path="/p", field="ignored", send_as_json=True)
        monitor.on_epoch_end(3, {"loss": np.float32(0.5), "per_class": np.array([1.0, 2.0]), "lr": np.array(0.1)})
    ((path, headers, body),) = server.requests
    assert path == "/p" and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"epoch": 3, "loss": 0.5, "per_class": [1.0, 2.0], "lr": 0.1}


def test_remote_monitor_failures_warn_and_training_goes_on(no_proxy, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.warns(UserWarning, match="RemoteMonitor: could not reach the server at http://127.0.0.1"):
        history = _fit_tiny(callbacks.RemoteMonitor(root=dead))
    assert len(history.history["loss"]) == 2
    with _Server(status=500) as server, pytest.warns(UserWarning, match="500"):
        callbacks.RemoteMonitor(root=server.root).on_epoch_end(0, {"loss": 1.0})
    monkeypatch.setattr(callbacks, "_REMOTE_MONITOR_TIMEOUT", 0.2)
    with _Server(delay=1.0) as server, pytest.warns(UserWarning, match="timed out"):
        callbacks.RemoteMonitor(root=server.root).on_epoch_end(0, {"loss": 1.0})


def test_remote_monitor_skips_link_local_hosts(monkeypatch):
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port: [(None, None, None, "", ("169.254.169.254", 0))])
    with pytest.warns(UserWarning, match="link-local"):
        callbacks.RemoteMonitor(root="http://metadata.example").on_epoch_end(0, {"loss": 1.0})


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(root="ftp://host"), ValueError, "root must be an http:// or https:// URL, got 'ftp://host'"),
        (dict(root="http://"), ValueError, "root must name a host, got 'http://'"),
        (dict(root="http://a", path="@evil.com/"), ValueError, "must not change the host .* got '@evil.com/'"),
        (dict(root=b"http://a"), TypeError, "root must be a string, got b'http://a'"),
        (dict(field=1), TypeError, "field must be a string, got 1"),
        (dict(headers={"a": 1}), TypeError, r"headers must be a dict of strings or None, got \{'a': 1\}"),
    ],
)
def test_remote_monitor_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        callbacks.RemoteMonitor(**kwargs)
