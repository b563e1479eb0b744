"""California housing prices, as ``keras.datasets.california_housing``."""

import numpy as np

from ._files import check_test_split, data_file, shuffle_split
from ._origin import KERAS_DATASETS

__all__ = ["load_data"]

_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # sha256 of california_housing.npz


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Load the California housing data (1990 census): 8 features per block group, median value in $.

    Parameters
    ----------
    version : {"large", "small"}, default "large"
        All 20,640 block groups, or the first 600 (a stand-in for ``boston_housing``).
    path : str or path, default "california_housing.npz"
        A file name in the cache (downloaded and checked if missing) or a path to your own copy.
    test_split : float in [0, 1), default 0.2
    seed : int, default 113
        Seed of the shuffle before the split (``numpy.random.RandomState``, as Keras).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: float of shape (n, 8); y: float of shape (n,), in the dtypes the file stores.
    """
    if version not in ("large", "small"):
        raise ValueError(f"california_housing.load_data: version must be 'small' or 'large', got {version!r}")
    check_test_split(test_split)
    with np.load(
        data_file(path, origin=KERAS_DATASETS + "california_housing.npz", file_hash=_HASH), allow_pickle=False
    ) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return shuffle_split(x, y, test_split, seed)
