"""SimpleRNN, LSTM, GRU: gradients (float64 finite differences), PyTorch parity, masks, errors."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.api.layers.base import Layer
from ranvier.api.layers.recurrent import GRU, LSTM, SimpleRNN
from ranvier.testing import check_gradients

RNNS = [SimpleRNN, LSTM, GRU]


class _Bound(Layer):
    """Calls ``layer`` with a fixed mask and the initial states as extra inputs, so that
    check_gradients also checks the gradients of the states."""

    def __init__(self, layer, mask=None, training=False):
        super().__init__()
        self.layer, self.mask, self.training = layer, mask, training

    def _sublayers(self):
        return [self.layer]

    def build(self, input_shape):
        self.layer._build_once(input_shape[0] if isinstance(input_shape, list) else input_shape)

    def call(self, inputs, training=False):
        x, states = (inputs[0], inputs[1:]) if isinstance(inputs, list) else (inputs, None)
        if self.training:  # the same dropout masks at every call of the check
            self.layer._rng = np.random.default_rng(7)
        return self.layer.call(x, training=self.training, mask=self.mask, initial_state=states or None)

    def backward(self, dy, cache, need_input_grad=True):
        return self.layer.backward(dy, cache, need_input_grad)


def _x(shape=(3, 5, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], bool)


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask", [None, MASK])
def test_gradients(float64, cls, return_sequences, go_backwards, mask):
    layer = cls(6, return_sequences=return_sequences, go_backwards=go_backwards)
    check_gradients(_Bound(layer, mask), _x())


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_with_state_in_and_out(float64, cls, return_sequences):
    layer = cls(6, return_sequences=return_sequences, return_state=True)
    states = [_x((3, 6), seed=i + 1) for i in range(layer._n_states)]
    result = check_gradients(_Bound(layer, MASK), [_x()] + states)
    assert {"input_0", "input_1"} <= set(result.errors)


@pytest.mark.parametrize("cls", RNNS)
def test_gradients_with_dropout(float64, cls):
    layer = cls(5, dropout=0.3, recurrent_dropout=0.4, return_sequences=True, seed=1)
    check_gradients(_Bound(layer, MASK, training=True), _x())


@pytest.mark.parametrize("cls", RNNS)
def test_float32_matches_float64(cls):
    x = _x()
    a = cls(6, return_sequences=True, dtype="float64")
    b = cls(6, return_sequences=True, dtype="float32")
    a(x)
    b(x.astype(np.float32))
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(b(x.astype(np.float32)), a(x), rtol=1e-5, atol=1e-6)


def test_masked_steps_repeat_the_previous_output():
    layer = LSTM(4, return_sequences=True)
    x = _x().astype(np.float32)
    layer(x)
    y, _ = layer.call(x, mask=MASK)
    np.testing.assert_array_equal(y[0, 3], y[0, 2])
    np.testing.assert_array_equal(y[0, 4], y[0, 2])
    np.testing.assert_array_equal(y[2, 0], 0)  # masked first step keeps the zero initial state
    layer.return_sequences = False
    last, _ = layer.call(x, mask=MASK)
    np.testing.assert_array_equal(last, y[:, -1])


def test_padding_does_not_change_the_result():
    # A sequence padded at the end (and masked) gives the same last state as the unpadded one.
    layer = GRU(4)
    layer(rv.Input((None, 2)))  # variable length
    x = _x((1, 3, 2)).astype(np.float32)
    padded = np.concatenate([x, np.zeros((1, 2, 2), np.float32)], axis=1)
    mask = np.array([[1, 1, 1, 0, 0]], bool)
    unpadded = layer(x)
    np.testing.assert_allclose(layer.call(padded, mask=mask)[0], unpadded, rtol=1e-6)


def test_lstm_initialisation_follows_keras():
    layer = LSTM(8)
    layer(np.zeros((1, 2, 3), np.float32))
    np.testing.assert_array_equal(layer.bias.value, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    r = layer.recurrent_kernel.value
    np.testing.assert_allclose(r @ r.T, np.eye(8), atol=1e-5)  # orthogonal rows
    assert layer.kernel.shape == (3, 32)


def test_go_backwards_reverses_the_sequence():
    fwd = SimpleRNN(3, return_sequences=True)
    bwd = SimpleRNN(3, return_sequences=True, go_backwards=True)
    x = _x((2, 4, 2)).astype(np.float32)
    fwd(x)
    bwd(x)
    bwd.set_weights(fwd.get_weights())
    np.testing.assert_allclose(bwd(x), fwd(x[:, ::-1]), rtol=1e-6)


def _torch_parity(cls, torch_cls, reorder, x):
    import torch

    torch.manual_seed(0)
    net = torch_cls(x.shape[2], 7, batch_first=True)
    layer = cls(7, return_sequences=True, return_state=True)
    layer(x)
    w = {k: v.detach().numpy().astype(np.float64) for k, v in net.named_parameters()}
    bias = np.stack([reorder(w["bias_ih_l0"]), reorder(w["bias_hh_l0"])])
    layer.set_weights(
        [reorder(w["weight_ih_l0"]).T, reorder(w["weight_hh_l0"]).T, bias if cls is GRU else bias.sum(axis=0)]
    )
    h0 = np.random.default_rng(5).standard_normal((1, x.shape[0], 7)).astype(np.float32)
    states = [h0[0]] + ([0.5 * h0[0]] if cls is LSTM else [])
    ours = layer(x, initial_state=states)
    t_states = (torch.from_numpy(h0), torch.from_numpy(0.5 * h0)) if cls is LSTM else torch.from_numpy(h0)
    seq, t_final = net(torch.from_numpy(x), t_states)
    theirs = [seq] + (list(t_final) if cls is LSTM else [t_final])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.detach().numpy().reshape(a.shape), rtol=1e-5, atol=2e-6)


def test_lstm_matches_torch():
    torch = pytest.importorskip("torch")
    _torch_parity(LSTM, torch.nn.LSTM, lambda w: w, _x((4, 9, 5), seed=3).astype(np.float32))


def test_gru_matches_torch():
    # torch's gate blocks are (r, z, n); Keras/ranvier's are (z, r, h).
    def reorder(w):
        r, z, n = np.split(w, 3, axis=0)
        return np.concatenate([z, r, n], axis=0)

    torch = pytest.importorskip("torch")
    _torch_parity(GRU, torch.nn.GRU, reorder, _x((4, 9, 5), seed=4).astype(np.float32))


def test_simple_rnn_matches_torch():
    torch = pytest.importorskip("torch")
    net = torch.nn.RNN(5, 7, batch_first=True)
    layer = SimpleRNN(7, return_sequences=True)
    x = _x((4, 9, 5), seed=5).astype(np.float32)
    layer(x)
    layer.set_weights(
        [
            net.weight_ih_l0.detach().numpy().T,
            net.weight_hh_l0.detach().numpy().T,
            (net.bias_ih_l0 + net.bias_hh_l0).detach().numpy(),
        ]
    )
    np.testing.assert_allclose(layer(x), net(torch.from_numpy(x))[0].detach().numpy(), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("cls", RNNS)
def test_config_round_trip(cls):
    layer = cls(4, return_sequences=True, go_backwards=True, dropout=0.1, name="rnn")
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 3)), r"expects input of shape \(None, None, 3\), got shape \(2, 3\)"),
        (np.zeros((2, 0, 3)), "at least one sample and one timestep"),
        (np.zeros((0, 4, 3)), "at least one sample and one timestep"),
        (np.zeros((2, 4, 5)), r"expects input of shape \(None, None, 3\)"),
    ],
)
def test_bad_inputs_raise_before_the_kernel(bad, match):
    layer = LSTM(3)
    layer(rv.Input((None, 3)))
    with pytest.raises(ValueError, match=match):
        layer(bad)


def test_timestep_mismatch_with_a_declared_input_shape():
    layer = GRU(3)
    rv.Sequential([rv.Input((10, 2)), layer])
    with pytest.raises(ValueError, match=r"\(None, 10, 2\)"):
        layer(np.zeros((1, 9, 2), np.float32))


def test_bad_arguments():
    with pytest.raises(ValueError, match="units"):
        LSTM(0)
    with pytest.raises(ValueError, match="dropout"):
        GRU(3, dropout=1.0)
    with pytest.raises(ValueError, match="activation"):
        SimpleRNN(3, activation="softmax")
    with pytest.raises(ValueError, match="stateful"):
        LSTM(3, stateful=True)
    with pytest.raises(ValueError, match="reset_after"):
        GRU(3, reset_after=False)
    layer = LSTM(3)
    with pytest.raises(ValueError, match="2 initial state"):
        layer(np.zeros((2, 4, 3), np.float32), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match="initial states must have shape"):
        layer(np.zeros((2, 4, 3), np.float32), initial_state=[np.zeros((2, 4)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="mask must have shape"):
        layer.call(np.zeros((2, 4, 3), np.float32), mask=np.ones((2, 5), bool))


def test_symbolic_shapes_and_state_outputs():
    inp = rv.Input((None, 3))
    seq, h, c = LSTM(5, return_sequences=True, return_state=True)(inp)
    assert seq.shape == (None, None, 5) and h.shape == (None, 5) and c.shape == (None, 5)
    assert GRU(2)(inp).shape == (None, 2)


def test_fit_learns_a_sequence_task_with_clipnorm():
    # Which of two input channels had the larger sum: needs memory over the whole sequence.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 12, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > x[:, :, 1].sum(1)).astype(np.int64)
    rv.config.set_random_seed(0)
    model = rv.Sequential([rv.Input((None, 2)), LSTM(16), rv.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=rv.optimizers.Adam(0.02, clipnorm=1.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    hist = model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.9
