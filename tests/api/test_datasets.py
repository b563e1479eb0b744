"""ranvier.datasets on small files written in each data set's format; the network is never used."""

import gzip
import hashlib
import io
import json
import os
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import file_utils
from ranvier.api.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)


class _Response(io.BytesIO):
    """What urlopen returns: a readable body with its length."""

    def __init__(self, data):
        super().__init__(data)
        self.length = len(data)


@pytest.fixture
def web(monkeypatch, tmp_path):
    """A fake internet ``{url: bytes}`` (empty: offline), with the cache in a temporary RANVIER_HOME."""
    monkeypatch.setenv("RANVIER_HOME", str(tmp_path / "home"))
    served, requested = {}, []

    def urlopen(url):
        requested.append(url)
        if url not in served:
            raise urllib.error.URLError("no network in tests")
        return _Response(served[url])

    monkeypatch.setattr(file_utils, "_urlopen", urlopen)
    return served, requested


def _cache(tmp_path, *parts):
    return tmp_path.joinpath("home", "datasets", *parts)


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _serve(web, monkeypatch, module, url, data, hash_attr="_HASH", algorithm="sha256"):
    served, _ = web
    served[url] = data
    monkeypatch.setattr(module, hash_attr, getattr(hashlib, algorithm)(data).hexdigest())


KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def _mnist_arrays():
    rng = np.random.default_rng(0)
    return dict(
        x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        y_train=np.arange(6, dtype=np.uint8),
        x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        y_test=np.array([7, 8], np.uint8),
    )


# ------------------------------------------------------------------ mnist + cache rules
def test_mnist_downloads_once_then_reads_the_checked_cache(web, monkeypatch, tmp_path, capsys):
    arrays = _mnist_arrays()
    _serve(web, monkeypatch, mnist, KERAS + "mnist.npz", _npz_bytes(**arrays))
    (x_train, y_train), (x_test, y_test) = rv.datasets.mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    assert x_train.dtype == np.uint8 and x_train.shape == (6, 28, 28) and y_train.shape == (6,)
    assert "Downloading data from " + KERAS + "mnist.npz" in capsys.readouterr().out
    assert _cache(tmp_path, "mnist.npz").is_file()
    assert [p.name for p in _cache(tmp_path).iterdir()] == ["mnist.npz"]  # no temporary file left
    web[0].clear()  # offline from now on: the cached file is used
    (x2, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x2, arrays["x_train"])
    assert len(web[1]) == 1


def test_wrong_checksum_deletes_the_download_and_names_both_hashes(web, monkeypatch, tmp_path):
    data = _npz_bytes(**_mnist_arrays())
    web[0][KERAS + "mnist.npz"] = data
    expected = "0" * 64
    monkeypatch.setattr(mnist, "_HASH", expected)
    with pytest.raises(ValueError, match=f"expected {expected}, received {hashlib.sha256(data).hexdigest()}"):
        mnist.load_data()
    assert list(_cache(tmp_path).iterdir()) == []


def test_offline_without_the_file_says_what_to_download_and_where(web, tmp_path):
    with pytest.raises(OSError) as info:
        mnist.load_data()
    message = str(info.value)
    assert KERAS + "mnist.npz" in message and str(_cache(tmp_path, "mnist.npz")) in message
    assert list(_cache(tmp_path).iterdir()) == []


def test_a_corrupted_cached_file_is_downloaded_again(web, monkeypatch, tmp_path, capsys):
    arrays = _mnist_arrays()
    _serve(web, monkeypatch, mnist, KERAS + "mnist.npz", _npz_bytes(**arrays))
    _cache(tmp_path).mkdir(parents=True)
    _cache(tmp_path, "mnist.npz").write_bytes(b"truncated")
    (x_train, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert "downloading it again" in capsys.readouterr().out


def test_a_path_given_is_read_as_it_is_without_a_check(web, tmp_path):
    own = tmp_path / "mine.npz"
    arrays = _mnist_arrays()
    own.write_bytes(_npz_bytes(**arrays))  # its hash is not Keras' and it is not checked
    for path in (own, str(own)):
        (x_train, _), _ = mnist.load_data(path=path)
        np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert web[1] == []
    with pytest.raises(FileNotFoundError, match="missing.npz.*Download " + KERAS + "mnist.npz"):
        mnist.load_data(path=str(tmp_path / "missing.npz"))


def test_submodules_import_under_the_public_name():
    import ranvier.datasets.mnist as public
    from ranvier.datasets.imdb import get_word_index

    assert public is mnist and get_word_index is imdb.get_word_index
    assert rv.datasets.make_gaussian_mixture(10)[0].shape == (10, 2)


# ------------------------------------------------------------------ fashion_mnist
def _idx(payload, header):
    return gzip.compress(header + payload.tobytes())


def test_fashion_mnist_reads_gzipped_idx_files(web, monkeypatch, tmp_path):
    rng = np.random.default_rng(1)
    images = {
        "train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
    }
    labels = {"train": np.arange(5, dtype=np.uint8), "t10k": np.array([9, 0, 1], np.uint8)}
    files = {}
    for part in ("train", "t10k"):
        files[f"{part}-labels-idx1-ubyte.gz"] = _idx(labels[part], b"\0" * 8)
        files[f"{part}-images-idx3-ubyte.gz"] = _idx(images[part], b"\0" * 16)
    for name, data in files.items():
        web[0][KERAS + name] = data
    monkeypatch.setattr(fashion_mnist, "_FILES", {n: hashlib.md5(d).hexdigest() for n, d in files.items()})
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, images["train"])
    np.testing.assert_array_equal(y_test, labels["t10k"])
    assert x_test.shape == (3, 28, 28) and y_train.dtype == np.uint8
    assert _cache(tmp_path, "fashion-mnist", "t10k-images-idx3-ubyte.gz").is_file()


# ------------------------------------------------------------------ cifar
def _tar_gz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _cifar_batch(images, **labels):
    """A batch as CIFAR ships it: a protocol-2 pickle of a dict with bytes keys, images flattened CHW."""
    batch = {b"data": images.reshape(len(images), -1), b"batch_label": b"test batch"}
    batch.update({k.encode(): list(map(int, v)) for k, v in labels.items()})
    return pickle.dumps(batch, protocol=2)


def test_cifar10_reads_the_pickled_batches_channels_last(web, monkeypatch):
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8) for _ in range(6)]
    members = {f"cifar-10-batches-py/data_batch_{i + 1}": _cifar_batch(images[i], labels=[i, i + 1]) for i in range(5)}
    members["cifar-10-batches-py/test_batch"] = _cifar_batch(images[5], labels=[3, 4])
    _serve(web, monkeypatch, cifar10, cifar10._ORIGIN, _tar_gz(members))
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train[2], images[1][0].transpose(1, 2, 0))
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8 and y_train[:4, 0].tolist() == [0, 1, 1, 2]
    assert x_test.shape == (2, 32, 32, 3) and y_test.tolist() == [[3], [4]] and y_test.dtype == np.uint8
    web[0].clear()  # extracted and cached: the second load is offline
    assert cifar10.load_data()[1][1].tolist() == [[3], [4]]


@pytest.mark.parametrize("label_mode, expected", [("fine", [[42], [7]]), ("coarse", [[3], [1]])])
def test_cifar100_label_modes(web, monkeypatch, label_mode, expected):
    images = np.zeros((2, 3, 32, 32), np.uint8)
    members = {
        f"cifar-100-python/{part}": _cifar_batch(images, fine_labels=[42, 7], coarse_labels=[3, 1])
        for part in ("train", "test")
    }
    _serve(web, monkeypatch, cifar100, cifar100._ORIGIN, _tar_gz(members))
    (x_train, y_train), (_, y_test) = cifar100.load_data(label_mode=label_mode)
    assert x_train.shape == (2, 32, 32, 3) and y_train.tolist() == expected == y_test.tolist()
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse', got 'medium'"):
        cifar100.load_data("medium")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickles_naming_other_classes_are_refused(web, monkeypatch):
    members = {
        f"cifar-100-python/{part}": pickle.dumps({b"data": _Exploit()}, protocol=2) for part in ("train", "test")
    }
    _serve(web, monkeypatch, cifar100, cifar100._ORIGIN, _tar_gz(members))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load (posix|nt).system"):
        cifar100.load_data()


# ------------------------------------------------------------------ imdb / reuters
def _ragged(*sequences):
    out = np.empty(len(sequences), dtype=object)
    out[:] = [list(s) for s in sequences]
    return out


def _shuffled(n, rng):
    order = np.arange(n)
    rng.shuffle(order)
    return order


def test_imdb_offsets_vocabulary_and_shuffle_as_keras(web, monkeypatch):
    x_train = _ragged([1, 2, 3], [4, 5], [1, 1, 1, 1, 6], [2])
    x_test = _ragged([6, 1], [3])
    data = _npz_bytes(x_train=x_train, y_train=np.array([0, 1, 0, 1]), x_test=x_test, y_test=np.array([1, 0]))
    _serve(web, monkeypatch, imdb, KERAS + "imdb.npz", data)
    rng = np.random.RandomState(113)
    train_order, test_order = _shuffled(4, rng), _shuffled(2, rng)

    (xa, ya), (xb, yb) = imdb.load_data(num_words=None)
    assert xa.dtype == object and xa.shape == (4,) and ya.tolist() == np.array([0, 1, 0, 1])[train_order].tolist()
    # start_char 1, words + 3; num_words=None is the largest index (9), itself out of range as in Keras.
    assert xa[list(train_order).index(0)] == [1, 4, 5, 6]
    assert xb[list(test_order).index(0)] == [1, 2, 4] and yb.tolist() == np.array([1, 0])[test_order].tolist()

    (xa, _), _ = imdb.load_data(num_words=6, skip_top=5, oov_char=2)
    assert xa[list(train_order).index(0)] == [2, 2, 5, 2]
    (xa, _), _ = imdb.load_data(num_words=6, oov_char=None, start_char=None, index_from=0)
    assert xa[list(train_order).index(0)] == [1, 2, 3]
    (xa, ya), (xb, _) = imdb.load_data(maxlen=4)  # drops sequences of 4 words or more (start_char counts)
    assert sorted(len(s) for s in xa) == [2, 3] and len(xb) == 2
    with pytest.raises(ValueError, match="no review is shorter than maxlen=1"):
        imdb.load_data(maxlen=1)
    with pytest.raises(ValueError, match="num_words must be an integer >= 0 or None, got -1"):
        imdb.load_data(num_words=-1)


def test_imdb_word_index_is_json_checked_with_md5(web, monkeypatch):
    data = json.dumps({"the": 1, "film": 2}).encode()
    _serve(web, monkeypatch, imdb, KERAS + "imdb_word_index.json", data, "_INDEX_HASH", "md5")
    assert imdb.get_word_index() == {"the": 1, "film": 2}


def test_object_arrays_holding_other_objects_are_refused(web, monkeypatch):
    evil = np.empty(1, dtype=object)
    evil[0] = _Exploit()
    data = _npz_bytes(x_train=evil, y_train=np.zeros(1), x_test=evil, y_test=np.zeros(1))
    _serve(web, monkeypatch, imdb, KERAS + "imdb.npz", data)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        imdb.load_data()


def test_reuters_splits_after_the_shuffle(web, monkeypatch):
    xs = _ragged(*[[i + 1] * (i + 1) for i in range(10)])
    data = _npz_bytes(x=xs, y=np.arange(10))
    _serve(web, monkeypatch, reuters, KERAS + "reuters.npz", data)
    order = _shuffled(10, np.random.RandomState(5))
    (xa, ya), (xb, yb) = reuters.load_data(test_split=0.3, seed=5, num_words=100)
    assert len(xa) == 7 and len(xb) == 3 and ya.tolist() + yb.tolist() == order.tolist()
    assert xa[0] == [1] + [order[0] + 1 + 3] * (order[0] + 1)
    assert len(reuters.get_label_names()) == 46 and reuters.get_label_names()[3] == "earn"
    with pytest.raises(ValueError, match="test_split must be a number in \\[0, 1\\), got 1.5"):
        reuters.load_data(test_split=1.5)


# ------------------------------------------------------------------ housing
@pytest.mark.parametrize(
    "module, n_features, name",
    [(boston_housing, 13, "boston_housing.npz"), (california_housing, 8, "california_housing.npz")],
)
def test_housing_shuffle_split_as_keras(web, monkeypatch, module, n_features, name):
    x = np.arange(50 * n_features, dtype=np.float64).reshape(50, n_features)
    y = np.arange(50, dtype=np.float64)
    _serve(web, monkeypatch, module, KERAS + name, _npz_bytes(x=x, y=y))
    order = _shuffled(50, np.random.RandomState(113))
    (xa, ya), (xb, yb) = module.load_data()
    assert xa.shape == (40, n_features) and xb.shape == (10, n_features)
    np.testing.assert_array_equal(np.concatenate([ya, yb]), y[order])
    np.testing.assert_array_equal(xa, x[order[:40]])
    with pytest.raises(ValueError, match="test_split must be a number in \\[0, 1\\), got 1"):
        module.load_data(test_split=1)


def test_california_small_version_keeps_600(web, monkeypatch):
    x, y = np.zeros((700, 8), np.float32), np.arange(700, dtype=np.float32)
    _serve(web, monkeypatch, california_housing, KERAS + "california_housing.npz", _npz_bytes(x=x, y=y))
    (xa, ya), (xb, yb) = california_housing.load_data(version="small")
    assert len(xa) == 480 and len(xb) == 120 and max(ya.max(), yb.max()) < 600
    with pytest.raises(ValueError, match="version must be 'small' or 'large', got 'tiny'"):
        california_housing.load_data(version="tiny")
