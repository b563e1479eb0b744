"""What the preprocessing layers share: argument checks, eager text input, adapt's batches, encodings.

Two kinds of layer live in this package. Layers on float inputs
(:class:`FloatPreprocessing`: rescaling, normalization, image resizing and
augmentation) are hand-written and pass gradients through, so they can sit
before trainable layers. Layers on token ids or strings (:class:`DataLayer`:
lookups, hashing, encodings, discretization) have no gradient: their
``backward`` returns None and the executor stops there.
"""

import numpy as np

from ..._threading import compute_scope
from ...data import as_text_array
from ...ops._tensor import Tensor
from .._symbolic import KerasTensor
from ..base import Layer

__all__ = [
    "DataLayer",
    "FloatPreprocessing",
    "adapt_batches",
    "as_text_array",
    "categorical_shape",
    "check_choice",
    "check_positive_int",
    "encode_categorical",
    "output_mode_alias",
]


def check_choice(value, arg, choices, owner):
    """``value`` if it is one of ``choices``, else a ValueError naming ``arg``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: {arg} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def output_mode_alias(output_mode):
    """Keras 3's deprecated ``output_mode`` names: ``"binary"`` is ``"multi_hot"``, ``"tf-idf"`` is ``"tf_idf"``."""
    if output_mode == "binary":
        return "multi_hot"
    if output_mode == "tf-idf":
        return "tf_idf"
    return output_mode


def check_positive_int(value, arg, owner, allow_none=False, minimum=1):
    """``value`` as an int >= ``minimum`` (or None when allowed), else a ValueError naming ``arg``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {arg} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _is_text(values):
    if isinstance(values, (KerasTensor, Tensor)):
        return False
    if isinstance(values, (str, bytes)):
        return True
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    return arr.dtype.kind in "OUS" and (arr.size == 0 or isinstance(arr.flat[0], (str, bytes)))


def adapt_batches(data, batch_size, steps, owner):
    """The batches ``adapt`` reads from ``data``: an array (cut in ``batch_size`` rows) or an iterable of batches.

    An iterable may yield ``(x, y)`` pairs (a dataset of features and targets): only ``x`` is read.
    """
    if steps is not None:
        steps = check_positive_int(steps, "steps", owner)
    if isinstance(data, (np.ndarray, list, tuple, str, bytes)):
        arr = np.asarray(data, dtype=object) if _is_text(data) else np.asarray(data)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        size = len(arr) if batch_size is None else check_positive_int(batch_size, "batch_size", owner)
        batches = (arr[i : i + max(size, 1)] for i in range(0, len(arr), max(size, 1)))
    else:
        try:
            batches = iter(data)
        except TypeError:
            raise TypeError(f"{owner}.adapt: data must be an array or an iterable of batches, got {data!r}") from None
    for i, batch in enumerate(batches):
        if steps is not None and i >= steps:
            return
        if isinstance(batch, tuple):
            batch = batch[0]
        yield batch


def encode_categorical(indices, output_mode, depth, dtype, idf_weights=None, owner="layer"):
    """Token indices in ``[0, depth)`` (``-1``: dropped) encoded as ``output_mode``.

    ``"int"`` returns ``indices``; ``"one_hot"`` adds a last axis of size
    ``depth`` (replacing a last axis of size 1); ``"multi_hot"``, ``"count"``
    and ``"tf_idf"`` reduce the last axis to ``depth`` entries (rank-1
    input: one token per sample). ``tf_idf`` multiplies counts by ``idf_weights``.
    """
    if output_mode == "int":
        return indices
    bad = (indices < -1) | (indices >= depth)
    if bad.any():
        value = int(indices[bad].flat[0])
        raise ValueError(f"{owner}: input indices must lie in [0, {depth}), got {value!r}")
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        out = np.zeros(indices.shape + (depth,), dtype)
        keep = indices >= 0
        out.reshape(-1, depth)[np.flatnonzero(keep), indices[keep]] = 1
        return out
    if indices.ndim == 1:
        indices = indices[:, None]
    lead = indices.shape[:-1]
    flat = indices.reshape(-1, indices.shape[-1])
    rows = np.repeat(np.arange(flat.shape[0]), flat.shape[1])
    keep = flat.reshape(-1) >= 0
    counts = np.zeros((flat.shape[0], depth), np.float64)
    np.add.at(counts, (rows[keep], flat.reshape(-1)[keep]), 1.0)
    if output_mode == "multi_hot":
        counts = np.minimum(counts, 1.0)
    elif output_mode == "tf_idf":
        counts *= idf_weights
    return counts.astype(dtype).reshape(lead + (depth,))


class FloatPreprocessing(Layer):
    """A preprocessing layer on float inputs: no trainable weight, a gradient for its input."""

    supports_masking = False


class DataLayer(Layer):
    """A preprocessing layer on token ids or strings: no weights trained, no gradient.

    Eager calls accept strings (``str``/``bytes``, lists, ``str``/object arrays)
    when ``_accepts_text`` is set; they reach ``call`` as object arrays of ``str``.
    """

    _input_dtype = "int64"
    _accepts_text = False

    def __call__(self, inputs, *args, **kwargs):
        if self._accepts_text and _is_text(inputs):
            arr = as_text_array(inputs, f"Layer {self.name!r}: input")
            kwargs.pop("training", None)
            self._build_once((None,) + arr.shape[1:])
            with compute_scope():
                outputs, _ = self.call(arr, *args, **kwargs)
            return outputs
        return super().__call__(inputs, *args, **kwargs)

    @property
    def _output_dtype(self):
        # Keras 3: indices (output_mode "int") are int64, encodings the compute dtype.
        return "int64" if getattr(self, "output_mode", None) == "int" else self.dtype

    def backward(self, dy, cache, need_input_grad=True):
        return None


def categorical_shape(input_shape, output_mode, depth):
    """Output shape of ``encode_categorical`` for ``input_shape``."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    if len(input_shape) == 1:
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)
