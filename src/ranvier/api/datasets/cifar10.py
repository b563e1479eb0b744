"""CIFAR-10 small images, as ``keras.datasets.cifar10``."""

import os

import numpy as np

from .. import file_utils
from ._cifar import load_batch, to_channels_last

__all__ = ["load_data"]

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # sha256 of the archive


def load_data():
    """Load CIFAR-10: 50,000 training and 10,000 test 32x32 colour images of 10 classes.

    Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship, 9 truck.
    The archive is cached as ``$RANVIER_HOME/datasets/cifar-10-batches-py-target_archive`` and
    extracted next to it (Keras' layout).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: uint8 of shape (50000, 32, 32, 3) and (10000, 32, 32, 3), values 0..255;
        y: uint8 of shape (50000, 1) and (10000, 1), classes 0..9.
    """
    root = file_utils.get_file("cifar-10-batches-py-target", origin=_ORIGIN, extract=True, file_hash=_HASH)
    folder = os.path.join(root, "cifar-10-batches-py")
    batches = [load_batch(os.path.join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([data for data, _ in batches])
    y_train = np.concatenate([np.asarray(labels, dtype=np.uint8) for _, labels in batches])
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    return (
        (to_channels_last(x_train), y_train.reshape(-1, 1)),
        (to_channels_last(x_test).astype(np.uint8), np.asarray(y_test, dtype=np.uint8).reshape(-1, 1)),
    )
