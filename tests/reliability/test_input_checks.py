"""Inputs at the edges: beyond float32, no samples, arguments of the wrong kind.

Each test names the fix it waits for; the strict xfails turn into failures
once the ``guard`` helper's work lands (the lead removes the markers).
"""

import warnings

import numpy as np
import pytest

import ranvier as rv

_GUARD = "issue 16, guard item"
X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


def test_fit_refuses_values_beyond_float32(make_model, snapshot):
    model = make_model()
    before = snapshot(model)
    x = X.astype(np.float64)
    x[0, 0] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError, match="x"):
        model.fit(x, Y, verbose=0)
    assert snapshot(model) == before


def test_predict_refuses_values_beyond_float32(make_model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="x"):
            make_model().predict(np.full((3, 4), 1e300))


def test_set_weights_refuses_values_beyond_float32(make_model, snapshot):
    model = make_model()
    before = snapshot(model)
    weights = [w.astype(np.float64) for w in model.get_weights()]
    weights[0][0, 0] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):
            model.set_weights(weights)
    assert snapshot(model) == before


def test_evaluate_refuses_zero_samples(make_model):
    with pytest.raises(ValueError, match="sample"):
        make_model().evaluate(X[:0], Y[:0], verbose=0)


def test_train_on_batch_refuses_zero_samples(make_model, snapshot):
    model = make_model()
    model.fit(X, Y, verbose=0)
    before = snapshot(model)
    with pytest.raises(ValueError, match="sample"):
        model.train_on_batch(X[:0], Y[:0])
    assert snapshot(model) == before


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"y": 1}, "y"), ({"class_weight": {"a": 1}}, "class_weight"), ({"callbacks": "History"}, "callbacks")],
    ids=["y-scalar", "class_weight-str-key", "callbacks-one"],
)
def test_fit_errors_name_the_argument(make_model, snapshot, kwargs, argument):
    model = make_model()
    before = snapshot(model)
    if kwargs.get("callbacks") == "History":
        kwargs = {"callbacks": rv.callbacks.History()}
    with pytest.raises((ValueError, TypeError), match=argument):
        model.fit(X, **{"y": Y, **kwargs}, verbose=0)
    assert snapshot(model) == before
