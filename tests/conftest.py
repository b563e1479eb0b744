import os

import numpy as np
import pytest

import ranvier as rv

try:
    from hypothesis import settings as _hypothesis_settings
except ImportError:  # the wheel tests' environment may run without it
    _hypothesis_settings = None

if _hypothesis_settings is not None:
    # The property tests draw the same examples on every run, so a commit's result does not
    # hang on a lucky draw; RANVIER_HYPOTHESIS=explore draws new ones (to look for bugs).
    _hypothesis_settings.register_profile("fixed", derandomize=True, database=None)
    _hypothesis_settings.register_profile("explore")
    _hypothesis_settings.load_profile("explore" if os.environ.get("RANVIER_HYPOTHESIS") == "explore" else "fixed")


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


def _scoped_gradients(model, x, y, threads, rules=None):
    """``(loss, flat gradients, predict output)`` of ``model`` on one batch with ``threads``
    threads inside the compute scope (where the row-blocked kernels run); ``rules``
    replans the model's fusion first."""
    from ranvier.api._threading import compute_scope

    if rules is not None:
        model._executor.replan(rules)
    rv.set_num_threads(threads)
    try:
        with compute_scope():
            loss = model._compute_gradients(*model._prepare(x, y))[0]
            out = model.predict_on_batch(x)
    finally:
        rv.set_num_threads(rv.api.config._default_threads())
    return loss, model._flat_grads.copy(), out


@pytest.fixture
def scoped_gradients():
    return _scoped_gradients
