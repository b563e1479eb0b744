"""A multilayer perceptron on scikit-learn's 8x8 handwritten digits, with early stopping and saving.

1797 images of 64 pixels, a fixed stratified 25% test split. The MLP
64-128-64-10 (ReLU, softmax) is trained with Adam on 90% of the training
digits; the other 10% are the validation set that ``EarlyStopping`` watches
(training stops when the validation loss has not improved for ``--patience``
epochs, and the best epoch's weights are put back). The model is then saved
to one file and loaded again: the reloaded model gives the same predictions.
Prints the test accuracy (at least 97%).

Usage::

    pip install scikit-learn
    python examples/mlp_digits.py [--epochs 100] [--patience 10] [--seed 0] [--quick]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import ranvier as rv


def load_digits_split(seed=0):
    """Pixels scaled to [0, 1] as (n, 64) float32, split 75/25 with a fixed stratified shuffle."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split((x / 16.0).astype(np.float32), y, test_size=0.25, random_state=seed, stratify=y)


def mlp(seed):
    rv.config.set_random_seed(seed)
    model = rv.Sequential(
        [
            rv.layers.Input((64,)),
            rv.layers.Dense(128, activation="relu"),
            rv.layers.Dense(64, activation="relu"),
            rv.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="at most this many (early stopping)")
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few epochs only (smoke test)")
    args = parser.parse_args(argv)
    try:
        x_train, x_test, y_train, y_test = load_digits_split()
    except ImportError:
        print("mlp_digits.py needs scikit-learn for the digits data: pip install scikit-learn", file=sys.stderr)
        return 0 if args.quick else 1
    epochs = 3 if args.quick else args.epochs

    model = mlp(args.seed)
    stopper = rv.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, callbacks=[stopper], verbose=0
    )
    seconds = time.perf_counter() - start
    ran = len(history.history["loss"])
    best = int(np.argmin(history.history["val_loss"]))
    print(
        f"trained {ran} epochs in {seconds:.1f} s on {len(x_train)} digits (10% of them for validation); "
        f"best epoch {best + 1}: val_loss {history.history['val_loss'][best]:.4f}, "
        f"val_accuracy {history.history['val_accuracy'][best]:.4f}"
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {test_accuracy:.4f} (loss {test_loss:.4f}, {len(x_test)} test digits)")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mlp_digits.ranvier")
        model.save(path)
        size = os.path.getsize(path)
        restored = rv.load_model(path)
    same = np.array_equal(model.predict(x_test), restored.predict(x_test))
    print(
        f"saved and reloaded ({size / 1024:.0f} KiB): identical predictions: {same}; "
        f"reloaded test accuracy {restored.evaluate(x_test, y_test, verbose=0)[1]:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
