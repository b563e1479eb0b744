"""Merge layers: values, broadcasting, masks, gradients, errors, config and saving (Keras 3 semantics)."""

import numpy as np
import pytest

import ranvier as rv
from ranvier import layers as L
from ranvier.testing import check_gradients, numerical_gradient, relative_error

ELEMENTWISE = {
    "Add": lambda xs: sum(xs[1:], xs[0]),
    "Subtract": lambda xs: xs[0] - xs[1],
    "Multiply": lambda xs: np.prod(np.broadcast_arrays(*xs), axis=0),
    "Average": lambda xs: sum(xs[1:], xs[0]) / len(xs),
    "Maximum": lambda xs: np.maximum.reduce(np.broadcast_arrays(*xs)),
    "Minimum": lambda xs: np.minimum.reduce(np.broadcast_arrays(*xs)),
}
FUNCTIONAL = {
    "Add": L.add,
    "Subtract": L.subtract,
    "Multiply": L.multiply,
    "Average": L.average,
    "Maximum": L.maximum,
    "Minimum": L.minimum,
}
# Shapes per case, batch axis first: same shapes (the kernels), then Keras broadcasting
# (a lower-rank input gets size-1 axes after the batch axis).
SHAPE_CASES = {
    "same": [(3, 4, 5), (3, 4, 5)],
    "same3": [(3, 4, 5)] * 3,
    "rank": [(3, 4, 5), (3, 5)],
    "ones": [(3, 1, 5), (3, 4, 1)],
    "three": [(2, 4, 3), (2, 3), (2, 1, 3)],
}


def _xs(shapes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _layer(name, **kwargs):
    return getattr(L, name)(**kwargs)


def _cases(names=ELEMENTWISE):
    for name in names:
        for case, shapes in SHAPE_CASES.items():
            if name == "Subtract" and len(shapes) != 2:
                continue
            yield name, case


# ------------------------------------------------------------------- values
@pytest.mark.parametrize("name,case", list(_cases()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_values_and_shapes(name, case, dtype):
    shapes = SHAPE_CASES[case]
    xs = _xs(shapes, dtype=dtype)
    expanded = [x.reshape(x.shape[:1] + (1,) * (3 - x.ndim) + x.shape[1:]) for x in xs]
    want = ELEMENTWISE[name](expanded)
    layer = _layer(name, dtype=np.dtype(dtype).name)
    got = layer(xs)
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)
    symbolic = [L.Input(s[1:]) for s in shapes]
    assert _layer(name)(symbolic).shape == (None,) + want.shape[1:]
    assert FUNCTIONAL[name](symbolic).shape == (None,) + want.shape[1:]


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_kernel_and_numpy_paths_agree_bitwise(name):
    xs = _xs([(6, 40)] * 2, seed=3, dtype=np.float32)
    layer = _layer(name)
    fast, cache = layer.call(xs)
    assert cache[0]  # the kernel path
    strided = [np.asfortranarray(x) for x in xs]  # not C-contiguous: the NumPy path
    slow, slow_cache = layer.call(strided)
    assert not slow_cache[0]
    np.testing.assert_array_equal(fast, slow)
    dy = _xs([(6, 40)], seed=4, dtype=np.float32)[0]
    for a, b in zip(layer.backward(dy, cache), layer.backward(dy, slow_cache)):
        np.testing.assert_array_equal(a, b)


def test_symbolic_shapes_with_unknown_dimensions():
    assert L.Add()([L.Input(batch_shape=(2, 3)), L.Input((3,))]).shape == (2, 3)
    assert L.Multiply()([L.Input((None, 5)), L.Input((4, 1))]).shape == (None, 4, 5)
    assert L.Maximum()([L.Input((None,)), L.Input((1,))]).shape == (None, None)


def test_maximum_ties_go_to_the_first_input():
    a = np.array([[1.0, 2.0, 3.0]], np.float32)
    for layer in (L.Maximum(), L.Minimum()):
        out, cache = layer.call([a, a.copy()])
        dxs = layer.backward(np.ones_like(a), cache)
        np.testing.assert_array_equal(dxs[0], 1.0)
        np.testing.assert_array_equal(dxs[1], 0.0)


def test_concatenate_and_dot_values():
    x, y = np.arange(20.0).reshape(2, 2, 5), np.arange(20.0, 30.0).reshape(2, 1, 5)
    np.testing.assert_array_equal(L.Concatenate(axis=1)([x, y]), np.concatenate([x, y], axis=1))
    np.testing.assert_array_equal(L.concatenate([x, x], axis=-1), np.concatenate([x, x], axis=-1))
    a, b = _xs([(2, 3, 5), (2, 10, 3)], seed=1)
    np.testing.assert_allclose(
        L.Dot(axes=(1, 2), dtype="float64")([a, b]), np.stack([np.tensordot(a[i], b[i], (0, 1)) for i in range(2)])
    )
    u, v = _xs([(4, 6), (4, 6)], seed=2)
    np.testing.assert_allclose(L.dot([u, v], axes=1, dtype="float64"), np.sum(u * v, 1, keepdims=True))
    cos = np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    np.testing.assert_allclose(L.Dot(axes=-1, normalize=True, dtype="float64")([u, v])[:, 0], cos)
    # Keras' higher-rank example: (1, 3, 2) . (1, 1, 2, 3) over axes (-2, -1) -> (1, 2, 1, 2).
    p, q = _xs([(1, 3, 2), (1, 1, 2, 3)], seed=3)
    assert L.Dot(axes=(-2, -1))([p, q]).shape == (1, 2, 1, 2)
    assert L.Dot(axes=(-2, -1))([L.Input(batch_shape=(1, 3, 2)), L.Input(batch_shape=(1, 1, 2, 3))]).shape == (
        1,
        2,
        1,
        2,
    )


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("name,case", list(_cases()))
def test_elementwise_gradients(name, case, float64):
    check_gradients(_layer(name), _xs(SHAPE_CASES[case], seed=5))


@pytest.mark.parametrize(
    "axis,shapes", [(-1, [(2, 3, 4), (2, 3, 2)]), (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]), (2, [(2, 3, 1), (2, 3, 2)])]
)
def test_concatenate_gradients(axis, shapes, float64):
    check_gradients(L.Concatenate(axis=axis), _xs(shapes, seed=6))


@pytest.mark.parametrize(
    "axes,shapes",
    [
        (1, [(3, 5), (3, 5)]),
        (-1, [(2, 4, 3), (2, 5, 3)]),
        ((1, 2), [(2, 3, 4), (2, 5, 3)]),
        ((2, 1), [(2, 3, 4), (2, 4)]),
        ((1, 1), [(2, 4), (2, 4, 3)]),
        ((-2, -1), [(2, 3, 2), (2, 2, 2, 3)]),
    ],
)
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_gradients(axes, shapes, normalize, float64):
    check_gradients(L.Dot(axes=axes, normalize=normalize), _xs(shapes, seed=7))


def test_dot_normalize_gradient_below_epsilon(float64):
    # A sample whose norm is below epsilon is divided by epsilon instead: a constant scale,
    # so its gradient is that scale times the upstream gradient (no projection term).
    x, y = _xs([(2, 4), (2, 4)], seed=8)
    x[0] *= 1e-10
    layer = L.Dot(axes=1, normalize=True)
    out, cache = layer.call([x, y])
    dy = np.array([[0.7], [-1.3]])
    dx, _ = layer.backward(dy, cache)

    def loss():
        return float(np.sum(dy * layer.call([x, y])[0]))

    assert relative_error(dx, numerical_gradient(loss, x, eps=1e-12)) < 1e-5
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    np.testing.assert_allclose(dx[0], dy[0, 0] * yn[0] / rv.config.epsilon())


def _masked_gradient_check(layer, xs, mask):
    proj = np.random.default_rng(0).standard_normal(layer.call(xs, mask=mask)[0].shape)

    def loss():
        return float(np.sum(proj * layer.call(xs, mask=mask)[0]))

    _, cache = layer.call(xs, mask=mask)
    dxs = layer.backward(proj, cache)
    for x, g in zip(xs, dxs):
        assert relative_error(g, numerical_gradient(loss, x)) < 1e-7


@pytest.mark.parametrize("name", ["Multiply", "Maximum", "Minimum"])
@pytest.mark.parametrize("masked", [(True, False), (False, True), (True, True)])
def test_masked_value_gradients(name, masked, float64):
    xs = _xs([(2, 4, 3), (2, 4, 3)], seed=9)
    masks = [np.array([[True, False, True, False], [False, True, True, True]]) if m else None for m in masked]
    _masked_gradient_check(_layer(name), xs, masks)


# ---------------------------------------------------------------- masks (Keras' cases)
def _keras_pair():
    x1 = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], np.float32)
    x2 = np.array([[[0, 0], [0, 0], [1, 2], [3, 4]]], np.float32)
    return x1, x2, L.Masking().compute_mask(x1), L.Masking().compute_mask(x2)


@pytest.mark.parametrize(
    "name,one_mask,both_masks",
    [
        ("Add", [[[0, 0], [1, 2], [1, 2], [6, 8]]], [[[0, 0], [1, 2], [1, 2], [6, 8]]]),
        ("Subtract", [[[0, 0], [1, 2], [-1, -2], [0, 0]]], [[[0, 0], [1, 2], [-1, -2], [0, 0]]]),
        ("Average", [[[0, 0], [0.5, 1], [0.5, 1], [3, 4]]], [[[0, 0], [0.5, 1], [0.5, 1], [3, 4]]]),
        ("Multiply", [[[0, 0], [0, 0], [1, 2], [9, 16]]], [[[0, 0], [1, 2], [1, 2], [9, 16]]]),
        ("Minimum", [[[0, 0], [0, 0], [1, 2], [3, 4]]], [[[0, 0], [1, 2], [1, 2], [3, 4]]]),
    ],
)
def test_masked_values_as_keras(name, one_mask, both_masks):
    x1, x2, m1, m2 = _keras_pair()
    layer = _layer(name)
    np.testing.assert_allclose(layer.call([x1, x2], mask=[m1, None])[0], one_mask)
    assert layer.compute_mask([x1, x2], [m1, None]) is None
    np.testing.assert_allclose(layer.call([x1, x2], mask=[m1, m2])[0], both_masks)
    np.testing.assert_array_equal(layer.compute_mask([x1, x2], [m1, m2]), [[0, 1, 1, 1]])


def test_maximum_masked_as_keras():
    x1 = np.array([[[0, 0], [-1, -2], [0, 0], [-3, -4]]], np.float32)
    x2 = np.array([[[0, 0], [0, 0], [-1, -2], [-3, -4]]], np.float32)
    m1, m2 = L.Masking().compute_mask(x1), L.Masking().compute_mask(x2)
    np.testing.assert_allclose(L.Maximum().call([x1, x2], mask=[m1, None])[0], [[[0, 0], [0, 0], [-1, -2], [-3, -4]]])
    np.testing.assert_allclose(L.Maximum().call([x1, x2], mask=[m1, m2])[0], [[[0, 0], [-1, -2], [-1, -2], [-3, -4]]])


def test_concatenate_masks_as_keras():
    x1, x2, m1, _ = _keras_pair()
    np.testing.assert_array_equal(L.Concatenate(axis=1).compute_mask([x1, x2], [m1, None]), [[0, 1, 0, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(L.Concatenate(axis=2).compute_mask([x1, x2], [m1, None]), [[1, 1, 1, 1]])
    assert L.Concatenate().compute_mask([x1, x2], [None, None]) is None
    assert L.Dot(axes=-1).compute_mask([x1, x2], [m1, m1]) is None


def test_masks_flow_through_a_model():
    inp = L.Input((4, 2))
    masked = L.Masking()(inp)
    merged = L.Concatenate(axis=1)([masked, L.Masking()(inp)])
    out = L.SimpleRNN(3)(L.add([merged, merged]))
    model = rv.Model(inp, out)
    x = np.random.default_rng(0).standard_normal((2, 4, 2)).astype(np.float32)
    x[0, 2:] = 0.0
    model.predict(x)


@pytest.mark.parametrize("layer", [L.Add(), L.Concatenate(), L.Maximum()])
def test_compute_mask_errors(layer):
    x = np.zeros((2, 4, 5))
    with pytest.raises(ValueError, match="`mask` should be a list"):
        layer.compute_mask([x, x], x)
    with pytest.raises(ValueError, match="`inputs` should be a list"):
        layer.compute_mask(x, [None, None])
    with pytest.raises(ValueError, match="should have the same length"):
        layer.compute_mask([x, x], [None])


# ------------------------------------------------------------------- errors
def test_errors_name_the_layer_and_what_was_received():
    a, b, c = L.Input((4, 5)), L.Input((4, 5)), L.Input((4, 5))
    with pytest.raises(
        ValueError,
        match=r"Subtract 'sub': a `Subtract` layer should be called on exactly 2 "
        r"inputs\. Received: input_shape=\[\(None, 4, 5\)",
    ):
        L.Subtract(name="sub")([a, b, c])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        L.Subtract()([a])
    with pytest.raises(
        ValueError,
        match=r"Add 'bad_add': inputs have incompatible shapes\. Received shapes "
        r"\[\(None, 3\), \(None, 4\)\]",
    ):
        L.Add(name="bad_add")([L.Input((3,)), L.Input((4,))])
    with pytest.raises(ValueError, match="not a list of shapes"):
        L.Add()(a)
    with pytest.raises(ValueError, match=r"not a list of tensors"):
        L.Add().call(np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"different batch sizes\. Received tensors with shapes \[\(2, 3\), \(3, 3\)\]"
    ):
        L.Multiply()([np.zeros((2, 3)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match="different batch sizes"):
        L.Add()([L.Input(batch_shape=(2, 3)), L.Input(batch_shape=(5, 3))])
    with pytest.raises(ValueError, match=r"incompatible shapes\. Received shapes \[\(None, 3\), \(None, 4\)\]"):
        L.Maximum()([np.zeros((2, 3)), np.zeros((2, 4))])


def test_concatenate_errors():
    out = L.Concatenate(axis=-1)([np.ones((1, 1, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    assert out.shape == (1, 1, 1, 1, 9)
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        L.Concatenate(axis=-1)([np.ones((1, 2, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    with pytest.raises(
        ValueError,
        match=r"Concatenate 'cat': a `Concatenate` layer requires .* Received: "
        r"input_shape=\[\(None, 3\), \(None, 3, 1\)\]",
    ):
        L.Concatenate(name="cat")([L.Input((3,)), L.Input((3, 1))])
    with pytest.raises(ValueError, match="axis 3 is out of range for inputs of rank 3"):
        L.Concatenate(axis=3)([L.Input((3, 2)), L.Input((3, 2))])
    with pytest.raises(TypeError, match="axis must be an integer, got 1.5"):
        L.Concatenate(axis=1.5)
    assert L.Concatenate(axis=1)([L.Input((None, 2)), L.Input((3, 2))]).shape == (None, None, 2)


def test_dot_errors():
    with pytest.raises(TypeError, match="(?i)invalid type for argument `axes`.*Received: axes='1'"):
        L.Dot(axes="1")
    with pytest.raises(ValueError, match="should contain two elements. Received: axes=\\(1, 2, 3\\)"):
        L.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="list elements should be integers"):
        L.Dot(axes=(1, 2.0))
    with pytest.raises(TypeError, match="normalize must be True or False, got 'yes'"):
        L.Dot(axes=1, normalize="yes")
    with pytest.raises(
        ValueError,
        match=r"Dot 'd': incompatible input shapes: axis values 3 \(at axis 1\) != 4 "
        r"\(at axis 1\)",
    ):
        L.Dot(axes=1, name="d")([L.Input((3,)), L.Input((4,))])
    with pytest.raises(ValueError, match="batch_dot over axis 0"):
        L.Dot(axes=0)([L.Input((3,)), L.Input((3,))])
    with pytest.raises(ValueError, match="should be called on exactly 2 inputs"):
        L.Dot(axes=1)([L.Input((3,))] * 3)
    with pytest.raises(ValueError, match="rank < 2"):
        L.Dot(axes=1)([np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match=r"axis values 3 \(at axis 2\) != 5"):
        L.Dot(axes=-1)([np.zeros((2, 4, 3)), np.zeros((2, 4, 5))])


# ------------------------------------------------------------ config, models, saving
@pytest.mark.parametrize(
    "layer",
    [
        L.Add(name="a1"),
        L.Subtract(),
        L.Multiply(dtype="float64"),
        L.Average(),
        L.Maximum(trainable=False),
        L.Minimum(),
        L.Concatenate(axis=1),
        L.Dot(axes=(1, 2), normalize=True),
        L.Dot(axes=-1),
    ],
)
def test_config_round_trip(layer):
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg


def _branch_model(merge):
    """One input, two Dense branches merged: a merge layer with two gradient-taking inputs."""
    inp = L.Input((3,))
    a = L.Dense(4, activation="tanh")(inp)
    b = L.Dense(4)(inp)
    c = L.Dense(4, activation="sigmoid")(inp)
    merged = merge([a, b, c]) if not isinstance(merge, (L.Subtract, L.Dot)) else merge([a, b])
    return rv.Model(inp, L.Dense(2)(merged))


MODEL_MERGES = [
    lambda: L.Add(),
    lambda: L.Subtract(),
    lambda: L.Multiply(),
    lambda: L.Average(),
    lambda: L.Maximum(),
    lambda: L.Minimum(),
    lambda: L.Concatenate(),
    lambda: L.Dot(axes=1, normalize=True),
]


@pytest.mark.parametrize("make", MODEL_MERGES)
def test_gradients_through_a_model(make, float64):
    model = _branch_model(make())
    x = np.random.default_rng(1).standard_normal((5, 3))
    y = np.random.default_rng(2).standard_normal((5, 2))
    check_gradients(model, x, y, loss="mse")


@pytest.mark.parametrize("make", MODEL_MERGES)
def test_save_and_load_a_model_with_each_merge(make, tmp_path):
    model = _branch_model(make())
    x = np.random.default_rng(3).standard_normal((6, 3)).astype(np.float32)
    path = tmp_path / "m.ranvier"
    model.save(path)
    loaded = rv.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]


def _multi_input_supported():
    a, b = L.Input((2,)), L.Input((2,))
    model = rv.Model([a, b], L.Dense(1)(L.add([a, b])))
    try:
        model.compile(optimizer="sgd", loss="mse")
    except ValueError as exc:
        if "one input" in str(exc):
            return False
        raise
    return True


def test_two_input_model(float64, tmp_path):
    a, b = L.Input((3,)), L.Input((1, 4))
    h = L.Dense(4, activation="tanh")(a)
    flat = L.Reshape((4,))(b)
    merged = L.Concatenate()([L.add([h, L.Dense(4)(flat)]), L.maximum([h, flat])])
    model = rv.Model([a, b], L.Dense(2)(merged))
    clone = rv.Model.from_config(model.get_config())
    assert [type(layer).__name__ for layer in clone.layers] == [type(layer).__name__ for layer in model.layers]
    if not _multi_input_supported():
        pytest.skip("models with two inputs are not trainable yet (issue 14, models part)")
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((5, 3)), rng.standard_normal((5, 1, 4))]
    check_gradients(model, xs, rng.standard_normal((5, 2)), loss="mse")
    model.save(tmp_path / "two.ranvier")
    np.testing.assert_allclose(rv.models.load_model(tmp_path / "two.ranvier").predict(xs), model.predict(xs))


# ------------------------------------------------------------------ PyTorch parity
def _torch_case(build_ours, torch_fn, shapes, seed):
    torch = pytest.importorskip("torch")
    xs = _xs(shapes, seed=seed)
    layer = build_ours()
    out, cache = layer.call(xs)
    dy = np.random.default_rng(seed + 1).standard_normal(out.shape)
    dxs = layer.backward(dy, cache)
    dxs = dxs if isinstance(dxs, list) else [dxs]
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    t_out = torch_fn(ts)
    t_out.backward(torch.tensor(dy))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in zip(dxs, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["add_broadcast", "maximum", "multiply3", "concatenate", "dot_normalized"])
def test_parity_with_pytorch(case):
    import functools

    if case == "add_broadcast":
        _torch_case(L.Add, lambda ts: ts[0] + ts[1][:, None, :], [(3, 4, 5), (3, 5)], 10)
    elif case == "maximum":
        _torch_case(L.Maximum, lambda ts: functools.reduce(lambda p, q: p.maximum(q), ts), [(4, 7)] * 2, 11)
    elif case == "multiply3":
        _torch_case(L.Multiply, lambda ts: ts[0] * ts[1] * ts[2], [(4, 2, 3)] * 3, 12)
    elif case == "concatenate":
        _torch_case(
            lambda: L.Concatenate(axis=1), lambda ts: __import__("torch").cat(ts, 1), [(2, 3, 4), (2, 1, 4)], 13
        )
    else:
        F = pytest.importorskip("torch.nn.functional")

        # x (2, 3, 4), y (2, 4, 5), axes (2, 1): out[b, i, j] = sum_k xn[b, i, k] yn[b, k, j].
        _torch_case(
            lambda: L.Dot(axes=(2, 1), normalize=True),
            lambda ts: F.normalize(ts[0], dim=2, eps=1e-7).matmul(F.normalize(ts[1], dim=1, eps=1e-7)),
            [(2, 3, 4), (2, 4, 5)],
            14,
        )


def test_keras_tensor_operators_make_merge_layers(tmp_path):
    # Keras 3 functional code writes residuals as `x + inputs`.
    a, b = rv.Input(shape=(4, 3)), rv.Input(shape=(1, 3))
    out = (a + b) * a - b
    model = rv.Model([a, b], out)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "InputLayer",
        "Add",
        "Multiply",
        "Subtract",
    ]
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(2, 4, 3)).astype(np.float32), rng.normal(size=(2, 1, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), (xa + xb) * xa - xb, rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = rv.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0))
    with pytest.raises(TypeError):
        a + 1.0  # a constant is no layer input
