"""Loading within bounds: deep models, size caps checked before allocating, one error type."""

import io
import json
import pickle
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import _archive, saving


def _deep_sequential(depth):
    return rv.Sequential([rv.layers.Input((3,))] + [rv.layers.Dense(3) for _ in range(depth)])


def _deep_functional(depth):
    x = inp = rv.layers.Input((3,))
    for _ in range(depth):
        x = rv.layers.Dense(3)(x)
    return rv.Model(inp, x)


@pytest.mark.parametrize("make", [_deep_sequential, _deep_functional])
def test_a_model_deeper_than_the_recursion_limit_builds_saves_and_loads(make):
    depth = max(2000, sys.getrecursionlimit() + 100)
    model = make(depth)
    again = saving.from_bytes(saving.to_bytes(model))
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_building_is_linear_in_depth():
    def seconds(depth):
        start = time.perf_counter()
        _deep_sequential(depth)
        return time.perf_counter() - start

    seconds(50)  # warm up
    small, large = min(seconds(200) for _ in range(2)), min(seconds(1600) for _ in range(2))
    # 8x the layers: linear is ~8x, quadratic ~64x; 20x leaves room for a busy machine.
    assert large < 20 * small + 0.05


def test_add_without_rebuild_builds_once_when_used():
    model = rv.Sequential([rv.layers.Input((3,))])
    for _ in range(3):
        model.add(rv.layers.Dense(2), rebuild=False)
    assert not model.built
    assert model.predict(np.ones((1, 3), np.float32), verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="already in the model"):
        model.add(model.layers[0])


# ------------------------------------------------------------ hostile files
def _small_model():
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((4,)), rv.layers.Dense(5, activation="relu", name="hidden"), rv.layers.Dense(3, name="out")]
    )
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(np.ones((2, 4), np.float32), np.ones((2, 3), np.float32))
    return model


@pytest.fixture(scope="module")
def saved():
    """(model, its saved bytes, its members {name: bytes})."""
    model = _small_model()
    payload = saving.to_bytes(model)
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    return model, payload, members


def _zip(members, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(array, **kwargs):
    buf = io.BytesIO()
    np.save(buf, array, **kwargs)
    return buf.getvalue()


def _with_config(members, edit):
    cfg = json.loads(members["config.json"])
    edit(cfg)
    return _zip({**members, "config.json": json.dumps(cfg)})


def _set(path, value):
    def edit(cfg):
        target = cfg
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _nested(depth):
    return "[" * depth + "]" * depth


def _functional_members():
    x = rv.layers.Input((3,))
    payload = saving.to_bytes(rv.Model(x, rv.layers.Dense(2)(rv.layers.Dense(2)(x))))
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _hostile_files(members):
    """(label, bytes) of files that must be refused: configs of the wrong types, huge shapes,
    deep nesting, hostile zips and arrays."""
    dense = ["config", "layers", 1, "config"]
    weights = members["weights.npz"]
    with zipfile.ZipFile(io.BytesIO(weights)) as zf:
        arrays = {name: zf.read(name) for name in zf.namelist()}
    for label, path, value in [
        ("config not a dict", ["config"], []),
        ("layers not a list", ["config", "layers"], {"a": 1}),
        ("layer config a string", ["config", "layers", 1], "Dense"),
        ("class_name a number", ["class_name"], 5),
        ("units a string", dense + ["units"], "five"),
        ("units negative", dense + ["units"], -1),
        ("units huge", dense + ["units"], 10**12),
        ("units a float", dense + ["units"], 1e300),
        ("activation unknown", dense + ["activation"], "nope"),
        ("initializer a list", dense + ["kernel_initializer"], [1, 2]),
        ("input shape huge", ["config", "layers", 0, "config", "batch_shape"], [None, 10**9]),
        ("input shape negative", ["config", "layers", 0, "config", "batch_shape"], [None, -4]),
        ("weights not a list", ["weights"], "w"),
        ("weights entry short", ["weights", 0], ["dense/kernel", [4, 5]]),
        ("weights shape negative", ["weights", 0, 1], [-4, 5]),
        ("weights shape a bool", ["weights", 0, 1], [True, 5]),
        ("weights dtype object", ["weights", 0, 2], "object"),
        ("weights dtype unknown", ["weights", 0, 2], "float128x"),
        ("weights huge", ["weights", 0, 1], [10**6, 10**6]),
        ("weights shape differs", ["weights", 0, 1], [5, 4]),
        ("compile_config broken", ["compile_config"], {"optimizer": 3}),
        ("optimizer unknown", ["compile_config", "optimizer"], "nope"),
        ("deeply nested layer", dense + ["kernel_regularizer"], json.loads(_nested(900))),
        ("build_config huge", ["build_config"], {"input_shape": [None, 10**12]}),
    ]:
        yield label, _with_config(members, _set(path, value))
    functional = _functional_members()
    for ref in ([1, 0], [-1, 0], [0, 9], ["input", 3], "x"):
        yield (
            "graph reference " + json.dumps(ref),
            _with_config(functional, _set(["config", "nodes", 1, "inputs", 0], ref)),
        )
    yield "config nested too deep for json", _zip({**members, "config.json": _nested(100_000)})
    yield "config not utf-8", _zip({**members, "config.json": b"\xff\xfe{"})
    yield "config of many lists", _zip({**members, "config.json": "[" + "[]," * 600_000 + "[]]"})
    yield "config over the cap", _zip({**members, "config.json": b" " * (9 << 20)})
    yield "not a zip", b"PK\x03\x04 hello"
    yield "empty", b""
    yield "members missing", _zip({"config.json": members["config.json"]})
    yield "many members", _zip({**members, **{f"x{i}": b"" for i in range(100)}})
    yield "npz empty", _zip({**members, "weights.npz": b""})
    yield "npz missing an array", _zip({**members, "weights.npz": _zip(dict(list(arrays.items())[:-1]))})
    yield "npz extra array", _zip({**members, "weights.npz": _zip({**arrays, "w00009.npy": _npy(np.ones(3))})})
    pickled = _npy(np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    yield "npz pickled array", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": pickled})})
    big_header = b"\x93NUMPY\x01\x00" + (60000).to_bytes(2, "little") + b" " * 60000
    yield "npy header huge", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": big_header})})
    yield "npy shape wrong", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": _npy(np.ones((5, 4)))})})
    yield "npy dtype int", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": _npy(np.ones((4, 5), int))})})
    yield "npy truncated", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": arrays["w00000.npy"][:-7]})})
    yield (
        "npy trailing bytes",
        _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": arrays["w00000.npy"] + b"x"})}),
    )
    nan = _npy(np.full((4, 5), np.nan, np.float32))
    yield "weights NaN", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": nan})})
    beyond = _npy(np.full((4, 5), 1e39))
    yield "weights beyond float32", _zip({**members, "weights.npz": _zip({**arrays, "w00000.npy": beyond})})
    yield "optimizer state wrong", _zip({**members, "optimizer.npz": _zip({"iterations.npy": _npy(np.ones(3))})})
    bomb = _zip({"w00000.npy": bytes(64 << 20)})
    yield "npz bomb", _zip({**members, "weights.npz": bomb})


# Config edits found when the arrays are checked against the weights list (before the build).
_FOUND_IN_ARRAYS = ("weights shape differs", "weights NaN", "weights beyond float32")


def _refused(payload, **kwargs):
    """The InvalidModelFileError loading ``payload`` raises (the test fails on any other outcome)."""
    with pytest.raises(rv.saving.InvalidModelFileError) as info:
        saving.from_bytes(payload, **kwargs)
    return info.value


def test_every_hostile_file_is_an_invalid_model_file_error_naming_the_member(saved):
    _, _, members = saved
    for label, payload in _hostile_files(members):
        try:
            err = _refused(payload)
        except BaseException as exc:
            raise AssertionError(f"{label}: {exc!r}") from exc
        assert isinstance(err, ValueError)
        assert str(err).startswith("<bytes>"), (label, str(err))
        if label.startswith(("weights", "units", "config", "layer", "graph")) and label not in _FOUND_IN_ARRAYS:
            assert err.member == "config.json", (label, str(err))
        if label.startswith(("npy", "npz")) or label in _FOUND_IN_ARRAYS:
            assert err.member.startswith("weights.npz"), (label, str(err))


def test_a_bad_array_is_named_with_its_member(saved):
    _, _, members = saved
    with zipfile.ZipFile(io.BytesIO(members["weights.npz"])) as zf:
        arrays = {name: zf.read(name) for name in zf.namelist()}
    arrays["w00002.npy"] = _npy(np.ones(7, np.float32))
    err = _refused(_zip({**members, "weights.npz": _zip(arrays)}))
    assert err.member == "weights.npz:w00002"
    assert "shape (7,)" in str(err)


def test_bit_flips_and_truncations_load_identically_or_are_refused(saved):
    model, payload, _ = saved
    rng = np.random.default_rng(0)
    x = np.ones((2, 4), np.float32)
    expected = model.predict(x, verbose=0)
    outcomes = {"loaded": 0, "refused": 0}
    cases = [payload[:n] for n in rng.integers(0, len(payload), 40)]
    for position in rng.integers(0, len(payload), 300):
        flipped = bytearray(payload)
        flipped[position] ^= 1 << int(rng.integers(8))
        cases.append(bytes(flipped))
    start = time.perf_counter()
    for case in cases:
        try:
            again = saving.from_bytes(case)
        except rv.saving.InvalidModelFileError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1  # a flip in a field nothing reads (a timestamp): nothing changed
        np.testing.assert_array_equal(again.predict(x, verbose=0), expected)
    assert outcomes["refused"] > 200, outcomes
    assert time.perf_counter() - start < 30


def test_a_zip_bomb_is_refused_before_it_is_inflated(saved):
    _, _, members = saved
    bomb = _zip({**members, "weights.npz": _zip({"w00000.npy": bytes(256 << 20)})})
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        err = _refused(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.member == "weights.npz" and "declares" in str(err)
    assert peak < 16 << 20


def test_a_member_declaring_less_than_its_stream_holds_is_read_no_further():
    payload = _zip({"data": bytes(32 << 20)})
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        zf.getinfo("data").file_size = 1000  # as a forged header would say
        tracemalloc.start()
        try:
            with pytest.raises(rv.saving.InvalidModelFileError, match="CRC"), _archive.reading("f", "data"):
                _archive.read_member(zf, "data", 2000, "a test")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 1 << 20


def test_a_huge_layer_with_a_small_weights_list_is_refused_before_allocating(saved):
    _, _, members = saved

    def huge(cfg):
        cfg["config"]["layers"][0]["config"]["batch_shape"] = [None, 16000]
        cfg["config"]["layers"][1]["config"]["units"] = 16000

    tracemalloc.start()
    try:
        err = _refused(_with_config(members, huge))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.member == "config.json" and "(16000, 16000)" in str(err)
    assert peak < 16 << 20


def test_max_bytes_caps_the_declared_weights(saved, monkeypatch):
    model, payload, _ = saved
    nbytes = sum(v.value.nbytes for v in model.weights)
    saving.from_bytes(payload, max_bytes=nbytes)
    err = _refused(payload, max_bytes=nbytes - 1)
    assert f"max_bytes={nbytes - 1}" in str(err) and err.member == "config.json"
    monkeypatch.setenv("RANVIER_MAX_LOAD_BYTES", str(nbytes - 1))
    _refused(payload)
    monkeypatch.setenv("RANVIER_MAX_LOAD_BYTES", "lots")
    with pytest.raises(ValueError, match="RANVIER_MAX_LOAD_BYTES must be a positive integer"):
        saving.from_bytes(payload)
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
            saving.from_bytes(payload, max_bytes=bad)


def test_the_error_keeps_its_cause_and_pickles(saved):
    _, _, members = saved
    err = _refused(_zip({**members, "weights.npz": b"not a zip"}))
    assert err.__cause__ is not None
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.member, str(again)) == (err.path, err.member, str(err))
    assert rv.saving.InvalidModelFileError is saving.InvalidModelFileError


# ------------------------------------------------------------ all or nothing
def test_set_weights_with_a_bad_third_array_changes_nothing(saved):
    model = _small_model()
    before = model.get_weights()
    for bad in (np.full(before[2].shape, np.nan, np.float32), np.full(before[2].shape, 1e39), before[2][:-1]):
        arrays = [w + 1 for w in before]
        arrays[2] = bad
        with pytest.raises(ValueError, match="out/kernel"):
            model.set_weights(arrays)
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)


def test_load_weights_with_a_bad_third_array_changes_nothing(tmp_path):
    model = _small_model()
    before = model.get_weights()
    arrays = {f"w{i:05d}": w + 1 for i, w in enumerate(before)}
    arrays["w00002"] = np.full(before[2].shape, np.inf, np.float32)
    np.savez(tmp_path / "w.npz", **arrays)
    with pytest.raises(rv.saving.InvalidModelFileError, match="out/kernel"):
        model.load_weights(tmp_path / "w.npz")
    arrays["w00002"] = np.ones((2, 2), np.float32)
    np.savez(tmp_path / "w.npz", **arrays)
    with pytest.raises(rv.saving.InvalidModelFileError, match="w00002: has shape"):
        model.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.npz")
