"""PearsonCorrelation and ConcordanceCorrelation: scipy / Lin's formula per sample, streamed over batches."""

import numpy as np
import pytest
import scipy.stats

import ranvier as rv
from ranvier.metrics import ConcordanceCorrelation, PearsonCorrelation, concordance_correlation, pearson_correlation


def _data(n=12, k=5, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((n, k))
    return t, 0.7 * t + 0.5 * rng.standard_normal((n, k)) + 0.3


def _lin(t, p):
    """Lin's concordance coefficient of two vectors (population moments)."""
    return 2 * np.cov(t, p, bias=True)[0, 1] / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)


def test_per_sample_values_match_scipy_and_lin():
    t, p = _data()
    np.testing.assert_allclose(
        pearson_correlation(t, p), [scipy.stats.pearsonr(a, b)[0] for a, b in zip(t, p)], rtol=1e-12
    )
    np.testing.assert_allclose(concordance_correlation(t, p), [_lin(a, b) for a, b in zip(t, p)], rtol=1e-6)
    # along axis 0: one coefficient per column
    np.testing.assert_allclose(
        pearson_correlation(t, p, axis=0), [scipy.stats.pearsonr(a, b)[0] for a, b in zip(t.T, p.T)], rtol=1e-12
    )


@pytest.mark.parametrize(
    "cls, per_sample", [(PearsonCorrelation, pearson_correlation), (ConcordanceCorrelation, concordance_correlation)]
)
def test_streamed_over_batches_is_the_mean_over_samples(cls, per_sample):
    t, p = _data()
    w = np.linspace(0.5, 2.0, len(t))
    metric = cls()
    for lo in range(0, len(t), 5):  # batches of 5, 5, 2
        metric.update_state(t[lo : lo + 5], p[lo : lo + 5].astype(np.float32), sample_weight=w[lo : lo + 5])
    values = per_sample(t, p.astype(np.float32))
    assert float(metric.result()) == pytest.approx(np.sum(w * values) / np.sum(w), rel=1e-10)
    metric.reset_state()
    metric.update_state(t, p)
    assert float(metric.result()) == pytest.approx(np.mean(per_sample(t, p)), rel=1e-12)


def test_keras_example_configs_and_model():
    y_true, y_pred = [[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]]
    pcc = PearsonCorrelation(axis=-1)
    pcc.update_state(y_true, y_pred)
    assert float(pcc.result()) == pytest.approx(0.9966996338993913, rel=1e-12)
    ccc = ConcordanceCorrelation(axis=(1,))
    ccc.update_state(y_true, y_pred)
    assert float(ccc.result()) == pytest.approx(0.9816320385426076, rel=1e-6)
    assert ccc.get_config() == {"name": "concordance_correlation", "dtype": None, "axis": (1,)}
    assert isinstance(rv.metrics.get("pearson_correlation"), PearsonCorrelation)
    assert PearsonCorrelation.from_config(pcc.get_config()).axis == -1
    x = np.random.default_rng(3).standard_normal((16, 3)).astype(np.float32)
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(4)])
    model.compile("sgd", "mse", metrics=[PearsonCorrelation(), ConcordanceCorrelation()])
    logs = model.evaluate(x, np.tile(x, (1, 2))[:, :4], verbose=0, return_dict=True)
    assert set(logs) >= {"pearson_correlation", "concordance_correlation"}


def test_errors():
    with pytest.raises(ValueError, match="axis must be an integer or a tuple"):
        PearsonCorrelation(axis="a")
    with pytest.raises(ValueError, match="out of range"):
        pearson_correlation(np.ones((2, 3)), np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="same shape"):
        concordance_correlation(np.ones((2, 3)), np.ones((2, 4)))
