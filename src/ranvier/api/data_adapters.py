"""Turning ``fit``/``evaluate``/``predict``'s ``x, y, sample_weight`` into batches: the one place that does it.

``get_adapter`` picks an adapter for what it is given:

- arrays, or lists/dicts of arrays (several inputs or outputs): ``ArrayAdapter``;
  ``np.memmap`` (and other lazily read arrays such as h5py datasets) are read
  one batch at a time, never whole;
- a ``ranvier.utils.PyDataset``: ``PyDatasetAdapter`` (its worker threads prefetch);
- any other iterable or iterator of ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
  tuples (a Python generator, ``map``, a custom class): ``GeneratorAdapter``.
  Lists, tuples and dicts are always data structures, never iterables of batches.

Every adapter has ``num_batches`` (per epoch; None if unknown), ``batch_size``
(None if the source decides), ``epoch(rng)`` yielding ``(x, y, sample_weight)``
tuples (None for what is absent; x, y, sample_weight keep the structure they
were given in), ``on_epoch_end()`` and ``ran_out`` (True after an epoch that
ended early because the data ran out).

With ``steps``, an epoch is ``steps`` batches and the source is *not* rewound
between epochs (as Keras): a generator continues where the last epoch
stopped; arrays and PyDatasets start a new pass (a new shuffle) when a pass
is used up at an epoch's end. A source that runs out inside an epoch ends
that epoch early with Keras' "ran out of data" warning.
"""

import collections
import concurrent.futures
import itertools
import math
import numbers
import warnings

import numpy as np

from . import config, tree
from .data import class_weights_to_sample_weights
from .py_dataset import PyDataset

__all__ = ["DataAdapter", "ArrayAdapter", "GeneratorAdapter", "PyDatasetAdapter", "get_adapter"]

_DEFAULT_BATCH_SIZE = 32


def _ran_out_warning():
    warnings.warn(
        "Your input ran out of data; interrupting the epoch. Make sure that your dataset or "
        "generator can generate at least `steps_per_epoch * epochs` batches.",
        stacklevel=3,
    )


class DataAdapter:
    """Base of the adapters: the epoch / steps logic around ``_pass`` (one pass over the source).

    Subclasses define ``_pass(rng)`` (an iterator of ``(x, y, sw)`` batches)
    and ``_pass_length`` (batches in a pass, None if unknown).
    """

    batch_size = None

    def __init__(self, steps=None):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1):
            raise ValueError(f"steps must be a positive integer or None, got {steps!r}")
        self.steps = None if steps is None else int(steps)
        self.ran_out = False
        self._current = None  # the pass kept across epochs when ``steps`` is given
        self._taken = 0  # batches taken from ``_current``

    @property
    def _pass_length(self):
        return None

    @property
    def num_batches(self):
        """Batches per epoch: ``steps`` if given, else a pass's length (None if unknown)."""
        return self.steps if self.steps is not None else self._pass_length

    def _pass(self, rng):
        raise NotImplementedError

    def _begin_epoch(self):
        """Hook run when an epoch starts (PyDataset.on_epoch_begin)."""

    def epoch(self, rng=None):
        """Iterate over one epoch's batches, each a tuple ``(x, y, sample_weight)``.

        Parameters
        ----------
        rng : numpy.random.Generator, optional
            Draws the shuffle; a generator from ranvier's global seed if omitted.
        """
        rng = config.make_rng(None) if rng is None else rng
        self.ran_out = False
        self._begin_epoch()
        if self.steps is None:
            count = 0
            for batch in self._pass(rng):
                count += 1
                yield batch
            if count == 0 and self._pass_length is None:
                self.ran_out = True
                _ran_out_warning()
            return
        for step in range(self.steps):
            if self._current is None:
                if step:  # a known-size pass ended inside this epoch: end the epoch there, as Keras
                    break
                self._current, self._taken = self._pass(rng), 0
            try:
                batch = next(self._current)
            except StopIteration:
                self._current = None
                break
            self._taken += 1
            if self._taken == self._pass_length:  # used up: the next epoch starts a new pass
                self._current = None
            yield batch
        else:
            return
        self.ran_out = True
        _ran_out_warning()

    def on_epoch_end(self):
        """Call once an epoch's batches are used (PyDataset.on_epoch_end)."""


# ---------------------------------------------------------------- arrays
def _is_lazy_array(a):
    """A memmap or another array-like read on indexing (h5py, zarr): batches are read from it one by one."""
    return isinstance(a, np.memmap) or (
        not isinstance(a, np.ndarray) and hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "__getitem__")
    )


def _standardize(value):
    """Lists/tuples/dicts of arrays kept as structures, everything else one array (lazy arrays untouched)."""
    if value is None or isinstance(value, np.ndarray) or _is_lazy_array(value):
        return value
    if isinstance(value, dict):
        return type(value)((k, _standardize(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)) and _holds_arrays(value):
        items = [_standardize(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if hasattr(value, "to_numpy"):  # pandas
        return value.to_numpy()
    return np.asarray(value)


def _holds_arrays(seq):
    """True if a list/tuple is a structure of arrays (inputs), False if it is nested numbers (one array).

    Only the first element is followed down: a list of a million rows is not scanned twice.
    """
    if any(isinstance(v, dict) or hasattr(v, "shape") or hasattr(v, "to_numpy") for v in seq):
        return True
    return bool(seq) and isinstance(seq[0], (list, tuple)) and _holds_arrays(seq[0])


def _path_name(arg, path):
    return arg + "".join(f"[{k!r}]" for k in path)


def _leaves_with_names(arg, structure):
    return [(_path_name(arg, path), leaf) for path, leaf in tree.flatten_with_path(structure) if leaf is not None]


def _check_lengths(parts, where=""):
    """The common number of samples of the named leaves, or a ValueError listing each one's."""
    named = [(name, leaf) for arg, value in parts for name, leaf in _leaves_with_names(arg, value)]
    for name, leaf in named:
        if len(getattr(leaf, "shape", ())) == 0:
            raise ValueError(f"{name}{where} must have a batch dimension, got a scalar {leaf!r}")
    sizes = {int(leaf.shape[0]) for _, leaf in named}
    if len(sizes) > 1:
        listing = ", ".join(f"{name}: {int(leaf.shape[0])}" for name, leaf in named)
        raise ValueError(
            f"{', '.join(arg for arg, v in parts if v is not None)}{where} must have the same "
            f"number of samples, got {listing}"
        )
    return sizes.pop() if sizes else 0


def _per_output(value, y, arg):
    """``value`` as one entry per output of a list/tuple/dict ``y``, in ``y``'s container type.

    For a dict ``y`` a dict may name only some outputs (the others get None);
    unknown names are an error.
    """
    if isinstance(y, dict):
        if not isinstance(value, dict):
            raise ValueError(
                f"{arg} must be a dict keyed by output name, as y is (outputs {sorted(y)}), got {type(value).__name__}"
            )
        unknown = sorted(set(value) - set(y), key=str)
        if unknown:
            raise ValueError(f"{arg} names outputs that y does not have: {unknown} (y has {sorted(y)})")
        return type(y)((k, value.get(k)) for k in y)
    if not isinstance(value, (list, tuple)) or len(value) != len(y):
        got = (
            f"a {type(value).__name__} of length {len(value)}"
            if isinstance(value, (list, tuple))
            else type(value).__name__
        )
        raise ValueError(f"{arg} must be a list with one entry per output of y ({len(y)}), got {got}")
    return type(y)(value) if not hasattr(y, "_fields") else type(y)(*value)


def _combine(sample_weight, class_sw):
    """Sample weights times class weights (either may be None); ``sample_weight`` keeps its shape."""
    if class_sw is None or sample_weight is None:
        return class_sw if sample_weight is None else sample_weight
    sw = np.asarray(sample_weight, dtype=np.float64)
    return sw * class_sw.reshape((-1,) + (1,) * (sw.ndim - 1))


def _weights(y, sample_weight, class_weight):
    """sample_weight per output (one array for several outputs is repeated, as Keras) times class weights.

    ``class_weight`` is ``{class: weight}`` for one output; for several, one
    such dict (or None) per output: a list in output order or a dict keyed by
    output name.
    """
    if y is None:
        for arg, value in (("sample_weight", sample_weight), ("class_weight", class_weight)):
            if value is not None:
                raise ValueError(f"{arg} needs targets y, got y=None and {arg} of type {type(value).__name__}")
        return None
    if not tree.is_nested(y):
        if tree.is_nested(sample_weight):
            raise ValueError(
                f"sample_weight must be one array for a single output y, got a {type(sample_weight).__name__}"
            )
        cw = None if class_weight is None else class_weights_to_sample_weights(class_weight, np.asarray(y))
        return _combine(sample_weight, cw)
    if sample_weight is not None and not tree.is_nested(sample_weight):
        sample_weight = tree.map_structure(lambda _: sample_weight, y)
    sw = _per_output(sample_weight, y, "sample_weight") if sample_weight is not None else None
    if class_weight is None:
        return sw
    per_output = isinstance(class_weight, (list, tuple)) or (
        isinstance(y, dict)
        and isinstance(class_weight, dict)
        and all(isinstance(v, dict) or v is None for v in class_weight.values())
    )
    if not per_output:
        raise ValueError(
            "class_weight for several outputs must give one {class: weight} dict (or None) per "
            "output: a list in output order or a dict keyed by output name, got "
            f"{class_weight!r}"
        )
    cw = _per_output(class_weight, y, "class_weight")
    keys = list(y) if isinstance(y, dict) else range(len(y))
    combined = [
        _combine(
            None if sw is None else sw[k],
            None if cw[k] is None else class_weights_to_sample_weights(cw[k], np.asarray(y[k])),
        )
        for k in keys
    ]
    return (
        type(y)(zip(keys, combined))
        if isinstance(y, dict)
        else (type(y)(*combined) if hasattr(y, "_fields") else type(y)(combined))
    )


def _read_rows(a, index):
    """Rows ``index`` of ``a`` as an in-memory array.

    A lazy array is read with sorted indices (near-sequential reads, and
    h5py requires them) and the rows put back in the asked order.
    """
    if isinstance(index, slice):
        return np.asarray(a[index]) if _is_lazy_array(a) else a[index]
    if not _is_lazy_array(a):
        return a[index]
    sorter = np.argsort(index, kind="stable")
    out = np.empty((len(index),) + tuple(a.shape[1:]), dtype=a.dtype)
    out[sorter] = a[index[sorter]]
    return out


def _take(structure, index):
    """Rows ``index`` of every array in ``structure`` (None entries stay None)."""
    return tree.map_structure(lambda a: None if a is None else _read_rows(a, index), structure)


class ArrayAdapter(DataAdapter):
    """Batches sliced from arrays (or lists/dicts of arrays), shuffled by index.

    ``shuffle=True`` draws one permutation of the samples per pass
    (``rng.permutation(n)``) and batches are consecutive runs of it;
    ``shuffle="batch"`` keeps the batches in order and shuffles inside each
    (lazy arrays then read one contiguous block per batch); False keeps the
    order. Batches of in-memory arrays are views (unshuffled) or copies; lazy
    arrays are read one batch at a time.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False, class_weight=None):
        super().__init__(steps)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}")
        x, y, sample_weight = _standardize(x), _standardize(y), _standardize(sample_weight)
        sample_weight = _weights(y, sample_weight, class_weight)
        self._data = (x, y, sample_weight)
        self.num_samples = _check_lengths([("x", x), ("y", y), ("sample_weight", sample_weight)])
        if batch_size is None:
            batch_size = math.ceil(self.num_samples / steps) if steps and self.num_samples else _DEFAULT_BATCH_SIZE
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle

    @property
    def _pass_length(self):
        return math.ceil(self.num_samples / self.batch_size)

    def _pass(self, rng):
        n, size = self.num_samples, self.batch_size
        order = rng.permutation(n) if self.shuffle is True else None
        for start in range(0, n, size):
            stop = min(start + size, n)
            if order is not None:
                index = order[start:stop]
            elif self.shuffle == "batch":
                index = start + rng.permutation(stop - start)
            else:
                index = slice(start, stop)
            yield tuple(None if part is None else _take(part, index) for part in self._data)


# ------------------------------------------------------- generated batches
def _batch_parts(batch, where):
    """``(x, y, sw)`` from a batch: a tuple (or list) of 1 to 3 entries, or x alone, as Keras 3 reads them."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        what = (
            f"a tuple of length {len(batch)}"
            if isinstance(batch, tuple)
            else (f"a {type(batch).__name__}" + (f" of shape {batch.shape}" if hasattr(batch, "shape") else ""))
        )
        raise ValueError(f"{where} must be a tuple (x,), (x, y) or (x, y, sample_weight), got {what}")
    return tuple(batch) + (None,) * (3 - len(batch))


class _BatchChecker:
    """Standardizes the batches of a generator or PyDataset and checks them against the first one."""

    def __init__(self, source, class_weight):
        self.source = source
        self.class_weight = class_weight
        self._first = None

    def __call__(self, batch, index):
        where = f"batch {index} of the {self.source}"
        x, y, sw = (_standardize(part) for part in _batch_parts(batch, where))
        signature = tuple(None if p is None else tree.map_structure(lambda a: a is None, p) for p in (x, y, sw))
        if self._first is None:
            self._first = signature
        elif signature != self._first:
            raise ValueError(
                f"{where} has the structure {_shape_of(signature)}, but the first batch had {_shape_of(self._first)}"
            )
        _check_lengths([("x", x), ("y", y), ("sample_weight", sw)], where=f" in {where}")
        if self.class_weight is not None:
            sw = _weights(y, sw, self.class_weight)
        return x, y, sw


def _shape_of(signature):
    names = ("x", "y", "sample_weight")
    return "(" + ", ".join(f"{n}={'absent' if s is None else _describe(s)}" for n, s in zip(names, signature)) + ")"


def _describe(structure):
    if isinstance(structure, dict):
        return "dict" + str(sorted(structure))
    if isinstance(structure, (list, tuple)):
        return f"{type(structure).__name__} of {len(structure)}"
    return "array"


class GeneratorAdapter(DataAdapter):
    """Batches from a Python iterable or iterator of ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    An iterable (a fresh ``iter()`` gives a new pass) is passed over once per
    epoch; an iterator (a generator) is consumed once: without ``steps`` its
    first epoch uses it up. ``num_batches`` is None until a pass of an
    iterable has ended. ``class_weight`` is applied to each batch (Keras
    refuses it for generators).
    """

    def __init__(self, x, steps=None, class_weight=None):
        super().__init__(steps)
        self._source = x
        self._one_shot = iter(x) is x
        self._check = _BatchChecker("generator" if self._one_shot else "iterable", class_weight)
        self._seen_length = None

    @property
    def _pass_length(self):
        return self._seen_length

    def _pass(self, rng):
        count = 0
        for count, batch in enumerate(self._source if self._one_shot else iter(self._source), 1):
            yield self._check(batch, count - 1)
        if not self._one_shot and count:
            self._seen_length = count


# -------------------------------------------------------------- PyDataset
def _prefetch_in_order(fetch, indices, workers, depth):
    """``fetch(i)`` for each index, run by ``workers`` threads up to ``depth`` ahead, yielded in order."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ranvier-pydataset")
    pending = collections.deque()
    indices = iter(indices)
    try:
        for i in itertools.islice(indices, depth):
            pending.append(pool.submit(fetch, i))
        while pending:
            batch = pending.popleft().result()
            for i in itertools.islice(indices, 1):
                pending.append(pool.submit(fetch, i))
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class PyDatasetAdapter(DataAdapter):
    """Batches from a :class:`~ranvier.utils.PyDataset`, by index; ``shuffle`` shuffles the batch order.

    With ``workers > 1`` a thread pool fetches up to ``max_queue_size``
    batches ahead, in order. ``class_weight`` is applied to each batch.
    """

    def __init__(self, x, steps=None, shuffle=False, class_weight=None):
        super().__init__(steps)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch', got {shuffle!r}")
        self.dataset = x
        self.shuffle = bool(shuffle)
        self._check = _BatchChecker("PyDataset", class_weight)
        if x.num_batches is None and steps is None:
            raise ValueError(
                f"x: the {type(x).__name__} has no end (num_batches is None): pass the number of "
                "batches per epoch (steps_per_epoch / steps), got steps=None"
            )

    @property
    def _pass_length(self):
        return self.dataset.num_batches

    def _fetch(self, index):
        batch = self.dataset[index]
        if isinstance(batch, list):
            batch = tuple(batch)
        elif not isinstance(batch, tuple):  # an array or a dict: inputs only, as Keras
            batch = (batch,)
        return self._check(batch, index)

    def _pass(self, rng):
        n = self.dataset.num_batches
        if n is None:
            order = itertools.count()
        else:
            order = rng.permutation(n).tolist() if self.shuffle else range(n)
        workers = self.dataset.workers
        if workers > 1:
            return _prefetch_in_order(self._fetch, order, workers, max(workers, self.dataset.max_queue_size))
        return map(self._fetch, order)

    def _begin_epoch(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


# ------------------------------------------------------------------ entry
def _is_array_data(x):
    return isinstance(x, (np.ndarray, list, tuple, dict, numbers.Number)) or _is_lazy_array(x) or hasattr(x, "to_numpy")


def get_adapter(x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False, class_weight=None):
    """The adapter that batches ``x`` (and ``y``, ``sample_weight``) for a training or inference loop.

    Parameters
    ----------
    x : array, list/dict of arrays, PyDataset, iterable or iterator of batches, or a DataAdapter
        A DataAdapter is returned as it is.
    y, sample_weight : array or list/dict of arrays, optional
        Only with arrays (a generator or PyDataset yields them in its batches).
        One ``sample_weight`` array for several outputs applies to each.
    batch_size : int, optional
        Arrays only (ignored otherwise: the source makes the batches): default 32, or
        ``ceil(n / steps)`` when only ``steps`` is given.
    steps : int, optional
        Batches per epoch (``steps_per_epoch``); the source is not rewound between epochs.
    shuffle : bool or "batch", default False
        Arrays: see :class:`ArrayAdapter`; PyDataset: shuffles the batch order; ignored for generators.
    class_weight : dict, optional
        ``{class: weight}`` (or one per output) turned into sample weights, multiplied with ``sample_weight``.

    Returns
    -------
    DataAdapter
        ``num_batches``, ``batch_size``, ``epoch(rng)``, ``on_epoch_end()``, ``ran_out``.
    """
    if isinstance(x, DataAdapter):
        return x
    if x is None:
        raise ValueError("x is required (arrays, a PyDataset or an iterable of batches), got None")
    if isinstance(x, PyDataset) or not _is_array_data(x):
        kind = "PyDataset" if isinstance(x, PyDataset) else "generator"
        for arg, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(
                    f"When x is a {kind}, {arg} must be None (the batches carry it: "
                    f"(x, y) or (x, y, sample_weight)), got {arg} of type {type(value).__name__}"
                )
        if isinstance(x, PyDataset):
            return PyDatasetAdapter(x, steps=steps, shuffle=shuffle, class_weight=class_weight)
        if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
            raise TypeError(
                "x must be an array, a list or dict of arrays, a PyDataset, or an iterable of "
                f"(x, y) batches, got {type(x).__name__}"
            )
        return GeneratorAdapter(x, steps=steps, class_weight=class_weight)
    return ArrayAdapter(
        x, y, sample_weight, batch_size=batch_size, steps=steps, shuffle=shuffle, class_weight=class_weight
    )
