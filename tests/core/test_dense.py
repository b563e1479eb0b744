import numpy as np
import pytest

from ranvier.core import _dense
from ranvier.reference import dense as ref


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("n, k, u", [(1, 1, 1), (7, 5, 3), (130, 70, 257)])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_dense_kernels_match_reference(dtype, tol, n, k, u, beta):
    rng = np.random.default_rng(n + k + u)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, u)).astype(dtype)
    dz = rng.standard_normal((n, u)).astype(dtype)
    out, out_ref = np.empty((n, u), dtype), np.empty((n, u), dtype)
    _dense.dense_forward(x, w, out)
    ref.dense_forward(x, w, out_ref)
    np.testing.assert_allclose(out, out_ref, rtol=tol, atol=tol * k)
    grads = [rng.standard_normal((k, u)).astype(dtype), rng.standard_normal(u).astype(dtype), np.empty((n, k), dtype)]
    grads_ref = [g.copy() for g in grads]
    _dense.dense_backward(x, w, dz, *grads, beta, True, 2)
    ref.dense_backward(x, w, dz, *grads_ref, beta, True)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, rtol=tol, atol=tol * max(n, u))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("n", [1, 255, 256, 700])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k, u", [(37, 21), (37, 64)])  # products on BLAS; on the packed micro-kernel
def test_fused_dense_backward_matches_reference(dtype, tol, n, threads, relu, bias, k, u):
    # Row counts below, at and across a row block, over more threads than blocks.
    rng = np.random.default_rng(n + threads)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, u)).astype(dtype)
    b = rng.standard_normal(u).astype(dtype) if bias else np.empty(0, dtype)
    y = np.maximum(x @ w, 0) if relu else np.empty((0, 0), dtype)  # the gate: a ReLU layer's output
    dy = rng.standard_normal((n, u)).astype(dtype)
    for beta in (0.0, 1.0):  # overwrite, and accumulate (a layer shared between calls)
        grads = [rng.standard_normal((k, u)).astype(dtype), rng.standard_normal(u).astype(dtype) if bias else b]
        grads_ref = [g.copy() for g in grads]
        dx, dx_ref = np.full((n, k), np.nan, dtype), np.empty((n, k), dtype)
        _dense.dense_backward_fused(x, w, dy, y, *grads, dx, beta, True, threads)
        ref.dense_backward_fused(x, w, dy, y, *grads_ref, dx_ref, beta, True)
        for g, g_ref in zip(grads + [dx], grads_ref + [dx_ref]):
            np.testing.assert_allclose(g, g_ref, rtol=tol, atol=tol * n)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("k, u", [(9, 5), (17, 32)])
def test_dense_backward_adds_to_dx_with_dx_beta(fused, threads, k, u):
    # An input shared by several products (self-attention's query, key and value).
    n = 700
    rng = np.random.default_rng(threads)
    x, w, dz = rng.standard_normal((n, k)), rng.standard_normal((k, u)), rng.standard_normal((n, u))
    before = rng.standard_normal((n, k))
    dx, dx_ref = before.copy(), before.copy()
    args = (np.empty((k, u)), np.empty(u))
    if fused:
        _dense.dense_backward_fused(x, w, dz, np.empty((0, 0)), *args, dx, 0.0, True, threads, 1.0)
        ref.dense_backward_fused(x, w, dz, np.empty((0, 0)), *args, dx_ref, 0.0, True, dx_beta=1.0)
    else:
        _dense.dense_backward(x, w, dz, *args, dx, 0.0, True, threads, 1.0)
        ref.dense_backward(x, w, dz, *args, dx_ref, 0.0, True, dx_beta=1.0)
    np.testing.assert_allclose(dx, before + dz @ w.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_ref, before + dz @ w.T, rtol=1e-12, atol=1e-12)


def test_fused_dense_backward_without_inputs_still_gates_the_bias_gradient():
    rng = np.random.default_rng(3)
    dy, y = rng.standard_normal((500, 4)), np.maximum(rng.standard_normal((500, 4)), 0)
    db = np.ones(4)
    _dense.dense_backward_fused(
        np.empty((500, 0)), np.empty((0, 4)), dy, y, np.empty((0, 4)), db, np.empty((500, 0)), 1.0, True, 2
    )
    np.testing.assert_allclose(db, 1 + np.where(y > 0, dy, 0).sum(0), rtol=1e-12)


def test_fused_dense_backward_skips_dx_and_handles_no_rows():
    rng = np.random.default_rng(2)
    x, w, dz = rng.standard_normal((600, 5)), rng.standard_normal((5, 3)), rng.standard_normal((600, 3))
    dw, db = np.zeros((5, 3)), np.zeros(3)
    _dense.dense_backward_fused(x, w, dz, np.empty((0, 0)), dw, db, np.empty((0, 0)), 0.0, False, 2)
    np.testing.assert_allclose(dw, x.T @ dz, rtol=1e-12)
    np.testing.assert_allclose(db, dz.sum(0), rtol=1e-12)
    dw = np.full((5, 3), 2.0)
    empty = np.empty((0, 5))
    _dense.dense_backward_fused(empty, w, np.empty((0, 3)), np.empty((0, 0)), dw, db, empty, 0.0, True, 2)
    np.testing.assert_array_equal(dw, 0.0)
    np.testing.assert_array_equal(db, 0.0)


def test_fused_dense_backward_rejects_bad_shapes():
    x, w = np.ones((4, 3)), np.ones((3, 5))
    with pytest.raises(ValueError, match=r"dense_backward_fused: y must have shape \(4, 5\) or be empty, got \(3, 5\)"):
        _dense.dense_backward_fused(
            x, w, np.ones((4, 5)), np.ones((3, 5)), np.ones((3, 5)), np.ones(5), np.empty((4, 3)), 0.0, True, 1
        )


def test_dense_backward_without_bias_or_dx():
    x, w, dz = np.ones((4, 3)), np.ones((3, 2)), np.ones((4, 2))
    dw = np.zeros((3, 2))
    _dense.dense_backward(x, w, dz, dw, np.empty(0), np.empty((0, 0)), 0.0, False, 1)
    np.testing.assert_array_equal(dw, 4.0)


def test_column_sum_is_deterministic_across_thread_counts():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3000, 300)).astype(np.float32)
    outs = []
    for threads in (1, 2, 4):
        out = np.zeros(300, np.float32)
        _dense.column_sum(a, out, 0.0, threads)
        outs.append(out)
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
    np.testing.assert_allclose(outs[0], a.sum(0, dtype=np.float64), rtol=1e-4, atol=1e-3)


def test_dense_kernels_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"dense_forward: kernel must have shape \(3, 5\), got \(4, 5\)"):
        _dense.dense_forward(np.ones((2, 3)), np.ones((4, 5)), np.empty((2, 5)))
    with pytest.raises(ValueError, match="out must have shape"):
        _dense.dense_forward(np.ones((2, 3)), np.ones((3, 5)), np.empty((2, 4)))
    with pytest.raises(ValueError, match="dbias"):
        _dense.dense_backward(
            np.ones((2, 3)),
            np.ones((3, 5)),
            np.ones((2, 5)),
            np.ones((3, 5)),
            np.ones(4),
            np.empty((2, 3)),
            0.0,
            True,
            1,
        )


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("n", [1, 95, 96, 97, 700])
@pytest.mark.parametrize("k, u", [(37, 21), (128, 64), (5, 100)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("relu", [True, False])
def test_packed_dense_forward_matches_reference_and_not_the_thread_count(dtype, tol, n, k, u, bias, relu):
    # Row counts below, at and across a row block; widths inside, at and across 32-column tiles.
    rng = np.random.default_rng(n + k + u)
    x, w = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, u)).astype(dtype)
    b = rng.standard_normal(u).astype(dtype) if bias else np.empty(0, dtype)
    want = x.astype(np.float64) @ w + (b if bias else 0)
    want = np.maximum(want, 0) if relu else want
    outs = []
    for threads in (1, 2, 3):
        out = np.full((n, u), np.nan, dtype)
        _dense.dense_forward_packed(x, w, b, relu, out, threads)
        outs.append(out)
    np.testing.assert_allclose(outs[0], want, rtol=tol, atol=tol * k)
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    if relu:
        assert (outs[0] >= 0).all()


def test_packed_dense_forward_edge_shapes_and_bad_shapes():
    b = np.array([1.0, -2.0, 3.0])
    out = np.full((4, 3), np.nan)
    _dense.dense_forward_packed(np.empty((4, 0)), np.empty((0, 3)), b, True, out, 2)  # no inputs: relu(bias)
    np.testing.assert_array_equal(out, np.tile([1.0, 0.0, 3.0], (4, 1)))
    _dense.dense_forward_packed(np.empty((0, 2)), np.ones((2, 3)), b, False, np.empty((0, 3)), 2)
    with pytest.raises(ValueError, match=r"dense_forward_packed: kernel must have shape \(2, 3\), got \(4, 3\)"):
        _dense.dense_forward_packed(np.ones((4, 2)), np.ones((4, 3)), b, False, out, 1)
    with pytest.raises(ValueError, match=r"dense_forward_packed: bias must have shape \(3,\) or \(0,\), got \(2,\)"):
        _dense.dense_forward_packed(np.ones((4, 2)), np.ones((2, 3)), b[:2], False, out, 1)
    with pytest.raises(ValueError, match=r"dense_forward_packed: out must have shape \(4, 3\), got \(3, 3\)"):
        _dense.dense_forward_packed(np.ones((4, 2)), np.ones((2, 3)), b, False, out[:3], 1)


def _pair(dtype, n, k, u, v, bias, seed):
    """x, the two kernels and biases (empty without) of a ReLU Dense -> linear Dense pair."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)).astype(dtype)
    w1, w2 = rng.standard_normal((k, u)).astype(dtype), rng.standard_normal((u, v)).astype(dtype)
    b1 = rng.standard_normal(u).astype(dtype) if bias else np.empty(0, dtype)
    b2 = rng.standard_normal(v).astype(dtype) if bias else np.empty(0, dtype)
    return rng, x, w1, b1, w2, b2


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("n", [1, 255, 256, 700])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need_dx", [True, False])
# Both layers' products on BLAS; both on the packed micro-kernel; the first packed, the second on BLAS.
@pytest.mark.parametrize("k, u, v", [(37, 21, 13), (37, 64, 32), (20, 32, 7)])
def test_dense_relu_dense_backward_matches_reference_and_two_fused_layers(
    dtype, tol, n, threads, bias, need_dx, k, u, v
):
    # Row counts below, at and across a row block, over more threads than blocks.
    rng, x, w1, _, w2, _ = _pair(dtype, n, k, u, v, bias, n + threads)
    a = np.maximum(x @ w1 + rng.standard_normal(u).astype(dtype), 0)  # the first layer's ReLU output
    dz2 = rng.standard_normal((n, v)).astype(dtype)
    for beta1, beta2 in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)):  # overwrite, or accumulate (a shared layer)
        shapes = ((k, u), (u,) if bias else 0, (u, v), (v,) if bias else 0)
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        grads_ref, grads_two = [g.copy() for g in grads], [g.copy() for g in grads]
        dx, dx_ref, dx_two = np.full((n, k), np.nan, dtype), np.empty((n, k), dtype), np.empty((n, k), dtype)
        _dense.dense_relu_dense_backward(x, w1, a, w2, dz2, *grads, dx, beta1, beta2, need_dx, threads)
        ref.dense_relu_dense_backward(x, w1, a, w2, dz2, *grads_ref, dx_ref, beta1, beta2, need_dx)
        for g, g_ref in zip(grads + [dx] * need_dx, grads_ref + [dx_ref] * need_dx):
            np.testing.assert_allclose(g, g_ref, rtol=tol, atol=tol * n)
        if not need_dx:
            assert np.isnan(dx).all()
        # Bit for bit what the two layers' own row-blocked backward calls give.
        da = np.empty_like(a)
        _dense.dense_backward_fused(a, w2, dz2, np.empty((0, 0), dtype), *grads_two[2:], da, beta2, True, threads)
        _dense.dense_backward_fused(x, w1, da, a, *grads_two[:2], dx_two, beta1, need_dx, threads)
        for g, g_two in zip(grads + [dx] * need_dx, grads_two + [dx_two] * need_dx):
            np.testing.assert_array_equal(g, g_two)


def test_dense_relu_dense_backward_on_no_rows_scales_the_weight_gradients():
    _, x, w1, _, w2, _ = _pair(np.float64, 0, 5, 4, 3, False, 0)
    grads = [np.full((5, 4), 2.0), np.full(4, 2.0), np.full((4, 3), 2.0), np.full(3, 2.0)]
    _dense.dense_relu_dense_backward(x, w1, np.empty((0, 4)), w2, np.empty((0, 3)), *grads, x, 1.0, 0.0, True, 2)
    for g, want in zip(grads, (2.0, 2.0, 0.0, 0.0)):
        np.testing.assert_array_equal(g, want)


def test_dense_relu_dense_backward_rejects_bad_shapes():
    x, w1, a, w2, dz2 = np.ones((4, 3)), np.ones((3, 5)), np.ones((4, 5)), np.ones((5, 2)), np.ones((4, 2))
    grads = [np.ones((3, 5)), np.ones(5), np.ones((5, 2)), np.ones(2)]
    with pytest.raises(ValueError, match=r"kernel2 must have shape \(5, >= 1\), got \(4, 2\)"):
        _dense.dense_relu_dense_backward(x, w1, a, np.ones((4, 2)), dz2, *grads, np.empty((4, 3)), 0.0, 0.0, True, 1)
    with pytest.raises(
        ValueError, match=r"dense_relu_dense_backward: kernel1 must have shape \(3, >= 1\), got \(3, 0\)"
    ):  # no units between
        _dense.dense_relu_dense_backward(
            x, np.ones((3, 0)), np.ones((4, 0)), np.ones((0, 2)), dz2, *grads, np.empty((4, 3)), 0.0, 0.0, True, 1
        )
    grads[3] = np.ones(3)
    with pytest.raises(ValueError, match=r"dbias2 must have shape \(2,\) or \(0,\), got \(3,\)"):
        _dense.dense_relu_dense_backward(x, w1, a, w2, dz2, *grads, np.empty((4, 3)), 0.0, 0.0, True, 1)
