"""``PyDataset``: batches produced by Python code, Keras 3's ``keras.utils.PyDataset`` protocol."""

import itertools
import numbers
import warnings

__all__ = ["PyDataset"]


class PyDataset:
    """Base class of a data set that hands out whole batches by index.

    Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__``
    (the number of batches) and ``__getitem__(index)`` returning a batch
    ``(x, y)`` or ``(x, y, sample_weight)`` (``x`` alone for ``predict``);
    ``x``, ``y`` and ``sample_weight`` may be arrays or lists/dicts of arrays
    (several inputs or outputs). ``on_epoch_begin`` / ``on_epoch_end`` run
    around every epoch of ``fit``; a data set with an unknown number of
    batches overrides ``num_batches`` to return None (then ``fit`` needs
    ``steps_per_epoch``).

    Parameters
    ----------
    workers : int, default 1
        With more than 1, ``fit``/``evaluate``/``predict`` call ``__getitem__``
        from that many threads, keeping up to ``max_queue_size`` batches ready,
        and still use the batches in order. Threads help when ``__getitem__``
        waits on files or releases the GIL (NumPy, image decoding).
    use_multiprocessing : bool, default False
        Not supported (True raises NotImplementedError): use threads.
    max_queue_size : int, default 10
        Batches fetched ahead when ``workers > 1``.

    Examples
    --------
    >>> class Batches(rv.utils.PyDataset):
    ...     def __init__(self, x, y, batch_size, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x, self.y, self.batch_size = x, y, batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, i):
    ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
    ...         return self.x[s], self.y[s]
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
            raise ValueError(f"PyDataset: workers must be an integer >= 0, got {workers!r}")
        if use_multiprocessing:
            raise NotImplementedError(
                "PyDataset: use_multiprocessing=True is not supported; use workers=n "
                f"(threads) instead, got use_multiprocessing={use_multiprocessing!r}"
            )
        if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, numbers.Integral) or max_queue_size < 1:
            raise ValueError(f"PyDataset: max_queue_size must be an integer >= 1, got {max_queue_size!r}")
        self._workers = int(workers)
        self._use_multiprocessing = False
        self._max_queue_size = int(max_queue_size)

    def _settings_or_defaults(self):
        # A subclass that forgot super().__init__() still works, as in Keras, with a warning.
        if not hasattr(self, "_workers"):
            warnings.warn(
                f"{type(self).__name__} should call super().__init__(**kwargs) in its __init__ "
                "(workers, use_multiprocessing, max_queue_size); using the defaults",
                stacklevel=3,
            )
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10

    @property
    def workers(self):
        self._settings_or_defaults()
        return self._workers

    @property
    def use_multiprocessing(self):
        self._settings_or_defaults()
        return self._use_multiprocessing

    @property
    def max_queue_size(self):
        self._settings_or_defaults()
        return self._max_queue_size

    def __getitem__(self, index):
        """The batch at position ``index``: ``(x, y)``, ``(x, y, sample_weight)`` or ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    @property
    def num_batches(self):
        """Number of batches (``len(self)``), or None for a data set without an end."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ (the number of batches) or "
            "the num_batches property (None if it has no end)"
        )

    def __iter__(self):
        n = self.num_batches
        for index in itertools.count() if n is None else range(n):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch (shuffle your samples here)."""
