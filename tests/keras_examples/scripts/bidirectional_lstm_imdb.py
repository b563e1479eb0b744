# Adapted from keras-io examples/nlp/bidirectional_lstm_imdb.py
# https://github.com/keras-team/keras-io/blob/master/examples/nlp/bidirectional_lstm_imdb.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic reviews of the
# dataset's form (lists of word indices of varied lengths; no network here), fewer samples.
"""
Title: Bidirectional LSTM on IMDB
Author: [fchollet](https://twitter.com/fchollet)
Description: Train a 2-layer bidirectional LSTM on the IMDB movie review sentiment classification dataset.
"""

import numpy as np
import ranvier as keras  # ranvier: was `import keras`
from ranvier import layers  # ranvier: was `from keras import layers`

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review

"""
## Build the model
"""

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

"""
## Load the IMDB movie review sentiment data
"""

# ranvier: synthetic reviews (lists of word indices, 20 to 300 words) and 0/1 labels, 96 + 32
_rng = np.random.default_rng(0)  # ranvier
_reviews = lambda n: [list(_rng.integers(1, max_features, _rng.integers(20, 300))) for _ in range(n)]  # ranvier
(x_train, y_train), (x_val, y_val) = (  # ranvier
    (_reviews(96), _rng.integers(0, 2, 96)),
    (_reviews(32), _rng.integers(0, 2, 32)),
)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

"""
## Train and evaluate the model
"""

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val))
