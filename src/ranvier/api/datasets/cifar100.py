"""CIFAR-100 small images, as ``keras.datasets.cifar100``."""

import os

import numpy as np

from .. import file_utils
from ._cifar import load_batch, to_channels_last

__all__ = ["load_data"]

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # sha256 of the archive


def load_data(label_mode="fine"):
    """Load CIFAR-100: 50,000 training and 10,000 test 32x32 colour images, 100 classes in 20 superclasses.

    Parameters
    ----------
    label_mode : {"fine", "coarse"}, default "fine"
        The 100 fine classes or the 20 coarse superclasses.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: uint8 of shape (50000, 32, 32, 3) and (10000, 32, 32, 3);
        y: int64 of shape (50000, 1) and (10000, 1) (as Keras: the pickled label lists as arrays).
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    root = file_utils.get_file("cifar-100-python-target", origin=_ORIGIN, extract=True, file_hash=_HASH)
    folder = os.path.join(root, "cifar-100-python")
    out = []
    for part in ("train", "test"):
        x, y = load_batch(os.path.join(folder, part), label_key=f"{label_mode}_labels")
        out.append((to_channels_last(x), np.reshape(y, (len(y), 1))))
    return tuple(out)
