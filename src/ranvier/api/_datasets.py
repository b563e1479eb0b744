"""The data sets ``ranvier.utils``' ``*_dataset_*`` functions and ``split_dataset`` return.

Keras returns ``tf.data.Dataset`` objects; here :class:`Dataset` is a
:class:`~ranvier.utils.PyDataset` (so ``fit`` / ``evaluate`` / ``predict``
take it) over ``n`` samples that a *loader* reads by index: a batch is
``loader(indices)`` for a run of sample indices. It has ``len()``, iteration,
indexing by batch, and the few ``tf.data`` methods keras-io's examples chain
(``map``, ``take``, ``batch``, ``cache``, ``prefetch``).

Shuffling: every pass over the data (an epoch of ``fit``, a ``for`` loop)
draws a new order of the samples from one ``numpy.random.RandomState(seed)``,
so a seeded data set gives the same sequence of orders on every run. Keras'
``tf.data`` pipelines shuffle in a window of ``8 * batch_size`` samples
instead; the orders differ, the guarantee (a new order each pass, the same
sequence for the same seed) is the same.
"""

import copy
import math
import numbers

import numpy as np

from .py_dataset import PyDataset

__all__ = ["Dataset", "check_batch_size"]


def check_batch_size(batch_size, where):
    """``batch_size`` as an int, or None (samples one at a time); ValueError naming the value otherwise."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"{where}: batch_size must be a positive integer or None, got {batch_size!r}")
    return int(batch_size)


class Dataset(PyDataset):
    """Batches of ``num_samples`` samples read by a loader, in order or shuffled anew each pass.

    Parameters
    ----------
    num_samples : int
        Samples in the data set.
    loader : callable
        ``loader(indices)`` -> the batch of the samples at ``indices`` (an int array, in the
        order wanted): an array, a tuple ``(x, y)`` or a dict of arrays, batch axis first.
    batch_size : int or None
        Samples per batch (the last batch may be smaller); None yields samples one at a time
        (the batch axis removed), as an unbatched ``tf.data.Dataset``.
    shuffle : bool
        Draw a new order of the samples at each pass.
    seed : int, optional
        Seed of the orders (a random one if None).

    Attributes
    ----------
    class_names : list of str or None
        The directory data sets' class names (Keras' attribute); None otherwise.
    file_paths : list of str or None
        The image data sets' file paths, in the (first pass) order read.
    """

    def __init__(self, num_samples, loader, batch_size, shuffle=False, seed=None):
        super().__init__()
        self._num_samples = int(num_samples)
        self._loader = loader
        self._batch_size = check_batch_size(batch_size, "Dataset")
        self._shuffle = bool(shuffle)
        self._rng = None
        if self._shuffle:
            self._rng = np.random.RandomState(np.random.randint(1e6) if seed is None else seed)
        self._maps = ()
        self._limit = None
        self._order = None
        self.class_names = None
        self.file_paths = None

    # ------------------------------------------------------------ order
    def _new_pass(self):
        if self._shuffle:
            self._order = self._rng.permutation(self._num_samples)
        elif self._order is None:
            self._order = np.arange(self._num_samples)

    def on_epoch_begin(self):
        """A new pass: a new order of the samples if the data set shuffles."""
        self._new_pass()

    @property
    def batch_size(self):
        """Samples per batch (None: one sample at a time)."""
        return self._batch_size

    def __len__(self):
        size = self._batch_size or 1
        n = math.ceil(self._num_samples / size)
        return n if self._limit is None else min(n, self._limit)

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Dataset: a batch index must be an integer, got {index!r}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"Dataset: batch index {index} is out of range for {n} batches")
        if self._order is None:
            self._new_pass()
        index = int(index) % n
        size = self._batch_size or 1
        batch = self._loader(self._order[index * size : (index + 1) * size])
        if self._batch_size is None:
            batch = _first(batch)
        for fn in self._maps:
            batch = fn(*batch) if isinstance(batch, tuple) else fn(batch)
        return batch

    def __iter__(self):
        self._new_pass()
        for index in range(len(self)):
            yield self[index]

    # ------------------------------------------------ tf.data look-alikes
    def _derived(self, **changes):
        out = copy.copy(self)
        out.__dict__.update(changes)
        return out

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A data set whose elements are ``map_func(*element)`` (``map_func(element)`` for a non-tuple).

        As ``tf.data.Dataset.map`` applied after ``batch``: ``map_func`` gets whole batches
        (NumPy arrays, not tensors). ``num_parallel_calls``, ``deterministic`` and ``name``
        are accepted and unused. The new data set shares this one's order of samples.
        """
        if not callable(map_func):
            raise TypeError(f"Dataset.map: map_func must be callable, got {map_func!r}")
        return self._derived(_maps=self._maps + (map_func,))

    def take(self, count, name=None):
        """A data set of at most ``count`` elements (all of them for ``count=-1``)."""
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < -1:
            raise ValueError(f"Dataset.take: count must be an integer >= -1, got {count!r}")
        if count == -1:
            return self
        return self._derived(_limit=int(count) if self._limit is None else min(self._limit, int(count)))

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """The samples of an unbatched data set (``batch_size=None``) in batches of ``batch_size``."""
        batch_size = check_batch_size(batch_size, "Dataset.batch")
        if batch_size is None:
            raise ValueError("Dataset.batch: batch_size must be a positive integer, got None")
        if self._batch_size is not None or self._maps or self._limit is not None:
            raise NotImplementedError(
                "Dataset.batch: only an unbatched data set without map/take can be batched "
                f"(this one has batch_size={self._batch_size!r})"
            )
        if drop_remainder:
            raise NotImplementedError(f"Dataset.batch: drop_remainder must be False, got {drop_remainder!r}")
        return self._derived(_batch_size=batch_size)

    def prefetch(self, buffer_size, name=None):
        """This data set (batches are read when asked for; use ``PyDataset`` workers for read-ahead)."""
        return self

    def cache(self, filename="", name=None):
        """This data set (samples are read again at each pass)."""
        return self

    def cardinality(self):
        """The number of elements, as ``int(ds.cardinality())`` in TensorFlow."""
        return len(self)


def _first(batch):
    """The single sample of a batch of one, batch axis removed (same structure)."""
    if isinstance(batch, tuple):
        return tuple(_first(b) for b in batch)
    if isinstance(batch, dict):
        return {k: _first(v) for k, v in batch.items()}
    return batch[0]
