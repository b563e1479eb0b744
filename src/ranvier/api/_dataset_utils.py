"""Keras 3's data set builders: ``timeseries_dataset_from_array``, ``text_dataset_from_directory``,
``image_dataset_from_directory`` and ``split_dataset``, returning :class:`~ranvier.api._datasets.Dataset`.

Arguments, defaults, checks, the listing of files, the labels inferred from the directory
structure, the seeded shuffle of the file list and the validation split follow
``keras/src/utils/*_dataset_utils.py``, so the same seed puts the same files in the same
subset as Keras does.
"""

import codecs
import numbers
import os
import random

import numpy as np

from . import tree
from ._datasets import Dataset, check_batch_size
from ._errors import UnsupportedArgument
from ._image_utils import IMAGE_FORMATS, load_image

__all__ = [
    "timeseries_dataset_from_array",
    "text_dataset_from_directory",
    "image_dataset_from_directory",
    "split_dataset",
]


def _check_int(value, name, where, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_format(format, where):
    if format not in ("tf", "grain"):
        raise ValueError(f'{where}: `format` should be either "tf" or "grain". Received: format={format!r}')


# -------------------------------------------------------------- time series
def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length,
    sequence_stride=1,
    sampling_rate=1,
    batch_size=128,
    shuffle=False,
    seed=None,
    start_index=None,
    end_index=None,
    format="tf",
):
    """Sliding windows over a time series, in batches, as ``keras.utils.timeseries_dataset_from_array``.

    Window ``k`` starts at ``p = start_index + k * sequence_stride`` and holds
    ``data[p], data[p + sampling_rate], ..., data[p + (sequence_length - 1) * sampling_rate]``;
    its target is ``targets[p]``. Windows that would reach ``end_index`` are left out.

    Parameters
    ----------
    data : array-like of shape (timesteps, ...)
        Axis 0 is time.
    targets : array-like of shape (timesteps, ...) or None
        ``targets[i]`` is the target of the window starting at ``i``; None yields windows only.
    sequence_length : int
        Timesteps per window.
    sequence_stride : int, default 1
        Steps between the starts of consecutive windows.
    sampling_rate : int, default 1
        Steps between consecutive timesteps of a window.
    batch_size : int or None, default 128
        Windows per batch (the last may be smaller); None yields windows one at a time.
    shuffle : bool, default False
        Draw the windows in a new random order at every pass (else in time order).
    seed : int, optional
        Seed of the shuffle.
    start_index, end_index : int, optional
        Only ``data[start_index:end_index]`` (and ``targets[start_index:end_index]``) are used.
    format : {"tf", "grain"}, default "tf"
        Checked as Keras does; both give the same :class:`Dataset` here.

    Returns
    -------
    Dataset
        Batches ``(windows, targets)`` (``windows`` alone when ``targets`` is None):
        ``windows`` of shape ``(batch, sequence_length) + data.shape[1:]`` and ``data``'s dtype,
        ``targets`` of shape ``(batch,) + targets.shape[1:]``.

    Notes
    -----
    Keras returns a ``tf.data.Dataset``; this one has ``len()``, iteration and ``map`` /
    ``take`` / ``prefetch`` (see :class:`~ranvier.api._datasets.Dataset`), and shuffles all
    windows at each pass instead of shuffling a fixed first order in a window of
    ``8 * batch_size``.
    """
    where = "timeseries_dataset_from_array"
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"{where}: data must have a time axis (axis 0), got a scalar {data!r}")
    n = len(data)
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError(f"{where}: targets must be an array with a time axis or None, got {targets!r}")
    sequence_length = _check_int(sequence_length, "sequence_length", where, 1)
    for name, value in (("start_index", start_index), ("end_index", end_index)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise ValueError(f"{where}: {name} must be an integer or None, got {value!r}")
    if start_index:
        if start_index < 0:
            raise ValueError(f"{where}: `start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError(
                f"{where}: `start_index` must be lower than the length of the data. "
                f"Received: start_index={start_index}, for data of length {n}"
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"{where}: `end_index` must be higher than `start_index`. "
                f"Received: start_index={start_index}, and end_index={end_index}"
            )
        if end_index >= n:
            raise ValueError(
                f"{where}: `end_index` must be lower than the length of the data. "
                f"Received: end_index={end_index}, for data of length {n}"
            )
        if end_index <= 0:
            raise ValueError(f"{where}: `end_index` must be higher than 0. Received: end_index={end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{where}: {name} must be an integer, got {value!r}")
        if value <= 0:
            raise ValueError(f"{where}: `{name}` must be higher than 0. Received: {name}={value}")
        if value >= n:
            raise ValueError(
                f"{where}: `{name}` must be lower than the length of the data. "
                f"Received: {name}={value}, for data of length {n}"
            )
    _check_format(format, where)
    batch_size = check_batch_size(batch_size, where)

    start = start_index or 0
    end = n if end_index is None else end_index
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets) - start)
    # Window starts relative to ``start``; Keras' order before its own shuffle.
    starts = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate

    def load(indices):
        first = start + starts[indices]
        windows = data[first[:, None] + offsets]
        return windows if targets is None else (windows, targets[first])

    if seed is None:
        seed = np.random.randint(1e6)
    return Dataset(len(starts), load, batch_size, shuffle=shuffle, seed=seed)


# -------------------------------------------------------------- directories
def _check_directory_args(labels, label_mode, class_names, validation_split, subset, shuffle, seed, what, where):
    """Keras' argument checks of the ``*_dataset_from_directory`` functions; returns ``labels, label_mode``."""
    if not (labels is None or (isinstance(labels, str) and labels == "inferred")):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                f"{where}: `labels` argument should be a list/tuple of integer labels, of the same size "
                f"as the number of {what} files in the target directory. If you wish to infer the labels "
                'from the subdirectory names in the target directory, pass `labels="inferred"`. If you '
                f"wish to get a dataset that only contains {what} samples (no labels), pass `labels=None`. "
                f"Received: labels={labels!r}"
            )
        if class_names:
            raise ValueError(
                f'{where}: You can only pass `class_names` if `labels="inferred"`. '
                f"Received: labels={labels!r}, and class_names={class_names!r}"
            )
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(
            f'{where}: `label_mode` argument must be one of "int", "categorical", "binary", or None. '
            f"Received: label_mode={label_mode!r}"
        )
    if labels is None or label_mode is None:
        labels = label_mode = None
    if validation_split is not None and (
        isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real)
    ):
        raise ValueError(f"{where}: validation_split must be a float between 0 and 1, got {validation_split!r}")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"{where}: `validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError(
            f"{where}: If `subset` is set, `validation_split` must be set, and inversely. "
            f"Received: validation_split={validation_split!r}, subset={subset!r}"
        )
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'{where}: `subset` must be either "training", "validation" or "both", received: {subset!r}')
    if validation_split and shuffle and seed is None:
        raise ValueError(
            f"{where}: If using `validation_split` and shuffling the data, you must provide a `seed` "
            "argument, to make sure that there is no overlap between the training and validation subset."
        )
    return labels, label_mode


def _valid_files(directory, follow_links, formats):
    """``(root, name)`` of the files under ``directory`` with an allowed extension, sorted as Keras lists them."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield root, name


def _index_directory(directory, labels, formats, class_names, shuffle, seed, follow_links, verbose, where):
    """Keras' ``index_directory``: ``(file_paths, labels, class_names)``, shuffled with ``seed`` if asked."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{where}: directory must be an existing directory, got {directory!r}")
    if labels == "inferred":
        subdirs = [
            d for d in sorted(os.listdir(directory)) if os.path.isdir(os.path.join(directory, d)) and d[0] != "."
        ]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(
                    f"{where}: The `class_names` passed did not match the names of the subdirectories of "
                    f"the target directory. Expected: {subdirs} (or a subset of it), but received: "
                    f"class_names={class_names!r}"
                )
            subdirs = list(class_names)  # the order given
    else:
        subdirs = [""]
        if class_names is not None:
            raise ValueError(
                f"{where}: When `labels=None` (no labels), argument `class_names` cannot be specified."
                if labels is None
                else f"{where}: When argument `labels` is specified, argument `class_names` cannot be "
                "specified (the `class_names` will be the sorted list of labels)."
            )
    file_paths, inferred = [], []
    for index, subdir in enumerate(subdirs):
        top = os.path.join(directory, subdir)
        for root, name in _valid_files(top, follow_links, formats):
            file_paths.append(os.path.join(top, os.path.relpath(os.path.join(root, name), top)))
            inferred.append(index)
    if labels == "inferred":
        labels, class_names = np.asarray(inferred, dtype=np.int32), subdirs
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(file_paths):
            raise ValueError(
                f"{where}: Expected the lengths of `labels` to match the number of files in the target "
                f"directory. len(labels) is {len(labels)} while we found {len(file_paths)} files in "
                f"directory {directory}."
            )
        for label in labels:
            if isinstance(label, bool) or not isinstance(label, numbers.Integral):
                raise ValueError(f"{where}: labels must be integers, got {label!r}")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels, dtype=np.int32)
    if verbose:
        if labels is None:
            print(f"Found {len(file_paths)} files.")
        else:
            print(f"Found {len(file_paths)} files belonging to {len(class_names)} classes.")
    if shuffle:
        # Keras' global shuffle (same seed, same permutation), which decides the validation split.
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, class_names


def _split(samples, labels, validation_split, subset):
    """Keras' ``get_training_or_validation_split``: the last ``int(split * n)`` samples validate."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    if subset == "training":
        print(f"Using {len(samples) - num_val} files for training.")
        keep = slice(None, -num_val)  # as Keras: num_val == 0 leaves no training file (an error below)
    else:
        print(f"Using {num_val} files for validation.")
        keep = slice(-num_val, None) if num_val else slice(0, 0)
    return samples[keep], None if labels is None else labels[keep]


def _encode_labels(labels, label_mode, num_classes, where):
    """Labels as Keras' ``labels_to_dataset`` yields them: int32, float32 ``(n, 1)`` or one-hot float32."""
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        bad = (labels < 0) | (labels >= num_classes)
        if bad.any():
            raise ValueError(
                f"{where}: with label_mode='categorical' labels must lie in [0, {num_classes}) "
                f"(the number of classes), got {int(labels[bad][0])}"
            )
        return np.eye(num_classes, dtype=np.float32)[labels]
    return labels


def _directory_datasets(
    directory,
    labels,
    label_mode,
    class_names,
    batch_size,
    shuffle,
    seed,
    validation_split,
    subset,
    follow_links,
    verbose,
    formats,
    what,
    where,
    read,
    keep_paths,
):
    """The data set (or the training and validation pair) of the files under ``directory``.

    ``read(paths)`` turns a list of file paths into the batch's ``x``.
    """
    if seed is None:
        seed = np.random.randint(1e6)
    paths, labels, class_names = _index_directory(
        directory, labels, formats, class_names, shuffle, seed, follow_links, verbose, where
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            f'{where}: When passing `label_mode="binary"`, there must be exactly 2 class_names. '
            f"Received: class_names={class_names}"
        )
    num_classes = len(class_names) if class_names else 0
    if labels is not None:
        labels = _encode_labels(labels, label_mode, num_classes, where)

    def make(subset_name, shuffled, empty_name):
        sub_paths, sub_labels = _split(paths, labels, validation_split, subset_name)
        if not sub_paths:
            raise ValueError(f"{where}: No {empty_name}found in directory {directory}. Allowed formats: {formats}")

        def load(indices):
            x = read([sub_paths[i] for i in indices])
            return x if sub_labels is None else (x, sub_labels[indices])

        ds = Dataset(len(sub_paths), load, batch_size, shuffle=shuffled, seed=seed)
        ds.class_names = class_names
        if keep_paths:
            ds.file_paths = sub_paths
        return ds

    if subset == "both":
        return (
            make("training", shuffle, f"training {what} "),
            make("validation", False, f"validation {what} "),
        )
    return make(subset, shuffle, f"{what} ")


def text_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    batch_size=32,
    max_length=None,
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    follow_links=False,
    format="tf",
    verbose=True,
):
    """Batches of the ``.txt`` files under ``directory`` with their labels, as Keras' function.

    With ``labels="inferred"`` each subdirectory of ``directory`` is a class
    (sorted by name: class 0, 1, ...) and its ``.txt`` files, at any depth, its samples.

    Parameters
    ----------
    directory : str or path-like
    labels : "inferred", None or list/tuple of int, default "inferred"
        A list gives one integer label per file, in the sorted order of the file paths.
    label_mode : {"int", "categorical", "binary", None}, default "int"
        ``"int"``: int32 labels of shape (batch,); ``"categorical"``: one-hot float32 of shape
        (batch, num_classes); ``"binary"``: float32 0/1 of shape (batch, 1), exactly 2 classes.
    class_names : list of str, optional
        With ``labels="inferred"``: the subdirectories to use, in this order.
    batch_size : int or None, default 32
        None yields one text at a time.
    max_length : int, optional
        Keep at most the first ``max_length`` bytes of each file (a character cut in the middle
        is dropped).
    shuffle : bool, default True
        Shuffle the file list with ``seed`` (as Keras), then draw a new order at each pass;
        False: sorted order.
    seed : int, optional
        Required with ``validation_split`` and ``shuffle``, so that the subsets do not overlap.
    validation_split : float in (0, 1), optional
        The last ``int(validation_split * n)`` files of the shuffled list validate.
    subset : {"training", "validation", "both"}, optional
        With ``validation_split``; ``"both"`` returns ``(train, validation)``.
    follow_links : bool, default False
        Descend into subdirectories that are symbolic links.
    format : {"tf", "grain"}, default "tf"
        Checked as Keras does; both give the same :class:`Dataset` here.
    verbose : bool, default True
        Print the number of files and classes found.

    Returns
    -------
    Dataset or tuple of two Dataset
        Batches ``(texts, labels)`` (``texts`` alone without labels): ``texts`` an object array
        of ``str`` of shape (batch,) (decoded as UTF-8; Keras yields byte strings), ready for a
        ``"string"`` model input or ``TextVectorization``. ``class_names`` holds the classes.
    """
    where = "text_dataset_from_directory"
    labels, label_mode = _check_directory_args(
        labels, label_mode, class_names, validation_split, subset, shuffle, seed, "text", where
    )
    if max_length is not None:
        max_length = _check_int(max_length, "max_length", where, 0)
    _check_format(format, where)
    batch_size = check_batch_size(batch_size, where)

    def read(paths):
        texts = np.empty(len(paths), dtype=object)
        for i, path in enumerate(paths):
            with open(path, "rb") as fh:
                raw = fh.read() if max_length is None else fh.read(max_length)
            # Not final when cut: the bytes of a character cut by max_length are held back, not replaced.
            cut = max_length is not None and len(raw) == max_length
            texts[i] = codecs.getincrementaldecoder("utf-8")("replace").decode(raw, final=not cut)
        return texts

    return _directory_datasets(
        directory,
        labels,
        label_mode,
        class_names,
        batch_size,
        shuffle,
        seed,
        validation_split,
        subset,
        follow_links,
        verbose,
        (".txt",),
        "text files",
        where,
        read,
        keep_paths=False,
    )


_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    format="tf",
    verbose=True,
):
    """Batches of the images under ``directory`` with their labels, as Keras' function (needs Pillow).

    Files ``.bmp``, ``.gif`` (first frame), ``.jpeg``, ``.jpg`` and ``.png``, listed,
    labelled, shuffled and split as in :func:`text_dataset_from_directory`.

    Parameters
    ----------
    directory, labels, label_mode, class_names, batch_size, shuffle, seed
        As in :func:`text_dataset_from_directory`.
    validation_split, subset, follow_links, format, verbose
        As in :func:`text_dataset_from_directory`.
    color_mode : {"rgb", "rgba", "grayscale"}, default "rgb"
        3, 4 or 1 channels.
    image_size : int or (int, int), default (256, 256)
        ``(height, width)`` every image is resized to.
    interpolation : {"bilinear", "nearest"}, default "bilinear"
        As ``tf.image.resize`` (half-pixel centres, no antialiasing). Keras' other methods
        raise NotImplementedError.
    crop_to_aspect_ratio : bool, default False
        Resize the largest centred window with the target's aspect ratio (no distortion).
    pad_to_aspect_ratio : bool, default False
        Only False is supported.
    data_format : {"channels_last", None}
        Only channels_last is supported.

    Returns
    -------
    Dataset or tuple of two Dataset
        Batches ``(images, labels)`` (``images`` alone without labels): float32 images of shape
        (batch, height, width, channels), values 0-255; ``class_names`` and ``file_paths``
        attributes as Keras'.

    Raises
    ------
    ImportError
        If Pillow is not installed (``pip install pillow``), before reading anything.
    """
    where = "image_dataset_from_directory"
    labels, label_mode = _check_directory_args(
        labels, label_mode, class_names, validation_split, subset, shuffle, seed, "image", where
    )
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode) if isinstance(color_mode, str) else None
    if channels is None:
        raise ValueError(
            f'{where}: `color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: color_mode={color_mode!r}'
        )
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(
            f"{where}: Invalid `image_size` value. Expected a tuple of 2 integers. Received: image_size={image_size!r}"
        )
    image_size = tuple(_check_int(s, "image_size", where, 1) for s in image_size)
    if not isinstance(interpolation, str) or interpolation.lower() not in _INTERPOLATIONS:
        raise ValueError(
            f"{where}: Argument `interpolation` should be one of {_INTERPOLATIONS}. "
            f"Received: interpolation={interpolation!r}"
        )
    interpolation = interpolation.lower()
    if interpolation not in ("bilinear", "nearest"):
        raise UnsupportedArgument(f"{where}: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    if pad_to_aspect_ratio:
        raise UnsupportedArgument(f"{where}: pad_to_aspect_ratio is not supported, got {pad_to_aspect_ratio!r}")
    if data_format not in (None, "channels_last"):
        raise UnsupportedArgument(f"{where}: data_format must be 'channels_last' or None, got {data_format!r}")
    _check_format(format, where)
    batch_size = check_batch_size(batch_size, where)
    from ._image_utils import require_pil

    require_pil("image_dataset_from_directory")

    def read(paths):
        out = np.empty((len(paths),) + image_size + (channels,), dtype=np.float32)
        for i, path in enumerate(paths):
            out[i] = load_image(path, channels, image_size, interpolation, crop_to_aspect_ratio)
        return out

    return _directory_datasets(
        directory,
        labels,
        label_mode,
        class_names,
        batch_size,
        shuffle,
        seed,
        validation_split,
        subset,
        follow_links,
        verbose,
        IMAGE_FORMATS,
        "images",
        where,
        read,
        keep_paths=True,
    )


# ---------------------------------------------------------------- splitting
def _samples_of(dataset):
    """``(n, take)``: the number of samples of ``dataset`` and ``take(indices)`` -> the same structure, rows picked."""
    where = "split_dataset"
    if isinstance(dataset, Dataset):
        if dataset.batch_size is not None:
            raise NotImplementedError(
                f"{where}: split an unbatched Dataset (batch_size=None) or the arrays themselves, "
                f"got a Dataset with batch_size={dataset.batch_size}"
            )
        items = list(dataset)
        if not items:
            raise ValueError(f"{where}: Received an empty dataset")
        dataset = tree.map_structure(lambda *samples: np.stack(samples), *items)
    if isinstance(dataset, np.ndarray):
        if dataset.ndim == 0:
            raise ValueError(f"{where}: dataset must have a sample axis, got a scalar array {dataset!r}")
        return len(dataset), lambda idx: dataset[idx]
    if isinstance(dataset, (list, tuple, dict)):
        kind = type(dataset).__name__
        if not dataset:
            raise ValueError(f"{where}: Received an empty {kind} dataset; give a non-empty {kind} of arrays")
        keys = list(dataset) if isinstance(dataset, dict) else range(len(dataset))
        leaves = [dataset[k] for k in keys]
        for key, leaf in zip(keys, leaves):
            if not isinstance(leaf, np.ndarray) or leaf.ndim == 0:
                raise ValueError(
                    f"{where}: expected a {kind} of numpy.ndarray, got {type(leaf).__name__} at index {key!r}"
                )
            if len(leaf) != len(leaves[0]):
                raise ValueError(
                    f"{where}: Received a {kind} of NumPy arrays with different lengths: "
                    f"{len(leaves[0])} and {len(leaf)} (index {key!r})"
                )
        # Keras turns lists into tuples (tf.data fails on lists).
        structure = tuple(dataset) if isinstance(dataset, list) else dataset
        return len(leaves[0]), lambda idx: tree.map_structure(lambda a: a[idx], structure)
    raise TypeError(
        f"{where}: The `dataset` argument must be either a NumPy array, a list/tuple/dict of arrays or an "
        f"unbatched Dataset. Received: dataset={dataset!r} of type {type(dataset)}"
    )


def _split_sizes(left_size, right_size, total):
    """Keras' ``_rescale_dataset_split_sizes``: int sizes are counts, float sizes fractions of ``total``."""
    where = "split_dataset"
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(
                f"{where}: Invalid `{name}` Type. Expected: int or float or None, Received: {name}={size!r}"
            )
    if left_size == 0 and right_size == 0:
        raise ValueError(
            f"{where}: Both `left_size` and `right_size` are zero. At least one of the split sizes must be non-zero."
        )
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if (type(size) is int and not 0 < size < total) or (type(size) is float and not 0 < size < 1):
            raise ValueError(
                f"{where}: `{name}` should be either a positive integer smaller than {total}, or a float "
                f"within the range `[0, 1]`. Received: {name}={size}"
            )
    if type(left_size) is type(right_size) is float and left_size + right_size > 1:
        raise ValueError(
            f"{where}: The sum of `left_size` and `right_size` is greater than 1. It must be less than or "
            f"equal to 1. Received: left_size={left_size}, right_size={right_size}"
        )
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(
            f"{where}: The sum of `left_size` and `right_size` should be smaller than the {total}. "
            f"Received: left_size + right_size = {left + right} and total_length = {total}"
        )
    for size, side in ((left, "left"), (right, "right")):
        if size == 0:
            raise ValueError(
                f"{where}: With `dataset` of length={total}, `left_size`={left} and `right_size`={right}. "
                f"Resulting {side} side dataset split will be empty. Adjust any of the aforementioned parameters"
            )
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Split a data set in two (e.g. train / test), as ``keras.utils.split_dataset``.

    Parameters
    ----------
    dataset : ndarray, list/tuple/dict of ndarrays, or an unbatched Dataset
        Samples along axis 0 of every array (all of one length).
    left_size, right_size : int or float, optional
        A float in (0, 1) is a fraction of the samples (rounded), an int a count; one may be
        None (the complement of the other). The left part takes the first samples, the right
        part the last ones.
    shuffle : bool, default False
        Shuffle the samples before splitting (Python's ``random`` seeded with ``seed``, as Keras).
    seed : int, optional
    preferred_backend : str, optional
        Accepted for Keras' signature; unused.

    Returns
    -------
    (Dataset, Dataset)
        Unbatched (``batch_size=None``, one sample per element, as Keras' ``tf.data`` splits):
        call ``.batch(n)`` before ``fit``. Elements keep ``dataset``'s structure (a list
        becomes a tuple, as in Keras).
    """
    if left_size is None and right_size is None:
        raise ValueError(
            "split_dataset: At least one of the `left_size` or `right_size` must be specified. "
            "Received: left_size=None and right_size=None"
        )
    total, take = _samples_of(dataset)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    left, right = _split_sizes(left_size, right_size, total)
    order = np.asarray(order, dtype=np.int64)
    parts = (order[:left], order[total - right :])
    return tuple(Dataset(len(part), lambda idx, part=part: take(part[idx]), None) for part in parts)
