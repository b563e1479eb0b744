"""Reading CIFAR's pickled Python batches (shared by cifar10 and cifar100)."""

import numpy as np

from ._files import load_pickle

__all__ = ["load_batch", "to_channels_last"]


def load_batch(fpath, label_key="labels"):
    """(data uint8 of shape (n, 3, 32, 32), labels list) from one CIFAR batch file.

    The batches are Python 2 pickles of a dict with bytes keys; they are read
    with the restricted unpickler (builtin containers and NumPy arrays only).
    """
    with open(fpath, "rb") as f:
        batch = {
            k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in load_pickle(f, encoding="bytes").items()
        }
    data = np.asarray(batch["data"], dtype=np.uint8)
    return data.reshape(data.shape[0], 3, 32, 32), batch[label_key]


def to_channels_last(x):
    """(n, 3, 32, 32) -> (n, 32, 32, 3): ranvier's images are channels-last, as Keras' default."""
    return x.transpose(0, 2, 3, 1)
