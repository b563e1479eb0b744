"""Confusion-count metrics against scikit-learn: counts, precision/recall, the *At* family."""

import numpy as np
import pytest

from ranvier.api import metrics

sk = pytest.importorskip("sklearn.metrics")

COUNTS = {
    "tn": metrics.TrueNegatives,
    "fp": metrics.FalsePositives,
    "fn": metrics.FalseNegatives,
    "tp": metrics.TruePositives,
}


def _sk_counts(y, p, t, w=None):
    tn, fp, fn, tp = sk.confusion_matrix(y, p > t, sample_weight=w, labels=[0, 1]).ravel()
    return {"tn": tn, "fp": fp, "fn": fn, "tp": tp}


@pytest.mark.parametrize("cell", list(COUNTS))
def test_counts_match_sklearn_confusion_matrix(binary_scores, feed, cell):
    y, p, w = binary_scores
    assert feed(COUNTS[cell](), y, p) == _sk_counts(y, p, 0.5)[cell]
    assert feed(COUNTS[cell](thresholds=0.3), y, p[:, None], w) == pytest.approx(
        _sk_counts(y, p, 0.3, w)[cell], rel=1e-12
    )


@pytest.mark.parametrize("cell", list(COUNTS))
def test_counts_with_a_list_of_thresholds_give_a_vector_in_their_order(binary_scores, feed, cell):
    y, p, w = binary_scores
    thresholds = [0.9, 0.2, 0.55]
    got = feed(COUNTS[cell](thresholds=thresholds), y, p, w, batch=11)
    assert isinstance(got, np.ndarray) and got.shape == (3,)
    np.testing.assert_allclose(got, [_sk_counts(y, p, t, w)[cell] for t in thresholds], rtol=1e-12)
    # A list of one threshold gives a float, as in Keras.
    assert isinstance(feed(COUNTS[cell](thresholds=[0.2]), y, p), float)


def test_counts_of_multilabel_outputs_pool_every_entry_with_per_sample_weights():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (40, 3))
    p = rng.random((40, 3))
    w = rng.uniform(0, 1, 40)
    m = metrics.TruePositives(thresholds=[0.25, 0.75])
    m.update_state(y, p, sample_weight=w)
    flat_w = np.repeat(w, 3)
    expected = [_sk_counts(y.ravel(), p.ravel(), t, flat_w)["tp"] for t in (0.25, 0.75)]
    np.testing.assert_allclose(m.result(), expected, rtol=1e-12)


def test_keras_documented_examples():
    m = metrics.TruePositives()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == 2.0
    m.reset_state()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0
    assert metrics.FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1]) == 2.0
    assert metrics.TrueNegatives()([0, 1, 0, 0], [1, 1, 0, 0]) == 2.0
    assert metrics.FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0]) == 2.0
    assert metrics.Precision(top_k=2)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.0
    assert metrics.Precision(top_k=4)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.5
    x, s = [0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]
    assert metrics.SensitivityAtSpecificity(0.5)(x, s) == pytest.approx(0.5)
    assert metrics.SensitivityAtSpecificity(0.5)(x, s, sample_weight=[1, 1, 2, 2, 1]) == pytest.approx(1 / 3)
    assert metrics.SpecificityAtSensitivity(0.5)(x, s) == pytest.approx(2 / 3)
    assert metrics.SpecificityAtSensitivity(0.5)(x, s, sample_weight=[1, 1, 2, 2, 2]) == pytest.approx(0.5)
    assert metrics.PrecisionAtRecall(0.5)(x, s) == pytest.approx(0.5)
    assert metrics.PrecisionAtRecall(0.5)(x, s, sample_weight=[2, 2, 2, 1, 1]) == pytest.approx(1 / 3)
    x, s = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9]
    assert metrics.RecallAtPrecision(0.8)(x, s) == pytest.approx(0.5)
    assert metrics.RecallAtPrecision(0.8)(x, s, sample_weight=[1, 0, 0, 1]) == pytest.approx(1.0)


@pytest.mark.parametrize("cls, fn", [(metrics.Precision, sk.precision_score), (metrics.Recall, sk.recall_score)])
def test_precision_recall_with_a_list_of_thresholds(binary_scores, feed, cls, fn):
    y, p, w = binary_scores
    thresholds = [0.1, 0.5, 0.97]
    got = feed(cls(thresholds=thresholds), y, p, w)
    expected = [fn(y, p > t, sample_weight=w, zero_division=0) for t in thresholds]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def _top_k_rows(p, k):
    """Column ids of the k largest entries of each row, ties to the lower id."""
    return [sorted(range(len(row)), key=lambda j: (-row[j], j))[:k] for row in p]


@pytest.mark.parametrize("k", [1, 2])
def test_precision_recall_top_k_follow_the_formula(k):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (30, 5))
    p = np.round(rng.random((30, 5)), 1)  # ties included
    tp = fp = 0
    for row, top in enumerate(_top_k_rows(p, k)):
        tp += y[row, top].sum()
        fp += (1 - y[row, top]).sum()
    assert metrics.Precision(top_k=k)(y, p) == pytest.approx(tp / (tp + fp), rel=1e-12)
    assert metrics.Recall(top_k=k)(y, p) == pytest.approx(tp / y.sum(), rel=1e-12)
    # With a threshold, a top-k entry must also exceed it; class_id looks at one column.
    hits = [(r, j) for r, top in enumerate(_top_k_rows(p, k)) for j in top if p[r, j] > 0.5 and j == 2]
    tp = sum(y[r, j] for r, j in hits)
    assert metrics.Precision(thresholds=0.5, top_k=k, class_id=2)(y, p) == pytest.approx(
        tp / len(hits) if hits else 0.0, rel=1e-12
    )


def _roc(y, p, w):
    fpr, tpr, _ = sk.roc_curve(y, p, sample_weight=w, drop_intermediate=False)
    return 1 - fpr, tpr  # specificity, sensitivity


def _pr(y, p, w):
    precision, recall, _ = sk.precision_recall_curve(y, p, sample_weight=w)
    return precision, recall


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("value", [0.3123, 0.6789, 0.9351])
def test_at_metrics_match_sklearn_curves(binary_scores, feed, weighted, value):
    # Every score lies strictly between two of the 200 thresholds, so the thresholded
    # curves hold every point of scikit-learn's exact ones, and no other.
    y, p, w = binary_scores
    w = w if weighted else None
    spec, sens = _roc(y, p, w)
    precision, recall = _pr(y, p, w)
    cases = [
        (metrics.SensitivityAtSpecificity(value), sens[spec >= value].max()),
        (metrics.SpecificityAtSensitivity(value), spec[sens >= value].max()),
        (metrics.PrecisionAtRecall(value), precision[recall >= value].max()),
        (metrics.RecallAtPrecision(value), recall[precision >= value].max()),
    ]
    for metric, expected in cases:
        assert feed(metric, y, p, w) == pytest.approx(expected, rel=1e-12), type(metric).__name__


def test_at_metrics_class_id_and_unreachable_constraints(binary_scores):
    y, p, w = binary_scores
    rng = np.random.default_rng(5)
    y3 = np.stack([rng.integers(0, 2, len(y)), y, rng.integers(0, 2, len(y))], 1)
    p3 = np.stack([rng.random(len(y)), p, rng.random(len(y))], 1)
    precision, recall = _pr(y, p, w)
    m = metrics.PrecisionAtRecall(0.7, class_id=1)
    m.update_state(y3, p3, sample_weight=w)
    assert m.result() == pytest.approx(precision[recall >= 0.7].max(), rel=1e-12)
    # Precision 1 cannot be reached when the top score is a negative: recall 0.
    assert metrics.RecallAtPrecision(1.0)([1, 0, 1], [0.2, 0.9, 0.4]) == 0.0
    assert metrics.PrecisionAtRecall(0.5, num_thresholds=1)([1, 0], [0.7, 0.2]) == 1.0


def test_auc_shares_the_counts_and_matches_sklearn(binary_scores, feed):
    y, p, w = binary_scores
    m = metrics.AUC()
    assert feed(m, y, p, w) == pytest.approx(sk.roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert m.true_positives[0] == pytest.approx(w[y == 1].sum(), rel=1e-12)


@pytest.mark.parametrize(
    "metric",
    [
        metrics.TruePositives(thresholds=[0.2, 0.7]),
        metrics.FalseNegatives(thresholds=0.4, name="fn"),
        metrics.Precision(thresholds=[0.1, 0.5], class_id=1),
        metrics.Recall(top_k=2, dtype="float64"),
        metrics.SensitivityAtSpecificity(0.4, num_thresholds=50, class_id=0),
        metrics.SpecificityAtSensitivity(0.6),
        metrics.PrecisionAtRecall(0.8, name="p_at_r"),
        metrics.RecallAtPrecision(0.3, num_thresholds=10),
    ],
)
def test_config_round_trip_gives_the_same_results(metric):
    config = metrics.serialize(metric)
    again = metrics.deserialize(config)
    assert type(again) is type(metric) and again.get_config() == metric.get_config()
    rng = np.random.default_rng(9)
    y, p = rng.integers(0, 2, (20, 3)), rng.random((20, 3))
    np.testing.assert_array_equal(metric(y, p), again(y, p))


def test_keras_config_keys():
    assert metrics.TruePositives(thresholds=[0.5]).get_config() == {
        "name": "true_positives",
        "dtype": None,
        "thresholds": [0.5],
    }
    assert metrics.PrecisionAtRecall(0.5).get_config() == {
        "name": "precision_at_recall",
        "dtype": None,
        "class_id": None,
        "num_thresholds": 200,
        "recall": 0.5,
    }
    assert set(metrics.Precision().get_config()) == {"name", "dtype", "thresholds", "top_k", "class_id"}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: metrics.TruePositives(thresholds=float("nan")), "threshold must be a finite number, got nan"),
        (lambda: metrics.FalsePositives(thresholds=[]), r"thresholds must be a number or a non-empty list"),
        (lambda: metrics.Precision(top_k=0), "top_k must be a positive integer, got 0"),
        (lambda: metrics.Recall(class_id=-1), "class_id must be a non-negative integer, got -1"),
        (lambda: metrics.PrecisionAtRecall(1.5), r"recall must be a number in \[0, 1\], got 1.5"),
        (lambda: metrics.RecallAtPrecision(-0.1), r"precision must be a number in \[0, 1\], got -0.1"),
        (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0), "num_thresholds must be a positive"),
        (lambda: metrics.SpecificityAtSensitivity("0.5"), "sensitivity must be a number"),
        (lambda: metrics.TruePositives(dtype="string"), "dtype must be None or a numeric dtype name"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"class_id must index the last axis of y_pred shape \(2, 3\), got 3$"):
        metrics.Precision(class_id=3).update_state(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="y_pred must not contain NaN"):
        metrics.TruePositives().update_state([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="must have the same shape"):
        metrics.FalseNegatives().update_state(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="sample_weight must be a scalar or have the leading shape"):
        metrics.TrueNegatives().update_state([1, 0], [0.1, 0.2], sample_weight=[1, 2, 3])
