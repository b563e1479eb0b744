"""MultiHeadAttention: Keras semantics, float64 gradients with masks, PyTorch parity, bad input."""

import numpy as np
import pytest

import ranvier as rv
from ranvier.testing import check_gradients

L = rv.layers
B, T, S, E, H = 3, 5, 7, 8, 2


def _data(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, E)).astype(dtype), rng.normal(size=(B, S, E)).astype(dtype)


def _numpy_mha(layer, q_in, v_in, k_in=None, attend=None):
    """Keras' MultiHeadAttention computed from the layer's weights with einsum."""
    k_in = v_in if k_in is None else k_in
    wq, bq, wk, bk, wv, bv, wo, bo = (w.astype(np.float64) for w in layer.get_weights())
    q = np.einsum("bte,ehd->bthd", q_in, wq) + bq
    k = np.einsum("bse,ehd->bshd", k_in, wk) + bk
    v = np.einsum("bse,ehd->bshd", v_in, wv) + bv
    s = np.einsum("bshd,bthd->bhts", k, q / np.sqrt(wq.shape[-1]))
    if attend is not None:
        s = s + (1.0 - attend) * -1e9
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ctx = np.einsum("bhts,bshd->bthd", p, v)
    return np.einsum("bthd,hdo->bto", ctx, wo) + bo, p


def test_weights_follow_keras_names_shapes_and_order():
    layer = L.MultiHeadAttention(num_heads=H, key_dim=3, value_dim=4, output_shape=6)
    q, v = _data()
    out = layer(q, v)
    assert out.shape == (B, T, 6)
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("query/kernel", (E, H, 3)),
        ("query/bias", (H, 3)),
        ("key/kernel", (E, H, 3)),
        ("key/bias", (H, 3)),
        ("value/kernel", (E, H, 4)),
        ("value/bias", (H, 4)),
        ("attention_output/kernel", (H, 4, 6)),
        ("attention_output/bias", (6,)),
    ]
    assert layer.query_dense.kernel is layer.weights[0]
    no_bias = L.MultiHeadAttention(H, 3, use_bias=False)
    no_bias(q, v)
    assert [w.name for w in no_bias.weights] == [
        "query/kernel",
        "key/kernel",
        "value/kernel",
        "attention_output/kernel",
    ]


def test_config_round_trip_keys():
    layer = L.MultiHeadAttention(2, 4, value_dim=3, dropout=0.1, output_shape=(5,), seed=3, flash_attention=False)
    cfg = layer.get_config()
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "output_shape", "attention_axes", "seed"):
        assert key in cfg
    clone = L.MultiHeadAttention.from_config(cfg)
    assert clone.get_config() == cfg


@pytest.mark.parametrize("with_key", [False, True])
def test_forward_matches_keras_formula_with_masks(with_key):
    layer = L.MultiHeadAttention(H, 3, dtype="float64")
    q, v = _data(dtype=np.float64)
    k = _data(seed=1, dtype=np.float64)[1] if with_key else None
    rng = np.random.default_rng(2)
    value_mask = rng.random((B, S)) > 0.3
    attention_mask = rng.random((B, T, S)) > 0.2
    query_mask = rng.random((B, T)) > 0.2
    out, scores = layer(
        q,
        v,
        key=k,
        query_mask=query_mask,
        value_mask=value_mask,
        attention_mask=attention_mask,
        use_causal_mask=True,
        return_attention_scores=True,
    )
    attend = attention_mask & value_mask[:, None, :] & query_mask[:, :, None] & np.tri(T, S, dtype=bool)
    want, p = _numpy_mha(layer, q, v, k, attend[:, None].astype(np.float64))
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(scores, p, rtol=1e-10, atol=1e-12)


def test_attention_mask_broadcasts_as_keras():
    layer = L.MultiHeadAttention(H, 3)
    q, v = _data()
    attend = np.random.default_rng(8).random((T, S)) > 0.4
    attend[:, 0] = True
    want = layer(q, v, attention_mask=np.broadcast_to(attend, (B, T, S)))
    np.testing.assert_array_equal(layer(q, v, attention_mask=attend), want)
    np.testing.assert_array_equal(layer(q, v, attention_mask=np.broadcast_to(attend, (B, H, T, S))), want)
    assert not np.allclose(layer(q, v), want)


def test_fully_masked_rows_attend_uniformly_in_float32():
    layer = L.MultiHeadAttention(H, 3)
    q, v = _data()
    mask = np.ones((B, T, S), bool)
    mask[0, 2] = False
    _, scores = layer(q, v, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(scores[0, :, 2], 1.0 / S, rtol=1e-6)


@pytest.mark.parametrize("case", ["cross", "cross_key"])
def test_float64_gradients_of_cross_attention(case):
    q, v = _data(dtype=np.float64)
    k = _data(seed=4, dtype=np.float64)[1]
    layer = L.MultiHeadAttention(H, 3, value_dim=2, dtype="float64")
    check_gradients(layer, [q, v] if case == "cross" else [q, v, k])


@pytest.mark.parametrize("masked", [False, True])
def test_float64_gradients_of_self_attention_in_a_model(masked):
    """One input used as query, value and key; masks as Keras call arguments."""
    x = _data(dtype=np.float64)[0]
    kwargs = {"use_causal_mask": True, "value_mask": np.random.default_rng(5).random((B, T)) > 0.3} if masked else {}
    rv.config.set_floatx("float64")
    try:
        inp = L.Input((T, E))
        out = L.MultiHeadAttention(H, 3, value_dim=2)(inp, inp, **kwargs)
        model = rv.Model(inp, L.Dense(2)(out))
        model.compile(optimizer="sgd", loss="mse")
        check_gradients(model, x, np.random.default_rng(6).normal(size=(B, T, 2)))
    finally:
        rv.config.set_floatx("float32")


@pytest.mark.parametrize("dtype, tol", [("float32", 2e-5), ("float64", 1e-12)])
def test_row_blocked_projections_match_the_whole_array_path(dtype, tol, monkeypatch, scoped_gradients):
    """8 x 160 = 1280 rows: inside the compute scope on 2 threads the four projections' backward
    runs row-blocked, and self-attention's three input gradients add into one buffer."""
    from ranvier.api.layers import _dense_products

    rv.config.set_floatx(dtype)
    try:
        rv.config.set_random_seed(3)
        inp = L.Input((160, 6))
        h = L.Dense(8)(inp)  # so that the attention's input needs a gradient
        att = L.MultiHeadAttention(2, 4)(h, h)
        model = rv.Model(inp, L.Dense(1)(L.GlobalAveragePooling1D()(att)))
        model.compile(optimizer="sgd", loss="mse")
        rng = np.random.default_rng(4)
        x, y = rng.standard_normal((8, 160, 6)).astype(dtype), rng.standard_normal((8, 1)).astype(dtype)
        calls = []
        kernel = _dense_products._dense.dense_backward_fused
        monkeypatch.setattr(_dense_products._dense, "dense_backward_fused", lambda *a: calls.append(1) or kernel(*a))
        blocked = scoped_gradients(model, x, y, 2)
        assert len(calls) == 5  # the output projection, value, query, key, then the Dense below
        monkeypatch.setattr(_dense_products, "_FUSED_MIN_ROWS", 10**9)
        whole = scoped_gradients(model, x, y, 2)
        assert len(calls) == 5
    finally:
        rv.config.set_floatx("float32")
    np.testing.assert_allclose(blocked[0], whole[0], rtol=tol)
    np.testing.assert_allclose(blocked[1], whole[1], rtol=tol, atol=tol * 10)


def _torch_pair(torch, use_bias=True, seed=0):
    torch.manual_seed(seed)
    ref = torch.nn.MultiheadAttention(E, H, bias=use_bias, batch_first=True, dtype=torch.float32)
    layer = L.MultiHeadAttention(H, E // H, use_bias=use_bias)
    layer(*_data())
    wq, wk, wv = (w.detach().numpy().T.reshape(E, H, E // H) for w in ref.in_proj_weight.chunk(3))
    weights = [wq, wk, wv]
    if use_bias:
        bq, bk, bv = (b.detach().numpy().reshape(H, E // H) for b in ref.in_proj_bias.chunk(3))
        weights = [wq, bq, wk, bk, wv, bv]
    wo = ref.out_proj.weight.detach().numpy().T.reshape(H, E // H, E)
    weights += [wo, ref.out_proj.bias.detach().numpy()] if use_bias else [wo]
    layer.set_weights(weights)
    return ref, layer


def _torch_masks(torch, kind, x):
    """(ranvier call kwargs, torch call kwargs) for one mask kind; torch's True means masked."""
    if kind == "none":
        return {}, {}
    if kind == "key_padding":
        keep = np.ones((B, T), bool)
        keep[0, 3:] = False
        keep[2, 1] = False
        return {"value_mask": keep}, {"key_padding_mask": torch.from_numpy(~keep)}
    if kind == "causal":
        return {"use_causal_mask": True}, {"attn_mask": torch.from_numpy(~np.tri(T, T, dtype=bool)), "is_causal": True}
    attend = np.random.default_rng(9).random((B, T, T)) > 0.3
    attend[..., 0] = True
    per_head = np.repeat(~attend, H, axis=0)  # torch's 3-D masks are (B * heads, T, S)
    return {"attention_mask": attend}, {"attn_mask": torch.from_numpy(per_head)}


@pytest.mark.parametrize("kind", ["none", "key_padding", "causal", "attention_mask"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_forward_and_three_sgd_steps_match_pytorch(kind, use_bias):
    torch = pytest.importorskip("torch")
    x = _data()[0]
    target = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    ref, layer = _torch_pair(torch, use_bias)
    ours_kw, torch_kw = _torch_masks(torch, kind, x)

    inp = L.Input((T, E))
    model = rv.Model(inp, layer(inp, inp, **ours_kw))
    model.compile(optimizer=rv.optimizers.SGD(0.1), loss="mse")
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    xt, tt = torch.from_numpy(x), torch.from_numpy(target)

    def torch_out():
        return ref(xt, xt, xt, need_weights=False, **torch_kw)[0]

    np.testing.assert_allclose(model.predict(x, verbose=0), torch_out().detach().numpy(), rtol=1e-4, atol=1e-5)
    for _ in range(3):
        model.train_on_batch(x, target)
        opt.zero_grad()
        torch.nn.functional.mse_loss(torch_out(), tt).backward()
        opt.step()
    np.testing.assert_allclose(model.predict(x, verbose=0), torch_out().detach().numpy(), rtol=1e-4, atol=2e-5)
    want = ref.in_proj_weight.detach().numpy()[:E].T.reshape(E, H, E // H)
    np.testing.assert_allclose(layer.get_weights()[0], want, rtol=1e-4, atol=2e-6)


def test_dropout_is_seeded_and_only_in_training():
    q, v = _data()
    a = L.MultiHeadAttention(H, 3, dropout=0.5, seed=7)
    a(q, v)
    b = L.MultiHeadAttention.from_config(a.get_config())
    b(q, v)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(q, v), a(q, v, training=False))
    train_a, train_b = a(q, v, training=True), b(q, v, training=True)
    np.testing.assert_array_equal(train_a, train_b)
    assert not np.allclose(train_a, a(q, v))


def test_self_attention_model_saves_and_loads(tmp_path):
    inp = L.Input((T, E))
    h = L.MultiHeadAttention(H, 4, name="mha")(inp, inp)
    model = rv.Model(inp, L.GlobalAveragePooling1D()(h))
    model.compile("adam", "mse")
    x = _data()[0]
    model.fit(x, np.zeros((B, E), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = rv.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_embedding_mask_reaches_the_attention():
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    inp = L.Input((T,), dtype="int32")
    emb = L.Embedding(10, E, mask_zero=True, name="emb")(inp)
    out = L.MultiHeadAttention(H, 4, name="mha")(emb, emb)
    model = rv.Model(inp, out)
    y = model.predict(ids, verbose=0)
    layer = model.get_layer("mha")
    vectors = model.get_layer("emb").get_weights()[0][ids]
    keep = ids != 0
    attend = keep[:, None, :] & keep[:, :, None]
    want, _ = _numpy_mha(layer, vectors.astype(np.float64), vectors.astype(np.float64), None, attend[:, None])
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 0, "key_dim": 2}, r"num_heads must be a positive integer, got 0"),
        ({"num_heads": 2, "key_dim": "a"}, r"key_dim must be a positive integer, got 'a'"),
        ({"num_heads": 2, "key_dim": 2, "dropout": 1.0}, r"dropout must be a float in \[0, 1\), got 1.0"),
        ({"num_heads": 2, "key_dim": 2, "attention_axes": (1, 2)}, r"attention_axes .* got \(1, 2\)"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises((ValueError, NotImplementedError), match=message):
        L.MultiHeadAttention(**kwargs)


def test_bad_call_arguments():
    layer = L.MultiHeadAttention(H, 3)
    q, v = _data()
    with pytest.raises(ValueError, match=r"attention_mask must broadcast to \(3, 5, 7\).*got \(3, 7, 5\)"):
        layer(q, v, attention_mask=np.ones((B, S, T), bool))
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 7\), got \(3, 5\)"):
        layer(q, v, value_mask=np.ones((B, T), bool))
    with pytest.raises(ValueError, match=r"value is required"):
        layer(q)
    with pytest.raises(NotImplementedError, match=r"query must have shape \(batch, time, features\)"):
        L.MultiHeadAttention(H, 3)(q[:, 0], v[:, 0])


def _numpy_luong(q, v, k, scores_fn, q_mask=None, v_mask=None, causal=False):
    """Keras' Attention._apply_scores and query masking, from precomputed score terms."""
    s = scores_fn(q, k)
    masked = np.zeros(s.shape, bool)
    if v_mask is not None:
        masked |= ~v_mask[:, None, :]
    if causal:
        masked |= ~np.tri(s.shape[1], s.shape[2], dtype=bool)
    s = s - 1e9 * masked
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = p @ v
    if q_mask is not None:
        out = out * q_mask[:, :, None]
    return out, p


@pytest.mark.parametrize("kind", ["dot", "dot_scaled", "concat", "concat_scaled", "additive", "additive_unscaled"])
@pytest.mark.parametrize("masked", [False, True])
def test_luong_and_bahdanau_match_keras_formulas(kind, masked):
    rng = np.random.default_rng(3)
    q = rng.normal(size=(B, T, 4))
    v = rng.normal(size=(B, S, 6))
    k = rng.normal(size=(B, S, 4))
    if kind.startswith("additive"):
        layer = L.AdditiveAttention(use_scale=kind == "additive", dtype="float64")
    else:
        layer = L.Attention(use_scale=kind.endswith("scaled"), score_mode=kind.split("_")[0], dtype="float64")
    layer([q, v, k])
    weights = [rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    q_mask = rng.random((B, T)) > 0.3 if masked else None
    v_mask = rng.random((B, S)) > 0.3 if masked else None
    if masked:
        v_mask[:, 0] = True
    if kind.startswith("dot"):

        def scores(q, k):
            return (q @ k.transpose(0, 2, 1)) * (weights[0] if weights else 1.0)
    elif kind.startswith("concat"):

        def scores(q, k):
            a = weights[0] if len(weights) == 2 else 1.0
            return weights[-1] * np.tanh(a * (q[:, :, None] + k[:, None])).sum(-1)
    else:

        def scores(q, k):
            return (np.tanh(q[:, :, None] + k[:, None]) * (weights[0] if weights else 1.0)).sum(-1)

    mask = [q_mask, v_mask] if masked else None
    out, p = layer([q, v, k], mask=mask, return_attention_scores=True, use_causal_mask=masked)
    want, want_p = _numpy_luong(q, v, k, scores, q_mask, v_mask, masked)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(p, want_p, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("init", [{"score_mode": "concat", "use_scale": True}, {"use_scale": True}])
def test_luong_float64_gradients_with_key(init):
    rng = np.random.default_rng(4)
    inputs = [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 2)), rng.normal(size=(2, 5, 4))]
    check_gradients(L.Attention(**init, dtype="float64"), inputs)


def test_luong_weights_and_config_follow_keras():
    layer = L.Attention(use_scale=True, score_mode="concat", dropout=0.2, seed=1)
    q, v = _data()
    layer([q, v])
    assert [(w.name.split("/")[-1], w.shape) for w in layer.weights] == [("scale", ()), ("concat_score_weight", ())]
    assert {"use_scale", "score_mode", "dropout"} <= set(layer.get_config())
    add = L.AdditiveAttention()
    add([q, v])
    assert [(w.name.split("/")[-1], w.shape) for w in add.weights] == [("scale", (E,))]
    assert "score_mode" not in add.get_config()
    assert L.AdditiveAttention.from_config(add.get_config()).get_config() == add.get_config()
    with pytest.raises(ValueError, match=r"score_mode must be one of \('dot', 'concat'\), got 'bad'"):
        L.Attention(score_mode="bad")
    with pytest.raises(ValueError, match=r"call it on a list \[query, value\]"):
        L.Attention()(q)
