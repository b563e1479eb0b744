"""Weights and files: all-or-nothing updates, file modes, deep models through save and load."""

import os

import numpy as np
import pytest

import ranvier as rv

SLOW = bool(os.environ.get("RANVIER_SLOW_TESTS"))
_LOAD = "issue 16, load item"


def _two_layers():
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3), rv.layers.Dense(2)])
    return model, model.get_weights()


def test_set_weights_is_all_or_nothing(snapshot):
    model, weights = _two_layers()
    before = snapshot(model)
    bad = [w + 1 for w in weights[:2]] + [np.full_like(weights[2], np.nan), weights[3]]  # shapes all fit
    with pytest.raises(ValueError):
        model.set_weights(bad)
    assert snapshot(model) == before


def test_load_weights_is_all_or_nothing(tmp_path, snapshot):
    model, weights = _two_layers()
    before = snapshot(model)
    path = str(tmp_path / "w.npz")
    np.savez(path, w00000=weights[0] + 1, w00001=weights[1] + 1, w00002=weights[2] * np.nan, w00003=weights[3])
    with pytest.raises(ValueError):
        model.load_weights(path)
    assert snapshot(model) == before


def test_saved_files_follow_the_umask(tmp_path):
    model, _ = _two_layers()
    old = os.umask(0o022)
    try:
        model.save(tmp_path / "m.ranvier")
        model.save_weights(tmp_path / "w.npz")
    finally:
        os.umask(old)
    modes = {name: oct(os.stat(tmp_path / name).st_mode & 0o777) for name in ("m.ranvier", "w.npz")}
    assert modes == {"m.ranvier": "0o644", "w.npz": "0o644"}


@pytest.mark.skipif(not SLOW, reason="slow: set RANVIER_SLOW_TESTS=1")
def test_a_2000_layer_model_builds_saves_and_loads(tmp_path):
    model = rv.Sequential([rv.layers.Input((2,))] + [rv.layers.Dense(2) for _ in range(2000)])
    x = np.ones((3, 2), np.float32)
    expected = model.predict(x)
    model.save(tmp_path / "deep.ranvier")
    np.testing.assert_array_equal(rv.load_model(tmp_path / "deep.ranvier").predict(x), expected)
