"""ranvier.utils' Keras 3 names: Sequence, pack/unpack, serialization aliases, image helpers, plot_model."""

import sys
import types

import numpy as np
import pytest

import ranvier as rv
from ranvier.api import _model_visualization


def test_every_exported_name_exists():
    for name in rv.utils.__all__:
        assert getattr(rv.utils, name) is not None, name


def test_sequence_is_pydataset():
    assert rv.utils.Sequence is rv.utils.PyDataset

    class Batches(rv.utils.Sequence):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y = x, y

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return self.x[i * 5 : (i + 1) * 5], self.y[i * 5 : (i + 1) * 5]

    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = rv.Sequential([rv.layers.Input(shape=(3,)), rv.layers.Dense(1)])
    model.compile("sgd", "mse")
    np.testing.assert_allclose(model.evaluate(Batches(x, y), verbose=0), model.evaluate(x, y, batch_size=5, verbose=0))


def test_pack_x_y_sample_weight():
    x, y, w = np.ones(3), np.zeros(3), np.full(3, 2.0)
    assert rv.utils.pack_x_y_sample_weight(x) is x
    packed = rv.utils.pack_x_y_sample_weight([x, x])
    assert isinstance(packed, tuple) and len(packed) == 1 and packed[0][0] is x
    assert rv.utils.pack_x_y_sample_weight(x, y) == (x, y)
    assert rv.utils.pack_x_y_sample_weight(x, y, w) == (x, y, w)


def test_unpack_x_y_sample_weight():
    x, y, w = np.ones(3), np.zeros(3), np.full(3, 2.0)
    assert rv.utils.unpack_x_y_sample_weight(x) == (x, None, None)
    assert rv.utils.unpack_x_y_sample_weight((x,)) == (x, None, None)
    assert rv.utils.unpack_x_y_sample_weight([x, y]) == (x, y, None)
    assert rv.utils.unpack_x_y_sample_weight((x, y, w)) == (x, y, w)
    for bad in ((), (x, y, w, w)):
        with pytest.raises(ValueError, match="`x`, `\\(x,\\)`, `\\(x, y\\)`, or `\\(x, y, sample_weight\\)`"):
            rv.utils.unpack_x_y_sample_weight(bad)
    # Round trip, the use in a custom train_step.
    for data in ((x,), (x, y), (x, y, w)):
        unpacked = rv.utils.unpack_x_y_sample_weight(rv.utils.pack_x_y_sample_weight(*data))
        assert unpacked[: len(data)] == data


def test_serialization_aliases_are_the_saving_functions():
    for name in (
        "custom_object_scope",
        "CustomObjectScope",
        "get_custom_objects",
        "register_keras_serializable",
        "serialize_keras_object",
        "deserialize_keras_object",
        "get_registered_name",
        "get_registered_object",
    ):
        assert getattr(rv.utils, name) is getattr(rv.saving, name), name
    assert rv.utils.custom_object_scope is rv.utils.CustomObjectScope


def test_serialization_aliases_work():
    registry = dict(rv.utils.get_custom_objects())

    @rv.utils.register_keras_serializable(package="utils_test")
    class Twice(rv.layers.Layer):
        def call(self, inputs):
            return inputs * 2

    try:
        assert rv.utils.get_registered_name(Twice) == "utils_test>Twice"
        assert rv.utils.get_registered_object("utils_test>Twice") is Twice
        config = rv.utils.serialize_keras_object(Twice(name="t"))
        layer = rv.utils.deserialize_keras_object(config)
        assert type(layer) is Twice and layer.name == "t"

        class Local(rv.layers.Layer):
            def call(self, inputs):
                return inputs

        assert rv.utils.get_registered_object("Local") is None
        with rv.utils.custom_object_scope({"Local": Local}):
            assert rv.utils.get_registered_object("Local") is Local
        assert rv.utils.get_registered_object("Local") is None
    finally:
        rv.utils.get_custom_objects().pop("utils_test>Twice", None)
        assert rv.utils.get_custom_objects() == registry


# ------------------------------------------------------------------ images
@pytest.fixture
def no_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: rv.utils.load_img("x.png"), "load_img"),
        (lambda: rv.utils.array_to_img(np.zeros((2, 2, 3))), "array_to_img"),
        (lambda tmp="x.png": rv.utils.save_img(tmp, np.zeros((2, 2, 3))), "array_to_img"),
    ],
)
def test_pillow_helpers_name_pip_install_pillow(no_pillow, call, name):
    with pytest.raises(ImportError, match=f"The use of `{name}` requires PIL.*pip install pillow"):
        call()


def test_img_to_array_works_on_arrays_without_pillow(no_pillow):
    rgb = np.arange(24).reshape(2, 4, 3)
    out = rv.utils.img_to_array(rgb)
    assert out.dtype == np.float32 and out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out, rgb)
    np.testing.assert_array_equal(rv.utils.img_to_array(rgb, data_format="channels_first"), rgb.transpose(2, 0, 1))
    gray = np.arange(8).reshape(2, 4)
    assert rv.utils.img_to_array(gray).shape == (2, 4, 1)
    assert rv.utils.img_to_array(gray, data_format="channels_first", dtype="float64").shape == (1, 2, 4)
    assert rv.utils.img_to_array(gray, dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match=r"Unsupported image shape: \(4,\)"):
        rv.utils.img_to_array(np.zeros(4))
    with pytest.raises(ValueError, match="data_format must be .* got 'NHWC'"):
        rv.utils.img_to_array(rgb, data_format="NHWC")


def test_pillow_round_trip(tmp_path):
    pytest.importorskip("PIL")
    img = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3)).astype(np.float32)
    rv.utils.save_img(tmp_path / "a.png", img, scale=False)
    loaded = rv.utils.load_img(tmp_path / "a.png")
    np.testing.assert_array_equal(rv.utils.img_to_array(loaded), img)
    assert rv.utils.img_to_array(rv.utils.load_img(tmp_path / "a.png", target_size=(3, 4))).shape == (3, 4, 3)
    assert rv.utils.array_to_img(img[:, :, :1] * 300, scale=False).mode == "I"
    assert rv.utils.array_to_img(img[:, :, :1] * 300).mode == "L"  # rescaled to 0-255
    gray = rv.utils.img_to_array(rv.utils.load_img(tmp_path / "a.png", color_mode="grayscale"))
    assert gray.shape == (5, 7, 1)


# ------------------------------------------------------------------ plot_model
def _functional():
    a = rv.Input(shape=(4,), name="a")
    b = rv.Input(shape=(2,), name="b")
    h = rv.layers.Dense(3, activation="relu", name="hidden")(a)
    merged = rv.layers.Concatenate(name="merge")([h, b])
    out = rv.layers.Dense(1, name="out")(merged)
    return rv.Model([a, b], out)


def test_model_graph_of_a_functional_model():
    model = _functional()
    nodes, edges = _model_visualization.model_graph(model, show_shapes=True, show_layer_activations=True)
    labels = {label.split("\n")[0]: label for _, label in nodes}
    assert list(labels) == ["a (InputLayer)", "b (InputLayer)", "hidden (Dense)", "merge (Concatenate)", "out (Dense)"]
    assert "Input shape: [(None, 3), (None, 2)]" in labels["merge (Concatenate)"]
    assert "Output shape: (None, 5)" in labels["merge (Concatenate)"]
    assert "Activation: relu" in labels["hidden (Dense)"]
    ids = {label.split(" ")[0]: node_id for node_id, label in nodes}
    named = {(src, dst) for src, dst in edges}
    want = {("a", "hidden"), ("hidden", "merge"), ("b", "merge"), ("merge", "out")}
    assert named == {(ids[s], ids[d]) for s, d in want}
    assert ids["hidden"] == str(id(model.get_layer("hidden")))


def test_model_graph_of_sequential_and_subclassed_models():
    seq = rv.Sequential([rv.layers.Input(shape=(3,)), rv.layers.Dense(2, name="d1"), rv.layers.Dense(1, name="d2")])
    nodes, edges = _model_visualization.model_graph(seq, show_layer_names=False, show_trainable=True)
    assert [label for _, label in nodes] == ["Dense\nTrainable: T", "Dense\nTrainable: T"]
    assert edges == [(str(id(seq.layers[0])), str(id(seq.layers[1])))]

    class Sub(rv.Model):
        def __init__(self):
            super().__init__()
            self.dense = rv.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    sub = Sub()
    with pytest.raises(ValueError, match="not yet been built"):
        _model_visualization.model_graph(sub)
    sub(np.zeros((1, 3), np.float32))
    nodes, edges = _model_visualization.model_graph(sub)
    assert len(nodes) == 1 and nodes[0][1].endswith("(Sub)") and edges == []


def test_model_graph_draws_a_nested_model_as_one_node():
    inner = rv.Sequential([rv.layers.Input(shape=(3,)), rv.layers.Dense(2)], name="inner")
    a = rv.Input(shape=(3,), name="a")
    model = rv.Model(a, rv.layers.Dense(1, name="out")(inner(a)))
    nodes, edges = _model_visualization.model_graph(model)
    assert [label for _, label in nodes] == ["a (InputLayer)", "inner (Sequential)", "out (Dense)"]
    assert nodes[1][0] == str(id(inner))
    assert edges == [(nodes[0][0], nodes[1][0]), (nodes[1][0], nodes[2][0])]


def test_plot_model_without_pydot(monkeypatch):
    for name in ("pydot", "pydot_ng", "pydotplus"):
        monkeypatch.setitem(sys.modules, name, None)
    model = _functional()
    with pytest.raises(ImportError, match=r"You must install pydot \(`pip install pydot`\) for model_to_dot to work"):
        rv.utils.model_to_dot(model)
    with pytest.raises(ImportError, match=r"for `plot_model` to work"):
        rv.utils.plot_model(model)


class _FakeGraph:
    def __init__(self, **attrs):
        self.attrs, self.nodes, self.edges = dict(attrs), [], []

    def set(self, key, value):
        self.attrs[key] = value

    def set_node_defaults(self, **attrs):
        self.attrs["node_defaults"] = attrs

    def add_node(self, node):
        self.nodes.append(node)

    def add_edge(self, edge):
        self.edges.append(edge)


class _FakeNode(_FakeGraph):
    def __init__(self, name, label):
        super().__init__(label=label)
        self.name = name


class _FakeEdge(_FakeGraph):
    def __init__(self, src, dst):
        super().__init__()
        self.ends = (src, dst)


def test_model_to_dot_builds_the_pydot_graph(monkeypatch):
    fake = types.SimpleNamespace(Dot=_FakeGraph, Cluster=_FakeGraph, Node=_FakeNode, Edge=_FakeEdge)
    monkeypatch.setattr(_model_visualization, "_pydot", lambda: fake)
    model = _functional()
    dot = rv.utils.model_to_dot(model, show_shapes=True, rankdir="LR", dpi=96)
    nodes, edges = _model_visualization.model_graph(model, show_shapes=True)
    assert [(n.name, n.attrs["label"]) for n in dot.nodes] == nodes
    assert [e.ends for e in dot.edges] == edges
    assert dot.attrs["rankdir"] == "LR" and dot.attrs["dpi"] == 96
    cluster = rv.utils.model_to_dot(model, subgraph=True)
    assert cluster.attrs["graph_name"] == model.name and cluster.attrs["label"] == model.name
    with pytest.raises(ValueError, match="Unrecognized keyword arguments: {'colour': 1}"):
        rv.utils.model_to_dot(model, colour=1)
    with pytest.raises(ValueError, match="layer_range"):
        rv.utils.model_to_dot(model, layer_range=["a", "out"])


def test_smart_resize_crops_to_the_aspect_ratio_then_resizes():
    from ranvier.preprocessing.image import smart_resize

    rng = np.random.default_rng(6)
    img = rng.uniform(0, 255, size=(12, 20, 3)).astype(np.float32)
    out = smart_resize(img, (6, 6))
    # The centred 12 x 12 window (columns 4..15), then a bilinear resize: Resizing on the window.
    np.testing.assert_allclose(out, rv.layers.Resizing(6, 6)(img[None, :, 4:16])[0], rtol=1e-5, atol=1e-3)
    batch = smart_resize(np.stack([img, img]).astype(np.uint8), (3, 5), interpolation="nearest")
    assert batch.shape == (2, 3, 5, 3) and batch.dtype == np.float32
    assert smart_resize(img.astype(np.float64), (4, 4)).dtype == np.float64
    with pytest.raises(ValueError, match=r"incorrect rank, of shape \(12, 20\)"):
        smart_resize(img[..., 0], (4, 4))
    with pytest.raises(ValueError, match="tuple of 2 integers, but got: 4"):
        smart_resize(img, 4)
    with pytest.raises(NotImplementedError, match="'lanczos3'"):
        smart_resize(img, (4, 4), interpolation="lanczos3")
