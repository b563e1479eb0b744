"""Fashion-MNIST (Zalando article images), as ``keras.datasets.fashion_mnist``."""

import gzip
import os

import numpy as np

from .. import file_utils
from ._origin import KERAS_DATASETS

__all__ = ["load_data"]

# Keras gives no hashes for these files; these are the MD5 sums Zalando publishes for them.
_FILES = {
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
}


def _read_idx(path, header_bytes):
    """The uint8 payload of a gzipped IDX file after its header (8 bytes for labels, 16 for images)."""
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def load_data():
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images of 10 clothing classes.

    Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot. The four files are cached in
    ``$RANVIER_HOME/datasets/fashion-mnist``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: uint8 of shape (60000, 28, 28) and (10000, 28, 28); y: uint8 of shape (60000,) and (10000,).
    """
    paths = [
        file_utils.get_file(
            name, origin=KERAS_DATASETS + name, file_hash=md5, cache_subdir=os.path.join("datasets", "fashion-mnist")
        )
        for name, md5 in _FILES.items()
    ]
    y_train = _read_idx(paths[0], 8)
    x_train = _read_idx(paths[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(paths[2], 8)
    x_test = _read_idx(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
