"""Reuters newswire topics, as ``keras.datasets.reuters``."""

import numpy as np

from ._files import check_test_split, data_file, load_npz
from ._origin import KERAS_DATASETS
from ._sequences import add_offsets, check_options, cut_vocabulary, drop_long, object_array, read_word_index

__all__ = ["load_data", "get_word_index", "get_label_names"]

_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # sha256 of reuters.npz
_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # md5 of reuters_word_index.json
_LABELS = (
    "cocoa",
    "grain",
    "veg-oil",
    "earn",
    "acq",
    "wheat",
    "copper",
    "housing",
    "money-supply",
    "coffee",
    "sugar",
    "trade",
    "reserves",
    "ship",
    "cotton",
    "carcass",
    "crude",
    "nat-gas",
    "cpi",
    "money-fx",
    "interest",
    "gnp",
    "meal-feed",
    "alum",
    "oilseed",
    "gold",
    "tin",
    "strategic-metal",
    "livestock",
    "retail",
    "ipi",
    "iron-steel",
    "rubber",
    "heat",
    "jobs",
    "lei",
    "bop",
    "zinc",
    "orange",
    "pet-chem",
    "dlr",
    "gas",
    "silver",
    "wpi",
    "hog",
    "lead",
)


def load_data(
    path="reuters.npz",
    num_words=None,
    skip_top=0,
    maxlen=None,
    test_split=0.2,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """Load the Reuters newswires: 11,228 word-index lists labelled with 46 topics, split train/test.

    Parameters are those of :func:`ranvier.datasets.imdb.load_data`, plus

    test_split : float in [0, 1), default 0.2
        The fraction of the (shuffled) newswires put in the test set.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: 1-D object arrays of lists of int; y: int64 arrays of topics 0..45.
    """
    check_options("reuters.load_data", num_words, skip_top, maxlen, start_char, oov_char, index_from)
    check_test_split(test_split)
    arrays = load_npz(data_file(path, origin=KERAS_DATASETS + "reuters.npz", file_hash=_HASH))
    xs, labels = arrays["x"], arrays["y"]
    order = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(order)
    xs, labels = add_offsets(xs[order], start_char, index_from), list(labels[order])
    if maxlen:
        xs, labels = drop_long(maxlen, xs, labels)
    xs = cut_vocabulary(xs, num_words, skip_top, oov_char)
    labels = np.asarray(labels, dtype=arrays["y"].dtype)
    cut = int(len(xs) * (1 - test_split))
    return (object_array(xs[:cut]), labels[:cut]), (object_array(xs[cut:]), labels[cut:])


def get_word_index(path="reuters_word_index.json"):
    """``{word: index}`` of the Reuters data (raw indices: add ``index_from`` to match ``load_data``)."""
    return read_word_index(data_file(path, origin=KERAS_DATASETS + "reuters_word_index.json", file_hash=_INDEX_HASH))


def get_label_names():
    """The 46 topic names, in label order."""
    return _LABELS
