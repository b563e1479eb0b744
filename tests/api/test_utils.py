import hashlib
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest

from ranvier.api import config, file_utils, utils


# ---------------------------------------------------------- to_categorical
@pytest.mark.parametrize("shape", [(7,), (7, 1), (3, 4), (2, 3, 1)])
def test_to_categorical_matches_eye_indexing(shape):
    y = np.random.default_rng(0).integers(0, 5, shape)
    out = utils.to_categorical(y, num_classes=6)
    squeezed = y[..., 0] if len(shape) > 1 and shape[-1] == 1 else y
    np.testing.assert_array_equal(out, np.eye(6, dtype=np.float32)[squeezed])
    assert out.dtype == np.float32


def test_to_categorical_infers_num_classes_and_takes_dtype():
    out = utils.to_categorical([2, 0, 1.0], dtype="float64")
    assert out.shape == (3, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(1), [2, 0, 1])
    assert utils.to_categorical(np.array([], dtype=int), num_classes=3).shape == (0, 3)


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        ([0, -2, 1], {}, "must be >= 0, got -2"),
        ([0, 1.5], {}, "integer class labels, got 1.5"),
        ([0, np.nan], {}, "integer class labels, got nan"),
        ([0, 3], {"num_classes": 3}, "class label 3 is out of range for num_classes=3"),
        ([0, 1], {"num_classes": 0}, "num_classes must be a positive integer, got 0"),
        ([], {}, "cannot infer num_classes"),
    ],
)
def test_to_categorical_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.to_categorical(np.asarray(y, dtype=float) if y else np.array([], dtype=int), **kwargs)


def test_to_categorical_rejects_strings():
    with pytest.raises(TypeError, match="dtype <U1"):
        utils.to_categorical(["a", "b"])


# ----------------------------------------------------------- pad_sequences
def _reference_pad(sequences, maxlen, padding, truncating, value):
    """Element by element, straight from the definition."""
    maxlen = maxlen if maxlen is not None else max(len(s) for s in sequences)
    rows = []
    for s in sequences:
        s = list(s)
        if len(s) > maxlen:
            s = s[len(s) - maxlen :] if truncating == "pre" else s[:maxlen]
        pad = [value] * (maxlen - len(s))
        rows.append(pad + s if padding == "pre" else s + pad)
    return np.array(rows, dtype="int32")


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 3, 9])
def test_pad_sequences_matches_definition(padding, truncating, maxlen):
    rng = np.random.default_rng(1)
    seqs = [list(rng.integers(1, 100, rng.integers(0, 7))) for _ in range(12)] + [[5, 6, 7]]
    out = utils.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=-1)
    np.testing.assert_array_equal(out, _reference_pad(seqs, maxlen, padding, truncating, -1))
    assert out.dtype == np.int32


def test_pad_sequences_keras_doc_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(utils.pad_sequences(seqs), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(utils.pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [5, 6]])


def test_pad_sequences_items_with_shape_and_dtypes():
    seqs = [np.ones((2, 3)), np.zeros((0, 3)), 2 * np.ones((4, 3))]
    out = utils.pad_sequences(seqs, maxlen=3, dtype="float32", padding="post", value=0.5)
    assert out.shape == (3, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :2], 1.0)
    np.testing.assert_array_equal(out[0, 2], 0.5)
    np.testing.assert_array_equal(out[1], 0.5)
    np.testing.assert_array_equal(out[2], 2.0)
    words = utils.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"padding": "middle"}, "padding must be 'pre' or 'post', got 'middle'"),
        ({"truncating": "x"}, "truncating must be 'pre' or 'post', got 'x'"),
        ({"maxlen": 0}, "maxlen must be a positive integer or None, got 0"),
        ({"value": "pad"}, "cannot hold the string value 'pad'"),
    ],
)
def test_pad_sequences_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        utils.pad_sequences([[1, 2]], **kwargs)


def test_pad_sequences_input_errors():
    with pytest.raises(ValueError, match="got 5 at position 1"):
        utils.pad_sequences([[1], 5])
    with pytest.raises(ValueError, match=r"position 1 has items of shape \(3,\), expected \(2,\)"):
        utils.pad_sequences([np.ones((1, 2)), np.ones((1, 3))])


# --------------------------------------------------------------- normalize
@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("order", [1, 2, np.inf])
def test_normalize_matches_numpy(axis, order):
    x = np.random.default_rng(2).normal(size=(4, 5))
    expected = x / np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    np.testing.assert_allclose(utils.normalize(x, axis=axis, order=order), expected, rtol=1e-14)


def test_normalize_leaves_zero_vectors_alone():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    out = utils.normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    assert out.dtype == np.float32


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"axis must be an integer in \[-2, 2\), got 2"):
        utils.normalize(np.ones((2, 2)), axis=2)
    with pytest.raises(TypeError, match="x must be numeric"):
        utils.normalize(np.array(["a"]))


# ---------------------------------------------------------- set_random_seed
def test_set_random_seed_seeds_ranvier_and_numpy():
    utils.set_random_seed(7)
    a = config.rng().random(3), np.random.random(3)
    utils.set_random_seed(7)
    b = config.rng().random(3), np.random.random(3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="got -1"):
        utils.set_random_seed(-1)


def test_progbar_is_exported():
    assert utils.Progbar.__name__ == "Progbar"


# ---------------------------------------------------------------- get_file
class _Response(io.BytesIO):
    def __init__(self, data, length=None):
        super().__init__(data)
        self.length = len(data) if length is None else length


@pytest.fixture
def served(monkeypatch, tmp_path):
    """``{url: bytes}`` a fake urlopen serves (nothing else: no test reaches the network)."""
    monkeypatch.setenv("RANVIER_HOME", str(tmp_path / "home"))
    files = {}

    def urlopen(url):
        if url not in files:
            raise file_utils.urllib.error.URLError("offline")
        data = files[url]
        return _Response(*data) if isinstance(data, tuple) else _Response(data)

    monkeypatch.setattr(file_utils, "_urlopen", urlopen)
    return files


URL = "https://example.org/files/data.bin"


def test_get_file_caches_under_ranvier_home_and_checks_hashes(served, tmp_path):
    served[URL] = b"payload"
    sha, md5 = hashlib.sha256(b"payload").hexdigest(), hashlib.md5(b"payload").hexdigest()
    path = utils.get_file(origin=URL, file_hash=sha)
    assert path == str(tmp_path / "home" / "datasets" / "data.bin") and open(path, "rb").read() == b"payload"
    served.clear()
    assert utils.get_file("data.bin", URL, md5_hash=md5) == path  # cached, md5 checked, offline
    served[URL] = b"1"
    other = utils.get_file("x.bin", origin=URL, cache_dir=tmp_path / "mine", cache_subdir="sub")
    assert other == str(tmp_path / "mine" / "sub" / "x.bin")


def test_get_file_force_download_and_bad_arguments(served, tmp_path):
    served[URL] = b"one"
    path = utils.get_file(origin=URL)
    served[URL] = b"two"
    assert open(utils.get_file(origin=URL), "rb").read() == b"one"
    assert open(utils.get_file(origin=URL, force_download=True), "rb").read() == b"two" and path
    with pytest.raises(ValueError, match="origin .* is required, got None"):
        utils.get_file("a.bin")
    with pytest.raises(ValueError, match="fname must be a file name, not a path .* got '../a.bin'"):
        utils.get_file("../a.bin", URL)
    with pytest.raises(ValueError, match="cannot take a file name from origin='https://example.org/'"):
        utils.get_file(origin="https://example.org/")
    with pytest.raises(ValueError, match="hash_algorithm must be 'auto', 'sha256' or 'md5', got 'sha1'"):
        utils.get_file(origin=URL, hash_algorithm="sha1")


def test_get_file_incomplete_download_leaves_nothing(served, tmp_path):
    served[URL] = (b"half", 10)
    with pytest.raises(OSError, match="stopped after 4 of 10 bytes"):
        utils.get_file(origin=URL)
    assert os.listdir(tmp_path / "home" / "datasets") == []


def test_get_file_progress_in_a_log_file_is_one_line(served, capsys):
    served[URL] = bytes(300_000)
    utils.get_file(origin=URL)
    out = capsys.readouterr().out
    assert "\r" not in out and out.splitlines()[-1].startswith("300000/300000")


def _tar(members, links=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target, kind in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
    return buf.getvalue()


def test_get_file_extracts_tar_and_zip_with_keras_names(served, tmp_path):
    served[URL] = _tar({"folder/a.txt": b"A"})
    root = utils.get_file("pack", URL, extract=True)
    assert root == str(tmp_path / "home" / "datasets" / "pack")
    assert open(os.path.join(root, "folder", "a.txt"), "rb").read() == b"A"
    assert os.path.isfile(root + "_archive")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("b.txt", "B")
    served[URL + ".zip"] = buf.getvalue()
    root = utils.get_file("pack.zip", URL + ".zip", extract=True)
    assert root.endswith("pack_extracted") and open(os.path.join(root, "b.txt")).read() == "B"


def test_extraction_skips_members_that_escape(served, tmp_path):
    served[URL] = _tar(
        {"ok.txt": b"fine", "../escape.txt": b"x", "/abs.txt": b"x"},
        links=[
            ("link_out", "/etc/passwd", tarfile.SYMTYPE),
            ("hard_out", "../../escape2.txt", tarfile.LNKTYPE),
            ("link_in", "ok.txt", tarfile.SYMTYPE),
        ],
    )
    with pytest.warns(UserWarning, match="skipped the archive member") as record:
        root = utils.get_file("evil", URL, extract=True)
    assert sorted(os.listdir(root)) == ["link_in", "ok.txt"]
    assert {str(w.message).split("'")[1] for w in record} == {"../escape.txt", "/abs.txt", "link_out", "hard_out"}
    assert (
        not (tmp_path / "home" / "escape.txt").exists() and not (tmp_path / "home" / "datasets" / "escape.txt").exists()
    )


def test_zip_extraction_skips_traversal(served, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ok.txt", "fine")
        z.writestr("../../zip_escape.txt", "x")
    served[URL] = buf.getvalue()
    with pytest.warns(UserWarning, match="zip_escape"):
        root = utils.get_file("z", URL, extract=True, archive_format="zip")
    assert os.listdir(root) == ["ok.txt"] and not (tmp_path / "zip_escape.txt").exists()


# ---------------------------------------------------------------- PyDataset
def test_pydataset_protocol_and_arguments():
    class Two(utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return np.full((1, 1), index), np.zeros(1)

    ds = Two(workers=3, max_queue_size=5)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size, ds.num_batches) == (3, False, 5, 2)
    assert [int(x[0, 0]) for x, _ in ds] == [0, 1]
    with pytest.raises(
        NotImplementedError, match="use_multiprocessing=True is not supported.*got use_multiprocessing=True"
    ):
        Two(use_multiprocessing=True)
    with pytest.raises(ValueError, match="workers must be an integer >= 0, got -1"):
        Two(workers=-1)
    with pytest.raises(ValueError, match="max_queue_size must be an integer >= 1, got 0"):
        Two(max_queue_size=0)


def test_pydataset_without_super_init_warns_and_uses_defaults():
    class NoInit(utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

    with pytest.warns(UserWarning, match="should call super"):
        assert NoInit().workers == 1
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        NoInit()[0]
