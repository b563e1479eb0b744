"""Metrics whose result is a vector (per class, per threshold) go through ``fit`` and ``evaluate``."""

import csv

import numpy as np

import ranvier as rv


def test_vector_results_reach_history_evaluate_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = np.eye(3)[rng.integers(0, 3, 64)]
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3, activation="softmax")])
    f1 = rv.metrics.F1Score()
    tp = rv.metrics.TruePositives(thresholds=[0.3, 0.6])
    model.compile("adam", "categorical_crossentropy", metrics=[f1, tp])
    log = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[rv.callbacks.CSVLogger(str(log))])
    assert history.history["f1_score"][-1].shape == (3,)
    assert history.history["true_positives"][-1].shape == (2,)

    results = model.evaluate(x, y, verbose=0, return_dict=True)
    reference = rv.metrics.F1Score()
    reference.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(results["f1_score"], reference.result())
    with open(log) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and rows[0]["f1_score"].startswith("[")
