import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_gradients


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax", "gelu", "elu", "swish"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_gradients(float64, activation, use_bias):
    layer = rv.layers.Dense(4, activation=activation, use_bias=use_bias)
    x = np.random.default_rng(1).standard_normal((5, 3)) + 0.05
    check_gradients(layer, x)


def test_dense_per_timestep_on_3d_input(float64):
    layer = rv.layers.Dense(3, activation="tanh")
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    y = layer(x)
    assert y.shape == (2, 4, 3)
    np.testing.assert_allclose(y, np.tanh(x @ layer.kernel.value + layer.bias.value), rtol=1e-12)
    check_gradients(layer, x)


def test_dense_forward_matches_numpy():
    layer = rv.layers.Dense(7, activation="relu")
    x = np.random.default_rng(0).standard_normal((9, 5)).astype(np.float32)
    y = layer(x)
    expected = np.maximum(x @ layer.kernel.value + layer.bias.value, 0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_dense_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        rv.layers.Dense(0)
    with pytest.raises(ValueError, match="Unknown activation|unknown activation"):
        rv.layers.Dense(3, activation="relu2")
    with pytest.raises(TypeError, match="unexpected keyword"):
        rv.layers.Dense(3, unit=4)
    layer = rv.layers.Dense(3)
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"expects input of shape \(None, 4\), got shape \(2, 5\)"):
        layer(np.ones((2, 5), np.float32))


def test_flatten_reshape_round_trip(float64):
    x = np.random.default_rng(0).standard_normal((3, 2, 3, 4))
    flat = rv.layers.Flatten()
    assert flat(x).shape == (3, 24)
    assert flat.compute_output_shape((None, 2, 3, 4)) == (None, 24)
    r = rv.layers.Reshape((4, -1))
    assert r.compute_output_shape((None, 2, 3, 4)) == (None, 4, 6)
    np.testing.assert_array_equal(r(x), x.reshape(3, 4, 6))
    check_gradients(r, x)
    with pytest.raises(ValueError, match="cannot reshape"):
        rv.layers.Reshape((5, 5)).compute_output_shape((None, 24))
    with pytest.raises(ValueError, match="at most one -1"):
        rv.layers.Reshape((-1, -1))


def test_input_validation():
    with pytest.raises(ValueError, match="shape"):
        rv.layers.Input()
    with pytest.raises(ValueError, match="dtype"):
        rv.layers.Input((3,), dtype="complex64")
    t = rv.layers.Input((None, 8), dtype="float32")
    assert t.shape == (None, None, 8)


def test_layer_config_round_trip():
    layer = rv.layers.Dense(
        5,
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=rv.regularizers.L2(1e-3),
        name="d",
    )
    again = rv.layers.Dense.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


def _row_blocked_model(shared_width=16):
    # 8 x 160 = 1280 rows per Dense: the row-blocked kernels' range inside the compute scope.
    L = rv.layers
    inp = L.Input((160, 12))
    h = L.Dense(shared_width, activation="relu")(inp)
    shared = L.Dense(shared_width)  # linear, applied twice: its gradients accumulate (beta = 1)
    h = L.Dense(8, activation="relu", use_bias=False)(shared(shared(h)))
    h = L.GlobalAveragePooling1D()(L.MaxPooling1D(2)(h))  # the ReLU above folds into the pool
    model = rv.Model(inp, L.Dense(3, activation="softmax")(h))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("dtype, tol", [("float32", 2e-5), ("float64", 1e-12)])
# 32: the shared layer's products (and every 32-wide forward) run on the packed micro-kernel.
@pytest.mark.parametrize("width", [16, 32])
def test_dense_row_blocked_path_matches_the_whole_array_path(dtype, tol, width, monkeypatch, scoped_gradients):
    from ranvier.api.layers import _dense_products

    rv.config.set_floatx(dtype)
    try:
        rv.config.set_random_seed(3)
        model = _row_blocked_model(width)
        rng = np.random.default_rng(4)
        x, y = rng.standard_normal((8, 160, 12)).astype(dtype), rng.integers(0, 3, 8)
        calls = []
        kernel = _dense_products._dense.dense_backward_fused  # (the lazy module proxy loads here)
        monkeypatch.setattr(
            _dense_products._dense, "dense_backward_fused", lambda *a: calls.append(a[3].shape) or kernel(*a)
        )
        results = {}
        for threads in (2, 3):
            results[threads] = scoped_gradients(model, x, y, threads, rules=("relu_gradient",))
        # Every Dense backward but the head's (8 rows) ran blocked, for each thread count:
        # the first Dense and the shared one gated by the ReLU output, the others from dz.
        assert calls == [(0, 0), (0, 0), (0, 0), (1280, width)] * 2
        # The first Dense and the shared one's first call as one step ("dense_pair"): the
        # shared layer's gradient accumulates into the one its second call wrote.
        calls.clear()
        results["pair"] = scoped_gradients(model, x, y, 2, rules=("relu_gradient", "dense_pair"))
        assert calls == [(0, 0), (0, 0)]
        monkeypatch.setattr(_dense_products, "_FUSED_MIN_ROWS", 10**9)
        whole = scoped_gradients(model, x, y, 2)
    finally:
        rv.config.set_floatx("float32")
    for loss, grads, out in results.values():
        np.testing.assert_allclose(loss, whole[0], rtol=tol)
        np.testing.assert_allclose(grads, whole[1], rtol=tol, atol=tol)
        np.testing.assert_allclose(out, whole[2], rtol=tol, atol=tol)


def test_dense_row_blocked_fused_plan_equals_the_plain_plan(scoped_gradients):
    # The pool's ReLU-folded gradient and Dense's own ReLU gate give the same blocks, bit for bit.
    rv.config.set_random_seed(5)
    model = _row_blocked_model()
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((8, 160, 12)).astype(np.float32), rng.integers(0, 3, 8)
    fused = scoped_gradients(model, x, y, 2, rules=("relu_gradient",))
    assert "ReluPoolStep" in [type(s).__name__ for s in model._executor.steps]
    plain = scoped_gradients(model, x, y, 2, rules=())
    assert fused[0] == plain[0]
    np.testing.assert_array_equal(fused[1], plain[1])
    np.testing.assert_array_equal(fused[2], plain[2])


def test_dense_on_many_rows_is_deterministic_across_thread_counts(scoped_gradients):
    rv.config.set_random_seed(7)
    model = _row_blocked_model()
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((8, 160, 12)).astype(np.float32), rng.integers(0, 3, 8)
    rv.config.enable_determinism(7)
    try:
        runs = [scoped_gradients(model, x, y, threads) for threads in (1, 2, 3)]
    finally:
        rv.config.disable_determinism()
    for other in runs[1:]:
        assert other[0] == runs[0][0]
        np.testing.assert_array_equal(other[1], runs[0][1])
        np.testing.assert_array_equal(other[2], runs[0][2])


@pytest.mark.parametrize("activation", ["relu", "linear", "gelu"])
def test_dense_forward_on_many_rows_runs_the_packed_kernel(activation, monkeypatch):
    from ranvier.api.layers import _dense_products

    calls = []
    kernel = _dense_products._dense.dense_forward_packed  # (the lazy module proxy loads here)
    monkeypatch.setattr(_dense_products._dense, "dense_forward_packed", lambda *a: calls.append(a[3]) or kernel(*a))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 400, 40)).astype(np.float32)  # 1,200 rows
    layer = rv.layers.Dense(64, activation=activation, bias_initializer="glorot_uniform")
    y = np.asarray(layer(x))
    z = x.astype(np.float64) @ layer.kernel.numpy() + layer.bias.numpy()
    want = rv.activations.get(activation)(z.astype(np.float32))
    # The ReLU runs in the kernel, other activations after it; BLAS runs it all without AVX-512.
    assert calls == ([activation == "relu"] if _dense_products._dense.PACKED_MAX_KERNEL else [])
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
