"""AUC (ROC and PR curves, summation methods, multi-label) against scikit-learn and quadrature."""

import numpy as np
import pytest

from ranvier.api import metrics

sk = pytest.importorskip("sklearn.metrics")
integrate = pytest.importorskip("scipy.integrate")


def _riemann(x, y, method):
    heights = {"minoring": np.minimum, "majoring": np.maximum}[method](y[:-1], y[1:])
    return np.sum(np.abs(np.diff(x)) * heights)


@pytest.mark.parametrize("method", ["minoring", "majoring"])
def test_roc_bounds_match_the_exact_curve(binary_scores, feed, method):
    # The scores lie between the thresholds: the thresholded ROC curve is sklearn's exact one.
    y, p, w = binary_scores
    fpr, tpr, _ = sk.roc_curve(y, p, sample_weight=w, drop_intermediate=False)
    got = feed(metrics.AUC(summation_method=method), y, p, w)
    assert got == pytest.approx(_riemann(fpr, tpr, method), rel=1e-12)
    assert (got <= sk.roc_auc_score(y, p, sample_weight=w)) == (method == "minoring")


@pytest.mark.parametrize("method", ["minoring", "majoring"])
def test_pr_bounds_match_the_exact_curve(binary_scores, feed, method):
    y, p, w = binary_scores
    precision, recall, _ = sk.precision_recall_curve(y, p, sample_weight=w)
    precision[-1] = 0.0  # above every score nothing is predicted: Keras' precision is 0 there, not 1
    got = feed(metrics.AUC(curve="PR", summation_method=method), y, p, w)
    assert got == pytest.approx(_riemann(recall, precision, method), rel=1e-12)


def _precision_d_recall(x, tp, pos, a, total):
    """precision * d(recall)/dx at x predicted positives, tp linear in x between thresholds a + 1 and a."""
    slope = (tp[a] - tp[a + 1]) / (pos[a] - pos[a + 1])
    return (tp[a + 1] + slope * (x - pos[a + 1])) / x * slope / total


def test_pr_interpolation_integrates_precision_with_tp_linear_between_thresholds(binary_scores, feed):
    y, p, w = binary_scores
    n = 20
    thresholds = np.concatenate([[-1e-7], np.arange(1, n - 1) / (n - 1), [1 + 1e-7]])
    tp = np.array([w[(p > t) & (y == 1)].sum() for t in thresholds])
    pos = np.array([w[p > t].sum() for t in thresholds])
    total = w[y == 1].sum()
    expected = 0.0
    for a in range(n - 1):
        if pos[a] == pos[a + 1]:
            continue  # no width
        expected += integrate.quad(_precision_d_recall, pos[a + 1], pos[a], args=(tp, pos, a, total), epsabs=1e-13)[0]
    got = feed(metrics.AUC(num_thresholds=n, curve="pr"), y, p, w)
    assert got == pytest.approx(expected, rel=1e-9)
    assert got == pytest.approx(sk.average_precision_score(y, p, sample_weight=w), abs=0.03)


def test_keras_documented_example_and_logits():
    m = metrics.AUC(num_thresholds=3)
    assert m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]) == pytest.approx(0.75)
    m.reset_state()
    assert m([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1]) == pytest.approx(1.0)
    logits = np.array([-3.0, 0.2, -0.1, 2.5, 40.0, -40.0])
    y = [0, 0, 1, 1, 1, 0]
    assert metrics.AUC(from_logits=True)(y, logits) == metrics.AUC()(y, 1 / (1 + np.exp(-logits)))


def test_given_thresholds_bin_the_scores(binary_scores, feed):
    y, p, w = binary_scores
    binned = (p > 0.3).astype(int) + (p > 0.6)
    m = metrics.AUC(thresholds=[0.6, 0.3])
    assert m.num_thresholds == 4 and m.thresholds == [-1e-7, 0.3, 0.6, 1 + 1e-7]
    assert feed(m, y, p, w) == pytest.approx(sk.roc_auc_score(y, binned, sample_weight=w), rel=1e-12)


def test_multi_label_averages_per_label_areas(feed):
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, (120, 3))
    p = (rng.integers(0, 150, (120, 3)) + 49 * y + 0.5) / 199
    w = rng.uniform(0, 2, 120)
    per_label = sk.roc_auc_score(y, p, average=None, sample_weight=w)
    assert feed(metrics.AUC(multi_label=True), y, p, w) == pytest.approx(per_label.mean(), rel=1e-12)
    lw = [0.2, 1.0, 3.0]
    got = feed(metrics.AUC(multi_label=True, num_labels=3, label_weights=lw), y, p, w)
    assert got == pytest.approx(np.average(per_label, weights=lw), rel=1e-12)
    # Pooled (multi_label=False): label_weights weigh each label's entries.
    pooled = sk.roc_auc_score(y.ravel(), p.ravel(), sample_weight=(w[:, None] * lw).ravel())
    assert feed(metrics.AUC(label_weights=lw), y, p, w) == pytest.approx(pooled, rel=1e-12)


def test_config_round_trip_and_keras_keys():
    m = metrics.AUC(curve="PR", summation_method="majoring", thresholds=[0.2, 0.7], multi_label=True, num_labels=2)
    assert m.get_config() == {
        "name": "auc",
        "dtype": None,
        "num_thresholds": 4,
        "curve": "PR",
        "summation_method": "majoring",
        "multi_label": True,
        "num_labels": 2,
        "label_weights": None,
        "from_logits": False,
        "thresholds": [0.2, 0.7],
    }
    again = metrics.deserialize(metrics.serialize(m))
    assert again.get_config() == m.get_config()
    y, p = np.array([[0, 1], [1, 1], [1, 0]]), np.array([[0.1, 0.8], [0.6, 0.3], [0.9, 0.5]])
    assert again(y, p) == m(y, p)
    m = metrics.AUC(multi_label=True)
    m.update_state(y, p)
    assert m.get_config()["num_labels"] is None  # the constructor's value, as Keras


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"curve": "XY"}, r"curve must be one of \['ROC', 'PR'\], got 'XY'"),
        ({"summation_method": "simpson"}, "summation_method must be one of"),
        ({"num_labels": 3}, "num_labels is only for multi_label=True, got num_labels=3"),
        ({"label_weights": [1.0, -1.0]}, r"label_weights must be finite numbers >= 0, got \[1.0, -1.0\]"),
        ({"thresholds": [0.5, float("inf")]}, "threshold must be a finite number, got inf"),
        ({"num_thresholds": 1}, "num_thresholds must be an integer > 1, got 1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.AUC(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"shape \(batch_size, 2\) with labels, got \(4,\)"):
        metrics.AUC(multi_label=True, num_labels=2).update_state(np.ones(4), np.ones(4) * 0.5)
    with pytest.raises(ValueError, match="one weight per label"):
        metrics.AUC(label_weights=[1.0]).update_state(np.ones((2, 2)), np.ones((2, 2)) * 0.5)
