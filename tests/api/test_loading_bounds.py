"""Loading within bounds: deep models, size caps checked before allocating, one error type."""

import sys
import time

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import saving


def _deep_sequential(depth):
    return rv.Sequential([rv.layers.Input((3,))] + [rv.layers.Dense(3) for _ in range(depth)])


def _deep_functional(depth):
    x = inp = rv.layers.Input((3,))
    for _ in range(depth):
        x = rv.layers.Dense(3)(x)
    return rv.Model(inp, x)


@pytest.mark.parametrize("make", [_deep_sequential, _deep_functional])
def test_a_model_deeper_than_the_recursion_limit_builds_saves_and_loads(make):
    depth = max(2000, sys.getrecursionlimit() + 100)
    model = make(depth)
    again = saving.from_bytes(saving.to_bytes(model))
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_building_is_linear_in_depth():
    def seconds(depth):
        start = time.perf_counter()
        _deep_sequential(depth)
        return time.perf_counter() - start

    seconds(50)  # warm up
    small, large = min(seconds(200) for _ in range(2)), min(seconds(1600) for _ in range(2))
    # 8x the layers: linear is ~8x, quadratic ~64x; 20x leaves room for a busy machine.
    assert large < 20 * small + 0.05


def test_add_without_rebuild_builds_once_when_used():
    model = rv.Sequential([rv.layers.Input((3,))])
    for _ in range(3):
        model.add(rv.layers.Dense(2), rebuild=False)
    assert not model.built
    assert model.predict(np.ones((1, 3), np.float32), verbose=0).shape == (1, 2)
    with pytest.raises(ValueError, match="already in the model"):
        model.add(model.layers[0])
