"""Wrapper, SpectralNormalization (against a NumPy transcription of Keras' power iteration) and InputSpec."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.layers import InputSpec, SpectralNormalization, Wrapper

L = rv.layers


def _keras_step(kernel, u, iterations):
    """Keras 3's ``normalized_weights``, in NumPy."""

    def normalize(a):
        return a / max(np.sqrt(np.sum(a * a)), 1e-12)

    w = kernel.reshape(-1, kernel.shape[-1])
    for _ in range(iterations):
        v = normalize(u @ w.T)
        u = normalize(v @ w)
    sigma = (v @ w) @ u.T
    return u, kernel / sigma


@pytest.mark.parametrize("iterations", [1, 3])
def test_training_call_assigns_the_normalized_kernel(iterations):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    layer = SpectralNormalization(L.Dense(3, activation="tanh", dtype="float64"), iterations, dtype="float64")
    layer.build((None, 5))
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "bias", "vector_u"]
    assert layer.vector_u.shape == (1, 3) and not layer.vector_u.trainable
    kernel, bias, u0 = (w.copy() for w in layer.get_weights())
    y = np.asarray(layer(x, training=True))
    u, normalized = _keras_step(kernel, u0, iterations)
    np.testing.assert_allclose(layer.kernel.value, normalized, rtol=1e-12)
    np.testing.assert_allclose(layer.vector_u.value, u, rtol=1e-12)
    np.testing.assert_allclose(y, np.tanh(x @ normalized + bias), rtol=1e-12)
    before = layer.get_weights()
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), np.tanh(x @ before[0] + bias), rtol=1e-12)
    for a, b in zip(layer.get_weights(), before):  # inference assigns nothing
        np.testing.assert_array_equal(a, b)


def test_power_iteration_finds_the_largest_singular_value_and_zero_kernels_stay():
    rng = np.random.default_rng(1)
    layer = SpectralNormalization(L.Conv2D(4, 3), power_iterations=60)
    layer.build((None, 6, 6, 2))
    layer.kernel.assign(rng.standard_normal((3, 3, 2, 4)).astype(np.float32))
    layer(rng.standard_normal((2, 6, 6, 2)).astype(np.float32), training=True)
    top = np.linalg.svd(layer.kernel.value.reshape(-1, 4), compute_uv=False)[0]
    assert abs(top - 1.0) < 1e-3
    zero = SpectralNormalization(L.Dense(2, kernel_initializer="zeros"))
    zero(np.ones((2, 3), np.float32), training=True)
    assert not np.any(zero.kernel.value)


def test_embedding_and_layers_without_a_kernel():
    layer = SpectralNormalization(L.Embedding(10, 4))
    out = np.asarray(layer(np.array([[1, 2], [3, 4]]), training=True))
    assert out.shape == (2, 2, 4) and layer.vector_u.shape == (1, 4)
    with pytest.raises(ValueError, match="no attribute 'kernel' nor 'embeddings'"):
        SpectralNormalization(L.Flatten())(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="power_iterations"):
        SpectralNormalization(L.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="isn't a supported layer type"):
        SpectralNormalization("dense")


def test_spectral_normalization_trains_and_checks_its_input_spec():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)
    sn = SpectralNormalization(L.Dense(2), power_iterations=20)
    model = rv.Sequential([L.Input((5,)), sn])
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert model.predict(x, verbose=0).shape == (16, 2)
    assert isinstance(sn.input_spec, InputSpec) and sn.input_spec.axes == {-1: 5}
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        sn(np.ones((2, 4), np.float32))


def test_wrapper_is_a_base_class_with_the_layer_in_its_config():
    class Twice(Wrapper):
        def call(self, inputs, training=False):
            y, cache = self.layer.call(inputs, training=training)
            return 2 * y, cache

        def backward(self, dy, cache, need_input_grad=True):
            return self.layer.backward(2 * dy, cache, need_input_grad)

    layer = Twice(L.Dense(3))
    x = np.ones((2, 4), np.float32)
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y, 2 * np.asarray(layer.layer(x)), rtol=1e-6)
    assert layer.weights == layer.layer.weights
    config = layer.get_config()
    assert config["layer"]["class_name"] == "Dense"
    clone = Twice.from_config(config)
    assert clone.layer.units == 3 and clone.layer is not layer.layer
    assert layer.compute_output_shape((None, 4)) == (None, 3)


class _Specced(L.Layer):
    def __init__(self, spec, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = spec

    def call(self, inputs):
        return inputs * 2.0


@pytest.mark.parametrize(
    "spec, shape, match",
    [
        (InputSpec(ndim=3), (2, 4), "expected ndim=3, found ndim=2"),
        (InputSpec(min_ndim=3), (2, 4), "expected min_ndim=3, found ndim=2"),
        (InputSpec(max_ndim=2), (2, 4, 1), "expected max_ndim=2, found ndim=3"),
        (InputSpec(axes={-1: 5}), (2, 4), "expected axis -1 of input shape to have value 5"),
        (InputSpec(shape=(None, 3)), (2, 4), r"expected shape=\(None, 3\), found shape=\(2, 4\)"),
        (InputSpec(dtype="float64"), (2, 4), "expected dtype=float64, found dtype=float32"),
        ([InputSpec(), InputSpec()], (2, 4), "expects 2 input"),
    ],
)
def test_input_spec_checks_eager_and_symbolic_calls(spec, shape, match):
    with pytest.raises(ValueError, match=match):
        _Specced(spec)(np.ones(shape, np.float32))
    if "dtype" not in match:
        with pytest.raises(ValueError, match=match.replace("(2, 4", "(None, 4").replace("=(2,", "=(None,")):
            _Specced(spec)(L.Input(shape[1:]))


def test_input_spec_accepts_matching_inputs_and_round_trips():
    x = np.ones((2, 4, 1), np.float32)
    for spec in (
        InputSpec(ndim=3, axes={1: 4}),
        InputSpec(shape=(None, 4)),  # the trailing 1 squeezed
        InputSpec(min_ndim=2, max_ndim=3),
    ):
        if spec.shape is not None:
            spec.allow_last_axis_squeeze = True
        np.testing.assert_array_equal(np.asarray(_Specced(spec)(x)), 2 * x)
    spec = InputSpec(dtype="float32", ndim=2, axes={"1": 3})
    assert spec.axes == {1: 3}
    assert InputSpec.from_config(spec.get_config()).get_config() == spec.get_config()
    assert repr(spec) == "InputSpec(dtype=float32, ndim=2, axes={1: 3})"
    with pytest.raises(TypeError, match="axes"):
        InputSpec(axes={"a": 1})
    with pytest.raises(ValueError, match="greater than the maximum"):
        InputSpec(ndim=2, axes={2: 1})
