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

This module is the file format only: what a layer, a loss or an optimizer
looks like in ``config.json`` is :mod:`ranvier.api.serialization`'s business,
and the functional graph's is ``models/_functional_config.py``.
"""

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from . import losses, metrics, optimizers, serialization

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "to_bytes", "from_bytes"]

_FORMAT = "ranvier"
_FORMAT_VERSION = 1
_MAX_CONFIG_BYTES = 64 << 20


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


def _read_npz(zf, name, where):
    try:
        with np.load(io.BytesIO(zf.read(name)), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{where}: {name} is corrupt ({exc})") from None


def from_bytes(payload, custom_objects=None, compile=True, where="<bytes>"):
    """Rebuild a model from the bytes ``to_bytes`` wrote."""
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
            raise ValueError(
                f"{where} has format version {cfg.get('format_version')!r}; this ranvier "
                f"reads version {_FORMAT_VERSION}"
            )
        class_name = cfg.get("class_name")
        if not isinstance(class_name, str):
            raise ValueError(f"{where}: the model class name must be a string, got {class_name!r}")
        try:
            cls = serialization.lookup(class_name, "model", custom_objects)
            with serialization.custom_object_scope(custom_objects):
                model = cls.from_config(cfg["config"], custom_objects=custom_objects)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"{where}: the model config is invalid ({exc!r})") from None
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        model.build_from_config(cfg.get("build_config"))
        model._ensure_graph()
        arrays = _read_npz(zf, "weights.npz", where)
        weights = [arrays.get(f"w{i:05d}") for i in range(len(arrays))]
        own = model.weights
        if len(weights) != len(own) or any(w is None or w.shape != v.shape for w, v in zip(weights, own)):
            raise ValueError(
                f"{where}: weights.npz does not match the architecture ({len(weights)} arrays for {len(own)} weights)"
            )
        model.set_weights(weights)
        if compile and cfg.get("compile_config"):
            _compile_from_config(model, cfg["compile_config"], custom_objects)
            model._prepare_for_state()
            if "optimizer.npz" in names:
                model.optimizer.set_state(_read_npz(zf, "optimizer.npz", where))
    return model


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


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
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

    Raises
    ------
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
        payload = fh.read()
    return from_bytes(payload, custom_objects=custom_objects, compile=compile, where=path)


def save_weights(model, filepath, overwrite=True):
    """Write only the weights, as an ``.npz`` (in ``model.weights`` order)."""
    model._ensure_graph()
    _atomic_write(filepath, _npz_bytes({f"w{i:05d}": v.value for i, v in enumerate(model.weights)}), overwrite)


def load_weights(model, filepath, skip_mismatch=False):
    """Read weights written by ``save_weights`` into ``model`` (shapes are checked first).

    Raises
    ------
    NotImplementedError
        For ``skip_mismatch=True``: every weight must match.
    """
    if skip_mismatch:
        raise NotImplementedError(
            f"load_weights: skip_mismatch=True is not supported, got skip_mismatch={skip_mismatch!r}"
        )
    path = os.fspath(filepath)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = [npz[f"w{i:05d}"] for i in range(len(npz.files))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a ranvier weights file ({exc})") from None
    model._ensure_graph()
    model.set_weights(arrays)
