"""Real data: scikit-learn's digits, an MLP above 97% test accuracy on a fixed 25% split."""

import time

import numpy as np
import pytest

import ranvier as rv

datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")


def test_mlp_on_digits():
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = model_selection.train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    rv.config.set_random_seed(0)
    model = rv.Sequential(
        [rv.layers.Input((64,)), rv.layers.Dense(128, activation="relu"), rv.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer=rv.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, batch_size=32, epochs=40, verbose=0)
    elapsed = time.perf_counter() - t0
    _, acc = model.evaluate(x_te, y_te, verbose=0)
    assert acc >= 0.97, f"test accuracy {acc:.4f}"
    assert elapsed < 60
