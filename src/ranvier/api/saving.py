"""Saving and loading models: one zip of JSON config + npz weights, never pickle.

File layout (``model.save("m.ranvier")``)::

    config.json      {"format": "ranvier", "format_version": 1, "ranvier_version",
                      "class_name", "config", "compile_config", "weights": [[name, shape], ...]}
    weights.npz      the arrays of ``model.weights``, in order
    optimizer.npz    optimizer slots and iteration count (compiled models)

Loading never unpickles and never evaluates code from the file; a corrupt or
hostile file gives a ``ValueError``. Writes are atomic (temporary file in the
target directory, then rename), so an interrupted save never leaves a
half-written model behind.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "to_bytes", "from_bytes",
           "layer_config", "layer_from_config"]

_FORMAT = "ranvier"
_FORMAT_VERSION = 1
_MAX_CONFIG_BYTES = 64 << 20


# ------------------------------------------------------------------ layers
def layer_config(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _layer_registry(custom_objects):
    from . import layers as layers_module

    registry = {name: getattr(layers_module, name) for name in layers_module.__all__}
    registry.update(custom_objects or {})
    return registry


def layer_from_config(cfg, custom_objects=None):
    """Rebuild a layer from ``{"class_name", "config"}``; unknown classes need ``custom_objects``."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("class_name"), str) or \
            not isinstance(cfg.get("config"), dict):
        raise ValueError(f"Invalid layer config: {str(cfg)[:200]}")
    registry = _layer_registry(custom_objects)
    cls = registry.get(cfg["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer class {cfg['class_name']!r}: pass it in custom_objects="
                         f"{{'{cfg['class_name']}': {cfg['class_name']}}}")
    try:
        return cls.from_config(dict(cfg["config"]))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot rebuild layer {cfg['class_name']}: {exc}") from None


# -------------------------------------------------------------- functional
def functional_config(model):
    """Config of a functional Model: layers, the nodes connecting them, inputs and outputs."""
    tensor_ref = {id(t): ["input", i] for i, t in enumerate(model._inputs)}
    nodes = []
    for n_idx, node in enumerate(model._nodes):
        for o_idx, t in enumerate(node.outputs):
            tensor_ref[id(t)] = [n_idx, o_idx]
    for node in model._nodes:
        nodes.append({"layer": node.layer.name, "inputs": [tensor_ref[id(t)] for t in node.flat_inputs],
                      "multi_input": node.multi_input, "n_main": node.n_main,
                      "static_kwargs": node.static_kwargs,
                      "tensor_kwargs": {k: list(v) for k, v in node.tensor_kwargs.items()}})
    return {"name": model.name,
            "input_layers": [layer_config(t.input_layer) for t in model._inputs],
            "layers": [layer_config(l) for l in model._layers],
            "nodes": nodes,
            "outputs": [tensor_ref[id(t)] for t in model._outputs]}


def functional_from_config(config, custom_objects=None):
    from .layers.core import InputLayer
    from .models.model import Model

    inputs = [InputLayer.from_config(dict(c["config"])).output for c in config["input_layers"]]
    layers = {}
    for cfg in config["layers"]:
        layer = layer_from_config(cfg, custom_objects)
        layers[layer.name] = layer
    produced = []

    def resolve(ref):
        if ref[0] == "input":
            return inputs[ref[1]]
        return produced[ref[0]][ref[1]]

    for node in config["nodes"]:
        flat = [resolve(r) for r in node["inputs"]]
        main = flat[:node["n_main"]] if node["multi_input"] else flat[0]
        kwargs = dict(node["static_kwargs"])
        for key, (start, n, is_list) in node["tensor_kwargs"].items():
            kwargs[key] = flat[start:start + n] if is_list else flat[start]
        out = layers[node["layer"]](main, **kwargs)
        produced.append(out if isinstance(out, list) else [out])
    outputs = [resolve(r) for r in config["outputs"]]
    return Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                 name=config.get("name"))


# ------------------------------------------------------------------- files
def _atomic_write(path, payload, overwrite):
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".ranvier-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def to_bytes(model):
    """The saved-model zip as bytes (also what pickling a model uses)."""
    from .. import __version__

    model._ensure_graph()
    weights = model.weights
    cfg = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "ranvier_version": __version__,
           "class_name": type(model).__name__, "config": model.get_config(),
           "compile_config": getattr(model, "_compile_config", None) if model.compiled else None,
           "weights": [[v.name, list(v.shape), v.dtype.name] for v in weights]}
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


def _read_npz(zf, name, where):
    try:
        with np.load(io.BytesIO(zf.read(name)), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{where}: {name} is corrupt ({exc})") from None


def from_bytes(payload, custom_objects=None, compile=True, where="<bytes>"):
    """Rebuild a model from the bytes ``to_bytes`` wrote."""
    from . import models

    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
        names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ValueError(f"{where} is not a ranvier model file (not a zip archive: {exc})") from None
    with zf:
        if "config.json" not in names or "weights.npz" not in names:
            raise ValueError(f"{where} is not a ranvier model file (config.json or weights.npz missing)")
        if zf.getinfo("config.json").file_size > _MAX_CONFIG_BYTES:
            raise ValueError(f"{where}: config.json is implausibly large")
        try:
            cfg = json.loads(zf.read("config.json").decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{where}: config.json is corrupt ({exc})") from None
        if not isinstance(cfg, dict) or cfg.get("format") != _FORMAT:
            raise ValueError(f"{where} is not a ranvier model file (format field missing)")
        if cfg.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{where} has format version {cfg.get('format_version')!r}; this ranvier "
                             f"reads version {_FORMAT_VERSION}")
        classes = {"Sequential": models.Sequential, "Model": models.Model, "Functional": models.Model}
        cls = classes.get(cfg.get("class_name"))
        if cls is None:
            raise ValueError(f"{where}: unknown model class {cfg.get('class_name')!r}")
        try:
            model = cls.from_config(cfg["config"], custom_objects=custom_objects)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"{where}: the model config is invalid ({exc!r})") from None
        model._ensure_graph()
        arrays = _read_npz(zf, "weights.npz", where)
        weights = [arrays.get(f"w{i:05d}") for i in range(len(arrays))]
        own = model.weights
        if len(weights) != len(own) or any(w is None or w.shape != v.shape for w, v in zip(weights, own)):
            raise ValueError(f"{where}: weights.npz does not match the architecture "
                             f"({len(weights)} arrays for {len(own)} weights)")
        model.set_weights(weights)
        if compile and cfg.get("compile_config"):
            cc = cfg["compile_config"]
            model.compile(optimizer=cc["optimizer"], loss=cc["loss"], metrics=cc.get("metrics"))
            model._prepare_for_state()
            if "optimizer.npz" in names:
                model.optimizer.set_state(_read_npz(zf, "optimizer.npz", where))
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved with ``model.save``.

    Parameters
    ----------
    filepath : str or path
    custom_objects : dict, optional
        ``{"MyLayer": MyLayer}`` for custom layer classes.
    compile : bool, default True
        Restore the optimizer, loss and metrics (and the optimizer state).
    """
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path}")
    with open(path, "rb") as fh:
        payload = fh.read()
    return from_bytes(payload, custom_objects=custom_objects, compile=compile, where=path)


def save_weights(model, filepath, overwrite=True):
    """Write only the weights, as an ``.npz`` (in ``model.weights`` order)."""
    model._ensure_graph()
    _atomic_write(filepath, _npz_bytes({f"w{i:05d}": v.value for i, v in enumerate(model.weights)}), overwrite)


def load_weights(model, filepath):
    """Read weights written by ``save_weights`` into ``model`` (shapes are checked first)."""
    path = os.fspath(filepath)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [npz[f"w{i:05d}"] for i in range(len(npz.files))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a ranvier weights file ({exc})") from None
    model._ensure_graph()
    model.set_weights(arrays)
