"""Categorical encodings: CategoryEncoding, and Hashing with a documented stable hash."""

import hashlib

import numpy as np

from ... import config
from ..._errors import UnsupportedArgument
from ._base import DataLayer, categorical_shape, check_choice, check_positive_int, encode_categorical, output_mode_alias

__all__ = ["CategoryEncoding", "Hashing", "stable_hash"]


def stable_hash(values, salt=None):
    """64-bit hashes of ``values`` (strings, or integers hashed as their decimal text): BLAKE2b, 8-byte digest.

    ``salt`` (an int, or a pair of ints) becomes BLAKE2b's 16-byte key. The
    result depends only on the text and the salt, on every platform and run;
    it is not Keras' FarmHash64 (that would need a dependency), so the bucket
    a token lands in differs from Keras'.
    """
    key = b"" if salt is None else b"".join(int(s).to_bytes(8, "little", signed=False) for s in salt)
    flat = np.asarray(values, dtype=object).reshape(-1)
    out = np.empty(flat.shape, np.uint64)
    for i, v in enumerate(flat):
        text = v if isinstance(v, str) else str(int(v))
        out[i] = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=key).digest(), "little")
    return out.reshape(np.shape(values))


class CategoryEncoding(DataLayer):
    """Encode integer token ids in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors.

    Parameters
    ----------
    num_tokens : int
        Size of the encoding (ids must lie in ``[0, num_tokens)``; ValueError otherwise).
    output_mode : {"multi_hot", "one_hot", "count"}, default "multi_hot"
        ``one_hot`` adds a last axis (replacing a last axis of size 1);
        ``multi_hot`` and ``count`` reduce the last axis.

    Notes
    -----
    Input int ``(batch,)`` or ``(batch, k)``; output float
    ``(batch, num_tokens)``. A rank-1 input is one id per sample (Keras reads
    it as one sample of several ids).
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse:
            raise UnsupportedArgument(f"CategoryEncoding: sparse outputs are not supported, got sparse={sparse!r}")
        self.num_tokens = check_positive_int(num_tokens, "num_tokens", "CategoryEncoding")
        self.output_mode = check_choice(
            output_mode_alias(output_mode), "output_mode", ("multi_hot", "one_hot", "count"), "CategoryEncoding"
        )

    def compute_output_shape(self, input_shape):
        return categorical_shape(input_shape, self.output_mode, self.num_tokens)

    def call(self, inputs, training=False, count_weights=None):
        if (inputs < 0).any():
            raise ValueError(f"CategoryEncoding: token ids must be >= 0, got {int(inputs[inputs < 0].flat[0])!r}")
        out = encode_categorical(inputs, self.output_mode, self.num_tokens, config.floatx(), owner="CategoryEncoding")
        return out, None

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode, "sparse": False}


class Hashing(DataLayer):
    """Hash strings or integers into ``num_bins`` buckets.

    Parameters
    ----------
    num_bins : int
        Number of buckets, the mask bucket included.
    mask_value : str or int, optional
        Values equal to it go to bucket 0; the others to ``1 + hash % (num_bins - 1)``.
    salt : int or (int, int), optional
        Key of the hash.
    output_mode : {"int", "one_hot", "multi_hot", "count"}, default "int"

    Notes
    -----
    The hash is :func:`stable_hash` (BLAKE2b, 8-byte digest, the salt as its
    key; integers hashed as their decimal text, as Keras does), not Keras'
    FarmHash64: buckets are stable across runs and platforms but differ from
    Keras'. Input ``(batch, ...)`` strings or integers; output int64 bucket
    ids of the same shape, or float encodings.
    """

    _accepts_text = True

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if sparse:
            raise UnsupportedArgument(f"Hashing: sparse outputs are not supported, got sparse={sparse!r}")
        self.num_bins = check_positive_int(num_bins, "num_bins", "Hashing", minimum=2 if mask_value is not None else 1)
        self.mask_value = mask_value
        if salt is not None:
            pair = (salt, salt) if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool) else tuple(salt)
            if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and 0 <= s < 2**64 for s in pair):
                raise ValueError(f"Hashing: salt must be an integer or a pair of integers in [0, 2**64), got {salt!r}")
            salt = [int(s) for s in pair]
        self.salt = salt
        self.output_mode = check_choice(output_mode, "output_mode", ("int", "one_hot", "multi_hot", "count"), "Hashing")

    def compute_output_shape(self, input_shape):
        return categorical_shape(input_shape, self.output_mode, self.num_bins)

    def call(self, inputs, training=False):
        hashed = stable_hash(inputs, self.salt)
        if self.mask_value is None:
            ids = (hashed % np.uint64(self.num_bins)).astype(np.int64)
        else:
            ids = (hashed % np.uint64(self.num_bins - 1)).astype(np.int64) + 1
            ids[inputs == self.mask_value] = 0
        return encode_categorical(ids, self.output_mode, self.num_bins, config.floatx(), owner="Hashing"), None

    def get_config(self):
        return {
            **super().get_config(),
            "num_bins": self.num_bins,
            "mask_value": self.mask_value,
            "salt": self.salt,
            "output_mode": self.output_mode,
            "sparse": False,
        }
