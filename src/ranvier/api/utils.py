"""Data helpers with Keras' semantics: one-hot labels, padded sequences, normalisation, seeding,
downloads (``get_file``), batch sources (``PyDataset`` / ``Sequence``), the data set builders
(``timeseries_dataset_from_array``, ``text_dataset_from_directory``, ``image_dataset_from_directory``,
``split_dataset``), image files (``load_img`` ...; Pillow needed), model plots (``plot_model``; pydot
needed), and the serialization names Keras 3 re-exports in ``keras.utils``."""

import numbers

import numpy as np

from . import config
from ._dataset_utils import (
    image_dataset_from_directory,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)
from ._image_utils import array_to_img, img_to_array, load_img, save_img
from ._model_visualization import model_to_dot, plot_model
from .callbacks import Progbar
from .file_utils import get_file
from .py_dataset import PyDataset
from .serialization import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

#: Keras 3's name for :class:`PyDataset` (``keras.utils.Sequence`` is the same class).
Sequence = PyDataset

__all__ = [
    "to_categorical",
    "pad_sequences",
    "normalize",
    "set_random_seed",
    "Progbar",
    "get_file",
    "PyDataset",
    "Sequence",
    "pack_x_y_sample_weight",
    "unpack_x_y_sample_weight",
    "timeseries_dataset_from_array",
    "text_dataset_from_directory",
    "image_dataset_from_directory",
    "split_dataset",
    "array_to_img",
    "img_to_array",
    "load_img",
    "save_img",
    "model_to_dot",
    "plot_model",
    "custom_object_scope",
    "CustomObjectScope",
    "get_custom_objects",
    "register_keras_serializable",
    "serialize_keras_object",
    "deserialize_keras_object",
    "get_registered_name",
    "get_registered_object",
]


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels.

    Parameters
    ----------
    y : array-like of int, shape (N,), (N, 1) or (..., 1)
        Labels in ``[0, num_classes)``. A trailing axis of size 1 is dropped, as in Keras.
    num_classes : int, optional
        Defaults to ``max(y) + 1``.
    dtype : str or numpy dtype, default "float32"

    Returns
    -------
    ndarray of shape ``y.shape + (num_classes,)`` (trailing 1 dropped)
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"to_categorical: y must hold integer class labels, got an array of dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(f"to_categorical: y must hold integer class labels, got {float(arr[bad].flat[0])!r}")
    labels = arr.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical: class labels must be >= 0, got {labels.min()}")
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    if num_classes is None:
        if not labels.size:
            raise ValueError("to_categorical: cannot infer num_classes from an empty y; pass num_classes")
        num_classes = int(labels.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive integer, got {num_classes!r}")
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"to_categorical: class label {labels.max()} is out of range for "
            f"num_classes={num_classes} (labels must be < num_classes)"
        )
    flat = labels.reshape(-1)
    out = np.zeros((flat.size, int(num_classes)), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (int(num_classes),))


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) a list of sequences to one length, as ``keras.utils.pad_sequences``.

    Parameters
    ----------
    sequences : list of sequences
        Each a list/array of shape (length, ...); all share the trailing shape.
    maxlen : int, optional
        Output length; the longest sequence's length if omitted.
    dtype : str or numpy dtype, default "int32"
        Output dtype (``object`` for variable-length strings).
    padding : {"pre", "post"}, default "pre"
        Pad before or after each sequence.
    truncating : {"pre", "post"}, default "pre"
        Cut longer sequences at the start ("pre", keeps the end) or at the end ("post").
    value : float or str, default 0.0
        Padding value.

    Returns
    -------
    ndarray of shape (len(sequences), maxlen, ...)
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}")
    lengths, sample_shape = [], None
    for i, s in enumerate(sequences):
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(
                f"pad_sequences: sequences must be a list of sequences, got {s!r} at position {i}"
            ) from None
        if sample_shape is None and len(s):
            # The trailing shape comes from the first non-empty sequence, as in Keras.
            sample_shape = np.asarray(s).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 1:
        raise ValueError(f"pad_sequences: maxlen must be a positive integer or None, got {maxlen!r}")
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(
            f"pad_sequences: dtype {dtype!r} cannot hold the string value {value!r}; "
            "use dtype=object for variable-length strings"
        )
    out = np.full((len(sequences), int(maxlen)) + sample_shape, value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: the sequence at position {i} has items of shape {kept.shape[1:]}, "
                f"expected {sample_shape} (the shape of the first non-empty sequence's items)"
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, -len(kept) :] = kept
    return out


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as 1).

    Parameters
    ----------
    x : array-like of float
    axis : int, default -1
    order : int or float, default 2
        As ``ord`` in ``numpy.linalg.norm`` (1, 2, ``np.inf`` ...).

    Returns
    -------
    ndarray, same shape as ``x`` (float)
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"normalize: x must be numeric, got an array of dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError("normalize: x must have at least one axis, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"normalize: axis must be an integer in [-{x.ndim}, {x.ndim}), got {axis!r}")
    norm = np.linalg.norm(x, ord=order, axis=int(axis), keepdims=True)
    norm[norm == 0] = 1
    return x / norm


def set_random_seed(seed):
    """Seed every random draw ranvier makes (and NumPy's global generator), as Keras' function does."""
    config.set_random_seed(seed)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """Pack ``x``, ``y``, ``sample_weight`` into the batch form ``fit`` takes, as Keras' function.

    Returns
    -------
    ``x`` alone (``(x,)`` if ``x`` is a list or tuple: several inputs) when ``y`` is None,
    else ``(x, y)``, or ``(x, y, sample_weight)`` when ``sample_weight`` is given.
    """
    if y is None:
        # A single input needs no tuple; a list or tuple of inputs does, or it would read as (x, y).
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` of a batch (Nones for what is absent), as Keras' function.

    Parameters
    ----------
    data : x, or a tuple/list ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``

    Raises
    ------
    ValueError
        For an empty tuple or list, or one of more than 3 items.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if 1 <= len(data) <= 3:
        return data + (None,) * (3 - len(data))
    raise ValueError(
        f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found: {data}"
    )
