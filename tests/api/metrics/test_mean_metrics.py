"""Per-sample mean metrics (regression, probabilistic, hinge), Sum, the registry and compile()."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import metrics

sk = pytest.importorskip("sklearn.metrics")
scipy_stats = pytest.importorskip("scipy.stats")
EPS = 1e-7


@pytest.fixture
def positive():
    rng = np.random.default_rng(11)
    y = rng.uniform(0.5, 4.0, (83, 3))
    p = y * rng.uniform(0.6, 1.5, (83, 3))
    w = rng.uniform(0, 2, 83)
    return y, p, w


# -------------------------------------------------------------- regression
def test_mape_matches_sklearn(positive, feed):
    y, p, w = positive
    expected = 100 * sk.mean_absolute_percentage_error(y, p, sample_weight=w)
    assert feed(metrics.MeanAbsolutePercentageError(), y, p, w) == pytest.approx(expected, rel=1e-12)
    # Keras' documented example: targets of 0 divide by eps.
    assert metrics.MeanAbsolutePercentageError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == pytest.approx(2.5e8)


def test_msle_matches_sklearn(positive, feed):
    y, p, w = positive
    expected = sk.mean_squared_log_error(y, p, sample_weight=w)
    assert feed(metrics.MeanSquaredLogarithmicError(), y, p, w) == pytest.approx(expected, rel=1e-12)
    assert metrics.MeanSquaredLogarithmicError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == pytest.approx(
        0.12011322, rel=1e-6
    )


def test_poisson_matches_the_deviance_up_to_a_target_term(positive, feed):
    y, p, w = positive
    y = np.round(y * 3)[:, 0]  # counts
    p = p[:, :1] * 3
    target_term = np.average(y * np.log(np.where(y > 0, y, 1)) - y, weights=w)
    deviance = sk.mean_poisson_deviance(y, p[:, 0], sample_weight=w)
    assert feed(metrics.Poisson(), y, p, w) == pytest.approx(deviance / 2 - target_term, abs=1e-5)
    assert feed(metrics.Poisson(), y, p, w) == pytest.approx(
        np.average(p[:, 0] - y * np.log(p[:, 0] + EPS), weights=w), rel=1e-12
    )


def test_cosine_similarity_follows_numpy(feed):
    rng = np.random.default_rng(12)
    y, p, w = rng.normal(size=(40, 5)), rng.normal(size=(40, 5)), rng.uniform(0, 1, 40)
    cos = np.sum(y * p, 1) / np.linalg.norm(y, axis=1) / np.linalg.norm(p, axis=1)
    assert feed(metrics.CosineSimilarity(), y, p, w) == pytest.approx(np.average(cos, weights=w), rel=1e-12)
    y3, p3 = y.reshape(40, 5, 1).repeat(2, 2), p.reshape(40, 5, 1).repeat(2, 2)
    assert feed(metrics.CosineSimilarity(axis=1), y3, p3) == pytest.approx(cos.mean(), rel=1e-12)
    m = metrics.CosineSimilarity(axis=1)
    assert m([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]) == pytest.approx(0.5)
    m.reset_state()
    assert m([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]], sample_weight=[0.3, 0.7]) == pytest.approx(0.7)
    assert metrics.CosineSimilarity()(np.zeros((1, 3)), np.ones((1, 3))) == 0.0  # no NaN for a zero vector


def test_logcosh_follows_numpy(positive, feed):
    y, p, w = positive
    expected = np.average(np.log(np.cosh(p - y)).mean(1), weights=w)
    assert feed(metrics.LogCoshError(), y, p, w) == pytest.approx(expected, rel=1e-6)
    assert metrics.LogCoshError().name == "logcosh"
    assert metrics.LogCoshError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == pytest.approx(0.10844523, rel=1e-6)


# ----------------------------------------------------------- probabilistic
@pytest.fixture
def classes():
    rng = np.random.default_rng(13)
    labels = rng.integers(0, 4, 71)
    probs = rng.dirichlet(np.ones(4) * 2, 71)
    w = rng.uniform(0, 2, 71)
    return labels, probs, w


def test_binary_crossentropy_matches_log_loss(feed):
    rng = np.random.default_rng(14)
    y = rng.integers(0, 2, 90)
    logits = rng.normal(size=90) * 2
    p = 1 / (1 + np.exp(-logits))
    w = rng.uniform(0, 2, 90)
    expected = sk.log_loss(y, p, sample_weight=w)
    assert feed(metrics.BinaryCrossentropy(), y, p[:, None], w) == pytest.approx(expected, rel=1e-10)
    assert feed(metrics.BinaryCrossentropy(from_logits=True), y, logits[:, None], w) == pytest.approx(
        expected, rel=1e-10
    )
    t = y * 0.8 + 0.1  # label_smoothing=0.2
    smoothed = np.average(-(t * np.log(p) + (1 - t) * np.log(1 - p)), weights=w)
    assert feed(metrics.BinaryCrossentropy(label_smoothing=0.2), y, p[:, None], w) == pytest.approx(smoothed, rel=1e-10)


def test_categorical_crossentropies_match_log_loss(classes, feed):
    labels, probs, w = classes
    expected = sk.log_loss(labels, probs, sample_weight=w)
    onehot = np.eye(4)[labels]
    assert feed(metrics.CategoricalCrossentropy(), onehot, probs, w) == pytest.approx(expected, rel=1e-10)
    assert feed(metrics.SparseCategoricalCrossentropy(), labels, probs, w) == pytest.approx(expected, rel=1e-10)
    logits = np.log(probs) + 3.0
    assert feed(metrics.CategoricalCrossentropy(from_logits=True), onehot, logits, w) == pytest.approx(
        expected, rel=1e-10
    )
    assert feed(metrics.SparseCategoricalCrossentropy(from_logits=True), labels, logits, w) == pytest.approx(
        expected, rel=1e-10
    )
    t = onehot * 0.9 + 0.1 / 4
    smoothed = np.average(-(t * np.log(probs)).sum(1), weights=w)
    assert feed(metrics.CategoricalCrossentropy(label_smoothing=0.1), onehot, probs, w) == pytest.approx(
        smoothed, rel=1e-10
    )


def test_crossentropy_axis_moves_the_class_axis(classes, feed):
    labels, probs, _ = classes
    seq_labels = np.stack([labels, labels[::-1]], 1)  # (N, 2)
    seq_probs = np.stack([probs, probs[::-1]], 1)  # (N, 2, K)
    expected = sk.log_loss(seq_labels.ravel(), seq_probs.reshape(-1, 4))
    channels_first = np.moveaxis(seq_probs, -1, 1)  # (N, K, 2)
    got = feed(metrics.CategoricalCrossentropy(axis=1), np.moveaxis(np.eye(4)[seq_labels], -1, 1), channels_first)
    assert got == pytest.approx(expected, rel=1e-10)
    got = feed(metrics.SparseCategoricalCrossentropy(axis=1), seq_labels, channels_first)
    assert got == pytest.approx(expected, rel=1e-10)


def test_kl_divergence_matches_scipy_entropy(classes, feed):
    _, probs, w = classes
    y = np.random.default_rng(15).dirichlet(np.ones(4) * 2, len(probs))
    expected = np.average(scipy_stats.entropy(y, probs, axis=1), weights=w)
    assert feed(metrics.KLDivergence(), y, probs, w) == pytest.approx(expected, rel=1e-10)


# ------------------------------------------------------------------- hinge
def test_hinge_metrics(feed):
    rng = np.random.default_rng(16)
    y = rng.integers(0, 2, 64)
    scores = rng.normal(size=64)
    w = rng.uniform(0, 2, 64)
    signed = 2 * y - 1
    expected = sk.hinge_loss(signed, scores, sample_weight=w)
    assert feed(metrics.Hinge(), y, scores[:, None], w) == pytest.approx(expected, rel=1e-10)
    assert feed(metrics.Hinge(), signed, scores[:, None], w) == pytest.approx(expected, rel=1e-10)
    squared = np.average(np.maximum(1 - signed * scores, 0) ** 2, weights=w)
    assert feed(metrics.SquaredHinge(), y, scores[:, None], w) == pytest.approx(squared, rel=1e-10)
    labels = rng.integers(0, 3, 64)
    s3 = rng.normal(size=(64, 3))
    onehot = np.eye(3)[labels]
    categorical = np.maximum(np.max((1 - onehot) * s3, 1) - np.sum(onehot * s3, 1) + 1, 0)
    assert feed(metrics.CategoricalHinge(), onehot, s3, w) == pytest.approx(
        np.average(categorical, weights=w), rel=1e-10
    )


# ---------------------------------------------------------------------- Sum
def test_sum_weights_every_value():
    rng = np.random.default_rng(17)
    v, w = rng.normal(size=(6, 3)), rng.uniform(0, 1, 6)
    m = metrics.Sum()
    m.update_state(v)
    m.update_state(v, sample_weight=w)
    assert m.result() == pytest.approx(v.sum() + (v * w[:, None]).sum(), rel=1e-12)
    assert m.get_config() == {"name": "sum", "dtype": None}


# -------------------------------------------------------- configs and names
@pytest.mark.parametrize(
    "metric",
    [
        metrics.MeanAbsolutePercentageError(dtype="float32"),
        metrics.MeanSquaredLogarithmicError(),
        metrics.CosineSimilarity(axis=1),
        metrics.LogCoshError(),
        metrics.Poisson(name="p"),
        metrics.KLDivergence(),
        metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        metrics.CategoricalCrossentropy(label_smoothing=0.2, axis=1),
        metrics.SparseCategoricalCrossentropy(from_logits=True),
        metrics.Hinge(),
        metrics.SquaredHinge(),
        metrics.CategoricalHinge(),
        metrics.Sum(),
    ],
)
def test_config_round_trip(metric):
    again = metrics.deserialize(metrics.serialize(metric))
    assert type(again) is type(metric) and again.get_config() == metric.get_config()


def test_keras_config_keys():
    assert metrics.CategoricalCrossentropy().get_config() == {
        "name": "categorical_crossentropy",
        "dtype": None,
        "from_logits": False,
        "label_smoothing": 0.0,
        "axis": -1,
    }
    assert metrics.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy",
        "dtype": None,
        "from_logits": False,
        "axis": -1,
    }
    assert metrics.Poisson().get_config() == {"name": "poisson", "dtype": None}
    # A config Keras wrote ("dtype": "float32") reads back.
    assert metrics.deserialize({"class_name": "Hinge", "config": {"name": "hinge", "dtype": "float32"}}).dtype == (
        "float32"
    )


@pytest.mark.parametrize(
    "identifier, cls",
    [
        ("mape", metrics.MeanAbsolutePercentageError),
        ("MAPE", metrics.MeanAbsolutePercentageError),
        ("msle", metrics.MeanSquaredLogarithmicError),
        ("bce", metrics.BinaryCrossentropy),
        ("kld", metrics.KLDivergence),
        ("kl_divergence", metrics.KLDivergence),
        ("logcosh", metrics.LogCoshError),
        ("cosine_similarity", metrics.CosineSimilarity),
        ("poisson", metrics.Poisson),
        ("binary_crossentropy", metrics.BinaryCrossentropy),
        ("sparse_categorical_crossentropy", metrics.SparseCategoricalCrossentropy),
        ("categorical_hinge", metrics.CategoricalHinge),
        ("r2_score", metrics.R2Score),
        ("f1_score", metrics.F1Score),
        ("FBetaScore", metrics.FBetaScore),
        ("true_positives", metrics.TruePositives),
        ("FalseNegatives", metrics.FalseNegatives),
        ("sum", metrics.Sum),
    ],
)
def test_get_by_name(identifier, cls):
    m = metrics.get(identifier)
    assert type(m) is cls and m.name == identifier
    assert type(rv.metrics.get(identifier)) is cls  # the public alias module


def test_get_a_metric_that_needs_arguments_by_name():
    with pytest.raises(ValueError, match="The metric MeanIoU needs arguments.*got 'mean_io_u'"):
        metrics.get("mean_io_u")
    with pytest.raises(ValueError, match="The metric PrecisionAtRecall needs arguments"):
        metrics.get("PrecisionAtRecall")


def test_metric_functions_are_wrapped():
    m = metrics.get(metrics.mean_absolute_percentage_error)
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "mean_absolute_percentage_error"
    assert m([[2.0]], [[1.0]]) == pytest.approx(50.0)
    assert metrics.get(metrics.poisson).name == "poisson"


# ------------------------------------------------------------- in a model
def test_compile_with_new_metrics_by_name_and_object():
    rng = np.random.default_rng(18)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((4,)), rv.layers.Dense(8, activation="tanh"), rv.layers.Dense(1, activation="sigmoid")]
    )

    def max_abs_error(y_true, y_pred):
        return np.max(np.abs(y_true - y_pred), axis=-1)

    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=[
            "bce",
            "true_positives",
            "mape",
            rv.metrics.PrecisionAtRecall(0.5),
            rv.metrics.F1Score(average="micro", threshold=0.5),
            rv.metrics.MeanIoU(2, sparse_y_pred=True, name="iou"),
            max_abs_error,
        ],
    )
    with pytest.raises(ValueError, match="integer class ids"):
        model.evaluate(x, y, verbose=0)  # MeanIoU on probabilities needs BinaryIoU
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["bce", "true_positives", rv.metrics.PrecisionAtRecall(0.5), rv.metrics.BinaryIoU(), max_abs_error],
    )
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.25)
    keys = {"bce", "true_positives", "precision_at_recall", "binary_io_u", "max_abs_error"}
    assert set(history.history) == {"loss", "val_loss"} | keys | {f"val_{k}" for k in keys}
    logs = model.evaluate(x, y, verbose=0, batch_size=16, return_dict=True)
    p = model.predict(x, verbose=0)[:, 0].astype(np.float64)
    assert logs["bce"] == pytest.approx(sk.log_loss(y, p), rel=1e-5)
    assert logs["true_positives"] == np.sum((p > 0.5) & (y == 1))
    precision, recall, _ = sk.precision_recall_curve(y, p)
    assert logs["precision_at_recall"] == pytest.approx(precision[recall >= 0.5].max(), abs=0.05)
    iou = sk.jaccard_score(y, (p >= 0.5).astype(int), average=None)
    assert logs["binary_io_u"] == pytest.approx(iou.mean(), rel=1e-6)
    assert logs["max_abs_error"] == pytest.approx(np.mean(np.abs(y - p)), rel=1e-5)


@pytest.mark.parametrize(
    "name",
    [
        "huber",
        "binary_focal_crossentropy",
        "categorical_focal_crossentropy",
        "mean_absolute_error",
        "mean_squared_error",
        "mean_absolute_percentage_error",
        "mean_squared_logarithmic_error",
        "poisson",
        "log_cosh",
    ],
)
def test_metric_functions_are_the_loss_functions(name):
    """Keras 3's metrics module re-exports these loss functions (keras/api/metrics/__init__.py)."""
    assert getattr(metrics, name) is getattr(rv.losses, name)


@pytest.mark.parametrize(
    "cls", [metrics.MeanAbsoluteError, metrics.MeanAbsolutePercentageError, metrics.Poisson, metrics.CosineSimilarity]
)
def test_mean_metrics_run_the_losses_in_float64(positive, cls):
    """float32 inputs give the float64 result of the same values (the loss runs on float64 copies)."""
    y, p, _ = positive
    y32, p32 = y.astype(np.float32), p.astype(np.float32)
    assert cls()(y32, p32) == cls()(y32.astype(np.float64), p32.astype(np.float64))
