import math

import numpy as np
import pytest

from ranvier.api import metrics

sk = pytest.importorskip("sklearn.metrics")


def _batched(metric, y_true, y_pred, sample_weight=None, batch=7):
    """Feed the data to the metric in batches; return the result."""
    metric.reset_state()
    for a in range(0, len(y_true), batch):
        sw = None if sample_weight is None else sample_weight[a : a + batch]
        metric.update_state(y_true[a : a + batch], y_pred[a : a + batch], sample_weight=sw)
    return metric.result()


@pytest.fixture
def classes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 103)
    probs = rng.dirichlet(np.ones(4), 103).astype(np.float32)
    weights = rng.uniform(0, 2, 103)
    return labels, probs, weights


# ------------------------------------------------------------- accuracies
@pytest.mark.parametrize("batch", [1, 7, 103])
def test_sparse_categorical_accuracy_matches_sklearn_for_any_batch_size(classes, batch):
    labels, probs, weights = classes
    expected = sk.accuracy_score(labels, probs.argmax(1))
    m = metrics.SparseCategoricalAccuracy()
    assert _batched(m, labels, probs, batch=batch) == expected
    assert _batched(m, labels[:, None], probs, batch=batch) == expected
    expected_w = sk.accuracy_score(labels, probs.argmax(1), sample_weight=weights)
    assert _batched(m, labels, probs, weights, batch=batch) == pytest.approx(expected_w, rel=1e-12)


def test_categorical_accuracy_matches_sklearn(classes):
    labels, probs, weights = classes
    onehot = np.eye(4, dtype=np.float32)[labels]
    m = metrics.CategoricalAccuracy()
    assert _batched(m, onehot, probs) == sk.accuracy_score(labels, probs.argmax(1))
    assert _batched(m, onehot, probs, weights) == pytest.approx(
        sk.accuracy_score(labels, probs.argmax(1), sample_weight=weights), rel=1e-12
    )


def test_categorical_accuracy_rejects_integer_labels(classes):
    labels, probs, _ = classes
    with pytest.raises(ValueError, match="one-hot"):
        metrics.CategoricalAccuracy().update_state(labels, probs)


def test_sparse_accuracy_rejects_wrong_label_shape(classes):
    labels, probs, _ = classes
    with pytest.raises(ValueError, match=r"y_true shape \(103, 2\)"):
        metrics.SparseCategoricalAccuracy().update_state(np.stack([labels, labels], 1), probs)


def test_sparse_accuracy_on_sequences():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, (5, 6))
    p = rng.random((5, 6, 3))
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y, p)
    assert m.result() == pytest.approx(np.mean(p.argmax(-1) == y), rel=1e-12)


@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_accuracy_matches_sklearn(threshold):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 50)
    p = rng.random(50).astype(np.float32)
    expected = sk.accuracy_score(y, p > threshold)
    m = metrics.BinaryAccuracy(threshold=threshold)
    assert _batched(m, y, p[:, None]) == expected  # labels (N,), output (N, 1)
    assert _batched(m, y[:, None].astype(np.float32), p[:, None]) == expected


def test_binary_accuracy_multilabel_is_mean_over_labels():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (20, 5))
    p = rng.random((20, 5))
    w = rng.uniform(0, 1, 20)
    per_sample = np.mean(y == (p > 0.5), axis=1)
    m = metrics.BinaryAccuracy()
    assert _batched(m, y, p, w) == pytest.approx(np.average(per_sample, weights=w), rel=1e-12)


def test_accuracy_is_exact_equality():
    y = np.array([1, 2, 3, 4])
    m = metrics.Accuracy()
    m.update_state(y, np.array([1, 2, 0, 4]))
    assert m.result() == 0.75


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracies_match_sklearn(classes, k):
    labels, probs, weights = classes
    expected = sk.top_k_accuracy_score(labels, probs, k=k, labels=range(4))
    assert _batched(metrics.SparseTopKCategoricalAccuracy(k=k), labels, probs) == pytest.approx(expected)
    onehot = np.eye(4)[labels]
    assert _batched(metrics.TopKCategoricalAccuracy(k=k), onehot, probs) == pytest.approx(expected)
    expected_w = sk.top_k_accuracy_score(labels, probs, k=k, labels=range(4), sample_weight=weights)
    assert _batched(metrics.SparseTopKCategoricalAccuracy(k=k), labels, probs, weights) == pytest.approx(expected_w)


def test_top_k_ties_at_the_boundary_count_as_in():
    # Class 1 ties with class 0 for the top score: both are "in the top 1" (TensorFlow's in_top_k rule).
    p = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.5, 0.3, 0.2]])
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state(np.array([0, 1, 1]), p)
    assert m.result() == pytest.approx(2 / 3)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_top_k_rejects_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metrics.TopKCategoricalAccuracy(k=k)


# ------------------------------------------------------------- regression
def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(40, 3))
    p = rng.normal(size=(40, 3)).astype(np.float32)
    w = rng.uniform(0, 2, 40)
    assert _batched(metrics.MeanAbsoluteError(), y, p) == pytest.approx(sk.mean_absolute_error(y, p), rel=1e-12)
    assert _batched(metrics.MeanSquaredError(), y, p, w) == pytest.approx(
        sk.mean_squared_error(y, p, sample_weight=w), rel=1e-12
    )
    assert _batched(metrics.RootMeanSquaredError(), y, p, w) == pytest.approx(
        math.sqrt(sk.mean_squared_error(y, p, sample_weight=w)), rel=1e-12
    )


def test_regression_accepts_labels_against_single_output():
    y = np.array([1.0, 2.0, 3.0])
    p = np.array([[1.5], [2.0], [2.0]])
    m = metrics.MeanAbsoluteError()
    m.update_state(y, p)
    assert m.result() == pytest.approx(0.5)


def test_regression_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match=r"same shape, got \(4, 2\) and \(4, 3\)"):
        metrics.MeanSquaredError().update_state(np.zeros((4, 2)), np.zeros((4, 3)))


def test_results_do_not_depend_on_batch_size_in_float32():
    rng = np.random.default_rng(5)
    y = rng.normal(size=(1000, 2)).astype(np.float32)
    p = rng.normal(size=(1000, 2)).astype(np.float32)
    one = _batched(metrics.MeanSquaredError(), y, p, batch=1000)
    assert _batched(metrics.MeanSquaredError(), y, p, batch=1) == pytest.approx(one, rel=1e-13)
    assert one == pytest.approx(np.mean((p.astype(np.float64) - y) ** 2), rel=1e-13)


# -------------------------------------------------------------- confusion
@pytest.mark.parametrize("cls, fn", [("Precision", "precision_score"), ("Recall", "recall_score")])
def test_precision_recall_match_sklearn(cls, fn):
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 60)
    p = rng.random(60)
    w = rng.uniform(0, 2, 60)
    m = getattr(metrics, cls)()
    assert _batched(m, y, p[:, None]) == pytest.approx(getattr(sk, fn)(y, p > 0.5))
    assert _batched(m, y, p[:, None], w) == pytest.approx(getattr(sk, fn)(y, p > 0.5, sample_weight=w))
    m = getattr(metrics, cls)(thresholds=0.7)
    assert _batched(m, y, p) == pytest.approx(getattr(sk, fn)(y, p > 0.7))


def test_precision_class_id_is_one_vs_rest(classes):
    labels, probs, _ = classes
    m = metrics.Precision(class_id=2)
    m.update_state(np.eye(4)[labels], probs)
    assert m.result() == pytest.approx(sk.precision_score(labels == 2, probs[:, 2] > 0.5))
    with pytest.raises(ValueError, match="class_id must index .*, got 7$"):
        metrics.Precision(class_id=7).update_state(np.eye(4)[labels], probs)


def test_precision_without_positive_predictions_is_zero():
    m = metrics.Precision()
    m.update_state(np.array([1, 0]), np.array([0.1, 0.2]))
    assert m.result() == 0.0


# ------------------------------------------------------------------- Mean
def test_mean_weighted_and_scalar_updates():
    m = metrics.Mean(name="loss")
    m.update_state(2.0, sample_weight=32)  # the model's use: batch loss weighted by batch size
    m.update_state(0.5, sample_weight=8)
    assert m.result() == pytest.approx((2.0 * 32 + 0.5 * 8) / 40)
    m.update_state(np.array([1.0, 3.0]))
    assert m.result() == pytest.approx((2.0 * 32 + 0.5 * 8 + 4.0) / 42)
    m.reset_state()
    assert m.result() == 0.0 and m.name == "loss"


def test_mean_float_updates_match_array_updates_exactly():
    """Plain floats take a shortcut (the loss tracker, every step): same float64 totals as arrays."""
    rng = np.random.default_rng(0)
    fast, slow = metrics.Mean(), metrics.Mean()
    for v, w in zip(rng.standard_normal(50) * 1e3, rng.integers(1, 500, 50)):
        fast.update_state(float(v), sample_weight=float(w))
        slow.update_state(np.array(v), sample_weight=np.array(w))
    fast.update_state(np.float64(0.1))
    slow.update_state(np.array([0.1]))
    assert (fast.total, fast.count) == (slow.total, slow.count)
    fast.update_state(float("nan"), sample_weight=2.0)
    assert math.isnan(fast.result()) and fast.count == slow.count + 2.0


@pytest.mark.parametrize(
    "values",
    [
        np.linspace(-3.0, 7.0, 1001),
        np.linspace(-3.0, 7.0, 2002)[::2],
        np.arange(24.0).reshape(4, 3, 2) / 7,
        np.array(0.3),
        np.zeros(0),
    ],
)
def test_mean_unweighted_matches_unit_weights_exactly(values):
    unweighted, ones = metrics.Mean(), metrics.Mean()
    unweighted.update_state(values)
    ones.update_state(values, sample_weight=np.ones(values.shape[:1]))
    assert (unweighted.total, unweighted.count) == (ones.total, ones.count)


def test_mean_reduces_values_to_one_per_sample():
    values = np.arange(12.0).reshape(4, 3)
    w = np.array([1.0, 0.0, 2.0, 1.0])
    m = metrics.Mean()
    m.update_state(values, sample_weight=w)
    assert m.result() == pytest.approx(np.average(values.mean(1), weights=w))
    with pytest.raises(ValueError, match=r"sample_weight .* got shape \(3,\)"):
        m.update_state(values, sample_weight=np.ones(3))


def test_mean_rejects_non_numeric():
    with pytest.raises(TypeError, match="values must be numeric"):
        metrics.Mean().update_state(np.array(["a"]))


# ------------------------------------------------------------------- get
@pytest.mark.parametrize(
    "loss, shape, expected",
    [
        ("sparse_categorical_crossentropy", (None, 10), "SparseCategoricalAccuracy"),
        ("categorical_crossentropy", (None, 10), "CategoricalAccuracy"),
        ("binary_crossentropy", (None, 5), "BinaryAccuracy"),
        ("mse", (None, 1), "BinaryAccuracy"),
        ("SparseCategoricalCrossentropy", None, "SparseCategoricalAccuracy"),
    ],
)
def test_accuracy_resolves_from_loss_and_output(loss, shape, expected):
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss_name=loss, output_shape=shape)
        assert type(m).__name__ == expected
        assert m.name == name


def test_accuracy_without_hints_resolves_from_the_first_batch(classes):
    labels, probs, _ = classes
    sparse = metrics.get("accuracy", loss_name="mse", output_shape=(None, 4))
    assert _batched(sparse, labels, probs) == sk.accuracy_score(labels, probs.argmax(1))
    onehot = metrics.get("accuracy")
    assert _batched(onehot, np.eye(4)[labels], probs) == sk.accuracy_score(labels, probs.argmax(1))
    binary = metrics.get("accuracy")
    y = (labels > 1).astype(np.float32)[:, None]
    assert _batched(binary, y, probs[:, :1]) == sk.accuracy_score(y[:, 0], probs[:, 0] > 0.5)
    assert metrics.get("accuracy").result() == 0.0


def test_loss_object_with_name_is_accepted():
    class Loss:
        name = "categorical_crossentropy"

    assert isinstance(metrics.get("accuracy", loss_name=Loss()), metrics.CategoricalAccuracy)


@pytest.mark.parametrize(
    "identifier, cls",
    [
        ("mae", metrics.MeanAbsoluteError),
        ("MAE", metrics.MeanAbsoluteError),
        ("mean_absolute_error", metrics.MeanAbsoluteError),
        ("mse", metrics.MeanSquaredError),
        ("mean_squared_error", metrics.MeanSquaredError),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
        ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
        ("categorical_accuracy", metrics.CategoricalAccuracy),
        ("binary_accuracy", metrics.BinaryAccuracy),
        ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
        ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
        ("precision", metrics.Precision),
        ("recall", metrics.Recall),
        ("MeanSquaredError", metrics.MeanSquaredError),
    ],
)
def test_get_names_the_metric_after_the_string(identifier, cls):
    m = metrics.get(identifier)
    assert type(m) is cls
    assert m.name == identifier  # the Keras 3 history key


def test_default_names_are_keras_names():
    assert metrics.SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"
    assert metrics.TopKCategoricalAccuracy().name == "top_k_categorical_accuracy"
    assert metrics.MeanAbsoluteError().name == "mean_absolute_error"
    assert metrics.RootMeanSquaredError().name == "root_mean_squared_error"
    assert metrics.Precision().name == "precision"


def test_get_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match=r"Unknown metric: 'f1'.*mae.*sparse_categorical_accuracy"):
        metrics.get("f1")
    with pytest.raises(TypeError, match="metric must be"):
        metrics.get(3)


def test_get_passes_instances_and_wraps_functions():
    m = metrics.MeanAbsoluteError(name="my_mae")
    assert metrics.get(m) is m
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)

    def max_error(y_true, y_pred):
        return np.max(np.abs(y_true - y_pred), axis=-1)

    w = metrics.get(max_error)
    assert w.name == "max_error"
    w.update_state(np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 0.0]]))
    assert w.result() == pytest.approx(2.5)


@pytest.mark.parametrize(
    "metric",
    [
        metrics.BinaryAccuracy(threshold=0.3),
        metrics.SparseTopKCategoricalAccuracy(k=2, name="top2"),
        metrics.Precision(thresholds=0.6, class_id=1),
        metrics.RootMeanSquaredError(),
        metrics.Mean(name="loss"),
        metrics.AUC(num_thresholds=50),
    ],
)
def test_serialize_round_trip(metric):
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric)
    assert again.get_config() == metric.get_config()
    assert metrics.get(metrics.serialize(metric)).get_config() == metric.get_config()


def test_deserialize_unknown_class():
    with pytest.raises(ValueError, match="Unknown metric: 'NoSuchMetric'"):
        metrics.deserialize({"class_name": "NoSuchMetric", "config": {}})


def test_directions():
    assert metrics.get("accuracy").direction == "up"
    assert metrics.get("mae").direction == "down"
    assert metrics.Mean().direction is None


def test_call_updates_and_returns_result():
    m = metrics.BinaryAccuracy()
    assert m(np.array([1, 0]), np.array([0.9, 0.8])) == 0.5
    assert m(np.array([1, 1]), np.array([0.9, 0.8])) == 0.75


def test_bad_inputs():
    with pytest.raises(TypeError, match="y_pred must be numeric"):
        metrics.BinaryAccuracy().update_state(np.array([1]), np.array(["x"]))
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        metrics.BinaryAccuracy(threshold=float("nan"))
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        metrics.Mean(name="")


# -------------------------------------------------------------------- AUC
def test_auc_is_exact_when_scores_fall_between_thresholds():
    # Each distinct score lies strictly between two thresholds, so the thresholded ROC
    # curve has every point of the exact one, ties included.
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    p = (rng.integers(0, 9, 300) + 0.5 + 3 * y) / 12 / 1.01
    w = rng.uniform(0, 2, 300)
    m = metrics.AUC(num_thresholds=13)
    assert _batched(m, y, p[:, None], w) == pytest.approx(sk.roc_auc_score(y, p, sample_weight=w), abs=1e-12)


def test_auc_approximates_sklearn_on_continuous_scores():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    assert _batched(metrics.AUC(), y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=2e-3)
    assert metrics.get("auc").name == "auc" and metrics.AUC().result() == 0.0


def test_auc_rejects_scores_outside_unit_interval():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got values in \[-0.5, 2.0\]"):
        metrics.AUC().update_state(np.array([0, 1]), np.array([-0.5, 2.0]))
    with pytest.raises(ValueError, match="num_thresholds must be an integer > 1, got 1"):
        metrics.AUC(num_thresholds=1)
