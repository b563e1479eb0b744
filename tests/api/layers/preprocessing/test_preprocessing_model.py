"""A model with every preprocessing layer saves, loads and predicts bit-identically; string inputs train."""

import json
import zipfile

import numpy as np
import pytest

import ranvier as rv

L = rv.layers

_TEXTS = np.array([["the cat sat"], ["a dog, the cat!"], ["dogs and cats"], ["the end"]], dtype=object)
_WORDS = np.array([["red", "blue"], ["green", "red"], ["red", "pink"], ["blue", "blue"]], dtype=object)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(0, 255, (4, 8, 10, 3)).astype("float32"),  # images
        rng.normal(2.0, 3.0, (4, 5)).astype("float32"),  # numbers
        _TEXTS,
        _WORDS,
        rng.integers(0, 6, (4, 3)),  # integer ids
    ]


def _model():
    images, numbers, texts, words, ids = _data()
    img_in, num_in = L.Input((8, 10, 3)), L.Input((5,))
    text_in, word_in, id_in = L.Input((1,), dtype="string"), L.Input((2,), dtype="string"), L.Input((3,), dtype="int64")

    h = L.Rescaling(1 / 255)(img_in)
    h = L.RandomWidth(0.2, seed=7)(L.RandomHeight(0.2, seed=6)(h))  # random sizes: Resizing fixes them
    h = L.Resizing(6, 6, crop_to_aspect_ratio=True)(h)
    h = L.CenterCrop(4, 4)(L.RandomCrop(5, 5, seed=8)(h))
    for layer in (
        L.RandomFlip(seed=1),
        L.RandomRotation(0.1, seed=2),
        L.RandomZoom(0.1, seed=3),
        L.RandomTranslation(0.1, 0.1, seed=4),
        L.RandomContrast(0.2, value_range=(0, 1), seed=5),
        L.RandomBrightness(0.2, value_range=(0, 1), seed=9),
    ):
        h = layer(h)
    image_branch = L.Dense(3)(L.Flatten()(h))

    norm = L.Normalization()
    norm.adapt(numbers)
    disc = L.Discretization(num_bins=3, output_mode="count")
    disc.adapt(numbers)
    num_branch = L.Concatenate()([norm(num_in), disc(num_in)])

    vectorize = L.TextVectorization(max_tokens=12, output_sequence_length=5, ngrams=2)
    vectorize.adapt(texts)
    text_branch = L.Flatten()(L.Embedding(12, 2)(vectorize(text_in)))
    tfidf = L.TextVectorization(output_mode="tf_idf")
    tfidf.adapt(texts)

    lookup = L.StringLookup(mask_token="[M]", num_oov_indices=2, output_mode="multi_hot")
    lookup.adapt(words)
    hashing = L.Hashing(7, salt=3, output_mode="count")
    int_lookup = L.IntegerLookup(output_mode="count")
    int_lookup.adapt(ids)
    encode = L.CategoryEncoding(6, output_mode="count")

    merged = L.Concatenate()(
        [
            image_branch,
            num_branch,
            text_branch,
            tfidf(text_in),
            lookup(word_in),
            hashing(word_in),
            int_lookup(id_in),
            encode(id_in),
        ]
    )
    return rv.Model([img_in, num_in, text_in, word_in, id_in], L.Dense(2)(merged))


def test_a_model_with_every_preprocessing_layer_saves_loads_and_predicts_bit_identically(tmp_path):
    model = _model()
    used = {type(layer).__name__ for layer in model.layers}
    every = set(rv.api.layers.preprocessing.__all__)
    assert every <= used, every - used
    x = _data()
    expected = model.predict(x)
    path = tmp_path / "model.ranvier"
    model.save(path)
    loaded = rv.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), expected)
    fresh = _data(seed=1)[:2] + [np.array([["cats sat"], ["x"], ["the the"], ["dog"]], dtype=object)] + _data(1)[3:]
    np.testing.assert_array_equal(loaded.predict(fresh), model.predict(fresh))
    # Vocabularies are in the config, statistics in the weights (Keras' names).
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert "cat" in json.dumps(config)
    norm = next(layer for layer in loaded.layers if isinstance(layer, L.Normalization))
    np.testing.assert_allclose(norm.adapt_mean.value, x[1].mean(axis=0), rtol=1e-6)


def test_a_text_model_trains_from_string_inputs():
    vectorize = L.TextVectorization(max_tokens=10, output_sequence_length=4)
    vectorize.adapt(_TEXTS)
    model = rv.Sequential([L.Input((1,), dtype="string"), vectorize, L.Embedding(10, 3), L.Flatten(), L.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(_TEXTS, np.arange(4.0), epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict([["the cat"], ["dogs"]]).shape == (2, 1)  # nested lists of str too


def test_a_string_model_input_refuses_numbers():
    model = rv.Sequential([L.Input((2,), dtype="string"), L.StringLookup(vocabulary=["a"])])
    with pytest.raises(TypeError, match="must hold strings for a 'string' model input, got an array of dtype float64"):
        model.predict(np.zeros((2, 2)))
