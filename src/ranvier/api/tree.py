"""Nested structures of arrays (lists, tuples, dicts), as ``keras.tree``.

A structure is a list, a tuple (named tuples included) or a dict whose values
are structures or leaves; anything else, ``None`` included, is a leaf. Dicts
are walked in sorted key order, as Keras does, so a dict keyed by input name
flattens the same whatever order it was written in; a dict packed back keeps
the key order of the structure it is packed as (Keras' optree does the same).
"""

import numbers

__all__ = [
    "is_nested",
    "flatten",
    "flatten_with_path",
    "pack_sequence_as",
    "map_structure",
    "map_shape_structure",
    "assert_same_structure",
]


def is_nested(structure):
    """True for a list, tuple or dict (a structure), False for a leaf."""
    return isinstance(structure, (list, tuple, dict))


def _children(structure):
    """(key, child) pairs of one level: sorted keys for a dict, positions for a sequence."""
    if isinstance(structure, dict):
        return [(k, structure[k]) for k in sorted(structure)]
    return list(enumerate(structure))


def _rebuild(structure, items):
    """A container of ``structure``'s type holding ``items`` (in ``_children`` order)."""
    if isinstance(structure, dict):
        by_key = dict(zip(sorted(structure), items))
        return type(structure)((k, by_key[k]) for k in structure)
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*items)
    return type(structure)(items)


def flatten_with_path(structure):
    """``[(path, leaf), ...]`` in flatten order; a path is the tuple of keys/positions from the root."""
    if not is_nested(structure):
        return [((), structure)]
    out = []
    for key, child in _children(structure):
        out.extend(((key,) + path, leaf) for path, leaf in flatten_with_path(child))
    return out


def flatten(structure):
    """The leaves of ``structure`` as a flat list (a leaf gives ``[leaf]``)."""
    return [leaf for _, leaf in flatten_with_path(structure)]


def pack_sequence_as(structure, flat_sequence):
    """Rebuild ``structure``'s shape with the leaves of ``flat_sequence`` (inverse of :func:`flatten`)."""
    flat = list(flat_sequence)
    n_leaves = len(flatten(structure))
    if len(flat) != n_leaves:
        raise ValueError(f"pack_sequence_as: the structure has {n_leaves} leaves, got {len(flat)} values")
    position = iter(flat)

    def build(s):
        if not is_nested(s):
            return next(position)
        return _rebuild(s, [build(child) for _, child in _children(s)])

    return build(structure)


def assert_same_structure(a, b):
    """Raise ValueError unless ``a`` and ``b`` nest the same containers with the same keys and lengths."""

    def check(x, y, path):
        if is_nested(x) != is_nested(y) or (
            is_nested(x)
            and (
                isinstance(x, dict) != isinstance(y, dict)
                or [k for k, _ in _children(x)] != [k for k, _ in _children(y)]
            )
        ):
            where = "".join(f"[{k!r}]" for k in path) or "the root"
            raise ValueError(f"The two structures differ at {where}: {_describe(x)} vs {_describe(y)}")
        if is_nested(x):
            for (k, cx), (_, cy) in zip(_children(x), _children(y)):
                check(cx, cy, path + (k,))

    check(a, b, ())


def _describe(x):
    if isinstance(x, dict):
        return f"a dict with keys {sorted(x)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a leaf ({type(x).__name__})"


def map_structure(func, *structures):
    """``func`` applied leaf-wise over structures of the same shape; the result has the first one's shape."""
    if not structures:
        raise TypeError("map_structure: give at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    leaves = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*args) for args in zip(*leaves)])


def _is_shape(value):
    """True for a shape: a list or tuple of ints and Nones (``(None, 3)``, ``[]``)."""
    return isinstance(value, (list, tuple)) and all(d is None or isinstance(d, numbers.Integral) for d in value)


def map_shape_structure(func, structure):
    """``func`` applied to each shape of a structure of shapes (a shape is a leaf, not a tuple to walk)."""
    if _is_shape(structure):
        return func(tuple(structure))
    if not is_nested(structure):
        raise TypeError(f"map_shape_structure: expected shapes (tuples of ints or None), got {structure!r}")
    return _rebuild(structure, [map_shape_structure(func, child) for _, child in _children(structure)])
