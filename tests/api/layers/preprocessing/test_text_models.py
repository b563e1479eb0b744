"""Token-id layers in models as Keras 3 scripts use them: symbolic dtypes, Sequential on strings."""

import numpy as np
import pytest

import ranvier as rv
from ranvier import layers

_TEXTS = np.array(["the cat sat", "a dog ran fast", "the dog sat", "cats and dogs"] * 4)


@pytest.mark.parametrize(
    "make, input_dtype, expected",
    [
        (lambda: layers.StringLookup(vocabulary=["a", "b"]), "string", "int64"),
        (lambda: layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot"), "string", "float32"),
        (lambda: layers.StringLookup(vocabulary=["a", "b"], invert=True), "int64", "object"),
        (lambda: layers.IntegerLookup(vocabulary=[3, 5]), "int64", "int64"),
        (lambda: layers.IntegerLookup(vocabulary=[3, 5], output_mode="multi_hot"), "int64", "float32"),
        (lambda: layers.Hashing(4), "string", "int64"),
        (lambda: layers.Discretization(bin_boundaries=[0.0, 1.0]), "float32", "int64"),
        (lambda: layers.CategoryEncoding(4, output_mode="one_hot"), "int64", "float32"),
        (lambda: layers.TextVectorization(vocabulary=["cat", "dog"]), "string", "int64"),
    ],
)
def test_symbolic_output_dtype_is_what_the_layer_returns(make, input_dtype, expected):
    layer = make()
    inp = rv.Input(shape=(1,), dtype=input_dtype)
    symbolic = layer(inp)
    assert symbolic.dtype == expected
    sample = {"string": np.array([["a"], ["dog"]], object), "int64": np.array([[3], [1]])}.get(
        input_dtype, np.array([[0.5], [2.0]], np.float32)
    )
    assert np.asarray(layer(sample)).dtype == np.dtype(expected)


def test_sequential_without_input_fits_on_strings():
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(_TEXTS)
    model = rv.Sequential([vectorize, layers.Embedding(20, 3), layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(_TEXTS, np.arange(len(_TEXTS), dtype=np.float32) % 2, epochs=1, verbose=0)
    assert model.inputs[0].dtype == "object"
    expected = model.layers[-1](model.layers[-2](model.layers[-3](vectorize(_TEXTS[:3]))))
    np.testing.assert_allclose(model.predict(_TEXTS[:3], verbose=0), np.asarray(expected), rtol=1e-6)


def test_sequential_refuses_strings_for_a_numeric_first_layer():
    model = rv.Sequential([layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="numeric array"):
        model.fit(_TEXTS, np.zeros(len(_TEXTS)), verbose=0)


def test_text_vectorization_takes_batch_and_batch_by_one_inputs():
    vectorize = layers.TextVectorization(vocabulary=["cat", "dog"], output_sequence_length=3)
    flat = vectorize(np.array(["cat dog", "dog"]))  # builds with (None,)
    model = rv.Model(*(lambda i: (i, vectorize(i)))(rv.Input(shape=(1,), dtype="string")))
    np.testing.assert_array_equal(model.predict(np.array([["cat dog"], ["dog"]], object), verbose=0), flat)
    with pytest.raises(ValueError, match=r"\(batch,\) or \(batch, 1\), got \(None, 2\)"):
        vectorize(rv.Input(shape=(2,), dtype="string"))


@pytest.mark.parametrize(
    "make",
    [
        lambda mode: layers.StringLookup(vocabulary=["a", "b", "c"], output_mode=mode),
        lambda mode: layers.IntegerLookup(vocabulary=[3, 5, 7], output_mode=mode),
        lambda mode: layers.CategoryEncoding(num_tokens=4, output_mode=mode),
    ],
)
def test_binary_is_keras_deprecated_name_of_multi_hot(make):
    binary, multi_hot = make("binary"), make("multi_hot")
    assert binary.output_mode == "multi_hot" and binary.get_config()["output_mode"] == "multi_hot"
    sample = np.array([["a", "c"], ["b", "b"]], object) if isinstance(binary, layers.StringLookup) else None
    if sample is None:
        sample = np.array([[3, 7], [5, 5]]) if isinstance(binary, layers.IntegerLookup) else np.array([[0, 3], [1, 1]])
    np.testing.assert_array_equal(binary(sample), multi_hot(sample))
    assert np.asarray(binary(sample)).sum() == 3  # two distinct tokens in row 0, one in row 1


def test_tf_idf_dash_is_keras_deprecated_name_of_tf_idf():
    layer = layers.StringLookup(vocabulary=["a", "b"], idf_weights=[0.5, 2.0], output_mode="tf-idf")
    assert layer.output_mode == "tf_idf"
