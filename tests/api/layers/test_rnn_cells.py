"""RNN(cell), the built-in cells and StackedRNNCells: compiled-loop identity, gradients, masks, saving, errors."""

import json

import numpy as np
import pytest

import ranvier as rv
from ranvier import ops
from ranvier.api._errors import UnsupportedArgument
from ranvier.testing import check_gradients, check_layer

L = rv.layers
PAIRS = [(L.SimpleRNNCell, L.SimpleRNN), (L.LSTMCell, L.LSTM), (L.GRUCell, L.GRU)]
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], bool)


def _x(shape=(3, 5, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@rv.saving.register_keras_serializable(package="test_rnn_cells")
class MinimalRNNCell(L.Layer):
    """The Keras guide's custom cell (keras.layers.RNN's docstring)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="uniform", name="recurrent_kernel"
        )

    def call(self, inputs, states):
        prev_output = states[0]
        h = ops.matmul(inputs, self.kernel)
        output = ops.tanh(h + ops.matmul(prev_output, self.recurrent_kernel))
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@rv.saving.register_keras_serializable(package="test_rnn_cells")
class PeepCell(L.Layer):
    """Two states of different sizes and an output_size: (batch, 3) output, states (3,) and (2,)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.state_size = [3, 2]
        self.output_size = 3

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1] + 5, 5), name="w")

    def call(self, inputs, states):
        z = ops.tanh(ops.matmul(ops.concatenate([inputs, states[0], states[1]], axis=1), self.w))
        h, c = z[:, :3], z[:, 3:] * states[1]
        return h, [h, c + 0.5 * states[1]]


def _looped(cell_cls):
    """``cell_cls`` with its own ``call``: RNN runs it step by step (the traced loop), on the same weights."""

    def call(self, inputs, states, training=False):
        return cell_cls.call(self, inputs, states, training=training)

    return type(f"Looped{cell_cls.__name__}", (cell_cls,), {"call": call})


class _Traced(L.Layer):
    """Calls an RNN with a fixed mask and the initial states as extra inputs (traced: gradients from the tape)."""

    def __init__(self, rnn, mask=None):
        super().__init__()
        self.rnn, self.mask = rnn, mask

    def call(self, inputs):
        x, states = (inputs[0], inputs[1:]) if isinstance(inputs, list) else (inputs, None)
        return self.rnn(x, initial_state=states or None, mask=self.mask)


# ----------------------------------------------------------- compiled loop
@pytest.mark.parametrize("cell_cls, layer_cls", PAIRS)
@pytest.mark.parametrize("flags", [{}, {"return_sequences": True, "go_backwards": True}, {"return_state": True}])
def test_rnn_of_a_builtin_cell_is_its_layer_bit_for_bit(cell_cls, layer_cls, flags):
    x = _x().astype(np.float32)
    rnn, layer = L.RNN(cell_cls(6, dropout=0.3, seed=3), **flags), layer_cls(6, dropout=0.3, seed=3, **flags)
    assert not rnn._traced  # the compiled, hand-written path
    rnn(x), layer(x)
    layer.set_weights(rnn.get_weights())
    r = np.random.default_rng(1)
    outs = []
    for one in (rnn, layer):
        out, cache = one.call(x, training=True, mask=MASK)
        outs.append(out if isinstance(out, list) else [out])
        dys = [r.standard_normal(o.shape).astype(np.float32) for o in outs[-1]]
        r = np.random.default_rng(1)
        for v in one.trainable_weights:
            v.grad[...] = 0
        dx = one.backward(dys if isinstance(out, list) else dys[0], cache)
        outs[-1] += [dx] + [v.grad.copy() for v in one.trainable_weights]
    assert len(outs[0]) == len(outs[1])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_weights_have_keras_names_shapes_and_order():
    rnn = L.RNN(L.GRUCell(3, name="gru_cell"))
    rnn(_x((2, 4, 5)))
    assert [(v.name, v.shape) for v in rnn.weights] == [
        ("gru_cell/kernel", (5, 9)),
        ("gru_cell/recurrent_kernel", (3, 9)),
        ("gru_cell/bias", (2, 9)),
    ]
    lstm = L.LSTMCell(2)
    L.RNN(lstm)(_x((2, 4, 5)))
    np.testing.assert_array_equal(lstm.bias.value, [0, 0, 1, 1, 0, 0, 0, 0])  # unit_forget_bias


@pytest.mark.parametrize("cell_cls", [c for c, _ in PAIRS])
@pytest.mark.parametrize(
    "flags",
    [
        {"return_sequences": True},
        {"return_sequences": True, "go_backwards": True, "zero_output_for_mask": True},
        {"return_state": True, "go_backwards": True},
    ],
)
def test_the_python_loop_of_a_cell_matches_the_compiled_loop(float64, cell_cls, flags):
    # The traced loop (cells called step by step, masks applied as Keras does) against the kernels.
    compiled, looped = L.RNN(cell_cls(6), **flags), L.RNN(_looped(cell_cls)(6), **flags)
    assert looped._traced
    x = _x()
    states = compiled.get_initial_state(3)
    states = [s + _x(s.shape, seed=9 + i) for i, s in enumerate(states)]
    compiled(x), looped(x)
    looped.set_weights(compiled.get_weights())
    a = compiled(x, mask=MASK, initial_state=states)
    b = looped(x, mask=MASK, initial_state=states)
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def test_zero_output_for_mask_zeroes_masked_steps_and_their_gradient(float64):
    rnn = L.RNN(L.LSTMCell(4), return_sequences=True, zero_output_for_mask=True)
    y = rnn(_x(), mask=MASK)
    assert np.all(y[~MASK] == 0) and np.all(np.abs(y[MASK]).sum(axis=-1) > 0)
    check_gradients(_Traced(rnn, MASK), _x())


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask", [None, MASK])
def test_custom_cell_gradients(float64, return_sequences, go_backwards, mask):
    rnn = L.RNN(MinimalRNNCell(5), return_sequences=return_sequences, go_backwards=go_backwards)
    assert rnn._traced
    check_gradients(_Traced(rnn, mask), _x())


@pytest.mark.parametrize("cells", ["custom", "stacked"])
def test_gradients_with_state_in_and_out(float64, cells):
    cell = PeepCell() if cells == "custom" else L.StackedRNNCells([MinimalRNNCell(3), L.LSTMCell(4), PeepCell()])
    rnn = L.RNN(cell, return_sequences=True, return_state=True)
    sizes = rnn._flat_sizes()
    states = [_x((3, s), seed=i + 1) for i, s in enumerate(sizes)]
    result = check_gradients(_Traced(rnn, MASK), [_x()] + states)
    assert {f"input_{i}" for i in range(len(sizes) + 1)} <= set(result.errors)


def test_stacked_cells_gradients_with_dropout_and_a_list_of_cells(float64):
    rnn = L.RNN([L.SimpleRNNCell(3), L.GRUCell(4, dropout=0.3, recurrent_dropout=0.2, seed=1)], go_backwards=True)
    cell = rnn.cell.cells[1]
    assert isinstance(rnn.cell, L.StackedRNNCells) and rnn._traced

    class Replay(_Traced):  # the same dropout masks at every call of the check, in training
        def call(self, inputs):
            cell._rng = np.random.default_rng(7)
            return self.rnn(inputs, mask=self.mask, training=True)

    check_gradients(Replay(rnn, MASK), _x())


def test_builtin_cells_called_directly_eagerly_and_traced(float64):
    cell = L.LSTMCell(3)
    x, h, c = _x((2, 4)), _x((2, 3), 1), _x((2, 3), 2)
    out, (h1, c1) = cell(x, [h, c])
    assert out is h1 and out.shape == (2, 3) and c1.shape == (2, 3)
    ref = L.RNN(cell, return_state=True)(x[:, None, :], initial_state=[h, c])
    for a, b in zip(ref, [out, h1, c1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    gru = L.GRUCell(3)
    h_only, state = gru(x, h)  # one tensor in, one tensor out (Keras)
    assert state is h_only

    class Step(L.Layer):
        def __init__(self):
            super().__init__()
            self.cell = L.GRUCell(3)

        def call(self, inputs):
            return self.cell(inputs[0], [inputs[1]])[1][0]

    check_gradients(Step(), [x, h])


# ------------------------------------------------------------------- models
def test_the_keras_guide_minimal_cell_trains():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 5)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    inputs = rv.Input((None, 5))
    out = L.Dense(1, activation="sigmoid")(L.RNN(MinimalRNNCell(8))(inputs))
    model = rv.Model(inputs, out)
    model.compile(optimizer=rv.optimizers.Adam(0.05), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


def test_embedding_mask_reaches_a_custom_cell():
    ids = np.array([[3, 4, 0, 0], [5, 1, 2, 6]])
    inputs = rv.Input((4,), dtype="int64")
    emb = L.Embedding(8, 3, mask_zero=True)
    rnn = L.RNN(MinimalRNNCell(4), return_sequences=True)
    model = rv.Model(inputs, rnn(emb(inputs)))
    masked = model.predict(ids, verbose=0)
    explicit = rnn(emb(ids), mask=ids != 0)
    np.testing.assert_allclose(masked, explicit, rtol=1e-6)
    np.testing.assert_array_equal(masked[0, 2], masked[0, 1])  # a masked step repeats the output


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.RNN(L.LSTMCell(3), return_sequences=True),
        lambda: L.RNN(MinimalRNNCell(3), go_backwards=True),
        lambda: L.RNN([MinimalRNNCell(3), L.GRUCell(2)], return_sequences=True),
    ],
)
def test_config_save_and_load(tmp_path, make):
    rnn = make()
    inputs = rv.Input((5, 4))
    model = rv.Model(inputs, L.Dense(2)(rnn(inputs)))
    x = _x().astype(np.float32)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = rv.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    cfg = rnn.get_config()
    assert cfg["cell"]["class_name"] in ("LSTMCell", "MinimalRNNCell", "StackedRNNCells")
    assert type(L.RNN.from_config(cfg).cell) is type(rnn.cell)


@pytest.mark.parametrize("cell_cls", [c for c, _ in PAIRS] + [L.StackedRNNCells])
def test_cell_configs_round_trip_through_json(cell_cls):
    cell = cell_cls([L.LSTMCell(2), MinimalRNNCell(3)]) if cell_cls is L.StackedRNNCells else cell_cls(4, dropout=0.1)
    cfg = json.loads(json.dumps(cell.get_config()))
    assert cell_cls.from_config(cfg).get_config() == cell.get_config()
    if cell_cls is not L.StackedRNNCells:
        keys = {"units", "activation", "use_bias", "kernel_initializer", "recurrent_constraint", "dropout", "seed"}
        assert keys <= set(cfg) and ("recurrent_activation" in cfg) == (cell_cls is not L.SimpleRNNCell)


@pytest.mark.parametrize(
    "init",
    [
        lambda: {"cell": MinimalRNNCell(3), "return_sequences": True, "go_backwards": True},
        lambda: {"cell": [L.SimpleRNNCell(3), L.LSTMCell(2)], "return_state": True},
        lambda: {"cell": L.GRUCell(3), "return_state": True, "return_sequences": True},
    ],
)
def test_check_layer(init):
    check_layer(L.RNN, init(), (2, 4, 3), custom_objects={"MinimalRNNCell": MinimalRNNCell})


def test_stacked_lstm_cells_match_torch_two_layer_lstm():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.LSTM(5, 7, num_layers=2, batch_first=True)
    rnn = L.RNN([L.LSTMCell(7), L.LSTMCell(7)], return_sequences=True, return_state=True)
    x = _x((4, 9, 5), seed=3).astype(np.float32)
    rnn(x)
    w = {k: v.detach().numpy() for k, v in net.named_parameters()}
    rnn.set_weights(
        [
            a
            for i in (0, 1)
            for a in (w[f"weight_ih_l{i}"].T, w[f"weight_hh_l{i}"].T, w[f"bias_ih_l{i}"] + w[f"bias_hh_l{i}"])
        ]
    )
    seq, h1, c1, h2, c2 = rnn(x)
    t_seq, (t_h, t_c) = net(torch.from_numpy(x))
    for a, b in zip([seq, h1, h2, c1, c2], [t_seq, t_h[0], t_h[1], t_c[0], t_c[1]]):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=2e-6)


# ------------------------------------------------------------------- errors
class _NoState(L.Layer):
    def call(self, inputs, states):
        return inputs, states


class _WrongState(L.Layer):
    state_size = 3

    def call(self, inputs, states):
        return inputs[:, :3], [ops.concatenate([states[0], states[0]], axis=1)]


def test_bad_cells_and_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="state_size attribute"):
        L.RNN(_NoState())
    with pytest.raises(ValueError, match="call"):
        L.RNN(object())
    bad = _NoState()
    bad.state_size = [3, "x"]
    with pytest.raises(ValueError, match=r"state_size must be a positive integer.*'x'"):
        L.RNN(bad)
    with pytest.raises(ValueError, match=r"the cell's new states\[0\] must have shape \(3, 3\).*got \(3, 6\)"):
        L.RNN(_WrongState())(_x())
    with pytest.raises(ValueError, match=r"expects 2 initial state tensor\(s\), got 1"):
        L.RNN(L.StackedRNNCells([MinimalRNNCell(3), MinimalRNNCell(2)]))(_x(), initial_state=[_x((3, 3))])
    with pytest.raises(ValueError, match=r"initial_state\[0\] must have shape \(3, 3\).*got \(3, 2\)"):
        L.RNN(MinimalRNNCell(3))(_x(), initial_state=[_x((3, 2))])
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 5\)"):
        L.RNN(MinimalRNNCell(3))(_x(), mask=MASK[:, :4])
    with pytest.raises(UnsupportedArgument, match="stateful=True"):
        L.RNN(L.LSTMCell(2), stateful=True)
    with pytest.raises(UnsupportedArgument, match="reset_after=True"):
        L.GRUCell(2, reset_after=False)
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        L.LSTMCell(0)
    with pytest.raises(ValueError, match=r"expects 2 initial state tensor\(s\), got 1"):
        L.RNN(L.LSTMCell(3))(_x(), initial_state=[_x((3, 3))])
