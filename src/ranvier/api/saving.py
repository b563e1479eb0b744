"""Saving and loading models: one zip of JSON config + npz weights, never pickle.

File layout (``model.save("m.ranvier")``)::

    config.json      {"format": "ranvier", "format_version": 1, "ranvier_version",
                      "class_name", "config", "compile_config",
                      "weights": [[name, shape, dtype], ...]}
    weights.npz      the arrays of ``model.weights``, in order
    optimizer.npz    optimizer slots and iteration count (compiled models)

Loading never unpickles and never evaluates code from the file, and decides
every size before allocating it (``_load`` says in which order; ``_archive``
reads the zips). Every failure to load a file is an
:class:`InvalidModelFileError` (a ``ValueError``) naming the member at fault.
Writes are atomic (``_files.atomic_write``), so an interrupted save never
leaves a half-written model behind.

This module is the file format only: what a layer, a loss or an optimizer
looks like in ``config.json`` is :mod:`ranvier.api.serialization`'s business,
and the functional graph's is ``models/_functional_config.py``.
"""

import io
import json
import math
import numbers
import os
import zipfile

import numpy as np

from . import _archive, losses, metrics, optimizers, serialization, tree
from ._archive import InvalidModelFileError
from ._files import atomic_write as _atomic_write
from .layers._weight_budget import weight_budget

__all__ = [
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "to_bytes",
    "from_bytes",
    "InvalidModelFileError",
    "DEFAULT_MAX_LOAD_BYTES",
    "MAX_LOAD_BYTES_ENV",
]

_FORMAT = "ranvier"
_FORMAT_VERSION = 1
#: The bytes of weights a file may declare when ``load_model`` gets no ``max_bytes``
#: and the environment no ``RANVIER_MAX_LOAD_BYTES``.
DEFAULT_MAX_LOAD_BYTES = 2 << 30
MAX_LOAD_BYTES_ENV = "RANVIER_MAX_LOAD_BYTES"
# config.json: 8 MiB holds a functional model of about 15,000 layers (2,000 Dense layers
# take 1.1 MB) and parses to at most about 100 MB of Python objects with the container cap.
_MAX_CONFIG_BYTES = 8 << 20
_MAX_CONFIG_CONTAINERS = 500_000
# The outer zip: config.json, weights.npz, optimizer.npz and room for members a later
# format version may add (it is refused by its version, with a clear message).
_MAX_MEMBERS = 16


# ------------------------------------------------------------------- files
def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def to_bytes(model):
    """The saved-model zip as bytes (also what pickling a model uses)."""
    from .. import __version__

    model._ensure_graph()
    weights = model.weights
    cfg = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "ranvier_version": __version__,
        "class_name": serialization.get_registered_name(type(model)),
        "config": model.get_config(),
        "build_config": model.get_build_config(),
        "compile_config": getattr(model, "_compile_config", None) if model.compiled else None,
        "weights": [[v.name, list(v.shape), v.dtype.name] for v in weights],
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(cfg))
        zf.writestr("weights.npz", _npz_bytes({f"w{i:05d}": v.value for i, v in enumerate(weights)}))
        if model.compiled and model._flat_params is not None:
            state = model.optimizer.get_state()
            zf.writestr("optimizer.npz", _npz_bytes({k: np.asarray(v) for k, v in state.items()}))
    return buf.getvalue()


def save_model(model, filepath, overwrite=True):
    """Save ``model`` to ``filepath`` (see the module docstring for the format)."""
    _atomic_write(filepath, to_bytes(model), overwrite)


# ----------------------------------------------------------------- loading
def from_bytes(payload, custom_objects=None, compile=True, where="<bytes>", *, max_bytes=None):
    """Rebuild a model from the bytes ``to_bytes`` wrote (``load_model``'s arguments)."""
    return _load(io.BytesIO(payload), where, custom_objects, compile, max_bytes)


def _load(fh, where, custom_objects, compile, max_bytes):
    """The model in the seekable binary file ``fh``, each size checked before it is allocated.

    In this order: the zip's directory; config.json's size, then its JSON; the
    weights list it declares, whose total must fit ``max_bytes``; weights.npz,
    each array's header checked against the list before the array is read (a
    corrupt file fails here, before the costly build); then the layers, built
    within the list's total (``layers/_weight_budget.py``) and compared with it.
    """
    limit = _max_bytes(max_bytes)
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"load_model: custom_objects must be a dict or None, got {custom_objects!r}")
    with _archive.reading(where, None):
        zf = _archive.open_zip(fh, _MAX_MEMBERS)
    with zf:
        names = set(zf.namelist())
        if "config.json" not in names or "weights.npz" not in names:
            raise InvalidModelFileError(where, None, "not a ranvier model file (config.json or weights.npz missing)")
        cfg = _read_config(zf, where)
        declared = _declared_weights(cfg, where, limit)
        specs = {f"w{i:05d}": spec for i, spec in enumerate(declared)}
        arrays = _read_npz(zf, "weights.npz", specs, where, "the weights config.json declares")
        model = _build(cfg, declared, custom_objects, where, limit)
        with _archive.reading(where, "weights.npz"):
            model.set_weights(list(arrays.values()))
        if compile and cfg.get("compile_config"):
            with _archive.reading(where, "config.json"):
                _compile_from_config(model, cfg["compile_config"], custom_objects)
                model._prepare_for_state()
            if "optimizer.npz" in names:
                slots = {k: (v.shape, v.dtype) for k, v in model.optimizer.get_state().items()}
                state = _read_npz(zf, "optimizer.npz", slots, where, "the optimizer's state")
                with _archive.reading(where, "optimizer.npz"):
                    model.optimizer.set_state(state)
    return model


def _max_bytes(max_bytes):
    if max_bytes is None:
        setting = os.environ.get(MAX_LOAD_BYTES_ENV)
        if setting is None:
            return DEFAULT_MAX_LOAD_BYTES
        try:
            max_bytes = int(setting)
        except ValueError:
            raise ValueError(f"{MAX_LOAD_BYTES_ENV} must be a positive integer (bytes), got {setting!r}") from None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes <= 0:
        raise ValueError(f"load_model: max_bytes must be a positive integer (bytes) or None, got {max_bytes!r}")
    return int(max_bytes)


def _read_config(zf, where):
    with _archive.reading(where, "config.json"):
        raw = _archive.read_member(zf, "config.json", _MAX_CONFIG_BYTES, "the most a config may take")
        # Nested empty lists parse to ~70 bytes of objects per byte: count the containers first.
        containers = raw.count(b"[") + raw.count(b"{")
        if containers > _MAX_CONFIG_CONTAINERS:
            raise ValueError(f"holds {containers} lists and objects, more than {_MAX_CONFIG_CONTAINERS}")
        try:
            cfg = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"is corrupt: not JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(cfg, dict) or cfg.get("format") != _FORMAT:
        raise InvalidModelFileError(where, "config.json", "not a ranvier model file (format field missing)")
    if cfg.get("format_version") != _FORMAT_VERSION:
        raise InvalidModelFileError(
            where,
            "config.json",
            f"format version {cfg.get('format_version')!r}; this ranvier reads version {_FORMAT_VERSION}",
        )
    return cfg


def _declared_weights(cfg, where, limit):
    """``[(shape, dtype)]`` of config.json's weights list, refused if it totals over ``limit`` bytes."""
    entries = cfg.get("weights")
    with _archive.reading(where, "config.json"):
        if not isinstance(entries, list):
            raise ValueError(f"'weights' must be a list of [name, shape, dtype], got {entries!r}")
        declared = [_declared_weight(i, entry) for i, entry in enumerate(entries)]
    total = _nbytes(declared)
    if total > limit:
        raise InvalidModelFileError(
            where,
            "config.json",
            f"the weights list declares {total} bytes of weights, more than max_bytes={limit} (pass "
            f"load_model(..., max_bytes=...) or set {MAX_LOAD_BYTES_ENV} to load a larger model)",
        )
    return declared


def _declared_weight(i, entry):
    _, shape, dtype = entry if isinstance(entry, list) and len(entry) == 3 else (None, None, None)
    if not isinstance(shape, list) or not all(_is_dim(d) for d in shape) or not isinstance(dtype, str):
        raise ValueError(f"weights[{i}] must be [name, shape (non-negative integers), dtype], got {entry!r}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"weights[{i}] has dtype {dtype}; a weight holds numbers")
    return tuple(shape), dtype


def _nbytes(declared):
    return sum(math.prod(shape) * dtype.itemsize for shape, dtype in declared)


def _is_dim(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _build(cfg, declared, custom_objects, where, limit):
    """The model config.json describes, its layers built within the weights it declares."""
    total = _nbytes(declared)
    with _archive.reading(where, "config.json"), weight_budget(total, f"the {total} bytes the weights list declares"):
        class_name = cfg.get("class_name")
        if not isinstance(class_name, str):
            raise ValueError(f"the model class name must be a string, got {class_name!r}")
        cls = serialization.lookup(class_name, "model", custom_objects)
        with serialization.custom_object_scope(custom_objects):
            model = cls.from_config(cfg["config"], custom_objects=custom_objects)
        _check_build_config(cfg.get("build_config"), limit)
        model.build_from_config(cfg.get("build_config"))
        model._ensure_graph()
        own = model.weights
    if len(own) != len(declared):
        raise InvalidModelFileError(
            where, "config.json", f"the layers create {len(own)} weights, the weights list declares {len(declared)}"
        )
    for var, (shape, dtype) in zip(own, declared):
        if var.shape != shape or var.dtype != dtype:
            raise InvalidModelFileError(
                where,
                "config.json",
                f"the layers create {var.name} of shape {var.shape} and dtype {var.dtype}, "
                f"the weights list declares shape {shape} and dtype {dtype}",
            )
    return model


def _check_build_config(build_config, limit):
    # A subclassed model is built by one call on zeros of its input shape(s): bound those arrays too.
    if not isinstance(build_config, dict) or "input_shape" not in build_config:
        return
    shape = build_config["input_shape"]
    sizes = []

    def check(one):
        if not all(d is None or _is_dim(d) for d in one):
            raise ValueError(one)
        sizes.append(math.prod(d or 2 for d in one) * 8)

    try:
        tree.map_shape_structure(check, shape)
    except (TypeError, ValueError):
        raise ValueError(
            "build_config: input_shape must be a list of non-negative integers or None "
            f"(or a list or dict of them), got {shape!r}"
        ) from None
    if sum(sizes) > limit:
        raise ValueError(f"build_config: input_shape {shape} makes arrays larger than max_bytes={limit}")


def _read_npz(zf, name, specs, where, source):
    """The arrays of member ``name``, each checked against ``specs`` (from ``source``) before it is read."""
    if name not in zf.namelist():
        raise InvalidModelFileError(where, name, "missing")
    with _archive.reading(where, name):
        raw = _archive.read_member(zf, name, _archive.npz_size_bound(specs), f"the most {source} can take")
    return _archive.read_arrays(io.BytesIO(raw), specs, where, name)


def _compile_from_config(model, compile_config, custom_objects):
    # Metrics are written as given to compile: a name, or a serialized metric (or metric function).
    with serialization.custom_object_scope(custom_objects):
        model.compile(
            optimizer=optimizers.deserialize(compile_config["optimizer"]),
            loss=_map_configs(losses.deserialize, compile_config["loss"]),
            loss_weights=compile_config.get("loss_weights"),
            metrics=_map_configs(
                lambda m: m if isinstance(m, str) else metrics.deserialize(m), compile_config.get("metrics") or []
            ),
        )


def _map_configs(fn, value):
    """``fn`` over the leaves of a list / dict structure of configs (a config is itself a dict)."""
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _map_configs(fn, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_configs(fn, v) for v in value]
    return fn(value)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True, *, max_bytes=None):
    """Load a model saved with ``model.save``.

    Parameters
    ----------
    filepath : str or path
    custom_objects : dict, optional
        ``{"MyLayer": MyLayer}`` for custom classes (layers, losses, metrics, ...) that are not
        registered with ``ranvier.saving.register_keras_serializable``.
    compile : bool, default True
        Restore the optimizer, loss and metrics (and the optimizer state).
    safe_mode : bool, default True
        ranvier never evaluates code from a file, which is what ``safe_mode=True`` asks;
        ``safe_mode=False`` (Keras' switch to allow lambdas) is not supported.
    max_bytes : int, optional, keyword-only
        The most bytes of weights the file may declare; a larger model is refused before
        anything is allocated. Default: the environment's ``RANVIER_MAX_LOAD_BYTES``, else
        ``DEFAULT_MAX_LOAD_BYTES`` (2 GiB). ranvier's own argument (Keras has none), so it
        is keyword-only.

    Raises
    ------
    InvalidModelFileError
        A ``ValueError`` for every file that cannot be loaded (corrupt, hostile, too large,
        not matching its own config), naming the member and the reason.
    FileNotFoundError
        For a path that is not a file.
    NotImplementedError
        For ``safe_mode=False``.
    """
    if safe_mode is not True:
        raise NotImplementedError(
            f"load_model: safe_mode=False is not supported (ranvier never evaluates "
            f"code from a file), got safe_mode={safe_mode!r}"
        )
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path}")
    with open(path, "rb") as fh:
        return _load(fh, path, custom_objects, compile, max_bytes)


def save_weights(model, filepath, overwrite=True):
    """Write only the weights, as an ``.npz`` (in ``model.weights`` order)."""
    model._ensure_graph()
    _atomic_write(filepath, _npz_bytes({f"w{i:05d}": v.value for i, v in enumerate(model.weights)}), overwrite)


def load_weights(model, filepath, skip_mismatch=False):
    """Read weights written by ``save_weights`` into ``model``, all or none.

    Every array is checked (its header against the model's weight before it is
    read, then its values) before any weight is written.

    Raises
    ------
    InvalidModelFileError
        For a file that is not a weights file of this model, naming the array at fault.
    FileNotFoundError
        For a path that is not a file.
    NotImplementedError
        For ``skip_mismatch=True``: every weight must match.
    """
    if skip_mismatch:
        raise NotImplementedError(
            f"load_weights: skip_mismatch=True is not supported, got skip_mismatch={skip_mismatch!r}"
        )
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No weights file at {path}")
    model._ensure_graph()
    specs = {f"w{i:05d}": (v.shape, v.dtype) for i, v in enumerate(model.weights)}
    with open(path, "rb") as fh:
        arrays = _archive.read_arrays(fh, specs, path, None)
    with _archive.reading(path, None):
        model.set_weights(list(arrays.values()))
