import os
import threading
import time

import numpy as np
import pytest

from ranvier.api import data_adapters as da
from ranvier.api.py_dataset import PyDataset


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture
def arrays():
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    return x, np.arange(10), np.linspace(0.5, 1.5, 10)


# ---------------------------------------------------------------- arrays
def test_unshuffled_batches_are_consecutive_views(arrays):
    x, y, sw = arrays
    adapter = da.get_adapter(x, y, sw, batch_size=4)
    assert adapter.num_batches == 3 and adapter.batch_size == 4
    batches = list(adapter.epoch(_rng()))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert np.shares_memory(batches[0][0], x)
    np.testing.assert_array_equal(batches[2][2], sw[8:])


def test_shuffle_draws_one_permutation_per_epoch_as_the_fit_loop(arrays):
    x, y, _ = arrays
    adapter = da.get_adapter(x, y, batch_size=4, shuffle=True)
    rng, reference = _rng(3), _rng(3)
    for _ in range(2):
        order = reference.permutation(10)
        for (xb, yb, swb), start in zip(adapter.epoch(rng), range(0, 10, 4)):
            np.testing.assert_array_equal(yb, order[start : start + 4])
            np.testing.assert_array_equal(xb, x[order[start : start + 4]])
            assert swb is None


def test_batch_shuffle_keeps_batches_and_shuffles_inside(arrays):
    x, y, _ = arrays
    batches = list(da.get_adapter(x, y, batch_size=4, shuffle="batch").epoch(_rng(1)))
    assert [sorted(b[1].tolist()) for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert any(b[1].tolist() != sorted(b[1].tolist()) for b in batches)


def test_nested_inputs_and_outputs_keep_their_structure(arrays):
    x, y, sw = arrays
    adapter = da.get_adapter({"title": x, "body": x[:, :1]}, [y, y * 2], sample_weight=sw, batch_size=5)
    xb, yb, swb = next(adapter.epoch(_rng()))
    assert set(xb) == {"title", "body"} and xb["body"].shape == (5, 1)
    assert isinstance(yb, list) and yb[1].tolist() == [0, 2, 4, 6, 8]
    assert isinstance(swb, list) and all(np.array_equal(w, sw[:5]) for w in swb)  # one array for all outputs


def test_lists_of_numbers_are_one_array():
    xb, yb, _ = next(da.get_adapter([[1, 2], [3, 4]], [0, 1]).epoch(_rng()))
    assert xb.shape == (2, 2) and yb.tolist() == [0, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(x={"a": np.zeros((4, 2)), "b": np.zeros((3, 2))}, y=np.zeros(4)),
            r"x, y must have the same number of samples, got x\['a'\]: 4, x\['b'\]: 3, y: 4",
        ),
        (
            dict(x=np.zeros((4, 2)), y=np.zeros(4), sample_weight=np.ones(5)),
            "x, y, sample_weight must have the same number of samples, got x: 4, y: 4, sample_weight: 5",
        ),
        (dict(x=np.zeros((4, 2)), sample_weight=np.ones(4)), "sample_weight needs targets y"),
        (
            dict(x=np.zeros((4, 2)), y={"out": np.zeros(4)}, sample_weight={"other": np.ones(4)}),
            r"sample_weight names outputs that y does not have: \['other'\]",
        ),
        (
            dict(x=np.zeros((4, 2)), y=[np.zeros(4), np.zeros(4)], sample_weight=[np.ones(4)]),
            "sample_weight must be a list with one entry per output of y \\(2\\), got a list of length 1",
        ),
        (
            dict(x=np.zeros((4, 2)), y=[np.zeros(4), np.zeros(4)], class_weight={0: 2.0}),
            "class_weight for several outputs must give one",
        ),
        (dict(x=np.zeros((4, 2)), y=np.zeros(4), shuffle="yes"), "shuffle must be True, False or 'batch', got 'yes'"),
        (dict(x=np.zeros((4, 2)), batch_size=0), "batch_size must be a positive integer, got 0"),
        (dict(x=np.float32(3.0)), "x must have a batch dimension"),
        (dict(x=None), "x is required"),
    ],
)
def test_array_errors_name_what_was_received(kwargs, match):
    with pytest.raises(ValueError, match=match):
        da.get_adapter(**kwargs)


def test_class_weight_times_sample_weight_single_and_per_output():
    y = np.array([0, 1, 1, 0])
    _, _, sw = next(da.get_adapter(np.zeros((4, 1)), y, np.full(4, 2.0), class_weight={1: 3.0}).epoch(_rng()))
    assert sw.tolist() == [2.0, 6.0, 6.0, 2.0]
    onehot = np.eye(2)[y]
    _, _, sw = next(da.get_adapter(np.zeros((4, 1)), {"a": y, "b": onehot}, class_weight={"b": {0: 5.0}}).epoch(_rng()))
    assert sw["a"] is None and sw["b"].tolist() == [5.0, 1.0, 1.0, 5.0]
    _, _, sw = next(da.get_adapter(np.zeros((4, 1)), [y, y], class_weight=[None, {0: 0.5}]).epoch(_rng()))
    assert sw[0] is None and sw[1].tolist() == [0.5, 1.0, 1.0, 0.5]


def test_steps_sets_the_batch_size_and_continues_across_epochs(arrays):
    x, y, _ = arrays
    adapter = da.get_adapter(x, y, steps=2)  # batch_size ceil(10 / 2) = 5
    assert adapter.batch_size == 5 and adapter.num_batches == 2
    adapter = da.get_adapter(x, y, batch_size=3, steps=3)  # 4 batches a pass, 3 an epoch
    first = [b[1].tolist() for b in adapter.epoch(_rng())]
    with pytest.warns(UserWarning, match="ran out of data"):
        second = [b[1].tolist() for b in adapter.epoch(_rng())]
    assert first == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and second == [[9]] and adapter.ran_out
    assert [b[1].tolist() for b in adapter.epoch(_rng())][0] == [0, 1, 2] and not adapter.ran_out


# ---------------------------------------------------------------- memmap
def _memmap(path, rows, cols, dtype=np.float32):
    mm = np.lib.format.open_memmap(str(path), mode="w+", dtype=dtype, shape=(rows, cols))
    block = 4096
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        mm[start:stop] = np.arange(start, stop, dtype=dtype)[:, None]
    mm.flush()
    del mm
    return np.load(str(path), mmap_mode="r")


def test_memmap_batches_equal_the_in_memory_ones(tmp_path):
    mm = _memmap(tmp_path / "x.npy", 50, 4)
    y = np.arange(50)
    for shuffle in (False, True, "batch"):
        lazy = list(da.get_adapter(mm, y, batch_size=8, shuffle=shuffle).epoch(_rng(7)))
        eager = list(da.get_adapter(np.array(mm), y, batch_size=8, shuffle=shuffle).epoch(_rng(7)))
        for (a, ya, _), (b, _, _) in zip(lazy, eager):
            assert type(a) is np.ndarray  # read into memory, not a view of the file
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a[:, 0], ya)


def _rss_anon_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no RssAnon in /proc/self/status")


def _peak_growth(mm, batch_size):
    """Peak RssAnon growth (MiB) over one shuffled epoch of ``mm``, checking each batch's values."""
    base = peak = _rss_anon_mib()
    y = np.arange(len(mm))
    for step, (xb, yb, _) in enumerate(da.get_adapter(mm, y, batch_size=batch_size, shuffle=True).epoch(_rng(0))):
        if step % 16 == 0:
            np.testing.assert_array_equal(xb[:, 0], yb.astype(np.float32))
            peak = max(peak, _rss_anon_mib())
    return peak - base


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_a_shuffled_epoch_over_a_memmap_never_loads_it_whole(tmp_path):
    mm = _memmap(tmp_path / "big.npy", 80_000, 1024)  # 312.5 MiB of float32
    growth = _peak_growth(mm, batch_size=256)
    print(f"memmap {mm.nbytes / 2**20:.0f} MiB: peak RssAnon growth {growth:.1f} MiB")
    assert growth < 128, growth  # malloc keeps some freed batches; loading it whole would be 312


@pytest.mark.skipif(not os.environ.get("RANVIER_SLOW_TESTS"), reason="slow: set RANVIER_SLOW_TESTS=1")
def test_a_1_5_gib_memmap_stays_under_500_mb_anonymous(tmp_path):
    mm = _memmap(tmp_path / "huge.npy", 393_216, 1024)  # 1.5 GiB of float32
    growth = _peak_growth(mm, batch_size=512)
    print(f"memmap {mm.nbytes / 2**30:.2f} GiB: peak RssAnon growth {growth:.1f} MiB")
    assert growth < 500, growth


# ---------------------------------------------------------------- generators
def _gen(n, size=4, with_weights=False):
    for i in range(n):
        x = np.full((size, 2), i, np.float32)
        yield (x, np.full(size, i), np.ones(size)) if with_weights else (x, np.full(size, i))


def test_generator_is_consumed_once_and_reports_running_out():
    adapter = da.get_adapter(_gen(3))
    assert adapter.num_batches is None
    assert [b[1][0] for b in adapter.epoch(_rng())] == [0, 1, 2]
    with pytest.warns(UserWarning, match="ran out of data"):
        assert list(adapter.epoch(_rng())) == []
    assert adapter.ran_out


def test_generator_with_steps_continues_across_epochs():
    adapter = da.get_adapter(_gen(5, with_weights=True), steps=2)
    assert adapter.num_batches == 2
    assert [b[1][0] for b in adapter.epoch(_rng())] == [0, 1]
    assert [b[1][0] for b in adapter.epoch(_rng())] == [2, 3]
    with pytest.warns(UserWarning, match="ran out of data"):
        assert [b[1][0] for b in adapter.epoch(_rng())] == [4]


def test_an_iterable_is_passed_over_each_epoch_and_learns_its_length():
    class Batches:
        def __iter__(self):
            return _gen(3)

    adapter = da.get_adapter(Batches())
    assert adapter.num_batches is None
    for _ in range(2):
        assert [b[1][0] for b in adapter.epoch(_rng())] == [0, 1, 2]
    assert adapter.num_batches == 3


def test_generator_batches_get_class_weights_and_none_for_absent_parts():
    def gen():
        yield (np.zeros((3, 1)),)

    xb, yb, swb = next(da.get_adapter(gen()).epoch(_rng()))
    assert xb.shape == (3, 1) and yb is None and swb is None
    gen2 = iter([(np.zeros((3, 1)), np.array([0, 1, 1]))])
    _, _, swb = next(da.get_adapter(gen2, class_weight={1: 4.0}).epoch(_rng()))
    assert swb.tolist() == [1.0, 4.0, 4.0]


@pytest.mark.parametrize(
    "batches, match",
    [
        (
            [[np.zeros((2, 2))] * 4],
            r"batch 0 of the generator must be a tuple \(x,\), \(x, y\) or \(x, y, sample_weight\), "
            r"got a tuple of length 4",
        ),
        ([(1, 2, 3, 4)], "batch 0 of the generator must be a tuple .* got a tuple of length 4"),
        (
            [(np.zeros((2, 2)), np.zeros(2)), (np.zeros((2, 2)),)],
            r"batch 1 of the generator has the structure \(x=array, y=absent, sample_weight=absent\), but the first "
            r"batch had \(x=array, y=array, sample_weight=absent\)",
        ),
        (
            [(np.zeros((2, 2)), np.zeros(3))],
            "x, y in batch 0 of the generator must have the same number of samples, got x: 2, y: 3",
        ),
    ],
)
def test_generator_structure_errors(batches, match):
    with pytest.raises(ValueError, match=match):
        list(da.get_adapter(iter(batches)).epoch(_rng()))


def test_generator_refuses_separate_targets():
    with pytest.raises(ValueError, match="When x is a generator, y must be None .* got y of type ndarray"):
        da.get_adapter(_gen(2), y=np.zeros(4))
    with pytest.raises(TypeError, match="x must be an array, .* got str"):
        da.get_adapter("data.csv")


# ---------------------------------------------------------------- PyDataset
class _Squares(PyDataset):
    def __init__(self, n=6, size=3, delay=False, **kwargs):
        super().__init__(**kwargs)
        self.n, self.size, self.delay = n, size, delay
        self.calls, self.threads, self.events = [], set(), []

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if self.delay:  # later batches finish first: the order must still be kept
            time.sleep(0.01 * ((self.n - index) % 4))
        self.calls.append(index)
        self.threads.add(threading.get_ident())
        x = np.full((self.size, 1), index, np.float32)
        return [x, x[:, 0] ** 2]

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def test_pydataset_batches_in_order_with_epoch_hooks():
    ds = _Squares()
    adapter = da.get_adapter(ds)
    assert adapter.num_batches == 6 and adapter.batch_size is None
    batches = list(adapter.epoch(_rng()))
    adapter.on_epoch_end()
    assert [b[0][0, 0] for b in batches] == [0, 1, 2, 3, 4, 5] and batches[2][1].tolist() == [4.0] * 3
    assert ds.events == ["begin", "end"]


def test_pydataset_shuffle_permutes_the_batch_order():
    adapter = da.get_adapter(_Squares(), shuffle=True)
    order = [int(b[0][0, 0]) for b in adapter.epoch(_rng(4))]
    assert order == _rng(4).permutation(6).tolist()


def test_pydataset_workers_prefetch_in_threads_and_keep_the_order():
    ds = _Squares(n=12, delay=True, workers=3, max_queue_size=4)
    batches = [int(b[0][0, 0]) for b in da.get_adapter(ds).epoch(_rng())]
    assert batches == list(range(12)) and len(ds.threads) > 1 and threading.get_ident() not in ds.threads


def test_pydataset_worker_errors_reach_the_loop():
    class Broken(_Squares):
        def __getitem__(self, index):
            if index == 2:
                raise OSError("disk gone")
            return super().__getitem__(index)

    with pytest.raises(OSError, match="disk gone"):
        list(da.get_adapter(Broken(workers=2)).epoch(_rng()))


def test_pydataset_without_end_needs_steps_and_arrays_are_inputs():
    class Endless(PyDataset):
        num_batches = None

        def __getitem__(self, index):
            return np.full((2, 1), index)

    with pytest.raises(ValueError, match="has no end .* got steps=None"):
        da.get_adapter(Endless())
    adapter = da.get_adapter(Endless(), steps=3)
    batches = list(adapter.epoch(_rng()))
    assert [b[0][0, 0] for b in batches] == [0, 1, 2] and batches[0][1] is None
    assert [b[0][0, 0] for b in adapter.epoch(_rng())] == [3, 4, 5]


def test_an_adapter_passes_through():
    adapter = da.get_adapter(np.zeros((3, 1)))
    assert da.get_adapter(adapter) is adapter
