"""The one registry: name lookup, custom objects, registration and round trips, for every family."""

import json
import threading

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import serialization
from ranvier.saving import (
    CustomObjectScope,
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)


@pytest.fixture(autouse=True)
def _clean_registry():
    saved = dict(get_custom_objects())
    yield
    get_custom_objects().clear()
    get_custom_objects().update(saved)


# One custom member per family: a subclass of a built-in, so it works without more code.
class MyLayer(rv.layers.Dense):
    pass


class MyLoss(rv.losses.MeanSquaredError):
    pass


class MyMetric(rv.metrics.MeanAbsoluteError):
    pass


class MyOptimizer(rv.optimizers.SGD):
    pass


class MySchedule(rv.optimizers.schedules.ExponentialDecay):
    pass


class MyActivation(rv.activations.Activation):
    name = "cube"

    def forward(self, z, out=None, bias=None):
        return np.power(z, 3, out=out)

    def backward(self, dy, z, y, out=None):
        return np.multiply(dy, 3 * z * z, out=out)


class MyInitializer(rv.initializers.Constant):
    pass


class MyRegularizer(rv.regularizers.L2):
    pass


class MyConstraint(rv.constraints.NonNeg):
    pass


# family, public module, custom class, its constructor arguments, a built-in name, a wrong-case name
FAMILIES = [
    ("layer", None, MyLayer, {"units": 3}, "Dense", "dense"),
    ("loss", rv.losses, MyLoss, {}, "mse", "Mse"),
    ("metric", rv.metrics, MyMetric, {}, "mean_absolute_error", "Mean_Absolute_Error"),
    ("optimizer", rv.optimizers, MyOptimizer, {"learning_rate": 0.5}, "adam", None),
    (
        "schedule",
        rv.optimizers.schedules,
        MySchedule,
        {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
        "ExponentialDecay",
        "exponentialdecay",
    ),
    ("activation", rv.activations, MyActivation, {}, "relu", "ReLU"),
    ("initializer", rv.initializers, MyInitializer, {"value": 2.0}, "he_normal", "HE_NORMAL"),
    ("regularizer", rv.regularizers, MyRegularizer, {"l2": 0.1}, "l2", "L2_"),
    ("constraint", rv.constraints, MyConstraint, {}, "non_neg", "NON_NEG"),
]
IDS = [f[0] for f in FAMILIES]


def _round_trip(config):
    return json.loads(json.dumps(config))


@pytest.mark.parametrize("family, module, cls, kwargs, name, wrong_case", FAMILIES, ids=IDS)
def test_unknown_name_error_names_the_family_and_the_value(family, module, cls, kwargs, name, wrong_case):
    with pytest.raises(
        ValueError,
        match=rf"Unknown {'learning rate schedule' if family == 'schedule' else family}: "
        r"'no_such_thing'\. Known: \[.*custom_objects",
    ):
        serialization.lookup("no_such_thing", family)


@pytest.mark.parametrize("family, module, cls, kwargs, name, wrong_case", FAMILIES, ids=IDS)
def test_case_rules_follow_keras(family, module, cls, kwargs, name, wrong_case):
    assert serialization.lookup(name, family) is not None
    if wrong_case is None:  # optimizers: Keras 3 lower-cases the name
        for spelling in ("Adam", "ADAM", "adam"):
            assert type(rv.optimizers.get(spelling)) is rv.optimizers.Adam
    else:
        with pytest.raises(ValueError, match=repr(wrong_case)):
            serialization.lookup(wrong_case, family)


@pytest.mark.parametrize("family, module, cls, kwargs, name, wrong_case", FAMILIES, ids=IDS)
def test_custom_objects_and_scope(family, module, cls, kwargs, name, wrong_case):
    obj = cls(**kwargs)
    config = _round_trip(serialization.serialize(obj, family))
    assert config["class_name"] == cls.__name__ and "registered_name" not in config
    with pytest.raises(ValueError, match=cls.__name__):
        serialization.deserialize(config, family)
    again = serialization.deserialize(config, family, custom_objects={cls.__name__: cls})
    assert type(again) is cls and again.get_config() == obj.get_config()
    with custom_object_scope({cls.__name__: cls}):
        assert type(serialization.deserialize(config, family)) is cls
    if module is not None:  # the family's own thin functions
        assert type(module.deserialize(config, custom_objects={cls.__name__: cls})) is cls
        assert module.serialize(obj) == config


@pytest.mark.parametrize("family, module, cls, kwargs, name, wrong_case", FAMILIES, ids=IDS)
def test_registered_objects_load_by_name(family, module, cls, kwargs, name, wrong_case):
    register_keras_serializable(package="test_ser")(cls)
    obj = cls(**kwargs)
    config = _round_trip(serialization.serialize(obj, family))
    assert config["registered_name"] == f"test_ser>{cls.__name__}"
    assert config["module"] == __name__
    again = serialization.deserialize(config, family)
    assert type(again) is cls and again.get_config() == obj.get_config()
    assert type(deserialize_keras_object(config)) is cls
    if not kwargs:
        assert type(serialization.get(f"test_ser>{cls.__name__}", family)) is cls


@pytest.mark.parametrize("family, module, cls, kwargs, name, wrong_case", FAMILIES, ids=IDS)
def test_a_custom_object_of_another_family_is_refused(family, module, cls, kwargs, name, wrong_case):
    other = MyLoss if cls is not MyLoss else MyLayer
    with pytest.raises(TypeError, match=f"not a {'learning rate schedule' if family == 'schedule' else family}"):
        serialization.lookup("X", family, custom_objects={"X": other})


def _builtin_members():
    L = rv.layers
    yield from [
        ("layer", L.Dense(3, activation="relu", kernel_regularizer="l2")),
        ("layer", L.LSTM(4)),
        ("layer", L.TimeDistributed(L.Dense(2))),
        ("layer", L.Bidirectional(L.GRU(2))),
    ]
    yield from [("loss", cls()) for cls in (rv.losses.Huber, rv.losses.SparseCategoricalCrossentropy)]
    yield from [
        ("metric", rv.metrics.Precision(thresholds=0.3)),
        ("metric", rv.metrics.AUC()),
        ("metric", rv.metrics.SparseTopKCategoricalAccuracy(k=3)),
    ]
    yield from [
        ("optimizer", rv.optimizers.Adam(1e-2)),
        ("optimizer", rv.optimizers.LBFGS()),
        ("optimizer", rv.optimizers.SGD(rv.optimizers.schedules.CosineDecay(0.1, 100))),
    ]
    yield from [("schedule", rv.optimizers.schedules.PiecewiseConstantDecay([10], [0.1, 0.01]))]
    yield from [("initializer", rv.initializers.get(n)) for n in ("glorot_uniform", "orthogonal", "uniform")]
    yield from [("regularizer", rv.regularizers.L1L2(0.1, 0.2)), ("constraint", rv.constraints.MaxNorm(3))]


@pytest.mark.parametrize(
    "family, obj", list(_builtin_members()), ids=lambda v: v if isinstance(v, str) else type(v).__name__
)
def test_builtin_round_trips_through_json(family, obj):
    config = _round_trip(serialization.serialize(obj, family))
    assert set(config) == {"class_name", "config"}  # built-ins: the format files have always had
    again = serialization.deserialize(config, family)
    assert type(again) is type(obj) and again.get_config() == obj.get_config()
    again = deserialize_keras_object(serialize_keras_object(obj)) if family != "metric" else again
    assert again.get_config() == obj.get_config()


def test_activation_names_round_trip():
    for ident in ["relu", {"class_name": "relu", "config": {"max_value": 6.0}}]:
        assert rv.activations.serialize(rv.activations.get(ident)) == ident
    keras3 = {"module": "keras.activations", "class_name": "function", "config": "tanh", "registered_name": "tanh"}
    assert rv.activations.get(keras3).name == "tanh"


def test_keras3_configs_read():
    config = {
        "module": "keras.optimizers",
        "class_name": "Adam",
        "registered_name": None,
        "config": {"learning_rate": 0.01, "name": "adam"},
    }
    assert deserialize_keras_object(config).learning_rate == 0.01
    assert rv.optimizers.deserialize(config).learning_rate == 0.01
    dense = {
        "module": "keras.layers",
        "class_name": "Dense",
        "registered_name": None,
        "config": {"units": 2, "name": "d"},
    }
    assert rv.layers.Dense.from_config({"units": 2}).units == deserialize_keras_object(dense).units


def test_ambiguous_name_needs_the_module():
    config = {"class_name": "MeanSquaredError", "config": {}}
    with pytest.raises(ValueError, match=r"2 families \(loss, metric\).*\"module\""):
        deserialize_keras_object(config)
    assert isinstance(deserialize_keras_object({**config, "module": "keras.losses"}), rv.losses.Loss)
    assert isinstance(deserialize_keras_object({**config, "module": "keras.metrics"}), rv.metrics.Metric)


def test_serialize_keras_object_plain_values():
    obj = {"a": [1, 2.5, "x", None, np.float32(0.5)], "loss": rv.losses.Huber()}
    config = serialize_keras_object(obj)
    assert config["a"] == [1, 2.5, "x", None, 0.5] and config["loss"]["class_name"] == "Huber"
    assert deserialize_keras_object(config)["loss"].delta == 1.0


def test_unsupported_keras_arguments_raise():
    with pytest.raises(NotImplementedError, match="safe_mode"):
        deserialize_keras_object({"class_name": "Adam", "config": {}}, safe_mode=False)


def test_registration_api():
    @register_keras_serializable("pkg", name="Sq")
    def square(y_true, y_pred):
        return np.square(y_true - y_pred).mean(axis=-1)

    assert get_registered_name(square) == "pkg>Sq"
    assert get_registered_object("pkg>Sq") is square
    assert get_registered_name(MyLoss) == "MyLoss"
    assert get_registered_object("nope", custom_objects={"nope": MyLoss}) is MyLoss
    assert get_custom_objects()["pkg>Sq"] is square
    metric = rv.metrics.get("pkg>Sq")
    assert isinstance(metric, rv.metrics.MeanMetricWrapper)
    config = rv.metrics.serialize(square)
    assert config["class_name"] == "function" and rv.metrics.deserialize(config) is square

    class NoConfig:
        pass

    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable()(NoConfig)
    with pytest.raises(ValueError, match="package"):
        register_keras_serializable(package="a>b")


def test_get_custom_objects_is_live():
    get_custom_objects()["Shout"] = MyActivation
    assert type(rv.activations.get("Shout")) is MyActivation


def test_scopes_nest_and_stay_in_their_thread():
    seen = []
    with CustomObjectScope({"A": MyLoss}):
        with custom_object_scope({"B": MyLayer}):
            assert serialization.lookup("A", "loss") is MyLoss
            assert serialization.lookup("B", "layer") is MyLayer
            worker = threading.Thread(target=lambda: seen.append(get_registered_object("A")))
            worker.start()
            worker.join()
        assert get_registered_object("B") is None
    assert seen == [None] and get_registered_object("A") is None


def test_none_and_type_errors():
    assert rv.regularizers.get(None) is None and rv.constraints.get(None) is None
    assert rv.activations.get(None).name == "linear"
    with pytest.raises(TypeError, match="loss must be a name, a config dict or a Loss, got 3"):
        rv.losses.get(3)
    with pytest.raises(ValueError, match="family must be one of"):
        serialization.get("x", "nope")
    with pytest.raises(TypeError, match="serialize expects a loss"):
        rv.losses.serialize(rv.optimizers.Adam())
    with pytest.raises(ValueError, match="Cannot rebuild initializer 'Constant'"):
        rv.initializers.deserialize({"class_name": "Constant", "config": {"nope": 1}})


def test_initializer_functions_pass_through():
    def ones(shape, dtype=None):
        return np.ones(shape, dtype)

    assert rv.initializers.get(ones) is ones
    assert (
        rv.initializers.deserialize({"class_name": "function", "config": "ones_fn"}, custom_objects={"ones_fn": ones})
        is ones
    )
