import sys
import threading

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.layers._buffers import ScratchPool, aligned_empty, scratch


def _address(a):
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("shape, dtype", [((3, 5), np.float32), ((7,), np.float64), ((2, 3, 4), np.uint8)])
def test_aligned_empty_starts_on_a_cache_line(shape, dtype):
    a = aligned_empty(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
    assert _address(a) % 64 == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are Linux's")
def test_arrays_of_a_huge_page_and_more_start_on_a_huge_page_and_are_offered_to_it():
    huge = 2 << 20
    pool, owner = ScratchPool(), object()
    # NumPy advises its own allocations of 4 MiB and more: off here, so the advice seen is ours.
    set_numpy_advice = np._core.multiarray._set_madvise_hugepage
    numpy_advice = set_numpy_advice(False)
    try:
        a = pool.take(owner, "z", (4096, 129), np.float32)  # just over 2 MiB
    finally:
        set_numpy_advice(numpy_advice)
    assert _address(a) % huge == 0
    a[...] = 1.0  # the whole array is writable
    pool.recycle()
    b = pool.take(owner, "z", (4096, 128), np.float32)  # smaller: the same block
    assert _address(b) == _address(a)
    assert _address(aligned_empty((huge // 8 - 1,), np.float64)) % 64 == 0  # under a huge page: cache lines only
    if "[never]" not in open("/sys/kernel/mm/transparent_hugepage/enabled").read():
        smaps = open("/proc/self/smaps").read().split("\n")
        start = _address(a)
        # The mapping holding the array: its header line is "lo-hi perms ...".
        i = next(i for i, line in enumerate(smaps) if "-" in line.split(" ")[0] and _inside(line, start))
        advised = next(line for line in smaps[i + 1 :] if line.startswith("VmFlags"))
        assert " hg" in advised  # MADV_HUGEPAGE


def _inside(header, address):
    try:
        lo, hi = (int(x, 16) for x in header.split(" ")[0].split("-"))
    except ValueError:
        return False
    return lo <= address < hi


def test_takes_before_a_recycle_are_distinct_and_recycle_returns_them_in_order():
    pool, owner = ScratchPool(), object()
    first = [pool.take(owner, "z", (4, 8), np.float32) for _ in range(3)]
    other = pool.take(owner, "dx", (4, 8), np.float32)
    addresses = [_address(a) for a in first + [other]]
    assert len(set(addresses)) == 4
    assert all(a % 64 == 0 for a in addresses)
    pool.recycle()
    again = [pool.take(owner, "z", (4, 8), np.float32) for _ in range(3)]
    assert [_address(a) for a in again] == addresses[:3]
    assert all(a is b for a, b in zip(first, again))  # no new array object either


def test_a_smaller_take_reuses_the_memory_and_a_larger_one_grows():
    pool, owner = ScratchPool(), object()
    big = pool.take(owner, "z", (64, 10), np.float32)
    pool.recycle()
    small = pool.take(owner, "z", (10, 10), np.float64)
    assert small.shape == (10, 10) and small.dtype == np.float64 and _address(small) == _address(big)
    pool.recycle()
    bigger = pool.take(owner, "z", (128, 10), np.float32)
    assert bigger.shape == (128, 10) and _address(bigger) % 64 == 0


def test_scratch_uses_the_pool_active_in_this_thread_only():
    pool, owner = ScratchPool(), object()
    with pool.active():
        inside = scratch(owner, "z", (3,), np.float32)
        seen = {}
        t = threading.Thread(target=lambda: seen.setdefault("a", scratch(owner, "z", (3,), np.float32)))
        t.start()
        t.join()
    pool.recycle()
    assert pool.take(owner, "z", (3,), np.float32) is inside
    assert seen["a"] is not inside
    # Outside any pool every call gets fresh memory.
    a, b = scratch(owner, "z", (3,), np.float32), scratch(owner, "z", (3,), np.float32)
    assert _address(a) != _address(b)


def test_activations_nest_and_restore_the_outer_pool():
    outer, inner, owner = ScratchPool(), ScratchPool(), object()
    with outer.active():
        with inner.active():
            a = scratch(owner, "z", (2,), np.float32)
        b = scratch(owner, "z", (2,), np.float32)
    inner.recycle()
    outer.recycle()
    assert inner.take(owner, "z", (2,), np.float32) is a
    assert outer.take(owner, "z", (2,), np.float32) is b


def test_a_shared_layer_applied_twice_in_a_step_keeps_both_calls_buffers():
    layer = rv.layers.Dense(3)
    x1, x2 = np.ones((2, 4), np.float32), np.full((2, 4), 2.0, np.float32)
    layer(x1)
    pool = ScratchPool()
    with pool.active():
        y1, _ = layer.call(x1)
        y2, _ = layer.call(x2)
    np.testing.assert_allclose(y2, 2 * y1, rtol=1e-6)


def test_a_training_loop_allocates_no_new_work_arrays_after_the_first_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    model = rv.Sequential(
        [
            rv.layers.Input((8, 8, 1)),
            rv.layers.Conv2D(4, 3, activation="relu"),
            rv.layers.MaxPooling2D(),
            rv.layers.Flatten(),
            rv.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    arrays = {id(a) for entry in model._scratch._slots.values() for a in entry[3]}
    for _ in range(3):
        model.train_on_batch(x, y)
    assert {id(a) for entry in model._scratch._slots.values() for a in entry[3]} == arrays
