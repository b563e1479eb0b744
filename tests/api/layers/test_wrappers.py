"""Bidirectional and TimeDistributed."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.layers.recurrent import GRU, LSTM, SimpleRNN
from ranvier.api.layers.wrappers import Bidirectional, TimeDistributed
from ranvier.testing import check_gradients

X = np.random.default_rng(0).standard_normal((3, 5, 4))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_gradients(float64, merge_mode, return_sequences):
    layer = Bidirectional(LSTM(3, return_sequences=return_sequences), merge_mode=merge_mode)
    check_gradients(layer, X)


def test_bidirectional_gradients_with_mask_and_states(float64):
    rv.config.set_random_seed(0)
    inp = rv.Input((5, 4))
    out = Bidirectional(GRU(3, return_sequences=True))(rv.layers.Masking()(inp))
    model = rv.Model(inp, rv.layers.Dense(2, activation="softmax")(LSTM(2)(out)))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = X.copy()
    x[0, 3:] = 0  # masked steps
    check_gradients(model, x, np.array([0, 1, 1]))


def test_bidirectional_is_forward_and_reversed_backward():
    layer = Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode=None)
    x = X.astype(np.float32)
    y_f, y_b = layer(x)
    np.testing.assert_allclose(y_f, layer.forward_layer(x), rtol=1e-6)
    np.testing.assert_allclose(y_b, layer.backward_layer(x)[:, ::-1], rtol=1e-6)
    assert len(layer.trainable_weights) == 6


def test_bidirectional_states_and_shapes():
    layer = Bidirectional(LSTM(3, return_state=True))
    out, hf, cf, hb, cb = layer(X.astype(np.float32))
    assert out.shape == (3, 6) and hf.shape == cb.shape == (3, 3)
    np.testing.assert_allclose(out, np.concatenate([hf, hb], axis=1), rtol=1e-6)
    shapes = layer.compute_output_shape((None, 5, 4))
    assert shapes[0] == (None, 6) and len(shapes) == 5


def test_bidirectional_errors_and_config():
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(TypeError, match="recurrent layer"):
        Bidirectional(rv.layers.Dense(2))
    layer = Bidirectional(GRU(2, name="g"), merge_mode="sum")
    clone = Bidirectional.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_time_distributed_dense(float64):
    layer = TimeDistributed(rv.layers.Dense(2, activation="tanh"))
    y = layer(X)
    assert y.shape == (3, 5, 2)
    inner = layer.layer
    np.testing.assert_allclose(y, np.tanh(X @ inner.kernel.value + inner.bias.value), rtol=1e-12)
    check_gradients(layer, X)
    assert TimeDistributed.from_config(layer.get_config()).compute_output_shape((None, 5, 4)) == (None, 5, 2)


def test_time_distributed_rejects_rank_2():
    with pytest.raises(ValueError, match="time"):
        TimeDistributed(rv.layers.Dense(2)).build((None, 4))
