"""Work arrays: 64-byte aligned, and reused from one training step to the next through a ``ScratchPool``.

Layers ask for every work array (outputs, caches, gradients) with
``scratch(self, slot, shape, dtype)``. Inside ``with pool.active():`` the
array comes from that pool and stays valid until ``pool.recycle()``; outside
any pool (a standalone layer call, predict) it is a fresh array nobody else
holds. A model keeps one pool, activates it around each training step's
forward and backward passes and recycles it when the next step starts::

    pool = ScratchPool()                       # once, beside the model's layers
    ...
    pool.recycle()                             # start of a step: last step's arrays are free again
    with pool.active():
        out, caches = forward(x)               # layers call scratch(...)
        backward(loss_grad(out), caches)
    # ``out`` and the caches stay valid until the next ``pool.recycle()``

Reuse matters: a fresh multi-megabyte array costs a page fault per 4 KiB at
every step (measured: ~3400 faults, 15% of a W2 step); a recycled one does not.
"""

import ctypes
import functools
import math
import sys
import threading

import numpy as np

__all__ = ["ScratchPool", "scratch", "aligned_empty", "aligned_zeros"]

# Cache-line size: the recurrent kernels split rows between threads on 32-unit
# boundaries, and a line shared across such a boundary ping-pongs between the
# cores (measured: W3's LSTM forward 1.72 -> 1.62 ms, backward 3.27 -> 2.93 ms
# with 64-byte aligned arrays instead of NumPy's 16).
_ALIGN = 64
_PAGE = 4096
_HUGE = 2 << 20
_MADV_HUGEPAGE = 14


class _Active(threading.local):
    pool = None  # the class default: no pool in a thread that never activated one


_ACTIVE = _Active()


def _aligned_block(nbytes):
    """(uint8 array, offset): ``nbytes`` bytes from ``offset`` on start on a 64-byte boundary.

    From one huge page (2 MiB) up they start on a huge-page boundary, and their whole
    huge pages are offered to the kernel's transparent huge pages (``madvise``, Linux):
    a training step streams through tens of such arrays, and on 4 KiB pages each 4 KiB
    of them costs a TLB miss (W5's blocked Dense backward over 24 rotating pairs of
    (4096, 128) arrays: 2.50 -> 2.42 ms). The rest of the block stays on small pages,
    so resident memory does not grow.
    """
    madvise = _madvise() if nbytes >= _HUGE else None
    if madvise is None:
        raw = np.empty(nbytes + _ALIGN, np.uint8)
        # ctypes reads the address in 0.3 us, ``__array_interface__`` in 1.5 (a predict call takes several).
        return raw, -ctypes.addressof(ctypes.c_char.from_buffer(raw)) % _ALIGN
    raw = np.empty(nbytes + _HUGE, np.uint8)  # untouched: the unused head costs address space only
    start = ctypes.addressof(ctypes.c_char.from_buffer(raw))
    offset = -start % _HUGE
    madvise(start + offset, nbytes // _HUGE * _HUGE, _MADV_HUGEPAGE)  # refused: small pages, as before
    return raw, offset


@functools.cache
def _madvise():
    """libc's ``madvise`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        f = ctypes.CDLL(None).madvise
    except (OSError, AttributeError):
        return None
    f.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    f.restype = ctypes.c_int
    return f


def aligned_empty(shape, dtype):
    """``np.empty(shape, dtype)`` whose data starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    raw, offset = _aligned_block(math.prod(shape) * dtype.itemsize)
    return np.ndarray(shape, dtype, raw, offset)


def aligned_zeros(shape, dtype):
    """``np.zeros(shape, dtype)`` whose data starts on a 64-byte boundary."""
    out = aligned_empty(shape, dtype)
    out.fill(0)
    return out


class ScratchPool:
    """Aligned work arrays handed out by ``(owner, slot)`` and reused after each ``recycle()``.

    The n-th ``take`` of a given ``(owner, slot)`` since the last ``recycle()``
    returns the n-th array of that slot: calls in one step never share memory
    (a layer applied twice keeps both calls' buffers), and the next step gets
    the same arrays back in the same order, so a steady training loop
    allocates nothing. An array grows when a larger one is asked for and is
    viewed smaller otherwise (the last, shorter batch of an epoch costs no
    allocation). One thread uses a pool at a time.
    """

    __slots__ = ("_slots", "_round")

    def __init__(self):
        # (owner, slot) -> [round of the last take, takes this round, blocks, arrays handed out]
        self._slots = {}
        self._round = 0

    def take(self, owner, slot, shape, dtype):
        """An uninitialised 64-byte-aligned array, valid until the next ``recycle()``.

        Parameters
        ----------
        owner : object
            Usually the layer; with ``slot`` it names the array.
        slot : str
        shape : tuple of int
        dtype : numpy dtype

        Returns
        -------
        ndarray of ``shape`` and ``dtype``, C-contiguous.
        """
        entry = self._slots.get((owner, slot))
        if entry is None:
            entry = self._slots[owner, slot] = [self._round, 0, [], []]
        elif entry[0] != self._round:
            entry[0], entry[1] = self._round, 0
        i = entry[1]
        entry[1] = i + 1
        blocks, arrays = entry[2], entry[3]
        if i < len(arrays):
            out = arrays[i]
            if out.shape == shape and out.dtype == dtype:
                return out
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        nbytes = math.prod(shape) * dtype.itemsize
        if i == len(blocks):
            blocks.append(_aligned_block(nbytes))
            arrays.append(None)
        elif blocks[i][0].nbytes - blocks[i][1] < nbytes:
            blocks[i] = _aligned_block(nbytes)
        raw, offset = blocks[i]
        out = arrays[i] = np.ndarray(shape, dtype, raw, offset)
        return out

    def recycle(self):
        """Make every array handed out so far free for reuse (their contents become undefined)."""
        self._round += 1

    def active(self):
        """Context manager: ``scratch`` calls in this thread take from this pool inside it."""
        return _Activation(self)

    def clear(self):
        """Drop every array (and the owners the pool refers to)."""
        self._slots.clear()


class _Activation:
    __slots__ = ("_pool", "_previous")

    def __init__(self, pool):
        self._pool = pool

    def __enter__(self):
        self._previous = _ACTIVE.pool
        _ACTIVE.pool = self._pool
        return self._pool

    def __exit__(self, *exc):
        _ACTIVE.pool = self._previous


def scratch(owner, slot, shape, dtype):
    """A work array for ``owner``: from the pool active in this thread, else a fresh aligned one.

    Parameters
    ----------
    owner : object
        The layer asking.
    slot : str
        Which of its arrays (one name per distinct use in a call).
    shape : tuple of int
    dtype : numpy dtype

    Returns
    -------
    ndarray
        Uninitialised, C-contiguous; valid until the active pool's next
        ``recycle()`` (forever without a pool). 64-byte aligned, except for
        arrays under 4 KiB outside a pool: aligning costs ~1.5 us, a quarter
        of a batch-1 predict through three small Dense layers, and so small
        an array is never split between threads.
    """
    pool = _ACTIVE.pool
    if pool is not None:
        return pool.take(owner, slot, shape, dtype)
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < _PAGE:
        return np.empty(shape, dtype)
    return aligned_empty(shape, dtype)
