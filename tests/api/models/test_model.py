import numpy as np
import pytest

import ranvier as rv
from ranvier.reference.mlp import ReferenceMLP
from ranvier.testing import check_gradients


def _mlp(hidden=16, n_in=4, n_out=3, activation="relu", **dense_kwargs):
    return rv.Sequential(
        [
            rv.layers.Input((n_in,)),
            rv.layers.Dense(hidden, activation=activation, **dense_kwargs),
            rv.layers.Dense(n_out, activation="softmax", **dense_kwargs),
        ]
    )


def test_fit_evaluate_predict(blobs):
    x, y = blobs
    rv.config.set_random_seed(0)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=30, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 30
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.95 and loss < 0.5
    proba = model.predict(x)
    assert proba.shape == (120, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert np.mean(proba.argmax(1) == y) == pytest.approx(acc)
    assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}


@pytest.mark.parametrize(
    "optimizer, kwargs",
    [
        ("sgd", {"learning_rate": 0.1}),
        ("sgd", {"learning_rate": 0.05, "momentum": 0.9}),
        ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
        ("adam", {"learning_rate": 1e-2}),
    ],
)
def test_three_steps_match_the_numpy_reference(float64, optimizer, kwargs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 5))
    y = rng.integers(0, 3, 16)
    model = _mlp(hidden=7, n_in=5)
    ref = ReferenceMLP((5, 7, 3), optimizer=optimizer, weights=model.get_weights(), dtype=np.float64, **kwargs)
    opt = rv.optimizers.SGD(**kwargs) if optimizer == "sgd" else rv.optimizers.Adam(**kwargs)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    for _ in range(3):
        loss = model.train_on_batch(x, y)
        ref_loss = ref.train_step(x, y)
        assert loss == pytest.approx(ref_loss, rel=1e-10)
    for w, w_ref in zip(model.get_weights(), ref.params):
        np.testing.assert_allclose(w, w_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_three_steps_match_pytorch(optimizer):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(0, 4, 32)
    model = _mlp(hidden=10, n_in=6, n_out=4)
    lin1, lin2 = torch.nn.Linear(6, 10), torch.nn.Linear(10, 4)
    with torch.no_grad():
        for lin, (w, b) in zip((lin1, lin2), zip(model.get_weights()[::2], model.get_weights()[1::2])):
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    net = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2)
    if optimizer == "adam":
        opt, t_opt = rv.optimizers.Adam(1e-2, epsilon=1e-8), torch.optim.Adam(net.parameters(), lr=1e-2, eps=1e-8)
    else:
        m = 0.9 if optimizer == "momentum" else 0.0
        opt, t_opt = rv.optimizers.SGD(0.1, momentum=m), torch.optim.SGD(net.parameters(), lr=0.1, momentum=m)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    for _ in range(3):
        model.train_on_batch(x, y)
        t_opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        t_opt.step()
    torch_weights = [
        lin1.weight.detach().numpy().T,
        lin1.bias.detach().numpy(),
        lin2.weight.detach().numpy().T,
        lin2.bias.detach().numpy(),
    ]
    for w, w_t in zip(model.get_weights(), torch_weights):
        np.testing.assert_allclose(w, w_t, atol=1e-5)


@pytest.mark.parametrize(
    "loss, n_out, activation",
    [
        ("sparse_categorical_crossentropy", 3, "softmax"),
        ("categorical_crossentropy", 3, "softmax"),
        ("binary_crossentropy", 1, "sigmoid"),
        ("mse", 2, "linear"),
        ("mae", 2, "tanh"),
    ],
)
@pytest.mark.parametrize("regularized", [False, True])
def test_model_gradient_check(float64, loss, n_out, activation, regularized):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4))
    reg = rv.regularizers.L2(1e-2) if regularized else None
    model = rv.Sequential(
        [
            rv.layers.Input((4,)),
            rv.layers.Dense(5, activation="tanh", kernel_regularizer=reg),
            rv.layers.Dense(n_out, activation=activation, kernel_regularizer=reg),
        ]
    )
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, 6)
    elif loss == "categorical_crossentropy":
        y = np.eye(3)[rng.integers(0, 3, 6)]
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (6, 1))
    else:
        y = rng.standard_normal((6, n_out)) * 3
    model.compile(optimizer="sgd", loss=loss)
    result = check_gradients(model, x, y)
    assert result.max_error < 1e-6


def test_weight_decay_equals_l2_penalty_on_kernels_only(float64):
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    a = _mlp(hidden=6)
    b = _mlp(hidden=6, kernel_regularizer=rv.regularizers.L2(0.5 * 0.1))
    b.set_weights(a.get_weights())
    a.compile(optimizer=rv.optimizers.SGD(0.1, weight_decay=0.1), loss="sparse_categorical_crossentropy")
    b.compile(optimizer=rv.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    for _ in range(3):
        a.train_on_batch(x, y)
        b.train_on_batch(x, y)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)
    # biases are never decayed: with zero gradients they stay exactly where they are
    c = _mlp(hidden=6, bias_initializer="ones")
    c.compile(optimizer=rv.optimizers.SGD(0.1, weight_decay=0.5), loss="mse")
    c.get_layer(index=1).kernel.assign(np.zeros((6, 3)))
    c.train_on_batch(x, c.predict(x))  # zero loss: only decay acts
    assert np.all(c.get_layer(index=0).bias.value == 1) and np.all(c.get_layer(index=1).bias.value == 1)


def test_sample_weight_and_class_weight(blobs, float64):
    x, y = blobs
    a, b = _mlp(), _mlp()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=rv.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    a.train_on_batch(x, y, class_weight={0: 2.0, 1: 0.5, 2: 1.0})
    b.train_on_batch(x, y, sample_weight=np.array([2.0, 0.5, 1.0])[y])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-12)


def test_reproducible_with_seed_and_thread_count(blobs):
    x, y = blobs
    weights = []
    for threads in (1, 2, 1):
        rv.set_num_threads(threads)
        rv.config.set_random_seed(42)
        model = _mlp(hidden=32)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        weights.append(model.get_weights())
    rv.set_num_threads(rv.api.config._default_threads())
    for other in weights[1:]:
        for w0, w1 in zip(weights[0], other):
            assert np.array_equal(w0, w1)


def test_functional_model(blobs):
    x, y = blobs
    inp = rv.layers.Input((4,))
    shared = rv.layers.Dense(8, activation="relu")
    h = shared(inp)
    out = rv.layers.Dense(3, activation="softmax")(rv.layers.Dense(8, activation="tanh")(h))
    model = rv.Model(inp, out)
    model.compile(
        optimizer=rv.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    hist = model.fit(x, y, epochs=20, verbose=0)
    assert "sparse_categorical_accuracy" in hist.history
    assert hist.history["sparse_categorical_accuracy"][-1] > 0.9


def test_lbfgs_full_batch(blobs, float64):
    x, y = blobs
    model = _mlp(hidden=8)
    model.compile(
        optimizer=rv.optimizers.LBFGS(max_iter=100), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.97


def test_keras_script_runs_after_changing_the_import(blobs):
    import ranvier as keras
    from ranvier import layers

    x, y = blobs
    model = keras.Sequential()
    model.add(layers.Dense(16, activation="relu", input_shape=(4,)))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy", metrics=["accuracy"])
    y_onehot = keras.utils.to_categorical(y, 3)
    hist = model.fit(x.astype(np.float64), y_onehot.astype(np.uint8), epochs=10, batch_size=32, verbose=0)
    assert set(hist.history) == {"loss", "accuracy"}
    loss, acc = model.evaluate(x, y_onehot, verbose=0)
    assert acc > 0.9
    assert keras.models.Model is keras.Model and keras.models.load_model is keras.load_model


def test_summary(capsys):
    model = _mlp()
    model.summary()
    out = capsys.readouterr().out
    assert "Dense" in out and f"Total params: {4 * 16 + 16 + 16 * 3 + 3:,}" in out


def test_sequential_built_from_data_and_pop(blobs):
    x, y = blobs
    model = rv.Sequential([rv.layers.Dense(5, activation="relu"), rv.layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="not built"):
        model.summary()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert model.input_shape == (None, 4) and model.output_shape == (None, 3)
    model.pop()
    assert model.output_shape == (None, 5)


def test_accuracy_with_hinge_loss_counts_negatives():
    # Scores +-2 and +-3: every sample on the right side with margin (hinge loss 0). Keras 3
    # ("accuracy" -> binary_accuracy against the user's 0/1 labels) reports 1.0.
    model = rv.Sequential([rv.layers.Input((2,)), rv.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="hinge", metrics=["accuracy"])
    model.set_weights([np.array([[1.0], [0.0]]), np.zeros(1)])
    x = np.array([[2, 0], [-2, 0], [3, 0], [-3, 0]], dtype=np.float32)
    y = np.array([1, 0, 1, 0])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert loss == 0.0
    assert accuracy == 1.0


def test_full_batch_fit_warns_that_epochs_is_ignored(blobs):
    x, y = blobs
    model = _mlp(hidden=4)
    model.compile(optimizer=rv.optimizers.LBFGS(max_iter=3), loss="sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="epochs=5 is ignored"):
        history = model.fit(x, y, epochs=5, verbose=0)
    assert 1 <= len(history.history["loss"]) <= 3


def test_determinism_gives_identical_weights_for_any_thread_count():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((256, 200)).astype(np.float32), rng.integers(0, 10, 256)
    weights = []
    try:
        for threads in (1, 2):
            rv.set_num_threads(threads)
            rv.config.enable_determinism(7)
            model = _mlp(hidden=256, n_in=200, n_out=10)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=128, epochs=2, verbose=0)
            weights.append(model.get_weights())
    finally:
        rv.config.disable_determinism()
        rv.set_num_threads(rv.api.config._default_threads())
    for w1, w2 in zip(*weights):
        assert np.array_equal(w1, w2)


def _conv_pool_model(activation="relu", pool=None):
    L = rv.layers
    return rv.Sequential(
        [
            L.Input((8, 7, 2)),
            L.Conv2D(3, 3, padding="same", activation=activation),
            (pool or L.MaxPooling2D)(2, padding="same"),
            L.Conv2D(2, 2, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ]
    )


def _plan(model):
    """The model's plan: one name per step, ``*`` where backward starts from the pre-activation."""
    return [type(s).__name__ + ("*" if getattr(s, "preactivation", False) else "") for s in model._executor.steps]


def test_relu_below_max_pooling_is_folded_into_the_pool_backward(float64):
    model = _conv_pool_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((5, 8, 7, 2)), rng.integers(0, 3, 5)
    # The first pool pads ("same"): it folds the ReLU but pools on its own.
    assert _plan(model) == ["LayerStep*", "ReluPoolStep", "ConvPoolStep", "LayerStep", "LayerStep"]
    assert model._fused  # softmax + crossentropy: backward starts from the Dense pre-activation
    check_gradients(model, x, y)
    # Bit for bit what conv, ReLU and pool run one after the other give, forward and backward.
    xp, yp, sw = model._prepare(x, y)
    loss = model._compute_gradients(xp, yp, sw)[0]
    fused, folded = model.predict(x), model._flat_grads.copy()
    executor = model._executor
    executor.replan(("relu_gradient",))
    assert _plan(model) == ["LayerStep*", "ReluPoolStep", "LayerStep*", "ReluPoolStep", "LayerStep", "LayerStep"]
    assert model._compute_gradients(xp, yp, sw)[0] == loss
    np.testing.assert_array_equal(model._flat_grads, folded)
    executor.replan(())
    assert _plan(model) == ["LayerStep"] * 6
    assert model._compute_gradients(xp, yp, sw)[0] == loss
    np.testing.assert_array_equal(model._flat_grads, folded)
    np.testing.assert_array_equal(model.predict(x), fused)


@pytest.mark.parametrize("activation, pool", [("tanh", None), ("relu", rv.layers.AveragePooling2D)])
def test_no_fold_without_a_plain_relu_into_max_pooling(activation, pool):
    model = _conv_pool_model(activation, pool)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert _plan(model) == ["LayerStep", "LayerStep", "ConvPoolStep", "LayerStep", "LayerStep"]


def test_pools_other_than_2x2_fold_the_relu_but_pool_on_their_own():
    L = rv.layers
    model = rv.Sequential(
        [L.Input((9, 9, 2)), L.Conv2D(3, 3, activation="relu"), L.MaxPooling2D(3), L.Flatten(), L.Dense(2)]
    )
    model.compile(optimizer="sgd", loss="mse")
    assert _plan(model) == ["LayerStep*", "ReluPoolStep", "LayerStep", "LayerStep"]


def test_a_pool_with_an_activity_penalty_is_not_run_by_the_conv_below(float64):
    # The fused forward would skip the pool's own penalty: the pair stays two layers.
    L = rv.layers
    pool = L.MaxPooling2D()
    pool.activity_regularizer = rv.regularizers.get("l2")  # pooling layers take no such argument; a subclass could
    model = rv.Sequential([L.Input((6, 6, 2)), L.Conv2D(3, 3, activation="relu"), pool, L.Flatten(), L.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    assert _plan(model) == ["LayerStep*", "ReluPoolStep", "LayerStep", "LayerStep"]
    rng = np.random.default_rng(12)
    check_gradients(model, rng.standard_normal((3, 6, 6, 2)), rng.standard_normal((3, 2)))


def test_inference_batch_follows_the_activation_budget():
    from ranvier.api.models import training

    wide = rv.Sequential([rv.layers.Input((784,)), rv.layers.Dense(4096), rv.layers.Dense(10)])
    x = np.zeros((5, 784), np.float32)
    # 4106 float32 values of layer outputs per row: 16 MiB hold 1021 rows.
    assert wide._inference_batch_size(x) == training._INFERENCE_BYTES // (4106 * 4) == 1021
    huge = rv.Sequential([rv.layers.Input((4,)), rv.layers.Dense(1 << 20)])
    assert huge._inference_batch_size(x[:, :4]) == 32  # never below Keras' default
    tiny = rv.Sequential([rv.layers.Input((2,)), rv.layers.Dense(1)])
    assert tiny._inference_batch_size(x[:, :2]) == training._MAX_INFERENCE_BATCH
    # Unknown (None) dimensions count as the input's longest one.
    seq = rv.Sequential([rv.layers.Input((None, 3)), rv.layers.SimpleRNN(4, return_sequences=True)])
    assert training._row_size(seq.outputs[0].shape, (7, 50, 3)) == 200


def test_predict_with_the_default_batch_equals_one_batch():
    model = rv.Sequential([rv.layers.Input((6,)), rv.layers.Dense(5, activation="relu"), rv.layers.Dense(2)])
    x = np.random.default_rng(3).standard_normal((5000, 6)).astype(np.float32)
    assert model._inference_batch_size(x) < len(x)  # so the default splits this input
    np.testing.assert_allclose(model.predict(x), model.predict(x, batch_size=5000), rtol=1e-6, atol=1e-6)


def _feed_forward_model(kind, first_units=48):
    """A ReLU Dense -> linear Dense pair: in a small transformer block, or an MLP on the model input."""
    L = rv.layers
    if kind == "mlp":
        model = rv.Sequential(
            [L.Input((20,)), L.Dense(first_units, activation="relu"), L.Dense(24), L.Dense(3, activation="softmax")]
        )
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        return model
    inp = L.Input((128, 16))
    h = L.LayerNormalization()(L.Add()([inp, L.MultiHeadAttention(2, 8)(inp, inp)]))
    f = L.Dense(16)(L.Dense(first_units, activation="relu")(h))
    h = L.LayerNormalization()(L.Add()([h, f]))
    model = rv.Model(inp, L.Dense(1)(L.GlobalAveragePooling1D()(h)))
    model.compile(optimizer="sgd", loss="mse")
    return model


def _feed_forward_data(kind, rows, dtype="float32"):
    rng = np.random.default_rng(rows)
    if kind == "mlp":
        return rng.standard_normal((rows, 20)).astype(dtype), rng.integers(0, 3, rows)
    shape = (rows // 128, 128, 16)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal((shape[0], 1)).astype(dtype)


def _pair_run(model, x, y, monkeypatch, scoped_gradients, rules=None, threads=2):
    """(loss, gradients, predictions, fused kernel calls) of one step inside the compute scope."""
    from ranvier.api.layers import core

    calls = []
    kernel = core._dense.dense_relu_dense_backward
    monkeypatch.setattr(core._dense, "dense_relu_dense_backward", lambda *a: calls.append(1) or kernel(*a))
    try:
        return (*scoped_gradients(model, x, y, threads, rules), len(calls))
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("kind", ["transformer", "mlp"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [2, 1])  # one thread runs row-blocked too (inside the compute scope)
def test_feed_forward_pair_runs_as_one_step_bit_for_bit(kind, dtype, threads, monkeypatch, scoped_gradients):
    rv.config.set_floatx(dtype)
    try:
        rv.config.set_random_seed(13)
        model = _feed_forward_model(kind)
    finally:
        rv.config.set_floatx("float32")
    assert "DensePairStep" in _plan(model)
    x, y = _feed_forward_data(kind, 1152, dtype)
    fused = _pair_run(model, x, y, monkeypatch, scoped_gradients, threads=threads)
    plain = _pair_run(model, x, y, monkeypatch, scoped_gradients, rules=(), threads=threads)
    assert (fused[3], plain[3]) == (1, 0)  # the pair's kernel ran in the fused plan only
    assert fused[0] == plain[0]
    np.testing.assert_array_equal(fused[1], plain[1])
    np.testing.assert_array_equal(fused[2], plain[2])


@pytest.mark.parametrize("case", ["few_rows", "deterministic", "frozen_first", "frozen_second"])
def test_feed_forward_pair_runs_as_two_layers_where_they_would_not_run_row_blocked(case, monkeypatch, scoped_gradients):
    # W1-like batches below the row threshold, determinism, a frozen layer:
    # the step falls back to the two layers' own backward, with the plain plan's results.
    rv.config.set_random_seed(14)
    model = _feed_forward_model("mlp", first_units=300)
    x, y = _feed_forward_data("mlp", 128 if case == "few_rows" else 1152)
    if case.startswith("frozen"):
        model.layers[0 if case == "frozen_first" else 1].trainable = False
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert "DensePairStep" in _plan(model)
    if case == "deterministic":
        rv.config.enable_determinism(14)
    try:
        fused = _pair_run(model, x, y, monkeypatch, scoped_gradients)
        plain = _pair_run(model, x, y, monkeypatch, scoped_gradients, rules=())
    finally:
        rv.config.disable_determinism()
    assert fused[3] == 0
    assert fused[0] == plain[0]
    np.testing.assert_array_equal(fused[1], plain[1])


def test_feed_forward_pair_gradients_match_finite_differences(float64, monkeypatch):
    from ranvier.api._threading import compute_scope
    from ranvier.api.layers import core

    rv.config.set_random_seed(15)
    model = _feed_forward_model("transformer", first_units=8)
    x, y = _feed_forward_data("transformer", 1152, "float64")
    calls = []
    kernel = core._dense.dense_relu_dense_backward
    monkeypatch.setattr(core._dense, "dense_relu_dense_backward", lambda *a: calls.append(1) or kernel(*a))
    rv.set_num_threads(2)
    try:
        with compute_scope():
            check_gradients(model, x, y, max_checks=8)
    finally:
        rv.set_num_threads(rv.api.config._default_threads())
    assert calls


@pytest.mark.parametrize("change", ["second_relu", "first_tanh", "mid_used_twice", "activity_penalty", "mid_output"])
def test_feed_forward_pair_rule_needs_a_relu_layer_read_only_by_a_linear_one(change):
    L = rv.layers
    inp = L.Input((6,))
    first = L.Dense(5, activation="tanh" if change == "first_tanh" else "relu")
    if change == "activity_penalty":
        first.activity_regularizer = rv.regularizers.get("l2")
    mid = first(inp)
    out = L.Dense(4, activation="relu" if change == "second_relu" else None)(mid)
    if change == "mid_used_twice":
        out = L.Add()([out, L.Dense(4)(mid)])
    model = rv.Model(inp, [out, mid] if change == "mid_output" else out)
    assert "DensePairStep" not in _plan(model)
    model._executor.replan(("dense_pair",))
    assert "DensePairStep" not in _plan(model)
