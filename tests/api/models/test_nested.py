"""Models as layers of other models, clone_model, to_json / model_from_json, feature extraction."""

import numpy as np

import ranvier as rv
from ranvier.testing import check_gradients

rng = np.random.default_rng(0)


def _base(name="base"):
    return rv.Sequential([rv.layers.Input((6,)), rv.layers.Dense(8, activation="tanh", name=f"{name}_h")], name=name)


def test_a_sequential_inside_a_sequential_trains_through_both(float64):
    x, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    base = _base()
    outer = rv.Sequential([base, rv.layers.Dense(3, activation="softmax")])
    outer.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert len(outer.weights) == 4 and outer.get_layer("base").model is base
    check_gradients(outer, x, y)


def test_a_model_called_twice_shares_its_weights_and_passes_input_gradients(float64):
    x = rv.layers.Input((6,))
    base = _base()
    pre = rv.layers.Dense(6, name="pre")(x)
    model = rv.Model(x, rv.layers.add([base(pre), base(x)]))
    assert len(model.weights) == 4  # pre's two, base's two (once)
    model.compile(optimizer="sgd", loss="mse")
    check_gradients(model, rng.standard_normal((10, 6)), rng.standard_normal((10, 8)))


def test_trainable_false_on_the_inner_model_freezes_it():
    x, y = rng.standard_normal((20, 6)).astype(np.float32), rng.integers(0, 3, 20)
    base = _base()
    outer = rv.Sequential([base, rv.layers.Dense(3, activation="softmax")])
    base.trainable = False
    outer.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = base.get_weights()
    outer.fit(x, y, epochs=2, verbose=0)
    assert len(outer.trainable_weights) == 2
    for a, b in zip(before, base.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_feature_extraction_from_intermediate_outputs():
    model = rv.Sequential([rv.layers.Input((6,)), rv.layers.Dense(5, name="a"), rv.layers.Dense(4, name="b")])
    features = rv.Model(model.inputs, [layer.output for layer in model.layers])
    x = rng.standard_normal((3, 6)).astype(np.float32)
    a, b = features.predict(x)
    np.testing.assert_allclose(a, model.get_layer("a")(x), rtol=1e-6)
    np.testing.assert_allclose(b, model.predict(x), rtol=1e-6)


def test_clone_model_and_json_round_trip(tmp_path):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    base = _base()
    outer = rv.Sequential([base, rv.layers.Dense(3)])
    clone = rv.models.clone_model(outer)
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in outer.get_weights()]
    assert all(a is not b for a, b in zip(clone.weights, outer.weights))
    again = rv.models.model_from_json(outer.to_json())
    again.set_weights(outer.get_weights())
    np.testing.assert_array_equal(again.predict(x), outer.predict(x))
    outer.save(tmp_path / "nested.ranvier")
    np.testing.assert_array_equal(rv.load_model(tmp_path / "nested.ranvier").predict(x), outer.predict(x))
