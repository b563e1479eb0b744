"""A Keras 3 script that runs on ranvier after changing only its import.

Everything below the import block is written against Keras 3's API: the
``Sequential().add`` style with ``input_shape=`` on the first layer,
one-hot targets from ``keras.utils.to_categorical`` with
``categorical_crossentropy``, ``keras.Input`` and the functional
``keras.Model``, ``evaluate`` returning ``[loss, accuracy]``, History keys
(``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``), ``keras.callbacks``,
``model.save`` / ``keras.models.load_model``. To run it on Keras, swap the two
import lines for ``import keras`` and ``from keras import layers``. Only the
``--quick`` flag (for the smoke tests) is ranvier's.

Data: scikit-learn's 8x8 digits, a fixed stratified 25% test split.

Usage::

    pip install scikit-learn
    python examples/keras_compat.py [--epochs 30] [--quick]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import ranvier as keras  # Keras: import keras
from ranvier import layers  # Keras: from keras import layers


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x.astype("float32") / 16.0
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def sequential_model():
    model = keras.Sequential()
    model.add(layers.Dense(128, activation="relu", input_shape=(64,)))
    model.add(layers.Dropout(0.2))
    model.add(layers.Dense(64))
    model.add(layers.ReLU())
    model.add(layers.Dense(10, activation="softmax"))
    return model


def functional_model():
    inputs = keras.Input(shape=(64,), dtype="float32")
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="functional_digits")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="3 epochs (smoke test)")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    try:
        x_train, x_test, y_train, y_test = load_data()
    except ImportError:
        print("keras_compat.py needs scikit-learn for the digits data: pip install scikit-learn", file=sys.stderr)
        return 0 if args.quick else 1

    keras.utils.set_random_seed(0)
    num_classes = 10
    y_train_onehot = keras.utils.to_categorical(y_train, num_classes)
    y_test_onehot = keras.utils.to_categorical(y_test, num_classes)

    model = sequential_model()
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train,
        y_train_onehot,
        batch_size=32,
        epochs=epochs,
        validation_split=0.1,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)],
        verbose=2,
    )
    print("history keys:", sorted(history.history.keys()))
    score = model.evaluate(x_test, y_test_onehot, verbose=0)
    print(f"Sequential: test loss {score[0]:.4f}, test accuracy {score[1]:.4f}")

    probabilities = model.predict(x_test[:5], verbose=0)
    print("predicted classes of the first 5 test digits:", np.argmax(probabilities, axis=1), "true:", y_test[:5])

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits.keras")
        model.save(path)
        reloaded = keras.models.load_model(path)
    print(f"reloaded: test accuracy {reloaded.evaluate(x_test, y_test_onehot, verbose=0)[1]:.4f}")

    model = functional_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_data=(x_test, y_test), verbose=0)
    print("functional history keys:", sorted(history.history.keys()))
    accuracy = history.history["val_sparse_categorical_accuracy"][-1]
    print(f"functional: val_sparse_categorical_accuracy {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
