"""StringLookup, IntegerLookup and TextVectorization: vocabularies against collections.Counter."""

import collections
import math
import re

import numpy as np
import pytest

import ranvier as rv

L = rv.layers


def _keras_order(tokens):
    """Keras' vocabulary order: np.lexsort((tokens, counts))[::-1] (count desc, ties by token desc)."""
    counts = collections.Counter(tokens)
    keys = np.array(list(counts), dtype=object)
    values = np.array([counts[k] for k in keys])
    return [keys[i] for i in np.lexsort((keys.astype(str) if keys.dtype == object else keys, values))[::-1]]


def test_string_lookup_adapt_orders_by_count_then_token_descending():
    rng = np.random.default_rng(0)
    words = rng.choice(["apple", "b", "cherry", "date", "egg", "fig", "a"], size=(40, 3))
    layer = L.StringLookup()
    layer.adapt(words, batch_size=9)
    assert layer.get_vocabulary() == ["[UNK]"] + _keras_order(words.ravel().tolist())
    assert layer.get_vocabulary(include_special_tokens=False) == _keras_order(words.ravel().tolist())


def test_string_lookup_ties_go_to_the_larger_token_first():
    layer = L.StringLookup()
    layer.adapt(["b", "a", "c", "a", "c"])
    assert layer.get_vocabulary() == ["[UNK]", "c", "a", "b"]


def test_string_lookup_indices_mask_oov_and_invert():
    layer = L.StringLookup(vocabulary=["x", "y"], mask_token="", num_oov_indices=2)
    vocab = layer.get_vocabulary()
    assert vocab == ["", "[UNK]", "[UNK]", "x", "y"]
    ids = layer(np.array([["x", ""], ["y", "zz"]]))
    assert ids[0, 0] == 3 and ids[0, 1] == 0 and ids[1, 0] == 4 and ids[1, 1] in (1, 2)
    inverse = L.StringLookup(vocabulary=["x", "y"], mask_token="", num_oov_indices=2, invert=True)
    np.testing.assert_array_equal(inverse(ids), [["x", ""], ["y", "[UNK]"]])
    with pytest.raises(ValueError, match="num_oov_indices=0, got 'q'"):
        L.StringLookup(vocabulary=["x"], num_oov_indices=0)(["q"])


def test_string_lookup_bytes_and_max_tokens():
    layer = L.StringLookup(max_tokens=3)
    layer.adapt([b"a", b"a", b"b", b"c", b"c", b"c"])
    assert layer.get_vocabulary() == ["[UNK]", "c", "a"]
    np.testing.assert_array_equal(layer([b"c", "b"]), [1, 0])


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_lookup_encodings_match_bincount(mode):
    data = np.array([[5, 7, 7], [9, 5, 100]])
    layer = L.IntegerLookup(vocabulary=[5, 7, 9], output_mode=mode)
    ids = L.IntegerLookup(vocabulary=[5, 7, 9])(data)
    if mode == "one_hot":
        np.testing.assert_array_equal(layer(data[:, :1]), np.eye(4)[ids[:, 0]])
        return
    counts = np.stack([np.bincount(r, minlength=4) for r in ids])
    np.testing.assert_array_equal(layer(data), counts if mode == "count" else counts > 0)


def test_integer_lookup_adapt_and_invert():
    data = np.array([3, 3, 3, 8, 8, 1, 1, 42])
    layer = L.IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1] + [int(t) for t in _keras_order(data.tolist())]
    assert layer.get_vocabulary()[1:3] == [3, 8]  # ties 8 and 1: the larger first
    inv = L.IntegerLookup(vocabulary=layer.get_vocabulary(False), invert=True)
    np.testing.assert_array_equal(inv(layer(data)), data)


def test_text_vectorization_standardizes_splits_and_pads():
    texts = ["The cat, the HAT!", "a cat's tale", "hat"]
    layer = L.TextVectorization(output_sequence_length=4)
    layer.adapt(texts)
    docs = [re.sub(r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~']", "", t.lower()).split() for t in texts]
    vocab = ["", "[UNK]"] + _keras_order([w for d in docs for w in d])
    assert layer.get_vocabulary() == vocab
    expected = np.zeros((3, 4), np.int64)
    for i, d in enumerate(docs):
        expected[i, : len(d[:4])] = [vocab.index(w) for w in d[:4]]
    np.testing.assert_array_equal(layer(np.array(texts)[:, None]), expected)
    np.testing.assert_array_equal(layer(["unknown cat"]), [[1, vocab.index("cat"), 0, 0]])


def test_text_vectorization_ngrams_and_multi_hot():
    layer = L.TextVectorization(ngrams=2, output_mode="count", standardize=None)
    layer.adapt(["a b a"])
    grams = ["a", "b", "a", "a b", "b a"]
    assert layer.get_vocabulary() == ["[UNK]"] + _keras_order(grams)
    out = layer(["a b a", "b c"])
    vocab = layer.get_vocabulary()
    assert out[0, vocab.index("a")] == 2 and out[0, vocab.index("b a")] == 1
    assert out[1, 0] == 2  # "c" and "b c" are unknown


def test_text_vectorization_tf_idf_is_keras_formula():
    docs = ["x y", "x z", "x x w"]
    layer = L.TextVectorization(output_mode="tf_idf")
    layer.adapt(docs)
    vocab = layer.get_vocabulary()
    doc_freq = collections.Counter(t for d in docs for t in set(d.split()))
    idf = {t: math.log(1 + len(docs) / (1 + doc_freq[t])) for t in doc_freq}
    out = layer(["x x q"])
    assert out[0, vocab.index("x")] == pytest.approx(2 * idf["x"])
    assert out[0, 0] == pytest.approx(np.mean([idf[t] for t in vocab[1:]]))  # OOV: the mean idf
    clone = L.TextVectorization.from_config(layer.get_config())
    np.testing.assert_array_equal(clone(["x x q"]), out)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: L.StringLookup(output_mode="bag"), "output_mode must be one of"),
        (lambda: L.StringLookup(vocabulary=["a", "a"]), "must not repeat a token"),
        (lambda: L.StringLookup(vocabulary=["a"], output_mode="tf_idf"), "needs idf_weights"),
        (lambda: L.IntegerLookup(oov_token="x"), "oov_token must be an integer or None, got 'x'"),
        (lambda: L.TextVectorization(standardize="upper"), "standardize must be one of"),
        (lambda: L.TextVectorization(ngrams=0), "ngrams must be an integer >= 1, got 0"),
        (lambda: L.TextVectorization(output_mode="count", output_sequence_length=3), "only for output_mode='int'"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_text_vectorization_refuses_numbers():
    with pytest.raises(TypeError, match="must hold strings, got 3"):
        L.TextVectorization(vocabulary=["a"])(np.array([["a"], [3]], dtype=object))
