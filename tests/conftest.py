import numpy as np
import pytest

import ranvier as rv


@pytest.fixture
def float64():
    """Build models in float64 inside the test (gradient checks)."""
    rv.config.set_floatx("float64")
    yield
    rv.config.set_floatx("float32")


@pytest.fixture
def blobs():
    """A small 3-class problem: (x float32 (120, 4), labels int64 (120,))."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, (3, 4))
    y = rng.permutation(np.repeat(np.arange(3), 40))
    x = (centers[y] + rng.normal(0, 0.5, (120, 4))).astype(np.float32)
    return x, y
