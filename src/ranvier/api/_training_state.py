"""The state of a running ``fit`` on disk, for ``callbacks.BackupAndRestore``.

A backup is two files in one directory: the weights (``model.save_weights``,
``weights-<generation>.npz``) and ``state.npz``, which names that generation
and holds the rest: the epoch and the step reached, the optimizer's slots and
iteration count, and every random generator the run draws from (the global
and legacy NumPy ones, the fit loop's shuffling generator as it was when the
epoch began, and each layer's own, such as a ``Dropout``'s). Both are written
atomically, weights first; ``state.npz`` is the commit, so a process killed
at any instant leaves a complete backup: the new one or the one before.
"""

import glob
import json
import os
import zipfile

import numpy as np

from . import config, saving

__all__ = ["is_finite", "layer_generators", "write", "read", "remove"]

_STATE = "state.npz"
_WEIGHTS = "weights-{:08d}.npz"


def is_finite(model, optimizer=True):
    """Whether every weight (and, with ``optimizer``, every optimizer slot) of ``model`` is finite."""
    arrays = list(model.get_weights())
    get_state = getattr(getattr(model, "optimizer", None), "get_state", None)
    if optimizer and get_state is not None:
        arrays += [v for v in get_state().values() if np.asarray(v).dtype.kind == "f"]
    return all(np.isfinite(a).all() for a in arrays)


def layer_generators(model):
    """``[(layer, attribute)]`` of every generator a layer of ``model`` holds, in a fixed order.

    Layers are walked depth first from the model (nested models and wrapped
    layers included), attributes by name, so two builds of one architecture
    list their generators alike whatever their layers' names.
    """
    out, seen, stack = [], set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out += [(layer, k) for k, v in sorted(vars(layer).items()) if isinstance(v, np.random.Generator)]
        # A model lists its graph's layers; any other layer the ones it owns.
        children = layer.layers if hasattr(layer, "layers") else layer._sublayers()
        stack.extend(reversed(list(children)))
    return out


def write(model, directory, generation, position, fit_rng_state):
    """Write backup ``generation`` of ``model`` in ``directory``, then drop the older weights files.

    Parameters
    ----------
    position : (int, int)
        The epoch and the step (batches done in it) training resumes at.
    fit_rng_state : dict
        The fit loop's shuffling generator's state when that epoch began.
    """
    os.makedirs(directory, exist_ok=True)
    weights = os.path.join(directory, _WEIGHTS.format(generation))
    model.save_weights(weights)
    rng = {
        "config": config.get_rng_state(),
        "fit": fit_rng_state,
        "layers": [getattr(layer, k).bit_generator.state for layer, k in layer_generators(model)],
    }
    arrays = {
        "generation": np.int64(generation),
        "epoch": np.int64(position[0]),
        "step": np.int64(position[1]),
        "rng": np.array(json.dumps(rng)),
    }
    optimizer = model.optimizer
    arrays.update({f"optimizer/{k}": np.asarray(v) for k, v in optimizer.get_state().items()})
    if _plain_number(optimizer.learning_rate):
        arrays["learning_rate"] = np.float64(optimizer.learning_rate)
    saving._atomic_write(os.path.join(directory, _STATE), saving._npz_bytes(arrays), overwrite=True)
    for path in _weights_files(directory):
        if path != weights:
            os.unlink(path)


def read(model, directory):
    """Restore the backup in ``directory`` into ``model`` and the random generators.

    Returns
    -------
    None when there is no backup, else ``(generation, epoch, step, fit_rng_state)``.
    """
    path = os.path.join(directory, _STATE)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        generation, epoch, step = (int(arrays.pop(k)) for k in ("generation", "epoch", "step"))
        rng = json.loads(str(arrays.pop("rng")))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"BackupAndRestore: {path} is not a training backup ({exc})") from None
    generators = layer_generators(model)
    if len(generators) != len(rng["layers"]):
        raise ValueError(
            f"BackupAndRestore: the backup in {directory} is of another model: it holds "
            f"{len(rng['layers'])} layer generators, the model has {len(generators)}"
        )
    model.load_weights(os.path.join(directory, _WEIGHTS.format(generation)))
    model._prepare_for_state()
    prefix = "optimizer/"
    model.optimizer.set_state({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
    if "learning_rate" in arrays and _plain_number(model.optimizer.learning_rate):
        model.optimizer.learning_rate = float(arrays["learning_rate"])
    config.set_rng_state(rng["config"])
    for (layer, k), state in zip(generators, rng["layers"]):
        getattr(layer, k).bit_generator.state = state
    return generation, epoch, step, rng["fit"]


def remove(directory):
    """Delete the backup files in ``directory`` (and the directory, once empty)."""
    leftovers = glob.glob(os.path.join(glob.escape(directory), ".ranvier-*.tmp"))  # writes a kill cut short
    for path in [os.path.join(directory, _STATE), *_weights_files(directory), *leftovers]:
        if os.path.exists(path):
            os.unlink(path)
    if os.path.isdir(directory) and not os.listdir(directory):
        os.rmdir(directory)


def _weights_files(directory):
    return glob.glob(os.path.join(glob.escape(directory), _WEIGHTS.replace("{:08d}", "[0-9]" * 8)))


def _plain_number(value):
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
