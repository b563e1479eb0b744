"""Keras' nested inputs: a dict (or nested list) of tensors as a layer's or a subclassed model's first argument."""

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops
from ranvier.testing import check_gradients


class DictDense(rv.layers.Layer):
    """A traced layer on a dict of features: joins them in the dict's order, then a matmul."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        width = sum(shape[-1] for shape in input_shape.values())
        self.kernel = self.add_weight(shape=(width, self.units), name="kernel")

    def call(self, inputs):
        return ops.matmul(ops.concatenate(list(inputs.values()), axis=-1), self.kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class PairSum(rv.layers.Layer):
    """A traced layer on a nested list ``[[a, b], c]``."""

    def call(self, inputs):
        (a, b), c = inputs
        return a * b + c


def _dict_model():
    rv.config.set_random_seed(3)
    # Written "z" first: the layer sees the dict in this order, though the graph flattens it sorted.
    inputs = {"z": rv.layers.Input((2,), name="z"), "x": rv.layers.Input((3,), name="x")}
    out = rv.layers.Dense(1)(DictDense(4)(inputs))
    return rv.Model(inputs, out)


def _data(n=6, dtype="float64"):
    rng = np.random.default_rng(0)
    return {"z": rng.standard_normal((n, 2)).astype(dtype), "x": rng.standard_normal((n, 3)).astype(dtype)}


def test_a_traced_layer_takes_a_dict_of_keras_tensors_in_its_written_order(float64):
    model = _dict_model()
    data = _data()
    dict_layer, dense = model.layers[-2:]  # after the InputLayers, as in Keras 3
    kernel, (w, b) = dict_layer.get_weights()[0], dense.get_weights()
    expected = np.concatenate([data["z"], data["x"]], axis=-1) @ kernel @ w + b
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-12)
    # Called eagerly on a dict of arrays, the layer computes the same.
    np.testing.assert_allclose(dense(dict_layer(data)), expected, rtol=1e-12)


def test_gradients_through_a_dict_input_layer(float64):
    model = _dict_model()
    model.compile(optimizer="sgd", loss="mse")
    data = _data()
    check_gradients(model, [data["z"], data["x"]], np.ones((6, 1)))


def test_a_model_with_a_dict_input_layer_saves_and_loads(tmp_path):
    model = _dict_model()
    data = _data(dtype="float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = rv.saving.load_model(path, custom_objects={"DictDense": DictDense})
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    assert loaded.get_config()["nodes"][0]["structure"] == {"z": 1, "x": 0}


def test_a_traced_layer_takes_nested_lists(float64):
    a, b, c = (rv.layers.Input((3,)) for _ in range(3))
    model = rv.Model([a, b, c], PairSum()([[a, b], c]))
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((4, 3)) for _ in range(3)]
    np.testing.assert_allclose(model.predict(xs, verbose=0), xs[0] * xs[1] + xs[2], rtol=1e-12)


def test_a_hand_written_layer_refuses_a_dict():
    inputs = {"a": rv.layers.Input((2,)), "b": rv.layers.Input((2,))}
    layer = rv.layers.Concatenate(name="joiner")
    with pytest.raises(TypeError, match=r"'joiner' \(Concatenate\) takes a tensor or a list.*got a dict with keys"):
        layer(inputs)
    with pytest.raises(TypeError, match=r"'joiner' \(Concatenate\).*got a dict with keys \['a', 'b'\]"):
        layer({"a": np.zeros((1, 2)), "b": np.zeros((1, 2))})


def test_model_inputs_may_be_layer_outputs_the_graph_is_cut_there(float64):
    x = rv.layers.Input((3,))
    first = rv.layers.Dense(4)
    hidden = first(x)
    second = rv.layers.Dense(2)
    model = rv.Model(hidden, second(hidden))
    assert [type(x).__name__ for x in model.layers] == ["InputLayer", "Dense"] and model.layers[1] is second
    h = np.random.default_rng(2).standard_normal((5, 4))
    w, b = second.get_weights()
    np.testing.assert_allclose(model.predict(h, verbose=0), h @ w + b, rtol=1e-12)
    # The graph the tensors came from is unchanged: the full model still runs both layers.
    full = rv.Model(x, second(first(x)))
    assert full.layers == [x.input_layer, first, second]


def test_a_trailing_dimension_of_one_may_be_left_out(float64):
    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.layers.Input((1,)), rv.layers.Dense(2)])
    x = np.arange(5.0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x[:, None], verbose=0))
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(2)])
    np.testing.assert_array_equal(
        model.predict(np.ones((2, 3, 1)), verbose=0), model.predict(np.ones((2, 3)), verbose=0)
    )


class DictModel(rv.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = rv.layers.Dense(1)

    def call(self, inputs, training=False):
        return self.dense(ops.concatenate([inputs["a"], ops.cast(inputs["ids"], "float64")], axis=-1))


def test_a_subclassed_model_takes_a_dict_and_saves(tmp_path, float64):
    rng = np.random.default_rng(4)
    data = {"ids": rng.integers(0, 5, (12, 2)), "a": rng.standard_normal((12, 3))}
    model = DictModel()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, rng.standard_normal((12, 1)), epochs=2, verbose=0)
    assert model.get_build_config() == {
        "input_shape": {"ids": [None, 2], "a": [None, 3]},
        "input_dtype": {"ids": "int64", "a": "float64"},
    }
    w, b = model.dense.get_weights()
    expected = np.concatenate([data["a"], data["ids"]], axis=-1) @ w + b
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, rtol=1e-12)
    model.save(tmp_path / "m.keras")
    loaded = rv.saving.load_model(tmp_path / "m.keras", custom_objects={"DictModel": DictModel})
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def _named_io_model():
    L = rv.layers
    a, b = L.Input((3,), name="a"), L.Input((2,), name="b")
    h = L.Concatenate()([a, b])
    return rv.Model({"a": a, "b": b}, {"y": L.Dense(1, name="y")(h), "z": L.Dense(2, name="z")(h)})


def test_model_input_and_output_keep_the_form_they_were_given_in():
    model = _named_io_model()
    assert sorted(model.input) == ["a", "b"] and sorted(model.output) == ["y", "z"]
    assert model.input["b"] is model.inputs[1]
    seq = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(2)])
    assert seq.input is seq.inputs[0] and seq.output is seq.outputs[0]
    pair = rv.Model([seq.inputs[0], rv.layers.Input((1,))], seq.outputs)
    assert isinstance(pair.input, list) and len(pair.input) == 2


def test_dict_inputs_and_outputs_survive_saving(tmp_path):
    model = _named_io_model()
    model.compile(optimizer="sgd", loss={"y": "mse", "z": "mse"})
    x = {"a": np.ones((4, 3), np.float32), "b": np.arange(8, dtype=np.float32).reshape(4, 2)}
    model.save(tmp_path / "m.ranvier")
    again = rv.saving.load_model(tmp_path / "m.ranvier")
    assert sorted(again.input) == ["a", "b"] and sorted(again.output) == ["y", "z"]
    before, after = model.predict(x, verbose=0), again.predict(x, verbose=0)
    assert sorted(after) == ["y", "z"]
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_a_file_with_a_bad_input_structure_is_refused():
    from ranvier.api.models._functional_config import functional_config, functional_from_config

    config = functional_config(_named_io_model())
    for bad in ({"form": "dict", "keys": ["a"]}, {"form": "dict", "keys": ["a", "a"]}, {"form": "tuple"}, "dict"):
        with pytest.raises(ValueError, match="input_structure must be"):
            functional_from_config(rv.Model, {**config, "input_structure": bad})


def test_a_dict_input_model_nested_in_another_takes_a_dict():
    inner = _named_io_model()
    x, y = rv.layers.Input((3,), name="x"), rv.layers.Input((2,), name="y")
    outer = rv.Model([x, y], inner({"b": y, "a": x})["z"])
    data = [np.ones((4, 3), np.float32), np.arange(8, dtype=np.float32).reshape(4, 2)]
    expected = inner.predict({"a": data[0], "b": data[1]}, verbose=0)["z"]
    np.testing.assert_allclose(outer.predict(data, verbose=0), expected, rtol=1e-6)
