import collections

import numpy as np
import pytest

from ranvier.api import tree


def test_flatten_walks_dicts_in_sorted_key_order_and_packs_back():
    structure = {"b": [1, (2, 3)], "a": None, "c": {"z": 4, "y": 5}}
    assert tree.flatten(structure) == [None, 1, 2, 3, 5, 4]
    packed = tree.pack_sequence_as(structure, range(6))
    assert packed == {"a": 0, "b": [1, (2, 3)], "c": {"y": 4, "z": 5}}
    assert isinstance(packed["b"][1], tuple)
    assert tree.flatten_with_path(structure)[2] == (("b", 1, 0), 2)
    assert tree.flatten(np.zeros(3))[0].shape == (3,) and not tree.is_nested(np.zeros(3))


def test_map_structure_over_several_and_named_tuples():
    Pair = collections.namedtuple("Pair", "x y")
    out = tree.map_structure(lambda a, b: a + b, Pair(1, [2]), Pair(10, [20]))
    assert out == Pair(11, [22]) and isinstance(out, Pair)


@pytest.mark.parametrize(
    "a, b, match",
    [
        ([1, 2], [1], r"differ at the root: a list of length 2 vs a list of length 1"),
        ({"a": 1}, {"b": 1}, r"differ at the root: a dict with keys \['a'\] vs a dict with keys \['b'\]"),
        ({"a": [1]}, {"a": 1}, r"differ at \['a'\]: a list of length 1 vs a leaf \(int\)"),
    ],
)
def test_structure_mismatches_say_where(a, b, match):
    with pytest.raises(ValueError, match=match):
        tree.assert_same_structure(a, b)


def test_pack_sequence_as_checks_the_count():
    with pytest.raises(ValueError, match="the structure has 2 leaves, got 3 values"):
        tree.pack_sequence_as([0, 0], [1, 2, 3])


def test_a_dict_packs_back_in_its_own_key_order():
    structure = {"b": 0, "a": 0}
    assert tree.flatten({"b": 2, "a": 1}) == [1, 2]
    assert list(tree.pack_sequence_as(structure, [1, 2]).items()) == [("b", 2), ("a", 1)]


def test_map_shape_structure_takes_shapes_as_leaves():
    shapes = {"b": (None, 3), "a": [(None,), [None, 2]]}
    out = tree.map_shape_structure(lambda s: s[1:], shapes)
    assert out == {"b": (3,), "a": [(), (2,)]}
    assert tree.map_shape_structure(len, (None, 4, 5)) == 3
    with pytest.raises(TypeError, match="expected shapes"):
        tree.map_shape_structure(len, {"a": "x"})
