"""IMDB movie-review sentiment, as ``keras.datasets.imdb``."""

import numpy as np

from ._files import data_file, load_npz
from ._origin import KERAS_DATASETS
from ._sequences import add_offsets, check_options, cut_vocabulary, drop_long, object_array, read_word_index

__all__ = ["load_data", "get_word_index"]

_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # sha256 of imdb.npz
_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # md5 of imdb_word_index.json


def load_data(
    path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2, index_from=3
):
    """Load the IMDB reviews: 25,000 training and 25,000 test reviews as word-index lists, labelled 0/1.

    Words are indexed by frequency (1 is the most frequent word of the raw
    data); the returned indices are shifted by ``index_from`` so that 0
    (padding), ``start_char`` and ``oov_char`` stay free.

    Parameters
    ----------
    path : str or path, default "imdb.npz"
        A file name in the cache (downloaded and checked if missing) or a path to your own copy.
    num_words : int, optional
        Keep the words with (shifted) index below ``num_words``; others become ``oov_char``.
    skip_top : int, default 0
        Words with (shifted) index below ``skip_top`` become ``oov_char`` too.
    maxlen : int, optional
        Drop the reviews of ``maxlen`` words or more (counting ``start_char``).
    seed : int, default 113
        Seed of the shuffle of each set (``numpy.random.RandomState``, as Keras).
    start_char : int or None, default 1
        Put in front of every review.
    oov_char : int or None, default 2
        Replaces the words cut by ``num_words``/``skip_top``; None drops them.
    index_from : int, default 3
        Added to every word index.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        x: 1-D object arrays of lists of int; y: int64 arrays of 0/1, one per review.
    """
    check_options("imdb.load_data", num_words, skip_top, maxlen, start_char, oov_char, index_from)
    arrays = load_npz(data_file(path, origin=KERAS_DATASETS + "imdb.npz", file_hash=_HASH))
    rng = np.random.RandomState(seed)
    parts = []
    for split in ("train", "test"):
        x, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        order = np.arange(len(x))
        rng.shuffle(order)
        parts.append((add_offsets(x[order], start_char, index_from), list(labels[order])))
    if maxlen:
        parts = [drop_long(maxlen, x, labels) for x, labels in parts]
        if not parts[0][0] or not parts[1][0]:
            raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; increase maxlen")
    n_train = len(parts[0][0])
    xs = cut_vocabulary(parts[0][0] + parts[1][0], num_words, skip_top, oov_char)
    labels = np.asarray(parts[0][1] + parts[1][1], dtype=arrays["y_train"].dtype)
    return ((object_array(xs[:n_train]), labels[:n_train]), (object_array(xs[n_train:]), labels[n_train:]))


def get_word_index(path="imdb_word_index.json"):
    """``{word: index}`` of the IMDB data (raw indices: add ``index_from`` to match ``load_data``)."""
    return read_word_index(data_file(path, origin=KERAS_DATASETS + "imdb_word_index.json", file_hash=_INDEX_HASH))
