# Adapted from keras-io examples/timeseries/timeseries_classification_from_scratch.py
# https://github.com/keras-team/keras-io/blob/master/examples/timeseries/timeseries_classification_from_scratch.py
# Copyright the Keras authors, Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
# Changes for ranvier are marked "# ranvier: ...": the imports, synthetic series of FordA's
# shapes and labels (no network here), fewer samples and epochs, no plots (no matplotlib here).
"""
Title: Timeseries classification from scratch
Author: [hfawaz](https://github.com/hfawaz/)
Description: Training a timeseries classifier from scratch on the FordA dataset from
the UCR/UEA archive.
"""

import ranvier as keras  # ranvier: was `from tensorflow import keras` (and `import tensorflow as tf`)
import numpy as np
from sklearn.metrics import accuracy_score

"""
## Load the data: the FordA dataset
"""

# ranvier: synthetic FordA-like data: 500 values per series, labels -1 / 1 (a sine's frequency)
_rng = np.random.default_rng(0)  # ranvier


def readucr(n):  # ranvier: was readucr(filename), which read a TSV file
    y = _rng.choice([-1, 1], n)  # ranvier
    x = np.sin(np.arange(500) * (0.05 + 0.03 * (y[:, None] > 0))) + _rng.normal(0, 0.3, (n, 500))  # ranvier
    return x, y.astype(int)


x_train, y_train = readucr(160)  # ranvier: was readucr(root_url + "FordA_TRAIN.tsv")
x_test, y_test = readucr(40)  # ranvier: was readucr(root_url + "FordA_TEST.tsv")

classes = np.unique(np.concatenate((y_train, y_test), axis=0))

"""
## Standardizing the data
"""

x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

num_classes = len(np.unique(y_train))

idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

y_train[y_train == -1] = 0
y_test[y_test == -1] = 0

"""
## Build a model
"""


def make_model(input_shape):
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


model = make_model(input_shape=x_train.shape[1:])
# ranvier: keras.utils.plot_model(model, show_shapes=True) removed (needs pydot and graphviz)

"""
## Train the model
"""

epochs = 4  # ranvier: was 500
batch_size = 32

callbacks = [
    keras.callbacks.ModelCheckpoint(
        "best_model.h5", save_best_only=True, monitor="val_loss"
    ),
    keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001
    ),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
]
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=1,
)

"""
## Evaluate model on test data
"""

model = keras.models.load_model("best_model.h5")

y_pred = model.predict(x_test).argmax(axis=1)

print("Test accuracy", accuracy_score(y_pred, y_test))

metric = "accuracy"
print(history.history[metric], history.history["val_" + metric])  # ranvier: replaces the plot
