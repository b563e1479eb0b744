"""Keras-style custom layers: call written with ops, no backward, gradients by tracing."""

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops
from ranvier.testing import check_gradients


class KerasDense(rv.layers.Layer):
    """Dense as a Keras user writes it."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation_name = units, activation

    def build(self, input_shape):
        self.w = self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")
        self.b = self.add_weight("bias", (self.units,), "zeros")

    def call(self, inputs):
        y = ops.matmul(inputs, self.w) + self.b
        return ops.relu(y) if self.activation_name == "relu" else y

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name}


class Residual(rv.layers.Layer):
    """A traced block around a built-in layer (kept in an attribute) with an added loss."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.inner = rv.layers.Dense(units, activation="tanh")

    def call(self, inputs, training=False):
        h = self.inner(inputs)
        self.add_loss(0.01 * ops.sum(ops.square(h)))
        return inputs + h


def _pair(custom, activation="relu"):
    rv.config.set_random_seed(5)
    layer = KerasDense if custom else rv.layers.Dense
    model = rv.Sequential([rv.layers.Input((6,)), layer(7, activation=activation), layer(3)])
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss=rv.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_a_keras_dense_trains_to_the_built_in_weights(float64):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    custom, built_in = _pair(True), _pair(False)
    built_in.set_weights(custom.get_weights())
    assert [type(s).__name__ for s in custom._executor.steps] == ["TracedStep", "TracedStep"]
    for m in (custom, built_in):
        m.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(custom.get_weights(), built_in.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_traced_layer_gradients_match_finite_differences(float64):
    rng = np.random.default_rng(1)
    check_gradients(KerasDense(4, activation="relu"), rng.standard_normal((5, 3)))
    model = rv.Sequential([rv.layers.Input((4,)), Residual(4), KerasDense(2)])
    model.compile(optimizer="sgd", loss="mse")
    check_gradients(model, rng.standard_normal((6, 4)), rng.standard_normal((6, 2)))


def test_add_loss_joins_the_training_loss(float64):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    block = Residual(4)
    model = rv.Sequential([rv.layers.Input((4,)), block])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, y, verbose=0)
    xp, yp, sw = model._prepare(x, y)
    h = block.inner(x)
    expected = np.mean((x + h - y) ** 2) + 0.01 * np.sum(h**2)
    np.testing.assert_allclose(model._compute_gradients(xp, yp, sw)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(loss, np.mean((x + h - y) ** 2), rtol=1e-12)  # inference adds no loss
    assert len(model.weights) == 2  # the inner Dense's, found through the attribute


def test_output_shape_is_inferred_when_compute_output_shape_is_absent():
    t = rv.layers.Input((5,))
    out = KerasDense(3)(t)
    assert out.shape == (None, 3)
    model = rv.Model(t, out)
    assert model.predict(np.ones((2, 5), np.float32)).shape == (2, 3)


def test_errors_in_traced_code_name_the_op_and_the_layer():
    layer = rv.layers.Lambda(lambda x: ops.matmul(x, np.ones((4, 3), np.float32)), name="proj")
    with pytest.raises(ValueError, match=r"Layer 'proj' \(Lambda\): ops.matmul: .* got shapes \(2, 5\) and \(4, 3\)"):
        rv.Sequential([rv.layers.Input((5,)), layer])


@rv.saving.register_keras_serializable(package="test_traced")
def doubled(x):
    return x * 2.0


def test_lambda_computes_trains_and_saves_by_registered_name(tmp_path, float64):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    model = rv.Sequential(
        [
            rv.layers.Input((3,)),
            rv.layers.Dense(4),
            rv.layers.Lambda(doubled),
            rv.layers.Lambda(ops.tanh),
            rv.layers.Dense(2),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    check_gradients(model, x, y)
    hidden = model.layers[0](x)
    np.testing.assert_allclose(model.layers[1](hidden), 2 * hidden)
    path = tmp_path / "lambda.ranvier"
    with pytest.raises(ValueError, match="registered"):
        model.save(path)  # ops.tanh is not registered
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(4), rv.layers.Lambda(doubled), rv.layers.Dense(2)])
    model.save(path)
    np.testing.assert_array_equal(rv.load_model(path).predict(x), model.predict(x))
    with pytest.raises(ValueError, match="must be registered"):
        rv.layers.Lambda(lambda t: t).get_config()


@rv.saving.register_keras_serializable(package="test_traced")
def squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


def test_a_function_loss_and_metric_train_as_the_built_in_ones(tmp_path, float64):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((32, 5)), rng.standard_normal((32, 2))

    def make(loss):
        rv.config.set_random_seed(2)
        model = rv.Sequential([rv.layers.Input((5,)), rv.layers.Dense(6, activation="tanh"), rv.layers.Dense(2)])
        model.compile(optimizer="sgd", loss=loss, metrics=[squared_error, "mae"])
        return model

    fn, built_in = make(squared_error), make("mse")
    built_in.set_weights(fn.get_weights())
    h_fn = fn.fit(x, y, epochs=2, shuffle=False, verbose=0).history
    h_bi = built_in.fit(x, y, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_fn["loss"], h_bi["loss"], rtol=1e-12)
    np.testing.assert_allclose(h_fn["squared_error"], h_bi["loss"], rtol=1e-12)
    for a, b in zip(fn.get_weights(), built_in.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    fn.save(tmp_path / "fn.ranvier")
    again = rv.load_model(tmp_path / "fn.ranvier")
    assert again.loss.fn is squared_error
    np.testing.assert_allclose(again.evaluate(x, y, verbose=0), fn.evaluate(x, y, verbose=0), rtol=1e-12)


def test_layer_called_on_a_constant_inside_a_traced_call_trains():
    """Keras' TokenAndPositionEmbedding: ``pos_emb(ops.arange(n))`` inside ``call``; the position
    embedding's weights must receive gradients although its input is a plain array."""

    class TokenAndPosition(rv.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.tokens = rv.layers.Embedding(20, 4)
            self.positions = rv.layers.Embedding(6, 4)

        def call(self, x):
            return self.tokens(x) + self.positions(ops.arange(start=0, stop=ops.shape(x)[-1], step=1))

    block = TokenAndPosition()
    inputs = rv.layers.Input((6,))
    model = rv.Model(inputs, rv.layers.Dense(1)(rv.layers.GlobalAveragePooling1D()(block(inputs))))
    model.compile("sgd", "mse")
    before = block.positions.embeddings.value.copy()
    x = np.random.default_rng(0).integers(0, 20, (8, 6))
    model.fit(x, np.ones((8, 1)), epochs=1, verbose=0)
    assert not np.array_equal(before, block.positions.embeddings.value)


class Endpoint(rv.layers.Layer):
    """Keras' endpoint pattern: the targets come in as tensors, the loss goes to add_loss."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_fn = rv.losses.MeanSquaredError()

    def call(self, logits, targets=None, sample_weight=None):
        if targets is not None:
            self.add_loss(self.loss_fn(targets, logits, sample_weight))
        return ops.tanh(logits)


def _endpoint_data(n=12):
    rng = np.random.default_rng(0)
    return {"x": rng.standard_normal((n, 5)), "t": rng.standard_normal((n, 2)), "w": rng.random((n, 1))}


@pytest.mark.parametrize("by_keyword", [False, True])
def test_extra_tensors_reach_a_traced_layer_positionally_or_by_name(by_keyword, float64):
    # compile(loss=None): the model minimises what the endpoint adds; its gradient is the same
    # weighted MSE's as a compiled loss on the logits would give.
    data = _endpoint_data()
    x, t, w = (rv.layers.Input((d,), name=n) for n, d in (("x", 5), ("t", 2), ("w", 1)))
    dense = rv.layers.Dense(2)
    logits = dense(x)
    out = Endpoint()(logits=logits, targets=t, sample_weight=w) if by_keyword else Endpoint()(logits, t, w)
    model = rv.Model([x, t, w], out)
    model.compile(optimizer="sgd")
    xs, ys, sws = model._prepare(data, None, targets_for="fit")
    loss = model._compute_gradients(xs, ys, sws)[0]
    grads = model._flat_grads.copy()

    reference = rv.Model(x, dense(x))
    reference.compile(optimizer="sgd", loss="mse")
    xr, yr, swr = reference._prepare(data["x"], data["t"], data["w"][:, 0])
    np.testing.assert_allclose(loss, reference._compute_gradients(xr, yr, swr)[0], rtol=1e-12)
    np.testing.assert_allclose(grads, reference._flat_grads, rtol=1e-12)
    # Inference adds no loss and needs no targets' values.
    np.testing.assert_allclose(model.predict(data, verbose=0), np.tanh(dense(data["x"])), rtol=1e-12)


def test_compiled_without_a_loss_fit_trains_on_added_losses_only():
    rv.config.set_random_seed(0)
    data = _endpoint_data(64)
    x, t = rv.layers.Input((5,), name="x"), rv.layers.Input((2,), name="t")
    model = rv.Model([x, t], Endpoint()(rv.layers.Dense(2)(x), t))
    model.compile(optimizer=rv.optimizers.SGD(0.1))
    losses = model.fit({"x": data["x"], "t": data["t"]}, epochs=3, verbose=0).history["loss"]
    assert losses[2] < losses[0]
    assert model.evaluate({"x": data["x"], "t": data["t"]}, verbose=0) == 0.0  # no loss outside training


def test_compiled_without_a_loss_and_nothing_added_is_an_error():
    model = rv.Sequential([rv.layers.Input((3,)), rv.layers.Dense(2)])
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(np.ones((4, 3)), epochs=1, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="No loss to compute"):
        model.train_on_batch(np.ones((4, 3)))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_bad_extra_arguments_to_a_traced_layer():
    x = rv.layers.Input((5,))
    with pytest.raises(TypeError, match="call\\(\\) takes 3 positional arguments after self, got 5"):
        Endpoint()(x, x, x, x, x)
    with pytest.raises(TypeError, match="multiple values for \\['targets'\\]"):
        Endpoint()(x, x, targets=x)
    with pytest.raises(TypeError, match="missing the first argument of call\\(\\), 'logits'"):
        Endpoint()(targets=x)
