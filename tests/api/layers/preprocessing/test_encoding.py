"""CategoryEncoding against np.bincount; Hashing against hashlib's BLAKE2b."""

import hashlib

import numpy as np
import pytest

import ranvier as rv

L = rv.layers


def _blake(text, key=b""):
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8, key=key).digest(), "little")


def test_category_encoding_modes():
    ids = np.array([[0, 3, 3], [2, 1, 0]])
    counts = np.stack([np.bincount(r, minlength=5) for r in ids])
    np.testing.assert_array_equal(L.CategoryEncoding(5, output_mode="count")(ids), counts)
    np.testing.assert_array_equal(L.CategoryEncoding(5)(ids), counts > 0)
    np.testing.assert_array_equal(L.CategoryEncoding(5, output_mode="one_hot")(ids[:, :1]), np.eye(5)[ids[:, 0]])
    np.testing.assert_array_equal(L.CategoryEncoding(5, output_mode="one_hot")(ids), np.eye(5)[ids])


def test_category_encoding_refuses_ids_out_of_range():
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\), got 3"):
        L.CategoryEncoding(3)(np.array([[0, 3]]))
    with pytest.raises(ValueError, match="token ids must be >= 0, got -1"):
        L.CategoryEncoding(3)(np.array([[0, -1]]))
    with pytest.raises(ValueError, match="num_tokens must be an integer >= 1, got None"):
        L.CategoryEncoding()


def test_hashing_is_blake2b_modulo_bins():
    words = ["apple", "pear", "", "naïve"]
    np.testing.assert_array_equal(L.Hashing(11)(words), [_blake(w) % 11 for w in words])
    key = (5).to_bytes(8, "little") + (9).to_bytes(8, "little")
    np.testing.assert_array_equal(L.Hashing(11, salt=[5, 9])(words), [_blake(w, key) % 11 for w in words])


def test_hashing_integers_as_their_text_and_mask_value():
    ints = np.array([[3, -7, 0]])
    np.testing.assert_array_equal(L.Hashing(6)(ints), L.Hashing(6)([["3", "-7", "0"]]))
    masked = L.Hashing(6, mask_value=0)(ints)
    assert masked[0, 2] == 0
    np.testing.assert_array_equal(masked[0, :2], [1 + _blake(t) % 5 for t in ("3", "-7")])


def test_hashing_encodes_buckets():
    words = np.array([["a", "b", "a"]])
    ids = L.Hashing(4)(words)
    np.testing.assert_array_equal(L.Hashing(4, output_mode="count")(words), [np.bincount(ids[0], minlength=4)])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_bins": 0}, "num_bins must be an integer >= 1, got 0"),
        ({"num_bins": 1, "mask_value": ""}, "num_bins must be an integer >= 2, got 1"),
        ({"num_bins": 3, "salt": "x"}, "salt must be an integer or a pair"),
        ({"num_bins": 3, "output_mode": "tf_idf"}, "output_mode must be one of"),
    ],
)
def test_hashing_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.Hashing(**kwargs)
