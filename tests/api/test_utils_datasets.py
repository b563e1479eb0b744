"""ranvier.utils' data set builders: timeseries windows, directory data sets, split_dataset."""

import os

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import _image_utils
from ranvier.api._datasets import Dataset


def _batches(ds):
    return list(ds)


def _concat(batches, i=None):
    parts = [b if i is None else b[i] for b in batches]
    return np.concatenate(parts) if parts else np.empty(0)


# ------------------------------------------------------------------ time series
def _reference_windows(data, targets, length, stride, rate, start, end):
    """The windows Keras documents, built one by one with Python loops."""
    start = start or 0
    end = len(data) if end is None else end
    xs, ys = [], []
    p = start
    while p + (length - 1) * rate < end and (targets is None or p < len(targets)):
        xs.append(np.stack([data[p + j * rate] for j in range(length)]))
        if targets is not None:
            ys.append(targets[p])
        p += stride
    return np.stack(xs), (np.stack(ys) if targets is not None else None)


@pytest.mark.parametrize(
    "length, stride, rate, start, end, batch_size",
    [
        (10, 3, 2, None, None, 128),
        (5, 1, 1, None, None, 7),
        (4, 2, 3, 5, None, 4),
        (3, 1, 1, 2, 40, 16),
        (6, 5, 1, None, 33, 1),
        (1, 1, 1, 0, None, 10),
    ],
)
def test_timeseries_windows_match_a_numpy_construction(length, stride, rate, start, end, batch_size):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(60, 3)).astype(np.float32)
    targets = rng.normal(size=(60, 2))
    ds = rv.utils.timeseries_dataset_from_array(
        data,
        targets,
        sequence_length=length,
        sequence_stride=stride,
        sampling_rate=rate,
        batch_size=batch_size,
        start_index=start,
        end_index=end,
    )
    want_x, want_y = _reference_windows(data, targets, length, stride, rate, start, end)
    batches = _batches(ds)
    assert len(ds) == len(batches) == -(-len(want_x) // batch_size)
    assert all(len(b[0]) == batch_size for b in batches[:-1])
    np.testing.assert_array_equal(_concat(batches, 0), want_x)
    np.testing.assert_array_equal(_concat(batches, 1), want_y)
    assert batches[0][0].dtype == np.float32 and batches[0][0].shape[1:] == (length, 3)


def test_timeseries_keras_docstring_example():
    # Keras' example 1: indices 0..98, sequence_length=10, sampling_rate=2, sequence_stride=3.
    ds = rv.utils.timeseries_dataset_from_array(np.arange(99), None, 10, sequence_stride=3, sampling_rate=2)
    x = _concat(_batches(ds))
    np.testing.assert_array_equal(x[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(x[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(x[-1], np.arange(78, 98, 2))


def test_timeseries_targets_are_next_step():
    # Keras' example 2: predict step i + 10 from the 10 steps before.
    data = np.arange(50.0)
    ds = rv.utils.timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=8)
    x, y = ds[0]
    np.testing.assert_array_equal(x[0], data[:10])
    np.testing.assert_array_equal(y, data[10:18])


def test_timeseries_without_targets_and_unbatched():
    data = np.arange(20).reshape(10, 2)
    ds = rv.utils.timeseries_dataset_from_array(data, None, sequence_length=3, batch_size=None)
    items = _batches(ds)
    want, _ = _reference_windows(data, None, 3, 1, 1, None, None)
    assert len(ds) == len(items) == len(want)
    assert all(isinstance(i, np.ndarray) and i.shape == (3, 2) for i in items)
    np.testing.assert_array_equal(np.stack(items), want)
    labelled = rv.utils.timeseries_dataset_from_array(data, np.arange(10), sequence_length=3, batch_size=None)
    x, y = labelled[4]
    np.testing.assert_array_equal(x, data[4:7])
    assert y == 4


def test_timeseries_shuffle_with_seed():
    data = np.arange(200)
    make = lambda seed: rv.utils.timeseries_dataset_from_array(  # noqa: E731
        data, data, sequence_length=5, batch_size=16, shuffle=True, seed=seed
    )
    a, b, c = make(7), make(7), make(8)
    pass_a1, pass_b1, pass_c1 = _concat(_batches(a), 1), _concat(_batches(b), 1), _concat(_batches(c), 1)
    np.testing.assert_array_equal(pass_a1, pass_b1)  # same seed, same order
    assert not np.array_equal(pass_a1, pass_c1)  # another seed, another order
    assert not np.array_equal(pass_a1, np.arange(196))  # shuffled
    np.testing.assert_array_equal(np.sort(pass_a1), np.arange(196))  # every window once
    pass_a2 = _concat(_batches(a), 1)
    assert not np.array_equal(pass_a1, pass_a2)  # a new order each pass
    np.testing.assert_array_equal(pass_a2, _concat(_batches(b), 1))  # the same sequence of orders
    x, y = a[0]
    np.testing.assert_array_equal(x[:, 0], y)  # windows stay with their targets


def test_timeseries_empty_when_no_window_fits():
    ds = rv.utils.timeseries_dataset_from_array(np.arange(5), None, sequence_length=10)
    assert len(ds) == 0 and _batches(ds) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start_index": -1}, "start_index=-1"),
        ({"start_index": 30}, "start_index=30"),
        ({"start_index": 10, "end_index": 5}, "end_index=5"),
        ({"end_index": 30}, "end_index=30"),
        ({"end_index": -3}, "end_index=-3"),
        ({"sampling_rate": 0}, "sampling_rate=0"),
        ({"sampling_rate": 30}, "sampling_rate=30"),
        ({"sequence_stride": 0}, "sequence_stride=0"),
        ({"sequence_stride": 2.5}, "2.5"),
        ({"sequence_length": 0}, "sequence_length must be an integer >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer or None, got 0"),
        ({"format": "torch"}, "format='torch'"),
    ],
)
def test_timeseries_bad_arguments(kwargs, match):
    args = {"sequence_length": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        rv.utils.timeseries_dataset_from_array(np.arange(30.0), None, **args)


def test_a_model_fits_a_timeseries_dataset():
    rng = np.random.default_rng(1)
    series = rng.normal(size=(300, 2)).astype(np.float32)
    target = series[:, :1].cumsum() % 1
    ds = rv.utils.timeseries_dataset_from_array(series, target, sequence_length=6, batch_size=32)
    model = rv.Sequential([rv.layers.Input(shape=(6, 2)), rv.layers.Flatten(), rv.layers.Dense(1)])
    model.compile("adam", "mse")
    rv.utils.set_random_seed(0)
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["loss"]).all()
    x, y = _concat(_batches(ds), 0), _concat(_batches(ds), 1)
    np.testing.assert_allclose(model.evaluate(ds, verbose=0), model.evaluate(x, y, batch_size=32, verbose=0))
    np.testing.assert_allclose(model.predict(ds.map(lambda x, y: x), verbose=0), model.predict(x, verbose=0))


# ------------------------------------------------------------------ directories
def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


@pytest.fixture
def text_tree(tmp_path):
    """a/ (3 texts, one nested), b/ (2 texts), plus files and folders every listing must skip."""
    for rel in ("a/1.txt", "a/2.TXT", "a/deep/3.txt", "b/1.txt", "b/2.txt"):
        _write(tmp_path / rel, f"text of {rel}")
    _write(tmp_path / "a/notes.md", "not a text sample")
    _write(tmp_path / ".hidden/x.txt", "hidden class")
    _write(tmp_path / "top.txt", "a file at the top, in no class")
    return tmp_path


def _texts(ds):
    batches = _batches(ds)
    if ds.class_names is None and not isinstance(batches[0], tuple):
        return list(np.concatenate(batches)), None
    return list(_concat(batches, 0)), _concat(batches, 1)


def test_text_labels_inferred_in_sorted_order(text_tree, capsys):
    ds = rv.utils.text_dataset_from_directory(text_tree, shuffle=False, batch_size=2)
    assert "Found 5 files belonging to 2 classes." in capsys.readouterr().out
    texts, labels = _texts(ds)
    assert ds.class_names == ["a", "b"]
    assert texts == [f"text of {r}" for r in ("a/1.txt", "a/2.TXT", "a/deep/3.txt", "b/1.txt", "b/2.txt")]
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    assert labels.dtype == np.int32 and len(ds) == 3
    x, _ = ds[0]
    assert x.dtype == object and x.shape == (2,) and isinstance(x[0], str)


def test_text_label_modes(text_tree):
    make = lambda mode: rv.utils.text_dataset_from_directory(  # noqa: E731
        text_tree, label_mode=mode, shuffle=False, verbose=False
    )
    _, cat = _texts(make("categorical"))
    np.testing.assert_array_equal(cat, np.eye(2, dtype=np.float32)[[0, 0, 0, 1, 1]])
    assert cat.dtype == np.float32
    _, binary = _texts(make("binary"))
    np.testing.assert_array_equal(binary, [[0.0], [0.0], [0.0], [1.0], [1.0]])
    assert binary.dtype == np.float32
    texts, none = _texts(make(None))  # no labels: every .txt under the directory, as Keras
    assert none is None and len(texts) == 7
    _write(text_tree / "c/1.txt", "third class")
    with pytest.raises(ValueError, match=r"exactly 2 class_names.*\['a', 'b', 'c'\]"):
        make("binary")


def test_text_explicit_class_names_and_labels(text_tree):
    ds = rv.utils.text_dataset_from_directory(text_tree, class_names=["b", "a"], shuffle=False, verbose=False)
    texts, labels = _texts(ds)
    assert ds.class_names == ["b", "a"] and texts[0] == "text of b/1.txt"
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"class_names=\['a', 'zzz'\]"):
        rv.utils.text_dataset_from_directory(text_tree, class_names=["a", "zzz"], verbose=False)
    # A list of labels: every .txt file under the directory (sorted walk), directory structure ignored.
    manual = rv.utils.text_dataset_from_directory(text_tree, labels=[3, 1, 1, 3, 3, 1, 3], shuffle=False, verbose=False)
    texts, labels = _texts(manual)
    assert manual.class_names == ["1", "3"] and len(texts) == 7
    # os.walk's roots sorted: the top directory's files first, then .hidden, a, a/deep, b.
    assert texts[:3] == ["a file at the top, in no class", "hidden class", "text of a/1.txt"]
    np.testing.assert_array_equal(labels, [3, 1, 1, 3, 3, 1, 3])
    unlabelled = rv.utils.text_dataset_from_directory(text_tree, labels=None, shuffle=False, verbose=False)
    assert unlabelled.class_names is None and len(_texts(unlabelled)[0]) == 7


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": "folders"}, "labels='folders'"),
        ({"labels": np.zeros(5, int)}, r"labels=array\(\[0, 0, 0, 0, 0\]\)"),
        ({"labels": [0, 1], "class_names": ["a"]}, r"class_names=\['a'\]"),
        ({"label_mode": "sparse"}, "label_mode='sparse'"),
        ({"validation_split": 1.5, "subset": "training", "seed": 1}, "1.5"),
        ({"validation_split": 0.2}, "subset=None"),
        ({"validation_split": 0.2, "subset": "test", "seed": 1}, "test"),
        ({"validation_split": 0.2, "subset": "training"}, "seed"),
        ({"labels": [0, 1]}, "len\\(labels\\) is 2 while we found 5 files"),
        ({"labels": [0, 1, 2, 1, 0.5]}, "labels must be integers, got 0.5"),
        ({"max_length": -1}, "max_length must be an integer >= 0, got -1"),
        ({"batch_size": 0}, "batch_size must be a positive integer or None, got 0"),
        ({"format": "jax"}, "format='jax'"),
    ],
)
def test_text_bad_arguments(text_tree, kwargs, match):
    if isinstance(kwargs.get("labels"), list):
        for p in (text_tree / ".hidden/x.txt", text_tree / "top.txt"):
            p.unlink()
    with pytest.raises(ValueError, match=match):
        rv.utils.text_dataset_from_directory(text_tree, verbose=False, **kwargs)


def test_text_missing_directory_and_no_files(tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        rv.utils.text_dataset_from_directory(tmp_path / "nowhere")
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="No text files found"):
        rv.utils.text_dataset_from_directory(tmp_path, verbose=False)


def test_validation_split_subsets_are_disjoint_and_complete(tmp_path, capsys):
    for c in "xyz":
        for i in range(7):
            _write(tmp_path / c / f"{i}.txt", f"{c}{i}")
    kw = {"validation_split": 0.3, "seed": 11, "verbose": False, "batch_size": 4}
    train = rv.utils.text_dataset_from_directory(tmp_path, subset="training", **kw)
    val = rv.utils.text_dataset_from_directory(tmp_path, subset="validation", **kw)
    out = capsys.readouterr().out
    assert "Using 15 files for training." in out and "Using 6 files for validation." in out
    train_texts, train_labels = _texts(train)
    val_texts, val_labels = _texts(val)
    assert len(train_texts) == 15 and len(val_texts) == 6
    assert sorted(train_texts + val_texts) == sorted(f"{c}{i}" for c in "xyz" for i in range(7))
    for texts, labels in ((train_texts, train_labels), (val_texts, val_labels)):
        np.testing.assert_array_equal(labels, ["xyz".index(t[0]) for t in texts])  # labels follow their files
    # Keras' split: the sorted file list shuffled by RandomState(seed), the last 30% validate.
    paths = sorted(str(tmp_path / c / f"{i}.txt") for c in "xyz" for i in range(7))
    np.random.RandomState(11).shuffle(paths)
    assert sorted(val_texts) == sorted(open(p, encoding="utf-8").read() for p in paths[-6:])
    both_train, both_val = rv.utils.text_dataset_from_directory(tmp_path, subset="both", **kw)
    assert sorted(_texts(both_train)[0]) == sorted(train_texts)
    assert _texts(both_val)[0] == _texts(both_val)[0]  # the validation half of "both" is not reshuffled
    assert sorted(_texts(both_val)[0]) == sorted(val_texts)
    other = rv.utils.text_dataset_from_directory(tmp_path, subset="validation", **{**kw, "seed": 12})
    assert sorted(_texts(other)[0]) != sorted(val_texts)  # the seed decides the split


def test_text_shuffle_reorders_each_pass(tmp_path):
    for i in range(40):
        _write(tmp_path / "c" / f"{i:02d}.txt", str(i))
    ds = rv.utils.text_dataset_from_directory(tmp_path, seed=3, verbose=False, batch_size=8)
    first, second = _texts(ds)[0], _texts(ds)[0]
    assert first != second and sorted(first) == sorted(second) == sorted(str(i) for i in range(40))
    again = rv.utils.text_dataset_from_directory(tmp_path, seed=3, verbose=False, batch_size=8)
    assert _texts(again)[0] == first


def test_text_max_length_counts_bytes(tmp_path):
    _write(tmp_path / "c/1.txt", "abcdef")
    _write(tmp_path / "c/2.txt", "ab\u00e9cd")  # é is 2 bytes in UTF-8: bytes 2-3
    _write(tmp_path / "c/3.txt", "xy")
    ds = rv.utils.text_dataset_from_directory(tmp_path, max_length=3, shuffle=False, verbose=False)
    assert _texts(ds)[0] == ["abc", "ab", "xy"]  # the half of é is dropped, not replaced
    ds = rv.utils.text_dataset_from_directory(tmp_path, max_length=4, shuffle=False, verbose=False)
    assert _texts(ds)[0] == ["abcd", "ab\u00e9", "xy"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_follow_links(tmp_path):
    outside = tmp_path / "outside"
    _write(outside / "linked.txt", "through a link")
    root = tmp_path / "root"
    _write(root / "a/own.txt", "own")
    try:
        os.symlink(outside, root / "a" / "link", target_is_directory=True)
    except OSError:
        pytest.skip("cannot create symbolic links here")
    plain = rv.utils.text_dataset_from_directory(root, shuffle=False, verbose=False)
    assert _texts(plain)[0] == ["own"]
    followed = rv.utils.text_dataset_from_directory(root, shuffle=False, verbose=False, follow_links=True)
    assert _texts(followed)[0] == ["own", "through a link"]  # roots sorted: a, then a/link


def test_a_model_fits_a_text_dataset(tmp_path):
    for i in range(12):
        _write(tmp_path / "neg" / f"{i}.txt", f"bad awful poor {i}")
        _write(tmp_path / "pos" / f"{i}.txt", f"good great fine {i}")
    train, val = rv.utils.text_dataset_from_directory(
        tmp_path, label_mode="binary", batch_size=4, validation_split=0.25, subset="both", seed=5, verbose=False
    )
    vectorize = rv.layers.TextVectorization(max_tokens=40, output_mode="multi_hot")
    vectorize.adapt(train.map(lambda x, y: x))
    inputs = rv.Input(shape=(1,), dtype="string")
    model = rv.Model(inputs, rv.layers.Dense(1, activation="sigmoid")(vectorize(inputs)))
    model.compile(rv.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(train, validation_data=val, epochs=15, verbose=0)
    assert hist.history["accuracy"][-1] == 1.0 and hist.history["val_accuracy"][-1] == 1.0
    assert model.predict(val.map(lambda x, y: x), verbose=0).shape == (6, 1)


# ------------------------------------------------------------------ images
def _fake_images(monkeypatch):
    """Pillow stands in for nothing here: image files hold .npy bytes and the decoder np.loads them."""
    monkeypatch.setattr(_image_utils, "require_pil", lambda what: None)
    monkeypatch.setattr(_image_utils, "decode_image", lambda path, channels: np.load(path)[..., :channels])


def _save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        np.save(fh, arr)


def test_images_need_pillow(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    _save_npy(tmp_path / "a/1.png", np.zeros((4, 4, 3)))
    with pytest.raises(ImportError, match="pip install pillow"):
        rv.utils.image_dataset_from_directory(tmp_path)


def test_image_dataset_reads_resizes_and_labels(tmp_path, monkeypatch, capsys):
    _fake_images(monkeypatch)
    rng = np.random.default_rng(2)
    images = {}
    for rel, shape in (("cat/1.png", (8, 6, 3)), ("cat/2.JPG", (5, 5, 3)), ("dog/1.bmp", (10, 12, 3))):
        images[rel] = rng.uniform(0, 255, size=shape).astype(np.float32)
        _save_npy(tmp_path / rel, images[rel])
    _save_npy(tmp_path / "dog/skip.npy", np.zeros((2, 2, 3)))  # not an image extension
    ds = rv.utils.image_dataset_from_directory(tmp_path, image_size=(4, 5), shuffle=False, batch_size=2)
    assert "Found 3 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["cat", "dog"]
    assert [os.path.relpath(p, tmp_path) for p in ds.file_paths] == ["cat/1.png", "cat/2.JPG", "dog/1.bmp"]
    batches = _batches(ds)
    x, y = _concat(batches, 0), _concat(batches, 1)
    assert x.shape == (3, 4, 5, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 1])
    for i, rel in enumerate(("cat/1.png", "cat/2.JPG", "dog/1.bmp")):
        want = rv.layers.Resizing(4, 5)(images[rel][None])[0]  # tf.image.resize's bilinear
        np.testing.assert_allclose(x[i], want, rtol=1e-5, atol=1e-3)
    gray = rv.utils.image_dataset_from_directory(
        tmp_path, image_size=6, color_mode="grayscale", shuffle=False, verbose=False, interpolation="nearest"
    )
    assert gray[0][0].shape == (3, 6, 6, 1)
    cropped = rv.utils.image_dataset_from_directory(
        tmp_path, image_size=(4, 4), crop_to_aspect_ratio=True, shuffle=False, labels=None, verbose=False
    )
    want = rv.layers.Resizing(4, 4, crop_to_aspect_ratio=True)(images["dog/1.bmp"][None])[0]
    np.testing.assert_allclose(cropped[0][2], want, rtol=1e-5, atol=1e-3)


def test_image_dataset_with_pillow(tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(4)
    images = {}
    for rel, shape in (("a/1.png", (9, 5, 3)), ("b/1.png", (6, 6, 3)), ("b/2.bmp", (4, 8, 3))):
        images[rel] = rng.integers(0, 256, size=shape).astype(np.float32)
        os.makedirs(os.path.dirname(tmp_path / rel), exist_ok=True)
        rv.utils.save_img(tmp_path / rel, images[rel], scale=False)
    ds = rv.utils.image_dataset_from_directory(tmp_path, image_size=(3, 4), shuffle=False, verbose=False)
    x, y = ds[0]
    np.testing.assert_array_equal(y, [0, 1, 1])
    for i, rel in enumerate(("a/1.png", "b/1.png", "b/2.bmp")):
        np.testing.assert_allclose(x[i], rv.layers.Resizing(3, 4)(images[rel][None])[0], rtol=1e-5, atol=1e-3)
    rgba = rv.utils.image_dataset_from_directory(tmp_path, color_mode="rgba", image_size=2, verbose=False, seed=0)
    assert rgba[0][0].shape == (3, 2, 2, 4)
    np.testing.assert_array_equal(rgba[0][0][..., 3], 255)  # opaque alpha added


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"color_mode": "cmyk"}, ValueError, "color_mode='cmyk'"),
        ({"image_size": (3, 4, 5)}, ValueError, r"image_size=\(3, 4, 5\)"),
        ({"image_size": (0, 4)}, ValueError, "image_size must be an integer >= 1, got 0"),
        ({"interpolation": "cubic"}, ValueError, "interpolation='cubic'"),
        ({"interpolation": "bicubic"}, NotImplementedError, "'bicubic'"),
        ({"pad_to_aspect_ratio": True}, NotImplementedError, "pad_to_aspect_ratio"),
        ({"data_format": "channels_first"}, NotImplementedError, "channels_first"),
    ],
)
def test_image_bad_arguments(tmp_path, monkeypatch, kwargs, error, match):
    _fake_images(monkeypatch)
    _save_npy(tmp_path / "a/1.png", np.zeros((4, 4, 3)))
    with pytest.raises(error, match=match):
        rv.utils.image_dataset_from_directory(tmp_path, verbose=False, **kwargs)


def test_a_model_fits_an_image_dataset(tmp_path, monkeypatch):
    _fake_images(monkeypatch)
    rng = np.random.default_rng(3)
    for i in range(10):
        _save_npy(tmp_path / f"dark/{i}.png", rng.uniform(0, 60, size=(9, 7, 3)))
        _save_npy(tmp_path / f"light/{i}.png", rng.uniform(190, 255, size=(6, 8, 3)))
    train, val = rv.utils.image_dataset_from_directory(
        tmp_path, image_size=(4, 4), batch_size=4, validation_split=0.2, subset="both", seed=1, verbose=False
    )
    model = rv.Sequential(
        [
            rv.layers.Input(shape=(4, 4, 3)),
            rv.layers.Rescaling(1 / 255),
            rv.layers.Flatten(),
            rv.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(rv.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(train.prefetch(2).cache(), validation_data=val, epochs=10, verbose=0)
    assert hist.history["val_accuracy"][-1] == 1.0


# ------------------------------------------------------------------ split_dataset
def test_split_an_array():
    data = np.arange(40).reshape(10, 4)
    left, right = rv.utils.split_dataset(data, left_size=0.8)
    assert (len(left), len(right)) == (8, 2)
    np.testing.assert_array_equal(np.stack(_batches(left)), data[:8])
    np.testing.assert_array_equal(np.stack(_batches(right)), data[8:])
    left, right = rv.utils.split_dataset(data, right_size=3)
    assert (len(left), len(right)) == (7, 3)
    left, right = rv.utils.split_dataset(data, left_size=2, right_size=5)  # the middle is dropped, as Keras
    np.testing.assert_array_equal(np.stack(_batches(right)), data[5:])


def test_split_tuples_lists_and_dicts_keep_rows_together():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    left, right = rv.utils.split_dataset((x, y), left_size=0.6, shuffle=True, seed=4)
    rows = _batches(left) + _batches(right)
    assert all(isinstance(r, tuple) for r in rows)
    got_y = np.array([r[1] for r in rows])
    np.testing.assert_array_equal(np.sort(got_y), y)  # a permutation: every sample once
    assert not np.array_equal(got_y, y)
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), x[got_y])  # rows stay aligned
    again = rv.utils.split_dataset((x, y), left_size=0.6, shuffle=True, seed=4)[0]
    np.testing.assert_array_equal([r[1] for r in _batches(again)], got_y[:6])  # the seed fixes the order
    from_list = rv.utils.split_dataset([x, y], left_size=0.5)[0]
    assert isinstance(from_list[0], tuple)  # a list becomes a tuple, as Keras
    left, right = rv.utils.split_dataset({"a": x, "b": y}, right_size=0.3)
    first = left[0]
    assert set(first) == {"a", "b"}
    np.testing.assert_array_equal(first["a"], x[0])
    np.testing.assert_array_equal([r["b"] for r in _batches(right)], [7, 8, 9])


def test_split_then_batch_then_fit():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    train, test = rv.utils.split_dataset((x, y), left_size=0.8)
    train, test = train.batch(16), test.batch(16)
    assert len(train) == 3 and train[0][0].shape == (16, 3) and train[2][0].shape == (8, 3)
    model = rv.Sequential([rv.layers.Input(shape=(3,)), rv.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(train, epochs=2, verbose=0)
    np.testing.assert_allclose(model.evaluate(test, verbose=0), model.evaluate(x[40:], y[40:], verbose=0))
    # A split of an unbatched Dataset (a timeseries one) works too.
    windows = rv.utils.timeseries_dataset_from_array(x, y, 4, batch_size=None)
    a, b = rv.utils.split_dataset(windows, left_size=0.5)
    assert len(a) + len(b) == len(windows)
    np.testing.assert_array_equal(b[0][0], windows[len(a)][0])


@pytest.mark.parametrize(
    "dataset, kwargs, error, match",
    [
        (np.arange(10), {}, ValueError, "left_size=None and right_size=None"),
        (np.arange(10), {"left_size": 10}, ValueError, "left_size=10"),
        (np.arange(10), {"left_size": 1.5}, ValueError, "left_size=1.5"),
        (np.arange(10), {"right_size": -2}, ValueError, "right_size=-2"),
        (np.arange(10), {"left_size": "half"}, TypeError, "left_size='half'"),
        (np.arange(10), {"left_size": 0.7, "right_size": 0.6}, ValueError, "greater than 1"),
        (np.arange(10), {"left_size": 6, "right_size": 6}, ValueError, "left_size \\+ right_size = 12"),
        (np.arange(10), {"left_size": 0.01}, ValueError, "left side dataset split will be empty"),
        ((np.arange(10), np.arange(9)), {"left_size": 2}, ValueError, "different lengths: 10 and 9"),
        ((np.arange(10), [1, 2]), {"left_size": 2}, ValueError, "got list at index 1"),
        ((), {"left_size": 2}, ValueError, "empty tuple"),
        ("abc", {"left_size": 1}, TypeError, "dataset='abc'"),
    ],
)
def test_split_bad_arguments(dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        rv.utils.split_dataset(dataset, **kwargs)


# ------------------------------------------------------------------ the Dataset
def test_dataset_methods():
    ds = rv.utils.timeseries_dataset_from_array(np.arange(30), np.arange(30), 2, batch_size=4)
    assert isinstance(ds, rv.utils.PyDataset) and isinstance(ds, Dataset)
    assert len(ds) == ds.cardinality() == 8 and len(ds.take(3)) == 3 and len(ds.take(-1)) == 8
    doubled = ds.map(lambda x, y: (x * 2, y))
    np.testing.assert_array_equal(doubled[1][0], ds[1][0] * 2)
    np.testing.assert_array_equal(ds[-1][1], [28])
    with pytest.raises(IndexError, match="batch index 8 is out of range for 8 batches"):
        ds[8]
    with pytest.raises(TypeError, match="map_func must be callable, got 3"):
        ds.map(3)
    with pytest.raises(ValueError, match="count must be an integer >= -1, got -2"):
        ds.take(-2)
    with pytest.raises(NotImplementedError, match="batch_size=4"):
        ds.batch(2)
