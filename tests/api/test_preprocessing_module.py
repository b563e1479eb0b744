"""``ranvier.preprocessing`` mirrors the names of Keras 3's ``keras.preprocessing`` that ranvier has."""

import numpy as np

import ranvier as keras


def test_pad_sequences_under_its_keras_path():
    from ranvier.preprocessing.sequence import pad_sequences

    assert pad_sequences is keras.utils.pad_sequences
    out = keras.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3)
    np.testing.assert_array_equal(out, [[0, 1, 2], [0, 0, 3]])


def test_only_names_ranvier_has_are_there():
    # Keras' image helpers and dataset builders have no ranvier counterpart: absent, not stubs.
    assert keras.preprocessing.__all__ == ["sequence"]
    assert not hasattr(keras.preprocessing, "image_dataset_from_directory")
    assert not hasattr(keras.utils, "plot_model")
