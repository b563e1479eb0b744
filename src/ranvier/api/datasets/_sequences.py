"""Word-index sequences shared by imdb and reuters: Keras' offsets, vocabulary cut and length filter."""

import json
import numbers

import numpy as np

__all__ = ["check_options", "add_offsets", "drop_long", "cut_vocabulary", "object_array", "read_word_index"]


def check_options(who, num_words, skip_top, maxlen, start_char, oov_char, index_from):
    for name, value, optional in (
        ("num_words", num_words, True),
        ("skip_top", skip_top, False),
        ("maxlen", maxlen, True),
        ("start_char", start_char, True),
        ("oov_char", oov_char, True),
        ("index_from", index_from, False),
    ):
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{who}: {name} must be an integer >= 0{' or None' if optional else ''}, got {value!r}")


def add_offsets(sequences, start_char, index_from):
    """Each sequence as a list with ``index_from`` added to every word and ``start_char`` in front."""
    head = [] if start_char is None else [start_char]
    return [head + [w + index_from for w in s] for s in sequences]


def drop_long(maxlen, sequences, labels):
    """Keep the sequences shorter than ``maxlen`` (Keras drops the long ones, it does not cut them)."""
    kept = [i for i, s in enumerate(sequences) if len(s) < maxlen]
    return [sequences[i] for i in kept], [labels[i] for i in kept]


def cut_vocabulary(sequences, num_words, skip_top, oov_char):
    """Words outside ``[skip_top, num_words)`` become ``oov_char`` (or are dropped if it is None).

    As Keras, ``num_words=None`` means the largest index seen, which the
    half-open range then excludes too: kept for identical outputs.
    """
    if not num_words:
        num_words = max(max(s) for s in sequences if len(s))
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in sequences]
    return [[w for w in s if skip_top <= w < num_words] for s in sequences]


def object_array(sequences):
    """A 1-D object array of lists (``np.array`` would make a 2-D array if all lengths were equal)."""
    out = np.empty(len(sequences), dtype=object)
    out[:] = sequences
    return out


def read_word_index(path):
    with open(path, encoding="utf8") as f:
        return json.load(f)
