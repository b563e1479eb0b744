import numpy as np
import pytest

from ranvier.api import config, utils


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


@pytest.mark.parametrize("y, kwargs, match", [
    ([0, -2, 1], {}, "must be >= 0, got -2"),
    ([0, 1.5], {}, "integer class labels, got 1.5"),
    ([0, np.nan], {}, "integer class labels, got nan"),
    ([0, 3], {"num_classes": 3}, "class label 3 is out of range for num_classes=3"),
    ([0, 1], {"num_classes": 0}, "num_classes must be a positive integer, got 0"),
    ([], {}, "cannot infer num_classes"),
])
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
            s = s[len(s) - maxlen:] if truncating == "pre" else s[:maxlen]
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


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "middle"}, "padding must be 'pre' or 'post', got 'middle'"),
    ({"truncating": "x"}, "truncating must be 'pre' or 'post', got 'x'"),
    ({"maxlen": 0}, "maxlen must be a positive integer or None, got 0"),
    ({"value": "pad"}, "cannot hold the string value 'pad'"),
])
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
