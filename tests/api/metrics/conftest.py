import numpy as np
import pytest


def _feed(metric, y_true, y_pred, sample_weight=None, batch=7):
    """Reset the metric, feed it the data in batches of ``batch`` rows, return its result."""
    metric.reset_state()
    for a in range(0, len(y_true), batch):
        sw = None if sample_weight is None else sample_weight[a : a + batch]
        metric.update_state(y_true[a : a + batch], y_pred[a : a + batch], sample_weight=sw)
    return metric.result()


@pytest.fixture
def feed():
    return _feed


@pytest.fixture
def binary_scores():
    """0/1 labels, scores strictly between the thresholds k/199 of num_thresholds=200, weights."""
    rng = np.random.default_rng(15)
    y = rng.integers(0, 2, 157)
    p = (rng.integers(0, 150, 157) + 49 * y + 0.5) / 199
    w = rng.uniform(0, 2, 157)
    return y, p, w
