"""Boston housing prices, as ``keras.datasets.boston_housing``."""

import numpy as np

from ._files import check_test_split, data_file, shuffle_split
from ._origin import KERAS_DATASETS

__all__ = ["load_data"]

_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # sha256 of boston_housing.npz


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Load the Boston housing data: 506 districts, 13 attributes, median value in k$.

    The data set has an ethical problem (a variable built on the assumption that
    racial self-segregation affects prices); Keras discourages its use except
    to illustrate that problem. ``california_housing`` is the replacement.

    Parameters
    ----------
    path : str or path, default "boston_housing.npz"
        A file name in the cache (downloaded and checked if missing) or a path to your own copy.
    test_split : float in [0, 1), default 0.2
    seed : int, default 113
        Seed of the shuffle before the split (``numpy.random.RandomState``, as Keras).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: float of shape (n, 13); y: float of shape (n,), in the dtypes the file stores.
    """
    check_test_split(test_split)
    with np.load(
        data_file(path, origin=KERAS_DATASETS + "boston_housing.npz", file_hash=_HASH), allow_pickle=False
    ) as f:
        x, y = f["x"], f["y"]
    return shuffle_split(x, y, test_split, seed)
