import copy
import io
import json
import multiprocessing
import os
import pickle
import zipfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import ranvier as rv


def _trained(blobs, functional=False):
    x, y = blobs
    rv.config.set_random_seed(0)
    if functional:
        inp = rv.layers.Input((4,))
        out = rv.layers.Dense(3, activation="softmax")(rv.layers.Dense(8, activation="relu")(inp))
        model = rv.Model(inp, out, name="func")
    else:
        model = rv.Sequential(
            [
                rv.layers.Input((4,)),
                rv.layers.Dense(8, activation="relu", kernel_regularizer="l2"),
                rv.layers.Dense(3, activation="softmax"),
            ]
        )
    model.compile(optimizer=rv.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    return model


@pytest.mark.parametrize("functional", [False, True])
def test_round_trip_predictions_and_training_continue_identically(blobs, tmp_path, functional):
    x, y = blobs
    model = _trained(blobs, functional)
    path = tmp_path / "m.ranvier"
    model.save(path)
    again = rv.load_model(path)
    assert type(again) is type(model)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    model.train_on_batch(x, y)
    again.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_pickle(blobs):
    x, _ = blobs
    model = _trained(blobs)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_weights_only(blobs, tmp_path):
    x, _ = blobs
    model = _trained(blobs)
    model.save_weights(tmp_path / "w.npz")
    fresh = rv.Sequential(
        [rv.layers.Input((4,)), rv.layers.Dense(8, activation="relu"), rv.layers.Dense(3, activation="softmax")]
    )
    fresh.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))


def _zip(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"not a zip at all", "not a zip"),
        (_zip({"hello.txt": "x"}), "missing"),
        (_zip({"config.json": "{not json", "weights.npz": b""}), "config.json: is corrupt"),
        (_zip({"config.json": '{"format": "other"}', "weights.npz": b""}), "format"),
        (_zip({"config.json": '{"format": "ranvier", "format_version": 99}', "weights.npz": b""}), "version"),
    ],
)
def test_corrupt_files_give_clear_errors(tmp_path, payload, match):
    path = tmp_path / "bad.ranvier"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=match):
        rv.load_model(path)


def test_pickled_weights_are_refused(blobs, tmp_path):
    model = _trained(blobs)
    path = tmp_path / "m.ranvier"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        cfg = zf.read("config.json")
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    npz = _zip({"w00000.npy": buf.getvalue()})
    path.write_bytes(_zip({"config.json": cfg, "weights.npz": npz}))
    with pytest.raises(rv.saving.InvalidModelFileError, match="weights.npz"):
        rv.load_model(path)


def test_truncated_file(blobs, tmp_path):
    model = _trained(blobs)
    path = tmp_path / "m.ranvier"
    model.save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError):
        rv.load_model(path)


def test_save_is_atomic(blobs, tmp_path, monkeypatch):
    model = _trained(blobs)
    path = tmp_path / "m.ranvier"
    model.save(path)
    original = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.ranvier"]


def test_unknown_custom_layer_needs_custom_objects(tmp_path):
    class Doubler(rv.layers.Layer):
        def call(self, inputs, training=False):
            return 2 * inputs, None

        def backward(self, dy, cache, need_input_grad=True):
            return 2 * dy

    model = rv.Sequential([rv.layers.Input((3,)), Doubler(), rv.layers.Dense(2)])
    model.save(tmp_path / "c.ranvier")
    with pytest.raises(ValueError, match="custom_objects"):
        rv.load_model(tmp_path / "c.ranvier")
    again = rv.load_model(tmp_path / "c.ranvier", custom_objects={"Doubler": Doubler})
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_model_config_of_the_wrong_type_is_a_clear_error(tmp_path):
    rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(3)]).save(tmp_path / "m.ranvier")
    with zipfile.ZipFile(tmp_path / "m.ranvier") as zf:
        cfg, weights = json.loads(zf.read("config.json")), zf.read("weights.npz")
    cfg["config"] = "not a dict"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", json.dumps(cfg))
        zf.writestr("weights.npz", weights)
    (tmp_path / "bad.ranvier").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="config"):
        rv.load_model(tmp_path / "bad.ranvier")


def _image_zoo():
    L = rv.layers
    return rv.Sequential(
        [
            L.Input((8, 8, 1)),
            L.ZeroPadding2D(1),
            L.Conv2D(4, 3, activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(),
            L.SpatialDropout2D(0.1),
            L.Conv2D(3, (2, 2), padding="same"),
            L.PReLU(),
            L.AveragePooling2D(),
            L.UpSampling2D(),
            L.Cropping2D(1),
            L.Flatten(),
            L.Dense(6),
            L.LeakyReLU(),
            L.Dropout(0.2),
            L.GaussianNoise(0.1),
            L.Maxout(5, pieces=2),
            L.LayerNormalization(),
            L.ELU(),
            L.Reshape((5, 1)),
            L.Conv1D(2, 2, padding="causal"),
            L.GlobalMaxPooling1D(),
            L.Dense(3),
            L.Softmax(),
        ]
    )


def _sequence_zoo():
    L = rv.layers
    inp = L.Input((None,), dtype="int64")
    h = L.Embedding(20, 6, mask_zero=True)(inp)
    h = L.Bidirectional(L.LSTM(5, return_sequences=True))(h)
    h = L.TimeDistributed(L.Dense(4, activation="tanh"))(h)
    h, state = L.GRU(4, return_state=True)(h)
    h = L.RepeatVector(3)(h)
    h = L.SimpleRNN(3)(h)
    return rv.Model(inp, L.Dense(2, activation="softmax")(h))


@pytest.mark.parametrize(
    "make, x",
    [
        (_image_zoo, np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype(np.float32)),
        (_sequence_zoo, np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 19]])),
    ],
)
def test_every_layer_family_round_trips(tmp_path, make, x):
    rv.config.set_random_seed(1)
    model = make()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, np.arange(len(x)) % 2)
    model.save(tmp_path / "zoo.ranvier")
    again = rv.load_model(tmp_path / "zoo.ranvier")
    assert [type(layer) for layer in again.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in again.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


# ---------------------------------------------------------------- files written by older ranvier
_DATA = os.path.join(os.path.dirname(__file__), "data")


class Scale(rv.layers.Layer):
    """The custom layer of tests/api/data/custom_layer.ranvier (see make_fixtures.py)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, training=False):
        return x * self.factor, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _fixture(name, **kwargs):
    model = rv.load_model(os.path.join(_DATA, f"{name}.ranvier"), **kwargs)
    with np.load(os.path.join(_DATA, f"{name}.expected.npz")) as npz:
        return model, dict(npz)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("sequential_mlp", {}),
        ("lstm", {}),
        ("wrappers", {}),
        ("custom_layer", {"custom_objects": {"Scale": Scale}}),
    ],
)
def test_old_files_load_and_predict_as_recorded(name, kwargs):
    model, expected = _fixture(name, **kwargs)
    np.testing.assert_array_equal(model.predict(expected["x"], verbose=0), expected["y"])


def test_old_file_restores_the_optimizer_state():
    model, expected = _fixture("sequential_mlp")
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert [m.name for m in model.metrics][-2:] == ["accuracy", "sparse_top_k_categorical_accuracy"]
    model.train_on_batch(expected["x_train"], expected["y_train"])
    np.testing.assert_array_equal(model.predict(expected["x"], verbose=0), expected["y_after_step"])


def test_old_file_with_schedule_constraint_and_configured_activation():
    model, expected = _fixture("lstm")
    assert model.optimizer.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    assert type(model.loss).__name__ == "Huber" and model.loss.delta == 0.5
    dense = model.layers[-1]
    assert type(dense.kernel_constraint).__name__ == "MaxNorm"
    assert dense.activation.get_config() == {"max_value": 6.0}


def test_old_functional_file_with_a_shared_layer():
    model, expected = _fixture("functional_shared")
    # The old code's predict gave the first output only; both come back now, as in Keras.
    first, second = model.predict(expected["x"], verbose=0)
    np.testing.assert_array_equal(first, expected["y"])
    np.testing.assert_array_equal(second, expected["y1"])
    assert sum(layer.name == "shared" for layer in model.layers) == 1


# ------------------------------------------------------------------ registry and rv.saving
@pytest.fixture
def _registry():
    saved = dict(rv.saving.get_custom_objects())
    yield rv.saving.register_keras_serializable
    rv.saving.get_custom_objects().clear()
    rv.saving.get_custom_objects().update(saved)


def test_registered_custom_objects_load_without_custom_objects(blobs, tmp_path, _registry):
    x, y = blobs

    @_registry(package="test_saving")
    class Twice(Scale):
        pass

    @_registry(package="test_saving")
    class MyCrossentropy(rv.losses.SparseCategoricalCrossentropy):
        pass

    @_registry(package="test_saving")
    def hit_rate(y_true, y_pred):
        return (np.argmax(y_pred, axis=-1) == y_true).astype(np.float32)

    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(5), Twice(2.0), rv.layers.Dense(3)])
    model.compile(optimizer="adam", loss=MyCrossentropy(), metrics=[hit_rate, "accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    rv.saving.save_model(model, tmp_path / "r.ranvier")
    again = rv.saving.load_model(tmp_path / "r.ranvier")
    assert type(again.layers[1]) is Twice and type(again.loss) is MyCrossentropy
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_wrapped_custom_layer_sees_custom_objects(tmp_path):
    class Dense2(rv.layers.Dense):
        pass

    model = rv.Sequential([rv.layers.Input((3, 2)), rv.layers.TimeDistributed(Dense2(4))])
    model.save(tmp_path / "w.ranvier")
    again = rv.load_model(tmp_path / "w.ranvier", custom_objects={"Dense2": Dense2})
    assert type(again.layers[0].layer) is Dense2
    x = np.ones((2, 3, 2), np.float32)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_unsupported_keras_arguments_raise(tmp_path):
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(2)])
    model.save(tmp_path / "m.ranvier")
    with pytest.raises(NotImplementedError, match="safe_mode"):
        rv.load_model(tmp_path / "m.ranvier", safe_mode=False)
    model.save_weights(tmp_path / "w.npz")
    with pytest.raises(NotImplementedError, match="skip_mismatch"):
        rv.saving.load_weights(model, tmp_path / "w.npz", skip_mismatch=True)
    rv.saving.load_weights(model, tmp_path / "w.npz")


# ------------------------------------------------------------------ pickling custom classes
class Unregistered(Scale):
    """A custom layer no registry knows: unpickling finds it by its module and qualified name."""


@rv.saving.register_keras_serializable(package="test_saving_pickle")
class Registered(Scale):
    """A registered custom layer: a spawned process registers it again by importing this module."""


def _custom_model():
    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((4,)), Unregistered(3.0), rv.layers.Dense(3), Registered(0.5)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _predict_in_child(model, x):
    return [type(layer).__name__ for layer in model.layers], model.predict(x)


def test_pickle_and_deepcopy_keep_custom_layers(blobs):
    x, _ = blobs
    model = _custom_model()
    for again in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert [type(layer) for layer in again.layers] == [Unregistered, rv.layers.Dense, Registered]
        assert again.layers[0].factor == 3.0 and again.compiled
        np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_a_spawned_process_unpickles_custom_layers(blobs, monkeypatch):
    # The worker imports this module by name (as pickle does for _predict_in_child): put the
    # repository root on the path the spawned process starts with, whatever runs pytest.
    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    x, _ = blobs
    model = _custom_model()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        names, predictions = pool.submit(_predict_in_child, model, x[:8]).result(timeout=300)
    assert names == ["Unregistered", "Dense", "Registered"]
    np.testing.assert_array_equal(predictions, model.predict(x[:8]))


def test_a_class_defined_in_a_function_unpickles_inside_custom_object_scope(blobs):
    x, _ = blobs

    class Local(Scale):
        pass

    model = rv.Sequential([rv.layers.Input((4,)), Local(2.0)])
    assert type(copy.deepcopy(model).layers[0]) is Local  # a deep copy keeps the class itself
    blob = pickle.dumps(model)
    with pytest.raises(ValueError, match="pickled model.*custom_object_scope.*'Local'"):
        pickle.loads(blob)
    with rv.saving.custom_object_scope({"Local": Local}):
        again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_custom_object_scope_wins_over_the_pickled_class_path():
    class Replacement(Scale):
        pass

    model = rv.Sequential([rv.layers.Input((4,)), Unregistered(2.0)])
    with rv.saving.custom_object_scope({"Unregistered": Replacement}):
        again = pickle.loads(pickle.dumps(model))
    assert type(again.layers[0]) is Replacement


def test_an_unbuilt_sequential_pickles_and_deep_copies_its_config(blobs):
    x, y = blobs
    model = rv.Sequential([rv.layers.Dense(8, activation="relu"), Unregistered(2.0), rv.layers.Dense(3)], name="lazy")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for again in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert not again.built and again.compiled and again.name == "lazy"
        assert [type(layer) for layer in again.layers] == [rv.layers.Dense, Unregistered, rv.layers.Dense]
        assert again.get_config() == model.get_config()
        again.fit(x, y, epochs=1, verbose=0)
        assert again.predict(x).shape == (len(x), 3)
    assert not rv.Sequential().built and not pickle.loads(pickle.dumps(rv.Sequential())).layers


def test_a_pickle_from_before_the_custom_classes_still_loads(blobs):
    x, _ = blobs
    model = _trained(blobs)
    old = rv.Sequential.__new__(rv.Sequential)
    old.__setstate__({"ranvier_model_bytes": rv.api.saving.to_bytes(model)})  # the state pickles used to hold
    np.testing.assert_array_equal(old.predict(x), model.predict(x))


def test_float64_weights_beyond_float32_are_refused_not_loaded_as_inf(tmp_path):
    model = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(2)])
    model.save(tmp_path / "m.ranvier")
    with zipfile.ZipFile(tmp_path / "m.ranvier") as zf:
        cfg = zf.read("config.json")
    buf = io.BytesIO()
    np.savez(buf, w00000=np.full((4, 2), 1e39), w00001=np.zeros(2))
    (tmp_path / "m.ranvier").write_bytes(_zip({"config.json": cfg, "weights.npz": buf.getvalue()}))
    with pytest.raises(ValueError, match=r"kernel.*beyond the float32 range.*got 1e\+39"):
        rv.load_model(tmp_path / "m.ranvier")
