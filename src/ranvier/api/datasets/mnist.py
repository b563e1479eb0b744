"""MNIST handwritten digits, as ``keras.datasets.mnist``."""

import numpy as np

from ._files import data_file
from ._origin import KERAS_DATASETS

__all__ = ["load_data"]

_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # sha256 of mnist.npz


def load_data(path="mnist.npz"):
    """Load MNIST: 60,000 training and 10,000 test images of the 10 digits, 28x28 grayscale.

    Parameters
    ----------
    path : str or path, default "mnist.npz"
        A file name in the cache (``$RANVIER_HOME/datasets``, downloaded and
        checked if missing), or a path to your own copy of ``mnist.npz``
        (read as it is).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: uint8 of shape (60000, 28, 28) and (10000, 28, 28), values 0..255;
        y: uint8 of shape (60000,) and (10000,), digits 0..9.
    """
    path = data_file(path, origin=KERAS_DATASETS + "mnist.npz", file_hash=_HASH)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
