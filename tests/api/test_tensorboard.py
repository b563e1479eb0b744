"""TensorBoard callback and its event-file writer, read back with a protobuf reader written here.

The reader below follows the protobuf wire format and TensorFlow's Event /
Summary / HistogramProto field numbers on its own (no code shared with
ranvier's writer), so a wrong field number or framing shows up as a decode
failure; tensorboard's own readers check the same files when installed.
"""

import glob
import os
import re
import struct

import numpy as np
import pytest

import ranvier as rv
from ranvier import layers
from ranvier.api import _event_file, callbacks
from ranvier.api._errors import UnsupportedArgument


# ------------------------------------------------------- independent reader
def _mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """The data of every complete, CRC-valid TFRecord of ``path`` (stops at a truncated tail)."""
    with open(path, "rb") as f:
        blob = f.read()
    out, at = [], 0
    while at + 12 <= len(blob):
        header = blob[at : at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[at + 8 : at + 12])
        assert length_crc == _mask(_event_file.crc32c(header))
        if at + 16 + length > len(blob):
            break
        data = blob[at + 12 : at + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[at + 12 + length : at + 16 + length])
        assert data_crc == _mask(_event_file.crc32c(data))
        out.append(data)
        at += 16 + length
    return out


def _read_varint(buf, at):
    shift = value = 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def parse_message(buf):
    """Field number -> list of raw values (int for varints, bytes for the fixed and length-delimited types)."""
    fields, at = {}, 0
    while at < len(buf):
        key, at = _read_varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _read_varint(buf, at)
        elif wire == 1:
            value, at = buf[at : at + 8], at + 8
        elif wire == 5:
            value, at = buf[at : at + 4], at + 4
        elif wire == 2:
            length, at = _read_varint(buf, at)
            value, at = buf[at : at + length], at + length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(number, []).append(value)
    assert at == len(buf)
    return fields


def _double(raw):
    return struct.unpack("<d", raw)[0]


def decode_event(data):
    """A dict: wall_time, step, and file_version or values [(tag, float or histogram dict)]."""
    fields = parse_message(data)
    step = fields[2][0] if 2 in fields else 0
    event = {"wall_time": _double(fields[1][0]), "step": step - (1 << 64) if step >> 63 else step}
    if 3 in fields:
        event["file_version"] = fields[3][0].decode()
    event["values"] = []
    for summary in fields.get(5, []):
        for value in parse_message(summary)[1]:
            v = parse_message(value)
            tag = v[1][0].decode()
            if 2 in v:
                event["values"].append((tag, struct.unpack("<f", v[2][0])[0]))
            else:
                h = parse_message(v[5][0])
                histo = {
                    name: _double(h[i][0]) for i, name in enumerate(("min", "max", "num", "sum", "sum_squares"), 1)
                }
                histo["bucket_limit"] = np.frombuffer(h[6][0], "<f8")
                histo["bucket"] = np.frombuffer(h[7][0], "<f8")
                event["values"].append((tag, histo))
    return event


def read_run(directory):
    """{tag: [(step, value)]} over every event file of ``directory``, plus the file paths."""
    paths = sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*")))
    series = {}
    for path in paths:
        events = [decode_event(r) for r in read_records(path)]
        assert events[0]["file_version"] == "brain.Event:2"
        for event in events[1:]:
            for tag, value in event["values"]:
                series.setdefault(tag, []).append((event["step"], value))
    return series, paths


# ------------------------------------------------------------------ CRC32C
@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", 0x00000000),
        (b"123456789", 0xE3069283),
        # RFC 3720 appendix B.4
        (bytes(32), 0x8A9136AA),
        (b"\xff" * 32, 0x62A8AB43),
        (bytes(range(32)), 0x46DD794E),
        (bytes(range(31, -1, -1)), 0x113FDB5C),
    ],
)
def test_crc32c_known_vectors(data, expected):
    assert _event_file.crc32c(data) == expected


def _random_blobs():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in (1, 7, 64, 1000, 4099)]


def test_crc32c_matches_google_crc32c():
    google_crc32c = pytest.importorskip("google_crc32c")
    for blob in _random_blobs():
        assert _event_file.crc32c(blob) == google_crc32c.value(blob)


def test_crc32c_matches_crcmod():
    crcmod = pytest.importorskip("crcmod.predefined")
    for blob in _random_blobs():
        assert _event_file.crc32c(blob) == crcmod.mkCrcFun("crc-32c")(blob)


def test_masked_crc_and_record_framing():
    data = b"hello event"
    record = _event_file.frame_record(data)
    assert len(record) == 8 + 4 + len(data) + 4
    assert struct.unpack("<Q", record[:8])[0] == len(data)
    assert struct.unpack("<I", record[-4:])[0] == _mask(_event_file.crc32c(data))
    assert _event_file.masked_crc32c(data) == _mask(_event_file.crc32c(data))


def test_protobuf_encoding_of_negative_and_large_steps(tmp_path):
    writer = _event_file.EventFileWriter(str(tmp_path))
    for step in (0, 1, 127, 128, 2**40, -1):
        writer.add_scalar("s", 0.5, step)
    writer.close()
    events = [decode_event(r) for r in read_records(writer.path)]
    assert [e["step"] for e in events[1:]] == [0, 1, 127, 128, 2**40, -1]
    assert all(e["values"] == [("s", 0.5)] for e in events[1:])


# --------------------------------------------------------------- histogram
def test_histogram_proto_matches_a_hand_count():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(17, 5)).astype(np.float32)
    h = decode_event(_event_file._event(0.0, 0, summary=_event_file._summary_value("w", histo=_hist(values))))
    h = h["values"][0][1]
    flat = values.astype(np.float64).ravel()
    assert (h["min"], h["max"], h["num"]) == (flat.min(), flat.max(), flat.size)
    np.testing.assert_allclose([h["sum"], h["sum_squares"]], [flat.sum(), (flat**2).sum()], rtol=1e-12)
    # 30 equal-width buckets [limit[i-1], limit[i]), the maximum in the last.
    edges = flat.min() + (flat.max() - flat.min()) * np.arange(31) / 30
    np.testing.assert_allclose(h["bucket_limit"], edges[1:], rtol=1e-12)
    index = np.minimum((flat - flat.min()) * 30 // (flat.max() - flat.min()), 29).astype(int)
    np.testing.assert_array_equal(h["bucket"], np.bincount(index, minlength=30))


def _hist(values):
    return _event_file.histogram_proto(values)


def test_histogram_of_equal_values_and_of_non_finite_entries():
    h = decode_event(_event_file._event(0.0, 0, summary=_event_file._summary_value("w", histo=_hist(np.full(4, 2.5)))))
    h = h["values"][0][1]
    assert (h["min"], h["max"], h["num"], list(h["bucket_limit"]), list(h["bucket"])) == (2.5, 2.5, 4, [2.5], [4])
    h = parse_message(_hist([1.0, np.nan, np.inf, 3.0]))
    assert _double(h[3][0]) == 2 and _double(h[2][0]) == 3.0
    assert _hist([np.nan, -np.inf]) is None
    assert _hist(np.zeros((0, 3))) is None


# ---------------------------------------------------------------- callback
def _model():
    rv.utils.set_random_seed(0)
    model = rv.Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    model.compile(rv.optimizers.SGD(0.05), "mse", metrics=["mae"])
    return model


def _data(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32)


def test_fit_writes_keras_layout(tmp_path):
    model = _model()
    x, y = _data()
    tb = callbacks.TensorBoard(tmp_path, histogram_freq=2)
    history = model.fit(x, y, batch_size=12, epochs=3, validation_split=0.25, callbacks=[tb], verbose=0)
    train, train_files = read_run(tmp_path / "train")
    val, val_files = read_run(tmp_path / "validation")
    assert len(train_files) == len(val_files) == 1
    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.[^/]+\.\d+\.\d+\.v2", os.path.basename(train_files[0]))
    h = history.history
    for tag, key, series in [
        ("epoch_loss", "loss", train),
        ("epoch_mae", "mae", train),
        ("epoch_loss", "val_loss", val),
        ("epoch_mae", "val_mae", val),
    ]:
        assert [s for s, _ in series[tag]] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in series[tag]], h[key], rtol=1e-6)
    assert [v for _, v in train["epoch_learning_rate"]] == [np.float32(0.05)] * 3
    # 36 training samples in batches of 12: the optimizer has run 3, 6, 9 steps at the epoch ends.
    assert [s for s, _ in val["evaluation_loss_vs_iterations"]] == [3, 6, 9]
    np.testing.assert_allclose([v for _, v in val["evaluation_loss_vs_iterations"]], h["val_loss"], rtol=1e-6)
    assert not any(tag.startswith("batch_") for tag in train)  # update_freq="epoch"
    names = [w.name for layer in model.layers for w in layer.weights]
    assert sorted(t for t in train if t.endswith("/histogram")) == sorted(f"{n}/histogram" for n in names)
    for layer in model.layers:
        for w in layer.weights:
            steps = train[f"{w.name}/histogram"]
            assert [s for s, _ in steps] == [0, 2]
            last = steps[-1][1]  # written at the end of the last epoch: the final weights
            assert (last["min"], last["max"], last["num"]) == (w.value.min(), w.value.max(), w.value.size)
            assert last["bucket"].sum() == w.value.size
    assert all(writer.closed for writer in [*tb._writers.values()]) and tb._writers == {}


def test_batch_scalars_every_update_freq_batches(tmp_path):
    model = _model()
    x, y = _data()
    seen = []
    record = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    tb = callbacks.TensorBoard(str(tmp_path), update_freq=3, write_steps_per_second=True)
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[record, tb], verbose=0)  # 6 batches an epoch
    train, _ = read_run(tmp_path / "train")
    assert [s for s, _ in train["batch_loss"]] == [3, 6, 9, 12]
    np.testing.assert_allclose([v for _, v in train["batch_loss"]], [seen[i - 1] for i in (3, 6, 9, 12)], rtol=1e-6)
    assert [s for s, _ in train["batch_steps_per_second"]] == [3, 6, 9, 12]
    assert all(v > 0 for _, v in train["batch_steps_per_second"] + train["epoch_steps_per_second"])
    assert [s for s, _ in train["epoch_steps_per_second"]] == [0, 1]
    assert not os.path.exists(tmp_path / "validation")  # no validation, no validation run

    tb = callbacks.TensorBoard(str(tmp_path / "b"), update_freq="batch")
    model.fit(x, y, batch_size=16, epochs=1, callbacks=[tb], verbose=0)
    assert [s for s, _ in read_run(tmp_path / "b" / "train")[0]["batch_loss"]] == [1, 2, 3]


def test_each_fit_writes_new_files_and_test_end_writes_evaluation(tmp_path):
    model = _model()
    x, y = _data()
    tb = callbacks.TensorBoard(tmp_path)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[tb])
    train, files = read_run(tmp_path / "train")
    assert len(files) == 2 and [s for s, _ in train["epoch_loss"]] == [0, 0]

    # Called as an evaluation would (Keras' on_test_end): evaluation_* once, at optimizer.iterations.
    tb.set_model(model)
    tb.on_train_begin()
    tb.on_epoch_begin(0)
    tb.on_test_end({"loss": 2.0})
    tb.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    tb.on_train_end()
    val, _ = read_run(tmp_path / "validation")
    assert val["evaluation_loss_vs_iterations"] == [(model.optimizer.iterations, 2.0)]
    assert val["epoch_loss"] == [(0, 2.0)]


def test_non_scalar_logs_are_skipped(tmp_path):
    tb = callbacks.TensorBoard(tmp_path)
    tb.set_model(None)
    tb.on_train_begin()
    tb.on_epoch_begin(0)
    tb.on_epoch_end(
        0, {"loss": np.float32(0.25), "confusion": np.eye(2), "name": "x", "flag": True, "z": np.array([1j])}
    )
    tb.on_train_end()
    train, _ = read_run(tmp_path / "train")
    assert train == {"epoch_loss": [(0, 0.25)]}


def test_flushed_records_survive_a_truncated_tail(tmp_path):
    writer = _event_file.EventFileWriter(str(tmp_path))
    writer.add_scalar("a", 1.0, 0)
    writer.add_scalar("a", 2.0, 1)
    writer.flush()
    # A process killed while writing the next record: part of it reached the file.
    partial = _event_file.frame_record(_event_file._event(0.0, 2, summary=_event_file._summary_value("a", 3.0)))
    with open(writer.path, "ab") as f:
        f.write(partial[:-7])
    series, _ = read_run(tmp_path)
    assert series == {"a": [(0, 1.0), (1, 2.0)]}
    writer.close()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(write_images=True), UnsupportedArgument, "write_images must be False, got True"),
        (dict(profile_batch=2), UnsupportedArgument, "profile_batch must be 0, got 2"),
        (dict(profile_batch=(1, 3)), UnsupportedArgument, r"profile_batch must be 0, got \(1, 3\)"),
        (dict(embeddings_freq=1), UnsupportedArgument, "embeddings_freq must be 0, got 1"),
        (dict(update_freq=0), ValueError, "update_freq must be .* got 0"),
        (dict(update_freq="step"), ValueError, "update_freq must be .* got 'step'"),
        (dict(histogram_freq=-1), ValueError, "histogram_freq must be a non-negative integer, got -1"),
        (dict(log_dir=""), ValueError, "log_dir must not be empty, got ''"),
        (dict(log_dir=3), TypeError, "log_dir must be a string or a path, got 3"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        callbacks.TensorBoard(**kwargs)


def test_keras_signature_and_export():
    import inspect

    import ranvier.callbacks

    assert ranvier.callbacks.TensorBoard is callbacks.TensorBoard
    params = inspect.signature(callbacks.TensorBoard).parameters
    assert {name: p.default for name, p in params.items()} == dict(
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    )


# --------------------------------------------------- tensorboard's readers
def test_tensorboard_event_accumulator_reads_scalars_and_histograms(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    model = _model()
    x, y = _data()
    tb = callbacks.TensorBoard(tmp_path, histogram_freq=1, update_freq=2)
    history = model.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:8], y[:8]), callbacks=[tb], verbose=0)
    guidance = {event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0}
    train = event_accumulator.EventAccumulator(str(tmp_path / "train"), size_guidance=guidance).Reload()
    val = event_accumulator.EventAccumulator(str(tmp_path / "validation"), size_guidance=guidance).Reload()
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_mae", "epoch_learning_rate", "batch_loss", "batch_mae"}
    assert set(val.Tags()["scalars"]) == {
        "epoch_loss",
        "epoch_mae",
        "evaluation_loss_vs_iterations",
        "evaluation_mae_vs_iterations",
    }
    loss = train.Scalars("epoch_loss")
    assert [e.step for e in loss] == [0, 1]
    np.testing.assert_allclose([e.value for e in loss], history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([e.value for e in val.Scalars("epoch_loss")], history.history["val_loss"], rtol=1e-6)
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [3, 6]
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6]
    kernel = model.layers[0].weights[0]
    histos = train.Histograms(f"{kernel.name}/histogram")
    assert [h.step for h in histos] == [0, 1]
    last = histos[-1].histogram_value
    assert (last.min, last.max, last.num) == (kernel.value.min(), kernel.value.max(), kernel.value.size)
    assert sum(last.bucket) == kernel.value.size and len(last.bucket) == len(last.bucket_limit) == 30


def test_tensorboard_server_path_sees_scalar_and_histogram_plugins(tmp_path):
    # What the TensorBoard server loads: old-style values migrated to the scalars and histograms plugins.
    pea = pytest.importorskip("tensorboard.backend.event_processing.plugin_event_accumulator")
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=1, callbacks=[callbacks.TensorBoard(tmp_path, histogram_freq=1)], verbose=0)
    acc = pea.EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0}).Reload()
    assert {"epoch_loss", "epoch_mae", "epoch_learning_rate"} <= set(acc.PluginTagToContent("scalars"))
    names = {f"{w.name}/histogram" for layer in model.layers for w in layer.weights}
    assert set(acc.PluginTagToContent("histograms")) == names
    tensor_util = pytest.importorskip("tensorboard.util.tensor_util")
    kernel = model.layers[0].weights[0].value
    buckets = tensor_util.make_ndarray(acc.Tensors(f"{model.layers[0].weights[0].name}/histogram")[0].tensor_proto)
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == kernel.size  # rows: left, right, count
    assert (buckets[0, 0], buckets[-1, 1]) == (kernel.min(), kernel.max())


def test_tensorboard_reader_rejects_a_corrupted_record(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    writer = _event_file.EventFileWriter(str(tmp_path))
    writer.add_scalar("a", 1.0, 0)
    writer.add_scalar("a", 2.0, 1)
    writer.close()
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0}).Reload()
    assert [(e.step, e.value) for e in acc.Scalars("a")] == [(0, 1.0), (1, 2.0)]
    with open(writer.path, "r+b") as f:  # flip one byte of the last record's payload
        f.seek(-6, os.SEEK_END)
        byte = f.read(1)
        f.seek(-6, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0xFF]))
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0}).Reload()
    assert [(e.step, e.value) for e in acc.Scalars("a")] == [(0, 1.0)]
