# Adapted from keras-io examples/timeseries/timeseries_classification_transformer.py
# https://github.com/keras-team/keras-io/blob/master/examples/timeseries/timeseries_classification_transformer.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic series of FordA's
# shapes and labels (no network here), a shorter series, fewer samples, blocks and epochs.
"""
Title: Timeseries classification with a Transformer model
Author: [Theodoros Ntakouris](https://github.com/ntakouris)
Description: This notebook demonstrates how to do timeseries classification using a Transformer model.
"""

import numpy as np

# ranvier: synthetic FordA-like data: 100 values per series (FordA has 500), labels -1 / 1
_rng = np.random.default_rng(0)  # ranvier


def readucr(n):  # ranvier: was readucr(filename), which read a TSV file
    y = _rng.choice([-1, 1], n)  # ranvier
    x = np.sin(np.arange(100) * (0.05 + 0.03 * (y[:, None] > 0))) + _rng.normal(0, 0.3, (n, 100))  # ranvier
    return x, y.astype(int)


x_train, y_train = readucr(128)  # ranvier: was readucr(root_url + "FordA_TRAIN.tsv")
x_test, y_test = readucr(32)  # ranvier: was readucr(root_url + "FordA_TEST.tsv")

x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

n_classes = len(np.unique(y_train))

idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

y_train[y_train == -1] = 0
y_test[y_test == -1] = 0

"""
## Build the model
"""

import ranvier as keras  # ranvier: was `from tensorflow import keras`
from ranvier import layers  # ranvier: was `from tensorflow.keras import layers`


def transformer_encoder(inputs, head_size, num_heads, ff_dim, dropout=0):
    # Attention and Normalization
    x = layers.MultiHeadAttention(
        key_dim=head_size, num_heads=num_heads, dropout=dropout
    )(inputs, inputs)
    x = layers.Dropout(dropout)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs

    # Feed Forward Part
    x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    return x + res


def build_model(
    input_shape,
    head_size,
    num_heads,
    ff_dim,
    num_transformer_blocks,
    mlp_units,
    dropout=0,
    mlp_dropout=0,
):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for _ in range(num_transformer_blocks):
        x = transformer_encoder(x, head_size, num_heads, ff_dim, dropout)

    x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
    for dim in mlp_units:
        x = layers.Dense(dim, activation="relu")(x)
        x = layers.Dropout(mlp_dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


"""
## Train and evaluate
"""

input_shape = x_train.shape[1:]

model = build_model(
    input_shape,
    head_size=64,  # ranvier: was 256
    num_heads=4,
    ff_dim=4,
    num_transformer_blocks=2,  # ranvier: was 4
    mlp_units=[128],
    mlp_dropout=0.4,
    dropout=0.25,
)

model.compile(
    loss="sparse_categorical_crossentropy",
    optimizer=keras.optimizers.Adam(learning_rate=1e-4),
    metrics=["sparse_categorical_accuracy"],
)
model.summary()

callbacks = [keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)]

model.fit(
    x_train,
    y_train,
    validation_split=0.2,
    epochs=2,  # ranvier: was 200
    batch_size=64,
    callbacks=callbacks,
)

model.evaluate(x_test, y_test, verbose=1)
