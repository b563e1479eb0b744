"""F-scores, R2 and IoU metrics against scikit-learn, streamed over batches with weights."""

import warnings

import numpy as np
import pytest

from ranvier.api import metrics

sk = pytest.importorskip("sklearn.metrics")


@pytest.fixture
def multilabel():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (89, 4))
    y[:, 3] = 0  # a class with no positives at all
    p = rng.random((89, 4)).astype(np.float32)
    w = rng.uniform(0, 2, 89)
    return y, p, w


# ---------------------------------------------------------------- F-scores
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_fbeta_matches_sklearn_with_a_threshold(multilabel, feed, average, beta):
    y, p, w = multilabel
    predicted = (p > 0.4).astype(int)
    expected = sk.fbeta_score(y, predicted, beta=beta, average=average, sample_weight=w, zero_division=0)
    got = feed(metrics.FBetaScore(average=average, beta=beta, threshold=0.4), y, p, w)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_without_threshold_takes_the_row_argmax(multilabel, feed, average):
    y, p, _ = multilabel
    labels = np.argmax(np.random.default_rng(4).random((len(y), 4)), 1)
    onehot = np.eye(4)[labels]
    expected = sk.f1_score(labels, p.argmax(1), labels=range(4), average=average, zero_division=0)
    np.testing.assert_allclose(feed(metrics.F1Score(average=average), onehot, p, batch=10), expected, rtol=1e-12)


def test_f1_keras_documented_example():
    y = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]])
    p = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
    np.testing.assert_allclose(metrics.F1Score(threshold=0.5)(y, p), [0.5, 0.8, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(
        metrics.FBetaScore(beta=2.0, threshold=0.5)(y, p), [0.3846154, 0.90909094, 0.8333334], rtol=1e-6
    )


def test_fscore_config_and_bad_arguments():
    m = metrics.F1Score(average="macro", threshold=0.3)
    assert m.get_config() == {"name": "f1_score", "dtype": None, "average": "macro", "threshold": 0.3}
    assert metrics.deserialize(metrics.serialize(m)).get_config() == m.get_config()
    fb = metrics.FBetaScore(beta=2.0)
    assert metrics.deserialize(metrics.serialize(fb)).get_config() == fb.get_config()
    with pytest.raises(ValueError, match="average must be one of .*, got 'mean'"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="beta must be a finite number > 0, got 0"):
        metrics.FBetaScore(beta=0)
    with pytest.raises(ValueError, match=r"threshold must be None or a number in \(0, 1\], got 1.5"):
        metrics.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match=r"shape \(batch_size, classes\), got \(4,\)"):
        metrics.F1Score().update_state(np.ones(4), np.ones(4))
    m = metrics.F1Score()
    m.update_state(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="keep its 3 classes"):
        m.update_state(np.ones((2, 2)), np.ones((2, 2)))


# ---------------------------------------------------------------------- R2
@pytest.fixture
def regression():
    rng = np.random.default_rng(6)
    y = rng.normal(size=(97, 3)) * [1.0, 3.0, 0.5]
    p = y + rng.normal(size=(97, 3)) * [0.5, 1.0, 0.4]
    w = rng.uniform(0, 2, 97)
    return y, p, w


@pytest.mark.parametrize(
    "aggregation, multioutput",
    [("uniform_average", "uniform_average"), ("variance_weighted_average", "variance_weighted"), (None, "raw_values")],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_matches_sklearn(regression, feed, aggregation, multioutput, weighted):
    y, p, w = regression
    w = w if weighted else None
    expected = sk.r2_score(y, p, sample_weight=w, multioutput=multioutput)
    got = feed(metrics.R2Score(class_aggregation=aggregation), y, p, w, batch=13)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_r2_single_output_and_adjusted_score(regression, feed):
    y, p, _ = regression
    y1, p1 = y[:, 0], p[:, :1]  # labels (N,) against an output (N, 1)
    r2 = sk.r2_score(y1, p1[:, 0])
    assert feed(metrics.R2Score(), y1, p1) == pytest.approx(r2, rel=1e-10)
    n, k = len(y1), 4
    adjusted = 1 - (1 - r2) * (n - 1) / (n - k - 1)
    assert feed(metrics.R2Score(num_regressors=k), y1, p1) == pytest.approx(adjusted, rel=1e-10)
    with pytest.warns(UserWarning, match="plain R2 score"):
        assert feed(metrics.R2Score(num_regressors=n), y1, p1) == pytest.approx(r2, rel=1e-10)


def test_r2_keras_documented_example_config_and_errors():
    assert metrics.R2Score()([[1], [4], [3]], [[2], [4], [4]]) == pytest.approx(0.57142854, rel=1e-6)
    m = metrics.R2Score(class_aggregation=None, num_regressors=2)
    assert m.get_config() == {"name": "r2_score", "dtype": None, "class_aggregation": None, "num_regressors": 2}
    assert metrics.deserialize(metrics.serialize(m)).get_config() == m.get_config()
    with pytest.raises(ValueError, match="class_aggregation must be one of .*, got 'mean'"):
        metrics.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError, match="num_regressors must be a non-negative integer, got -1"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match=r"shape \(batch_size, outputs\)"):
        metrics.R2Score().update_state(np.ones((2, 3, 4)), np.ones((2, 3, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.R2Score().result() == 0.0


# --------------------------------------------------------------------- IoU
@pytest.fixture
def segmentation():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 4, (12, 5, 5))
    y[y == 3] = 2  # class 3 never occurs in y_true...
    p = rng.integers(0, 3, (12, 5, 5))  # ...nor in y_pred: it is left out of the means
    w = rng.uniform(0, 2, 12)
    return y, p, w


def _jaccard(y, p, w):
    """Per-class IoU from scikit-learn, pixel weights from per-image weights."""
    pixel_w = np.repeat(w, y[0].size)
    return sk.jaccard_score(y.ravel(), p.ravel(), labels=range(4), average=None, sample_weight=pixel_w, zero_division=0)


def test_iou_and_mean_iou_match_sklearn_jaccard(segmentation, feed):
    y, p, w = segmentation
    per_class = _jaccard(y, p, w)
    assert feed(metrics.IoU(4, target_class_ids=[1]), y, p, w) == pytest.approx(per_class[1], rel=1e-12)
    assert feed(metrics.IoU(4, [0, 2]), y, p, w) == pytest.approx(per_class[[0, 2]].mean(), rel=1e-12)
    assert feed(metrics.IoU(4, [0, 3]), y, p, w) == pytest.approx(per_class[0], rel=1e-12)  # 3 does not occur
    assert feed(metrics.MeanIoU(4), y, p, w) == pytest.approx(per_class[:3].mean(), rel=1e-12)
    unweighted = sk.jaccard_score(y.ravel(), p.ravel(), average="macro")
    assert feed(metrics.MeanIoU(3), y, p) == pytest.approx(unweighted, rel=1e-12)


def test_one_hot_and_dense_forms_agree_with_sparse(segmentation, feed):
    y, p, w = segmentation
    rng = np.random.default_rng(2)
    scores = np.eye(4)[p] + rng.uniform(0, 0.5, p.shape + (4,))  # argmax is p
    onehot = np.eye(4)[y]
    per_class = _jaccard(y, p, w)
    assert feed(metrics.OneHotIoU(4, [0, 1]), onehot, scores, w) == pytest.approx(per_class[:2].mean(), rel=1e-12)
    assert feed(metrics.OneHotMeanIoU(4), onehot, scores, w) == pytest.approx(per_class[:3].mean(), rel=1e-12)
    assert feed(metrics.MeanIoU(4, sparse_y_pred=False), y, scores, w) == pytest.approx(per_class[:3].mean(), rel=1e-12)
    channels_first = np.moveaxis(scores, -1, 1)
    assert feed(metrics.MeanIoU(4, sparse_y_pred=False, axis=1), y, channels_first, w) == pytest.approx(
        per_class[:3].mean(), rel=1e-12
    )


def test_ignore_class_drops_those_entries(segmentation, feed):
    y, p, w = segmentation
    y = y.copy()
    y[:, 0, :] = 255
    keep = y != 255
    pixel_w = np.repeat(w, y[0].size).reshape(y.shape)
    expected = sk.jaccard_score(y[keep], p[keep], labels=range(3), average="macro", sample_weight=pixel_w[keep])
    assert feed(metrics.MeanIoU(3, ignore_class=255), y, p, w) == pytest.approx(expected, rel=1e-12)


def test_binary_iou_thresholds_with_greater_or_equal():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    p = np.round(rng.random(60), 1)
    w = rng.uniform(0, 1, 60)
    per_class = sk.jaccard_score(y, (p >= 0.3).astype(int), average=None, sample_weight=w)
    m = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    assert m(y, p, sample_weight=w) == pytest.approx(per_class.mean(), rel=1e-12)
    # Keras' documented example.
    m = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    assert m([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1]) == pytest.approx(
        0.17361112, rel=1e-6
    )


@pytest.mark.parametrize(
    "metric",
    [
        metrics.IoU(3, [1, 2], ignore_class=0, sparse_y_pred=False),
        metrics.MeanIoU(5, name="miou"),
        metrics.BinaryIoU([1], threshold=0.7),
        metrics.OneHotIoU(3, [0], axis=1),
        metrics.OneHotMeanIoU(4, sparse_y_pred=True),
    ],
)
def test_iou_config_round_trip(metric):
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


def test_iou_keras_config_keys():
    assert metrics.MeanIoU(2).get_config() == {
        "name": "mean_io_u",
        "dtype": None,
        "num_classes": 2,
        "ignore_class": None,
        "sparse_y_true": True,
        "sparse_y_pred": True,
        "axis": -1,
    }
    assert set(metrics.BinaryIoU().get_config()) == {"name", "dtype", "target_class_ids", "threshold"}


def test_iou_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"target_class_ids must hold ids in \[0, 3\), got \[3\]"):
        metrics.IoU(3, [3])
    with pytest.raises(ValueError, match="target_class_ids must be a non-empty list"):
        metrics.IoU(3, [])
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        metrics.MeanIoU(0)
    with pytest.raises(ValueError, match=r"y_true must hold class ids in \[0, 3\), got 5"):
        metrics.MeanIoU(3).update_state([0, 5], [0, 1])
    with pytest.raises(ValueError, match=r"sparse_y_pred=False\), got 0.7"):
        metrics.MeanIoU(3).update_state([0, 1], [0.7, 1.0])
    with pytest.raises(ValueError, match="as many class ids"):
        metrics.MeanIoU(3).update_state([0, 1], [0, 1, 2])
