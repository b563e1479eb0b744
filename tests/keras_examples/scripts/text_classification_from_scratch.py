# Adapted from keras-io examples/nlp/text_classification_from_scratch.py
# https://github.com/keras-team/keras-io/blob/master/examples/nlp/text_classification_from_scratch.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic reviews instead of
# the IMDB text files (no network here), NumPy arrays where the original builds tf.data
# datasets (ranvier has no TensorFlow), the built-in standardization where the original's
# used tf.strings, and fewer samples.
"""
Title: Text classification from scratch
Authors: Mark Omernick, Francois Chollet
Description: Text sentiment classification starting from raw text files.
"""

import numpy as np

import ranvier as keras  # ranvier: was `import keras` (and `import tensorflow as tf`)
from ranvier import layers  # ranvier: was `from keras import layers`

"""
## Load the data: IMDB movie review sentiment classification
"""

# ranvier: synthetic reviews, positive ones with more positive words; 160 train (20% of them for
# validation, as the original's subsets) and 64 test, labels 0/1 (text_dataset_from_directory's)
_rng = np.random.default_rng(0)  # ranvier
_words = np.array("the a movie film plot actor was is and but very good great bad awful <br /> fun dull".split())  # ranvier


def _reviews(n):  # ranvier
    y = _rng.integers(0, 2, n)
    p = np.where(y[:, None] == 1, [1] * 12 + [4, 4, 1, 1, 1, 4, 1], [1] * 12 + [1, 1, 4, 4, 1, 1, 4])
    p = p / p.sum(axis=1, keepdims=True)
    texts = [" ".join(_rng.choice(_words, _rng.integers(5, 40), p=row)) + "!" for row in p]
    return np.array(texts, dtype=object), y


batch_size = 32
(raw_train_x, raw_train_y), (raw_val_x, raw_val_y) = _reviews(128), _reviews(32)  # ranvier: the two subsets
raw_test_x, raw_test_y = _reviews(64)  # ranvier: raw_test_ds

print(f"Number of batches in raw_train_ds: {len(raw_train_x) // batch_size}")  # ranvier: was .cardinality()

for i in range(5):  # ranvier: was a loop over raw_train_ds.take(1)
    print(raw_train_x[i])
    print(raw_train_y[i])

"""
## Prepare the data
"""

# Model constants.
max_features = 20000
embedding_dim = 128
sequence_length = 500

# ranvier: standardize="lower_and_strip_punctuation" (Keras' default) instead of the original's
# custom_standardization, which also removed "<br />" with tf.strings (not available here)
vectorize_layer = keras.layers.TextVectorization(
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)

# Let's call `adapt`:
vectorize_layer.adapt(raw_train_x)  # ranvier: was a text-only tf.data dataset


def vectorize_text(text, label):
    text = np.expand_dims(text, -1)  # ranvier: was tf.expand_dims
    return vectorize_layer(text), label


# Vectorize the data.
x_train, y_train = vectorize_text(raw_train_x, raw_train_y)  # ranvier: was raw_train_ds.map(vectorize_text)
x_val, y_val = vectorize_text(raw_val_x, raw_val_y)  # ranvier: was raw_val_ds.map(...)
x_test, y_test = vectorize_text(raw_test_x, raw_test_y)  # ranvier: was raw_test_ds.map(...)

"""
## Build a model
"""

# A integer input for vocab indices.
inputs = keras.Input(shape=(None,), dtype="int64")

# Next, we add a layer to map those vocab indices into a space of dimensionality
# 'embedding_dim'.
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)

# Conv1D + global max pooling
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)

# We add a vanilla hidden layer:
x = layers.Dense(128, activation="relu")(x)
x = layers.Dropout(0.5)(x)

# We project onto a single unit output layer, and squash it with a sigmoid:
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)

# Compile the model with binary crossentropy loss and an adam optimizer.
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

"""
## Train the model
"""

epochs = 3

# Fit the model using the train and test datasets.
model.fit(x_train, y_train, batch_size=batch_size, validation_data=(x_val, y_val), epochs=epochs)  # ranvier: arrays

"""
## Evaluate the model on the test set
"""

model.evaluate(x_test, y_test)  # ranvier: was test_ds

"""
## Make an end-to-end model
"""

# A string input
inputs = keras.Input(shape=(1,), dtype="string")
# Turn strings into vocab indices
indices = vectorize_layer(inputs)
# Turn vocab indices into predictions
outputs = model(indices)

# Our end to end model
end_to_end_model = keras.Model(inputs, outputs)
end_to_end_model.compile(
    loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"]
)

# Test it with `raw_test_ds`, which yields raw strings
end_to_end_model.evaluate(raw_test_x[:, None], raw_test_y)  # ranvier: was raw_test_ds
