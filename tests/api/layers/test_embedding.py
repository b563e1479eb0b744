"""Embedding: lookup, gradients, mask_zero, id validation, use with LSTM."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.layers.embedding import Embedding
from ranvier.api.layers.recurrent import LSTM
from ranvier.testing import check_gradients


def test_lookup_and_keras_initialisation():
    layer = Embedding(10, 3)
    ids = np.array([[1, 2, 0], [9, 9, 4]])
    y = layer(ids)
    np.testing.assert_array_equal(y, layer.embeddings.value[ids])
    assert np.abs(layer.embeddings.value).max() <= 0.05


def test_gradients(float64):
    layer = Embedding(6, 4)
    check_gradients(layer, np.array([[1, 2, 2, 5], [0, 5, 3, 1]]))  # repeated ids accumulate


def test_mask_zero():
    layer = Embedding(5, 2, mask_zero=True)
    ids = np.array([[3, 1, 0, 0]])
    np.testing.assert_array_equal(layer.compute_mask(ids), [[True, True, False, False]])
    assert Embedding(5, 2).compute_mask(ids) is None


@pytest.mark.parametrize(
    "ids, match",
    [
        (np.array([[0, 5]]), r"\[0, 5\).*got 5"),
        (np.array([[-1, 2]]), "got -1"),
        (np.array([[0.5, 1.0]]), "integer token ids"),
    ],
)
def test_bad_ids(ids, match):
    layer = Embedding(5, 2)
    with pytest.raises((ValueError, TypeError), match=match):
        layer.call(ids)


def test_mask_zero_model_ignores_padding():
    # Embedding(mask_zero) -> LSTM: trailing padding does not change the prediction.
    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.Input((None,), dtype="int32"), Embedding(8, 4, mask_zero=True), LSTM(3)])
    short = np.array([[3, 1, 4]])
    padded = np.array([[3, 1, 4, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(short), model.predict(padded), rtol=1e-6)


def test_embedding_lstm_gradients_with_mask(float64):
    rv.config.set_random_seed(1)
    model = rv.Sequential(
        [
            rv.Input((5,), dtype="int64"),
            Embedding(7, 3, mask_zero=True),
            LSTM(4, return_sequences=True),
            LSTM(2),
            rv.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 1, 2], [2, 0, 0, 0, 0]])
    check_gradients(model, x, np.array([0, 1, 1]))


def test_config_round_trip():
    layer = Embedding(10, 3, mask_zero=True, name="emb")
    assert Embedding.from_config(layer.get_config()).get_config() == layer.get_config()
