"""ranvier.core._conv and _convpool against the NumPy reference, scipy.signal and finite differences."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import signal

from ranvier.core import _conv, _convpool, _pool
from ranvier.reference import conv as ref
from ranvier.testing import numerical_gradient, relative_error

_NO_BIAS = {np.dtype(t): np.empty(0, t) for t in (np.float32, np.float64)}

# (n, h, w, c, f, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr): pb/pr = trailing padding
GEOMETRIES = [
    (2, 5, 5, 3, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0),  # valid 3x3
    (3, 7, 6, 2, 3, 3, 2, 2, 1, 1, 2, 1, 0, 1, 1),  # strides, dilation, asymmetric padding
    (2, 6, 6, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1),  # Keras "same" stride 2: odd cell after only
    (2, 5, 7, 1, 3, 2, 3, 1, 1, 2, 1, 1, 1, 1, 1),  # even kernel, dilation
    (3, 4, 4, 3, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),  # pointwise: no im2col
    (2, 1, 9, 2, 3, 1, 3, 1, 2, 1, 2, 0, 2, 0, 2),  # 1-D as h = 1
]
# Shapes that cross the kernels' blocks: row blocks that end inside an output row and
# span images, images larger than a block, dkernel rows split between threads inside a
# tap (5 channels), filters a multiple of 32 (dz read in place) or not (packed).
BLOCK_GEOMETRIES = [
    (3, 13, 11, 5, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),  # 3 x 143 rows, k = 45, dz in place
    (1, 20, 19, 5, 7, 3, 2, 1, 1, 1, 1, 1, 0, 1, 1),  # one image of 380 rows, packed dz
    (5, 6, 6, 12, 64, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),  # 25 rows per image, 10 images per block
    (2, 17, 17, 4, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),  # pointwise over 578 rows
    # Fewer than 64 rows of dkernel over more than 1024 rows: chunked partial sums.
    (6, 20, 20, 2, 32, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0),  # 1944 rows in 2 chunks, dz in place
    (4, 24, 24, 1, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),  # 2304 rows in 3 chunks, packed dz
    (3, 25, 25, 4, 33, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),  # pointwise, 1875 rows in 2 chunks
]


def _out_hw(g):
    n, h, w, c, f, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr = g
    return ((h + pt + pb - (kh - 1) * dh - 1) // sh + 1, (w + pl + pr - (kw - 1) * dw - 1) // sw + 1)


def _setup(g, dtype, rng):
    n, h, w, c, f, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr = g
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    kernel = rng.standard_normal((kh * kw * c, f)).astype(dtype)
    return x, kernel, (kh, kw, sh, sw, dh, dw, pt, pl), _out_hw(g)


def _pool_buffers(n, oh, ow, f, dtype):
    """Uninitialised output and int32 argmax of a 2x2 stride-2 pool over an (n, oh, ow, f) conv output."""
    shape = (n, oh // 2, ow // 2, f)
    return np.empty(shape, dtype), np.empty(shape, np.int32)


def _scipy_conv(x, kernel4, geom, pads_after, out_hw):
    """Cross-correlation via scipy.signal.correlate on the dilated kernel, then strided sampling."""
    kh, kw, sh, sw, dh, dw, pt, pl = geom
    pb, pr = pads_after
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kd = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1) + kernel4.shape[2:])
    kd[::dh, ::dw] = kernel4
    n, f = x.shape[0], kernel4.shape[3]
    out = np.zeros((n,) + out_hw + (f,))
    for i in range(n):
        for j in range(f):
            full = sum(signal.correlate(xp[i, :, :, ci], kd[:, :, ci, j], mode="valid") for ci in range(x.shape[3]))
            out[i, :, :, j] = full[::sh, ::sw][: out_hw[0], : out_hw[1]]
    return out


@pytest.mark.parametrize("g", GEOMETRIES)
def test_forward_matches_scipy_correlate(g):
    rng = np.random.default_rng(0)
    x, kernel, geom, out_hw = _setup(g, np.float64, rng)
    out = np.empty((x.shape[0],) + out_hw + (kernel.shape[1],))
    _conv.conv2d_forward(x, kernel, _NO_BIAS[x.dtype], False, out, *geom, 2)
    kernel4 = kernel.reshape(geom[0], geom[1], x.shape[3], -1)
    expected = _scipy_conv(x, kernel4, geom, g[13:15], out_hw)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    ref_out = np.empty_like(out)
    ref.conv2d_forward(x, kernel, _NO_BIAS[x.dtype], False, ref_out, *geom, 1)
    np.testing.assert_allclose(ref_out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("g", GEOMETRIES + BLOCK_GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_matches_reference(g, dtype):
    rng = np.random.default_rng(1)
    x, kernel, geom, out_hw = _setup(g, dtype, rng)
    n, f = x.shape[0], kernel.shape[1]
    eps = 1e-5 if dtype == np.float32 else 1e-12

    def close(a, b):
        # Sums of hundreds of products: float32 rounding scales with the largest value.
        np.testing.assert_allclose(a, b, rtol=eps, atol=eps * max(1.0, np.abs(b).max()))

    out, out_ref = np.empty((n,) + out_hw + (f,), dtype), np.empty((n,) + out_hw + (f,), dtype)
    _conv.conv2d_forward(x, kernel, _NO_BIAS[x.dtype], False, out, *geom, 2)
    ref.conv2d_forward(x, kernel, _NO_BIAS[x.dtype], False, out_ref, *geom, 1)
    close(out, out_ref)
    # The bias and ReLU epilogue: the same sums, then exactly max(z + b, 0).
    bias = rng.standard_normal(f).astype(dtype)
    fused, fused_ref = np.empty_like(out), np.empty_like(out)
    _conv.conv2d_forward(x, kernel, bias, True, fused, *geom, 2)
    ref.conv2d_forward(x, kernel, bias, True, fused_ref, *geom, 1)
    np.testing.assert_array_equal(fused, np.maximum(out + bias, 0))
    close(fused, fused_ref)

    dz = rng.standard_normal(out.shape).astype(dtype)
    dk, dk_ref = np.ones_like(kernel), np.ones_like(kernel)
    db, db_ref = np.ones(f, dtype), np.ones(f, dtype)
    dx, dx_ref = np.empty_like(x), np.empty_like(x)
    _conv.conv2d_backward(x, kernel, dz, dk, db, dx, 1.0, True, *geom, 2)
    ref.conv2d_backward(x, kernel, dz, dk_ref, db_ref, dx_ref, 1.0, True, *geom, 1)
    close(dk, dk_ref)
    close(db, db_ref)
    close(db, 1 + dz.sum(axis=(0, 1, 2), dtype=np.float64))
    close(dx, dx_ref)


@pytest.mark.parametrize("g", GEOMETRIES)
def test_backward_matches_finite_differences(g):
    rng = np.random.default_rng(2)
    x, kernel, geom, out_hw = _setup(g, np.float64, rng)
    n, f = x.shape[0], kernel.shape[1]
    proj = rng.standard_normal((n,) + out_hw + (f,))

    def loss():
        out = np.empty((n,) + out_hw + (f,))
        _conv.conv2d_forward(x, kernel, _NO_BIAS[x.dtype], False, out, *geom, 1)
        return float(np.sum(proj * out))

    dk, dx = np.empty_like(kernel), np.empty_like(x)
    _conv.conv2d_backward(x, kernel, proj, dk, np.empty(0), dx, 0.0, True, *geom, 1)
    for array, grad in ((kernel, dk), (x, dx)):
        assert relative_error(grad, numerical_gradient(loss, array)) < 1e-6


def test_beta_accumulates_and_dx_is_optional():
    rng = np.random.default_rng(4)
    x, kernel, geom, out_hw = _setup(GEOMETRIES[0], np.float64, rng)
    dz = rng.standard_normal((x.shape[0],) + out_hw + (kernel.shape[1],))
    once, bias_once = np.full_like(kernel, np.nan), np.full(kernel.shape[1], np.nan)
    _conv.conv2d_backward(x, kernel, dz, once, bias_once, np.empty((0, 0, 0, 0)), 0.0, False, *geom, 1)
    twice, bias_twice = once.copy(), bias_once.copy()
    _conv.conv2d_backward(x, kernel, dz, twice, bias_twice, np.empty((0, 0, 0, 0)), 1.0, False, *geom, 1)
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-12)
    np.testing.assert_allclose(bias_twice, 2 * bias_once, rtol=1e-12)
    np.testing.assert_allclose(bias_once, dz.sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("g", BLOCK_GEOMETRIES + GEOMETRIES[:1])
def test_thread_count_does_not_change_results(g):
    rng = np.random.default_rng(5)
    x, kernel, geom, out_hw = _setup(g, np.float32, rng)
    dz = rng.standard_normal((x.shape[0],) + out_hw + (kernel.shape[1],)).astype(np.float32)
    results = []
    for t in (1, 2, 3):
        out, dk, db, dx = np.empty_like(dz), np.empty_like(kernel), np.empty(dz.shape[-1], np.float32), np.empty_like(x)
        _conv.conv2d_forward(x, kernel, np.ones(dz.shape[-1], np.float32), True, out, *geom, t)
        _conv.conv2d_backward(x, kernel, dz, dk, db, dx, 0.0, True, *geom, t)
        results.append((out, dk, db, dx))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_bad_arguments_raise_value_error():
    x = np.zeros((2, 5, 5, 3))
    kernel = np.zeros((27, 4))
    out = np.zeros((2, 3, 3, 4))
    geom = (3, 3, 1, 1, 1, 1, 0, 0)
    with pytest.raises(ValueError, match=r"conv2d_forward: kernel must have shape \(27, 4\), got \(26, 4\)"):
        _conv.conv2d_forward(x, np.zeros((26, 4)), np.zeros(4), False, out, *geom, 1)
    with pytest.raises(ValueError, match="out must have shape"):
        _conv.conv2d_forward(x, kernel, np.zeros(4), False, np.zeros((2, 3, 3, 5)), *geom, 1)
    with pytest.raises(ValueError, match="bias must have shape \\(4,\\) or \\(0,\\), got \\(5,\\)"):
        _conv.conv2d_forward(x, kernel, np.zeros(5), False, out, *geom, 1)
    with pytest.raises(ValueError, match="geometry"):
        _conv.conv2d_forward(x, kernel, np.zeros(4), False, out, 3, 3, 0, 1, 1, 1, 0, 0, 1)
    with pytest.raises(ValueError, match="beta must be 0.0 or 1.0"):
        _conv.conv2d_backward(x, kernel, out, np.zeros_like(kernel), np.zeros(4), np.zeros_like(x), 0.5, True, *geom, 1)
    with pytest.raises(ValueError, match="dbias must have shape \\(4,\\) or \\(0,\\), got \\(3,\\)"):
        _conv.conv2d_backward(x, kernel, out, np.zeros_like(kernel), np.zeros(3), np.zeros_like(x), 0.0, True, *geom, 1)
    with pytest.raises(ValueError, match=r"dx must have shape \(2, 5, 5, 3\), got \(2, 5, 5, 2\)"):
        _conv.conv2d_backward(
            x, kernel, out, np.zeros_like(kernel), np.zeros(4), np.zeros((2, 5, 5, 2)), 0.0, True, *geom, 1
        )
    with pytest.raises((TypeError, ValueError)):
        _conv.conv2d_forward(x.astype(np.float32), kernel, np.zeros(4), False, out, *geom, 1)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    c=st.integers(1, 6),
    f=st.integers(1, 40),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    dh=st.integers(1, 3),
    dw=st.integers(1, 3),
    pt=st.integers(0, 3),
    pl=st.integers(0, 3),
    pb=st.integers(0, 3),
    pr=st.integers(0, 3),
    threads=st.integers(1, 3),
)
def test_random_geometries_match_the_reference(n, h, w, c, f, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, threads):
    # The gather moves runs of taps and column ranges that may cut through a tap: any geometry, any split.
    g = (n, h, w, c, f, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr)
    oh, ow = _out_hw(g)
    assume(oh >= 1 and ow >= 1)
    rng = np.random.default_rng(0)
    x, kernel, geom, out_hw = _setup(g, np.float64, rng)
    bias = rng.standard_normal(f)
    out, out_ref = np.empty((n, oh, ow, f)), np.empty((n, oh, ow, f))
    _conv.conv2d_forward(x, kernel, bias, True, out, *geom, threads)
    ref.conv2d_forward(x, kernel, bias, True, out_ref, *geom, 1)
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-12)
    dz = rng.standard_normal(out.shape)
    dk, db, dx = np.empty_like(kernel), np.empty(f), np.empty_like(x)
    dk_ref, db_ref, dx_ref = np.empty_like(kernel), np.empty(f), np.empty_like(x)
    _conv.conv2d_backward(x, kernel, dz, dk, db, dx, 0.0, True, *geom, threads)
    ref.conv2d_backward(x, kernel, dz, dk_ref, db_ref, dx_ref, 0.0, True, *geom, 1)
    for a, b in ((dk, dk_ref), (db, db_ref), (dx, dx_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-11)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(2, 14),
    w=st.integers(2, 14),
    c=st.integers(1, 5),
    f=st.integers(1, 40),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    sh=st.integers(1, 2),
    dw=st.integers(1, 2),
    pad=st.integers(0, 1),
    bias=st.booleans(),
    threads=st.integers(1, 3),
    double=st.booleans(),
)
def test_relu_maxpool_forward_equals_conv_then_pool(n, h, w, c, f, kh, kw, sh, dw, pad, bias, threads, double):
    # Never storing the conv output changes nothing: same sums, same maxima, same argmax.
    dtype = np.float64 if double else np.float32
    g = (n, h, w, c, f, kh, kw, sh, 1, 1, dw, pad, pad, pad, pad)
    oh, ow = _out_hw(g)
    assume(oh >= 2 and ow >= 2)
    rng = np.random.default_rng(1)
    x, kernel, geom, _ = _setup(g, dtype, rng)
    b = rng.standard_normal(f).astype(dtype) if bias else _NO_BIAS[np.dtype(dtype)]
    z = np.empty((n, oh, ow, f), dtype)
    _conv.conv2d_forward(x, kernel, b, True, z, *geom, threads)
    pooled, argmax = _pool_buffers(n, oh, ow, f, dtype)
    _pool.max_pool2d_forward(z, 2, 2, 2, 2, 0, 0, pooled, argmax, 1)
    fused, fused_arg = np.full_like(pooled, np.nan), np.full_like(argmax, -7)
    _convpool.conv2d_relu_maxpool_forward(x, kernel, b, fused, fused_arg, *geom, oh, ow, threads)
    np.testing.assert_array_equal(fused, pooled)
    np.testing.assert_array_equal(fused_arg, argmax)


def test_relu_maxpool_forward_rejects_bad_shapes():
    x, kernel = np.zeros((2, 5, 5, 3)), np.zeros((27, 4))
    geom = (3, 3, 1, 1, 1, 1, 0, 0)
    with pytest.raises(ValueError, match=r"out must have shape \(2, 1, 1, 4\), got \(2, 2, 2, 4\)"):
        _convpool.conv2d_relu_maxpool_forward(
            x, kernel, np.zeros(4), np.zeros((2, 2, 2, 4)), np.zeros((2, 2, 2, 4), np.int32), *geom, 3, 3, 1
        )
    with pytest.raises(ValueError, match="argmax must have shape"):
        _convpool.conv2d_relu_maxpool_forward(
            x, kernel, np.zeros(4), np.zeros((2, 1, 1, 4)), np.zeros((2, 1, 1, 3), np.int32), *geom, 3, 3, 1
        )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(2, 14),
    w=st.integers(2, 14),
    c=st.integers(1, 5),
    f=st.integers(1, 40),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    sh=st.integers(1, 2),
    dw=st.integers(1, 2),
    pad=st.integers(0, 1),
    need_dx=st.booleans(),
    beta=st.sampled_from([0.0, 1.0]),
    threads=st.integers(1, 3),
    double=st.booleans(),
)
def test_maxpool_backward_equals_pool_then_conv_backward(
    n, h, w, c, f, kh, kw, sh, dw, pad, need_dx, beta, threads, double
):
    # The conv output's gradient rebuilt block by block from the pooled one: the same values, the same sums.
    dtype = np.float64 if double else np.float32
    g = (n, h, w, c, f, kh, kw, sh, 1, 1, dw, pad, pad, pad, pad)
    oh, ow = _out_hw(g)
    assume(oh >= 2 and ow >= 2)
    rng = np.random.default_rng(2)
    x, kernel, geom, _ = _setup(g, dtype, rng)
    b = rng.standard_normal(f).astype(dtype)
    pooled, argmax = _pool_buffers(n, oh, ow, f, dtype)
    _convpool.conv2d_relu_maxpool_forward(x, kernel, b, pooled, argmax, *geom, oh, ow, threads)
    dy = rng.standard_normal(pooled.shape).astype(dtype)
    dz = np.empty((n, oh, ow, f), dtype)
    _pool.max_pool2d_backward(dy, argmax, pooled, dz, 1)
    start = rng.standard_normal(kernel.shape).astype(dtype), rng.standard_normal(f).astype(dtype)
    want = [start[0].copy(), start[1].copy(), np.empty_like(x)]
    _conv.conv2d_backward(x, kernel, dz, *want[:2], want[2], beta, need_dx, *geom, threads)
    got = [start[0].copy(), start[1].copy(), np.full_like(x, np.nan)]
    _convpool.conv2d_maxpool_backward(
        x, kernel, dy, argmax, pooled, *got[:2], got[2], beta, need_dx, *geom, oh, ow, threads
    )
    if need_dx or double:
        for a, e in zip(got if need_dx else got[:2], want):
            np.testing.assert_array_equal(a, e)
    else:  # a float32 kernel gradient alone may go window by window (the test below): other sums
        for a, e in zip(got[:2], want):
            np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(e).max()))


@pytest.mark.parametrize(
    "g",
    [
        (6, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0),  # W2's first conv (on 6 images)
        (5, 12, 11, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),  # "same" padding, two column groups
        (3, 13, 9, 2, 32, 2, 3, 2, 2, 1, 2, 1, 1, 1, 1),  # strides, dilation, k = 12: two tap groups
        (17, 8, 8, 4, 32, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0),  # 17 images: groups of 2 and a last one of 1
    ],
)
def test_pooled_kernel_gradient_window_by_window(g):
    # Without dx, a float32 conv under ReLU + 2x2 max pool with few taps takes its kernel
    # gradient from the pooled gradient directly (rv_pooled_dw): the values of the unpooled
    # path, summed in another order; the same bits at any thread count; beta accumulates.
    n, h, w, c, f, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr = g
    rng = np.random.default_rng(3)
    x, kernel, geom, (oh, ow) = _setup(g, np.float32, rng)
    b = rng.standard_normal(f).astype(np.float32)
    pooled, argmax = _pool_buffers(n, oh, ow, f, np.float32)
    _convpool.conv2d_relu_maxpool_forward(x, kernel, b, pooled, argmax, *geom, oh, ow, 1)
    dy = rng.standard_normal(pooled.shape).astype(np.float32)
    dz = np.empty((n, oh, ow, f))
    _pool.max_pool2d_backward(dy.astype(np.float64), argmax, pooled.astype(np.float64), dz, 1)
    want_k, want_b = np.empty(kernel.shape), np.empty(f)
    ref.conv2d_backward(
        x.astype(np.float64),
        kernel.astype(np.float64),
        dz,
        want_k,
        want_b,
        np.empty((0, 0, 0, 0)),
        0.0,
        False,
        *geom,
        1,
    )
    none = np.empty((0, 0, 0, 0), np.float32)
    runs = []
    for t in (1, 2, 3):
        dk, db = np.full_like(kernel, np.nan), np.full(f, np.nan, np.float32)
        _convpool.conv2d_maxpool_backward(x, kernel, dy, argmax, pooled, dk, db, none, 0.0, False, *geom, oh, ow, t)
        runs.append((dk, db))
    for dk, db in runs[1:]:
        np.testing.assert_array_equal(dk, runs[0][0])
        np.testing.assert_array_equal(db, runs[0][1])
    np.testing.assert_allclose(runs[0][0], want_k, rtol=1e-5, atol=1e-5 * np.abs(want_k).max())
    np.testing.assert_allclose(runs[0][1], want_b, rtol=1e-5, atol=1e-5 * np.abs(want_b).max())
    dk, db = runs[0][0].copy(), np.empty(0, np.float32)
    _convpool.conv2d_maxpool_backward(x, kernel, dy, argmax, pooled, dk, db, none, 1.0, False, *geom, oh, ow, 2)
    np.testing.assert_allclose(dk, 2 * runs[0][0], rtol=1e-5, atol=1e-5 * np.abs(dk).max())


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    oh=st.integers(1, 6),
    ow=st.integers(1, 6),
    c=st.integers(1, 5),
    f=st.integers(1, 40),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    dh=st.integers(1, 2),
    dw=st.integers(1, 2),
    pt=st.integers(0, 3),
    pl=st.integers(0, 3),
    threads=st.integers(1, 3),
)
def test_input_grad_matches_the_reference(n, h, w, oh, ow, c, f, kh, kw, sh, sw, dh, dw, pt, pl, threads):
    # A transposed conv's forward: dz's size is free of dx's (output_padding leaves cells no tap reaches).
    rng = np.random.default_rng(9)
    dz = rng.standard_normal((n, oh, ow, f))
    kernel = rng.standard_normal((kh * kw * c, f))
    geom = (kh, kw, sh, sw, dh, dw, pt, pl)
    dx, dx_ref = np.full((n, h, w, c), np.nan), np.empty((n, h, w, c))
    _conv.conv2d_input_grad(dz, kernel, dx, *geom, threads)
    ref.conv2d_input_grad(dz, kernel, dx_ref, *geom)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("g", GEOMETRIES + BLOCK_GEOMETRIES)
def test_input_grad_is_the_backward_input_gradient(g):
    rng = np.random.default_rng(10)
    x, kernel, geom, out_hw = _setup(g, np.float32, rng)
    dz = rng.standard_normal((x.shape[0],) + out_hw + (kernel.shape[1],)).astype(np.float32)
    dx_ref = np.empty_like(x)
    ref.conv2d_input_grad(dz, kernel, dx_ref, *geom)
    results = []
    for t in (1, 2, 3):
        dx = np.full_like(x, np.nan)
        _conv.conv2d_input_grad(dz, kernel, dx, *geom, t)
        results.append(dx)
    np.testing.assert_allclose(results[0], dx_ref, rtol=1e-5, atol=1e-5 * np.abs(dx_ref).max())
    for other in results[1:]:
        assert np.array_equal(results[0], other)


def test_input_grad_rejects_bad_arguments():
    dz, dx, geom = np.zeros((2, 3, 3, 4)), np.zeros((2, 5, 5, 3)), (3, 3, 1, 1, 1, 1, 0, 0)
    with pytest.raises(ValueError, match=r"conv2d_input_grad: kernel must have shape \(27, 4\), got \(26, 4\)"):
        _conv.conv2d_input_grad(dz, np.zeros((26, 4)), dx, *geom, 1)
    with pytest.raises(ValueError, match=r"conv2d_input_grad: dz must have shape"):
        _conv.conv2d_input_grad(np.zeros((3, 3, 3, 4)), np.zeros((27, 4)), dx, *geom, 1)
    with pytest.raises(ValueError, match="geometry"):
        _conv.conv2d_input_grad(dz, np.zeros((27, 4)), dx, 3, 3, 1, 1, 0, 1, 0, 0, 1)
