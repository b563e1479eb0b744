"""fit / evaluate / predict on data read batch by batch: generators, PyDatasets, memmaps.

A stream that hands out the batches an array-fed ``fit(shuffle=False)``
would cut gives bit-identical weights: the same kernels run on the same
values in the same order (a batch from a generator is a copy or a view, never
another computation).
"""

import math
import os

import numpy as np
import pytest

import ranvier as rv

L = rv.layers
_N, _BATCH = 32, 8


def _model(seed=0):
    """Inputs ``a`` (4,), ``b`` (3,); outputs ``reg`` (2,, mse) and ``cls`` (3 classes)."""
    rv.config.set_random_seed(seed)
    a, b = L.Input((4,), name="a"), L.Input((3,), name="b")
    h = L.Dense(8, activation="tanh")(L.Concatenate()([L.Dense(6, activation="relu")(a), b]))
    model = rv.Model([a, b], [L.Dense(2, name="reg")(h), L.Dense(3, activation="softmax", name="cls")(h)])
    model.compile(
        optimizer=rv.optimizers.Adam(0.01),
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[1.0, 0.5],
        metrics={"cls": "accuracy"},
    )
    return model


def _data(n=_N, seed=0):
    rng = np.random.default_rng(seed)
    x = [rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=(n, 3)).astype(np.float32)]
    return x, [rng.normal(size=(n, 2)).astype(np.float32), rng.integers(0, 3, n)]


def _batch(x, y, start, size=_BATCH):
    return [v[start : start + size] for v in x], [v[start : start + size] for v in y]


def _batches(x, y, size=_BATCH):
    """The (x, y) batches an unshuffled array-fed fit cuts, as a generator."""
    for start in range(0, len(x[0]), size):
        yield _batch(x, y, start, size)


def _endless(x, y, drawn=None, size=_BATCH, only_x=False):
    """The batches of (x, y) over and over; counts them in ``drawn``."""
    while True:
        for xb, yb in _batches(x, y, size):
            if drawn is not None:
                drawn.append(1)
            yield (xb,) if only_x else (xb, yb)


def _assert_identical(m1, m2):
    for w1, w2 in zip(m1.get_weights(), m2.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)


class _Batches(rv.utils.PyDataset):
    def __init__(self, x, y, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, y
        self.epochs_ended = 0

    def __len__(self):
        return math.ceil(len(self.x[0]) / _BATCH)

    def __getitem__(self, index):
        xb, yb = _batch(self.x, self.y, index * _BATCH)
        return {"a": xb[0], "b": xb[1]}, {"reg": yb[0], "cls": yb[1]}

    def on_epoch_end(self):
        self.epochs_ended += 1


# ------------------------------------------------------------ same weights
def test_a_generator_fed_fit_gives_the_array_fed_weights():
    x, y = _data()
    by_array, by_generator = _model(), _model()
    by_array.fit(x, y, batch_size=_BATCH, epochs=1, shuffle=False, verbose=0)
    history = by_generator.fit(_batches(x, y), epochs=1, verbose=0).history
    _assert_identical(by_array, by_generator)
    assert set(history) == {"loss", "reg_loss", "cls_loss", "cls_accuracy"}
    np.testing.assert_array_equal(by_array.history.history["loss"], history["loss"])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_pydataset_fed_fit_gives_the_array_fed_weights(workers):
    x, y = _data()
    by_array, by_dataset = _model(), _model()
    by_array.fit(x, y, batch_size=_BATCH, epochs=3, shuffle=False, verbose=0)
    dataset = _Batches(x, y, workers=workers)
    by_dataset.fit(dataset, epochs=3, shuffle=False, verbose=0)
    _assert_identical(by_array, by_dataset)
    assert dataset.epochs_ended == 3


def test_steps_per_epoch_continues_a_generator_across_epochs():
    x, y = _data(64)
    by_array, by_generator = _model(), _model()
    by_array.fit(x, y, batch_size=_BATCH, epochs=1, shuffle=False, verbose=0)  # 8 batches
    drawn = []
    history = by_generator.fit(_endless(x, y, drawn), steps_per_epoch=4, epochs=2, verbose=0).history
    assert len(drawn) == 8 and len(history["loss"]) == 2
    _assert_identical(by_array, by_generator)  # epoch 2 took batches 4..7, not 0..3 again


def test_validation_data_as_a_generator_with_validation_steps():
    x, y = _data()
    x_val, y_val = _data(16, seed=1)
    model = _model()
    drawn = []
    history = model.fit(
        x, y, batch_size=_BATCH, epochs=2, verbose=0, validation_data=_endless(x_val, y_val, drawn), validation_steps=2
    ).history
    assert len(drawn) == 4  # two batches per validation, not one exhausted pass
    assert {"val_loss", "val_reg_loss", "val_cls_loss", "val_cls_accuracy"} <= set(history)
    expected = model.evaluate(x_val, y_val, batch_size=_BATCH, verbose=0, return_dict=True)
    for key, value in expected.items():
        np.testing.assert_allclose(history["val_" + key][-1], value, rtol=1e-6)


def test_evaluate_and_predict_on_a_generator_with_steps():
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=_BATCH, verbose=0)
    xs, ys = _batch(x, y, 0, 3 * _BATCH)
    expected = model.evaluate(xs, ys, batch_size=_BATCH, verbose=0)
    np.testing.assert_allclose(model.evaluate(_endless(x, y), steps=3, verbose=0), expected, rtol=1e-6)
    predicted = model.predict(_endless(x, y, only_x=True), steps=3)
    assert isinstance(predicted, list) and predicted[0].shape == (24, 2)
    for got, want in zip(predicted, model.predict(xs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_predict_on_a_generator_of_bare_arrays_as_keras():
    x, _ = _data()
    inputs = L.Input((4,))
    model = rv.Model(inputs, L.Dense(2)(inputs))
    predicted = model.predict(x[0][start : start + _BATCH] for start in range(0, _N, _BATCH))
    np.testing.assert_allclose(predicted, model.predict(x[0]), rtol=1e-6)


# ------------------------------------------------------------ wrong structure
def _rejected(model, call, match):
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        call()
    for w0, w1 in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


def test_a_generator_yielding_the_wrong_structure_is_refused_before_any_step():
    x, y = _data()
    model = _model()
    _rejected(
        model,
        lambda: model.fit(((xb[0], yb) for xb, yb in _batches(x, y)), verbose=0),
        r"x: the model has 2 inputs \['a', 'b'\]; give a list or a dict keyed by input name, got ndarray",
    )
    _rejected(
        model,
        lambda: model.fit((({"a": xb[0], "c": xb[1]}, yb) for xb, yb in _batches(x, y)), verbose=0),
        r"x: unknown input name\(s\) \['c'\]; the model's inputs are \['a', 'b'\], got keys \['a', 'c'\]",
    )
    _rejected(
        model,
        lambda: model.fit(((xb, yb[:1]) for xb, yb in _batches(x, y)), verbose=0),
        r"y: the model has 2 outputs \['reg', 'cls'\], got a list of 1",
    )
    _rejected(
        model,
        lambda: model.fit(((xb, yb, None, None) for xb, yb in _batches(x, y)), verbose=0),
        r"batch 0 of the generator must be a tuple \(x,\), \(x, y\) or \(x, y, sample_weight\), "
        r"got a tuple of length 4",
    )
    _rejected(
        model,
        lambda: model.fit(_endless(x, y, only_x=True), steps_per_epoch=2, verbose=0),
        r"the data yielded a batch without targets \(x only\)",
    )
    _rejected(
        model,
        lambda: model.evaluate(((xb, [yb[0][:3], yb[1]]) for xb, yb in _batches(x, y)), verbose=0),
        r"x, y in batch 0 of the generator must have the same number of samples, got x\[0\]: 8, "
        r"x\[1\]: 8, y\[0\]: 3, y\[1\]: 8",
    )


def test_a_batch_whose_structure_changes_names_the_batch():
    x, y = _data()

    def changing():
        yield _batch(x, y, 0)
        yield (_batch(x, y, _BATCH)[0],)  # x only from the second batch on

    with pytest.raises(
        ValueError,
        match=r"batch 1 of the generator has the structure \(x=list of 2, "
        r"y=absent, sample_weight=absent\), but the first batch had "
        r"\(x=list of 2, y=list of 2, sample_weight=absent\)",
    ):
        _model().fit(changing(), verbose=0)


# ------------------------------------------------------------ memmaps
def _rss_anon_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no RssAnon in /proc/self/status")


class _PeakRss(rv.callbacks.Callback):
    def __init__(self, every=16):
        super().__init__()
        self.every, self.peak = every, 0.0

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self.peak = max(self.peak, _rss_anon_mib())


def _memmap(path, rows, cols):
    """A float32 .npy of ``rows`` x ``cols`` written block by block, opened read-only as a memmap."""
    mm = np.lib.format.open_memmap(str(path), mode="w+", dtype=np.float32, shape=(rows, cols))
    rng = np.random.default_rng(0)
    block = rng.normal(size=(4096, cols)).astype(np.float32)
    for start in range(0, rows, 4096):
        stop = min(start + 4096, rows)
        mm[start:stop] = block[: stop - start]
    mm.flush()
    del mm
    return np.load(str(path), mmap_mode="r")


def _fit_growth(path, rows, cols, batch_size):
    """Peak RssAnon growth (MiB) of one shuffled epoch of fit on a memmap of rows x cols float32."""
    mm = _memmap(path, rows, cols)
    y = (np.asarray(mm[:, 0]) > 0).astype(np.float32)  # one column: 1/cols of the file
    rv.config.set_random_seed(0)
    inputs = L.Input((cols,))
    model = rv.Model(inputs, L.Dense(1, activation="sigmoid")(inputs))
    model.compile(optimizer=rv.optimizers.SGD(0.01), loss="binary_crossentropy")
    peak = _PeakRss()
    base = peak.peak = _rss_anon_mib()
    try:
        model.fit(mm, y, batch_size=batch_size, epochs=1, shuffle=True, verbose=0, callbacks=[peak])
    finally:
        del mm
        os.remove(path)
    return peak.peak - base


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_fit_reads_a_memmap_batch_by_batch(tmp_path):
    growth = _fit_growth(tmp_path / "x.npy", 80_000, 1024, batch_size=256)  # 312.5 MiB
    print(f"fit on a 312.5 MiB memmap: peak RssAnon growth {growth:.1f} MiB")
    assert growth < 128, growth  # loading it whole would be 312


@pytest.mark.skipif(not os.environ.get("RANVIER_SLOW_TESTS"), reason="slow: set RANVIER_SLOW_TESTS=1")
def test_fit_on_a_1_5_gib_memmap_stays_under_500_mb_anonymous(tmp_path):
    growth = _fit_growth(tmp_path / "huge.npy", 393_216, 1024, batch_size=512)  # 1.5 GiB
    print(f"fit on a 1.5 GiB memmap: peak RssAnon growth {growth:.1f} MiB")
    assert growth < 500, growth


def test_evaluate_takes_a_memmap_and_its_targets(tmp_path):
    mm = _memmap(tmp_path / "x.npy", 64, 4)
    inputs = L.Input((4,))
    model = rv.Model(inputs, L.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    y = np.ones((64, 1), np.float32)
    assert model.evaluate(mm, y, verbose=0) == pytest.approx(model.evaluate(np.array(mm), y, verbose=0))


def test_predict_reads_a_memmap(tmp_path):
    mm = _memmap(tmp_path / "x.npy", 300, 4)
    inputs = L.Input((4,))
    model = rv.Model(inputs, L.Dense(2)(inputs))
    np.testing.assert_allclose(model.predict(mm, batch_size=64), model.predict(np.array(mm)), rtol=1e-6)
