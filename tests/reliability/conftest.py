"""Shared tools of the reliability suites (issue 16).

A hard per-test timeout (a hang dumps every thread's stack and ends the run
instead of blocking CI), a snapshot of a model's state for "a rejected call
changes nothing", a child-process runner for the kill and full-disk tests,
and the hostile-file corpus (``hostile_corpus``).

``RANVIER_SLOW_TESTS=1`` runs the long variants (more examples, more files,
more iterations); see docs/reliability.md for what each suite measured.
"""

import faulthandler
import io
import json
import os
import subprocess
import sys
import types
import warnings
import zipfile

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import saving

SLOW = bool(os.environ.get("RANVIER_SLOW_TESTS"))
# Generous: the fast tests take seconds; a hang is what this catches.
_HARD_TIMEOUT = 900 if SLOW else 180


@pytest.fixture(autouse=True)
def _hard_timeout():
    """A test still running after ``_HARD_TIMEOUT`` s dumps all stacks and exits the process."""
    faulthandler.dump_traceback_later(_HARD_TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def snapshot():
    """``snapshot(model)``: the bytes of every weight and optimizer slot, to compare before/after a call."""

    def take(model):
        parts = [np.ascontiguousarray(w).tobytes() for w in model.get_weights()]
        if model.compiled and getattr(model, "_flat_params", None) is not None:
            state = model.optimizer.get_state()
            parts += [k.encode() + np.ascontiguousarray(state[k]).tobytes() for k in sorted(state)]
        return parts

    return take


def small_model(compiled=True, units=3, features=4, seed=0):
    """A two-layer classifier, built and (by default) compiled with Adam."""
    rv.config.set_random_seed(seed)
    model = rv.Sequential([rv.layers.Input((features,)), rv.layers.Dense(8, activation="relu"), rv.layers.Dense(units)])
    if compiled:
        model.compile(optimizer="adam", loss=rv.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture(scope="session")
def make_model():
    return small_model


def _child_env():
    """The environment a child needs to import the ranvier under test (source tree or installed)."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(rv.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


@pytest.fixture
def run_child():
    """``run_child(code, timeout)``: run ``python -c code`` with this ranvier; a hang fails the test."""

    def run(code, timeout=120, **kwargs):
        return subprocess.run(
            [sys.executable, "-c", code],
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )

    return run


@pytest.fixture
def spawn_child():
    """``spawn_child(code)``: a ``Popen`` of ``python -c code`` with this ranvier (stdout piped)."""

    def spawn(code, **kwargs):
        return subprocess.Popen(
            [sys.executable, "-c", code], env=_child_env(), stdout=subprocess.PIPE, text=True, **kwargs
        )

    return spawn


# ------------------------------------------------------------ hostile corpus
def _zip(members, compression=zipfile.ZIP_DEFLATED):
    """A zip of ``[(name, bytes), ...]`` in that order (duplicate names on purpose: zipfile's warning is silenced)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, payload in members:
            zf.writestr(name, payload)
    return buf.getvalue()


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _npz(arrays):
    return _zip([(f"{k}.npy", _npy(v)) for k, v in arrays.items()])


def _zeros_member(zf, name, size, header=b""):
    """A member of ``size`` bytes (``header`` then zeros), streamed so the bomb is never held in memory."""
    chunk = bytes(1 << 20)
    with zf.open(name, "w", force_zip64=True) as fh:
        fh.write(header)
        left = size - len(header)
        while left > 0:
            fh.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def zip_bomb_npz(inflated_bytes, name="w00000"):
    """An ``.npz`` whose one float32 array inflates to ``inflated_bytes`` (a few KB per 10 MB compressed)."""
    n = inflated_bytes // 4
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (n,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _zeros_member(zf, f"{name}.npy", len(header.getvalue()) + 4 * n, header.getvalue())
    return buf.getvalue()


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: a loader that unpickles leaves the marker behind."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def deep_functional_config(depth, units=2):
    """A functional-model config of ``depth`` chained ``Dense(units)`` layers (no weights built)."""
    dense = {"class_name": "Dense", "config": {"units": units, "activation": "linear"}}
    layers, nodes = [], []
    for i in range(depth):
        layers.append({"class_name": "Dense", "config": dict(dense["config"], name=f"d{i}")})
        source = ["input", 0] if i == 0 else [i - 1, 0]
        nodes.append(
            {
                "layer": f"d{i}",
                "inputs": [source],
                "multi_input": False,
                "n_main": 1,
                "static_kwargs": {},
                "tensor_kwargs": {},
            }
        )
    return {
        "name": "deep",
        "input_layers": [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, units]}}],
        "layers": layers,
        "nodes": nodes,
        "outputs": [[depth - 1, 0]],
    }


def build_hostile_corpus(directory, bomb_bytes=256 << 20, deep=1500):
    """Write hostile ``.ranvier`` files into ``directory``; return ``[(kind, path), ...]``.

    Every file is one a loader must refuse: truncations, bit flips, wrong JSON
    types, huge shapes in the config, zip bombs in ``weights.npz`` and in the
    config, deeply nested JSON and a ``deep``-layer graph, pickled objects in the
    npz (whose unpickling would create ``directory/PWNED``), member names with
    ``..`` and absolute paths, duplicate members, and weights that do not fit
    the config. Bit flips are ``bit_flips``' business: a flip in a field
    nothing reads leaves a file that may load.
    """
    os.makedirs(directory, exist_ok=True)
    good = saving.to_bytes(small_model())
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cfg = json.loads(members["config.json"])
    weights, optimizer = members["weights.npz"], members["optimizer.npz"]
    files = []

    def add(kind, payload):
        path = os.path.join(directory, f"{len(files):04d}-{kind}.ranvier")
        with open(path, "wb") as fh:
            fh.write(payload)
        files.append((kind, path))

    def with_config(kind, new_cfg, weights_npz=weights):
        text = new_cfg if isinstance(new_cfg, (str, bytes)) else json.dumps(new_cfg)
        add(kind, _zip([("config.json", text), ("weights.npz", weights_npz), ("optimizer.npz", optimizer)]))

    def patched(path, value):
        """``cfg`` with the item at ``path`` (keys and indices) replaced by ``value``."""
        new = json.loads(json.dumps(cfg))
        node = new
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return new

    # Truncations, from the empty file to one byte short.
    for cut in sorted({0, 1, 4, 22, 30, 100, len(good) // 4, len(good) // 2, len(good) - 22, len(good) - 1}):
        add("truncated", good[:cut])
    # Wrong JSON types and values, top level and inside a layer config.
    dense = ["config", "layers", 1, "config"]
    wrong = [
        ((), []),
        ((), "ranvier"),
        ((), None),
        (("format",), 1),
        (("format_version",), "1"),
        (("format_version",), 2),
        (("class_name",), 7),
        (("class_name",), "NoSuchModel"),
        (("class_name",), "Dense"),
        (("config",), None),
        (("config",), "layers"),
        (("config",), []),
        (("config", "layers"), {"a": 1}),
        (("config", "layers"), [1, 2, 3]),
        (("config", "layers", 1), "Dense"),
        (("config", "layers", 1, "class_name"), ["Dense"]),
        (("config", "layers", 1, "class_name"), "os.system"),
        (("config", "layers", 1, "class_name"), "Lambda"),
        (("config", "layers", 1, "config"), None),
        ((*dense, "units"), "8"),
        ((*dense, "units"), -8),
        ((*dense, "units"), 0),
        ((*dense, "units"), 8.5),
        ((*dense, "units"), None),
        ((*dense, "units"), 10**30),
        ((*dense, "activation"), 5),
        ((*dense, "activation"), "no_such_activation"),
        ((*dense, "activation"), {"class_name": "eval", "config": {}}),
        ((*dense, "kernel_initializer"), [1]),
        ((*dense, "dtype"), "object"),
        ((*dense, "dtype"), "float16"),
        (("config", "layers", 0, "config", "batch_shape"), "4"),
        (("config", "layers", 0, "config", "batch_shape"), [None, -4]),
        (("compile_config", "optimizer"), 3),
        (("compile_config", "optimizer"), {"class_name": "Adam", "config": {"learning_rate": "fast"}}),
        (("compile_config", "loss"), {"class_name": "NoSuchLoss", "config": {}}),
    ]
    for path, value in wrong:
        with_config("wrong-json", value if not path else patched(path, value))
    with_config("not-json", b"{not json")
    with_config("not-utf8", b"\xff\xfe\x00{")
    # Huge shapes: a config whose weights would need terabytes, or whose weights.npz cannot match.
    with_config("huge-shape", patched([*dense, "units"], 10**9))
    with_config("huge-shape", patched(["config", "layers", 0, "config", "batch_shape"], [None, 10**9]))
    with_config("huge-shape", patched(["config", "layers", 0, "config", "batch_shape"], [None, 2**62]))
    with_config("huge-shape", patched([*dense, "units"], 4000))  # 16 KB -> 4000 x 4 kernel, no such weights
    # Zip bombs: weights.npz inflating to ``bomb_bytes``, config.json past the size cap, both as stored members.
    add("zip-bomb", _zip([("config.json", members["config.json"]), ("weights.npz", zip_bomb_npz(bomb_bytes))]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _zeros_member(zf, "config.json", (64 << 20) + 1)
        zf.writestr("weights.npz", weights)
    add("zip-bomb", buf.getvalue())
    # Deep nesting: JSON nested past the recursion limit, and a graph of ``deep`` layers.
    with_config("deep-json", "[" * 100_000 + "]" * 100_000)
    with_config("deep-json", patched(["config"], json.loads("[" * 500 + "]" * 500)))
    deep_cfg = dict(cfg, class_name="Functional", config=deep_functional_config(deep), build_config=None)
    deep_cfg["compile_config"] = None
    with_config("deep-graph", deep_cfg)
    # Pickled objects where arrays belong (loading must never unpickle).
    marker = os.path.join(directory, "PWNED")
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    with_config("pickle", cfg, weights_npz=_npz({"w00000": payload}))
    add("pickle", _zip([("config.json", members["config.json"]), ("weights.npz", _npy(payload))]))
    with_config("pickle", cfg, weights_npz=_zip([("w00000.npy", b"\x80\x04" + b"cos\nsystem\n")]))
    # Member names that climb out of the archive (a loader must never extract anything).
    add("path", _zip([("../config.json", members["config.json"]), ("weights.npz", weights)]))
    add("path", _zip([("config.json", members["config.json"]), ("/tmp/../weights.npz", weights)]))
    with_config("path", cfg, weights_npz=_zip([("../w00000.npy", _npy(np.zeros((4, 8), np.float32)))]))
    # Duplicate members: the valid one first or last, the other one hostile.
    add("duplicate", _zip([("config.json", members["config.json"]), ("config.json", b"[]"), ("weights.npz", weights)]))
    add("duplicate", _zip([("config.json", members["config.json"]), ("weights.npz", weights), ("weights.npz", b"x")]))
    # Wrong weights: too few, wrong shape, wrong dtype, NaN, a non-npz.
    arrays = [np.zeros((4, 8), np.float32), np.zeros(8, np.float32), np.zeros((8, 3), np.float32), np.zeros(3)]
    for bad in (
        arrays[:3],
        [arrays[1], *arrays[1:]],
        [a.astype(np.complex64) for a in arrays],
        [a.astype("U1") for a in arrays],
    ):
        with_config("weights", cfg, weights_npz=_npz({f"w{i:05d}": a for i, a in enumerate(bad)}))
    with_config("weights", cfg, weights_npz=b"not an npz")
    with_config("weights", cfg, weights_npz=_npz({f"w{i:05d}": np.full_like(a, np.nan) for i, a in enumerate(arrays)}))
    add("not-zip", b"PK\x03\x04" + bytes(100))
    add("not-zip", json.dumps(cfg).encode())
    return files


def bit_flips(payload, count, seed=0):
    """``count`` copies of ``payload``, each with one random bit flipped: ``[(offset, bytes), ...]``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        flipped = bytearray(payload)
        offset = int(rng.integers(len(flipped)))
        flipped[offset] ^= 1 << int(rng.integers(8))
        out.append((offset, bytes(flipped)))
    return out


def model_file(path, config, weights_npz):
    """Write a ``.ranvier`` zip of ``config`` (a dict) and ``weights_npz`` (bytes) to ``path``."""
    with open(path, "wb") as fh:
        fh.write(_zip([("config.json", json.dumps(config)), ("weights.npz", weights_npz)]))
    return path


def saved_config(model):
    """The ``config.json`` dict ``model.save`` writes."""
    with zipfile.ZipFile(io.BytesIO(saving.to_bytes(model))) as zf:
        return json.loads(zf.read("config.json"))


def oversized_config(width):
    """The saved config of a ``Dense(width)`` on ``width`` inputs (a ``width``-squared kernel), ~1.5 KB."""
    cfg = saved_config(small_model(compiled=False))
    cfg["config"]["layers"][0]["config"]["batch_shape"] = [None, width]
    cfg["config"]["layers"][1]["config"]["units"] = width
    cfg["build_config"] = None
    return cfg


@pytest.fixture(scope="session")
def hostile():
    """The corpus builders (a fixture: test modules cannot import this conftest)."""
    return types.SimpleNamespace(
        corpus=build_hostile_corpus,
        bit_flips=bit_flips,
        zip_bomb_npz=zip_bomb_npz,
        model_file=model_file,
        saved_config=saved_config,
        oversized_config=oversized_config,
        deep_functional_config=deep_functional_config,
        small_weights=lambda: _npz({f"w{i:05d}": w for i, w in enumerate(small_model(compiled=False).get_weights())}),
    )
