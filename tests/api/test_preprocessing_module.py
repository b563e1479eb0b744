"""``ranvier.preprocessing`` mirrors the names of Keras 3's ``keras.preprocessing`` that ranvier has."""

import numpy as np

import ranvier as keras


def test_pad_sequences_under_its_keras_path():
    from ranvier.preprocessing.sequence import pad_sequences

    assert pad_sequences is keras.utils.pad_sequences
    out = keras.preprocessing.sequence.pad_sequences([[1, 2], [3]], maxlen=3)
    np.testing.assert_array_equal(out, [[0, 1, 2], [0, 0, 3]])


def test_keras_preprocessing_names_are_the_utils_objects():
    assert sorted(keras.preprocessing.__all__) == sorted(
        [
            "image",
            "sequence",
            "image_dataset_from_directory",
            "text_dataset_from_directory",
            "timeseries_dataset_from_array",
        ]
    )
    for name in ("image_dataset_from_directory", "text_dataset_from_directory", "timeseries_dataset_from_array"):
        assert getattr(keras.preprocessing, name) is getattr(keras.utils, name)
    for name in ("array_to_img", "img_to_array", "load_img", "save_img"):
        assert getattr(keras.preprocessing.image, name) is getattr(keras.utils, name)
    assert callable(keras.preprocessing.image.smart_resize)
