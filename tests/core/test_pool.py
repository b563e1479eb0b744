"""ranvier.core._pool against its NumPy reference, brute force, scipy and finite differences."""

import numpy as np
import pytest
from scipy import signal

from ranvier.core import _pool
from ranvier.reference import pool as ref
from ranvier.testing import numerical_gradient, relative_error

_NO_GATE = {t: np.empty((0, 0, 0, 0), t) for t in (np.float32, np.float64)}

# (n, h, w, c, ph, pw, sh, sw, pt, pl, oh, ow)
GEOMETRIES = [
    (2, 4, 4, 3, 2, 2, 2, 2, 0, 0, 2, 2),  # the classic 2x2
    (2, 5, 7, 20, 2, 2, 2, 2, 0, 0, 2, 3),  # 2x2 "valid" on odd sizes: the last row and column unread
    (2, 5, 7, 2, 3, 2, 2, 1, 0, 0, 2, 6),  # odd sizes, overlapping windows
    (3, 5, 5, 2, 2, 2, 2, 2, 0, 0, 3, 3),  # Keras "same": trailing padding only
    (2, 6, 5, 1, 3, 3, 1, 2, 1, 1, 6, 3),  # "same" with padding on both sides
    (2, 1, 9, 3, 1, 3, 1, 2, 0, 1, 1, 5),  # 1-D as h = 1
    (2, 3, 4, 5, 3, 4, 1, 1, 0, 0, 1, 1),  # global pooling
    (2, 6, 7, 3, 2, 2, 3, 3, 0, 0, 2, 2),  # strides past the window: cells in no window
    (2, 6, 4, 3, 3, 2, 3, 2, 0, 0, 2, 2),  # windows that tile the input exactly
]


def _brute(x, g, reduce):
    n, h, w, c, ph, pw, sh, sw, pt, pl, oh, ow = g
    out = np.empty((n, oh, ow, c))
    for y in range(oh):
        for xo in range(ow):
            y0, x0 = y * sh - pt, xo * sw - pl
            win = x[:, max(y0, 0) : min(y0 + ph, h), max(x0, 0) : min(x0 + pw, w)]
            out[:, y, xo] = reduce(win.reshape(n, -1, c), axis=1)
    return out


def _run(is_max, x, g, n_threads=2):
    n, h, w, c, ph, pw, sh, sw, pt, pl, oh, ow = g
    out = np.empty((n, oh, ow, c), x.dtype)
    if is_max:
        argmax = np.empty(out.shape, np.int32)
        _pool.max_pool2d_forward(x, ph, pw, sh, sw, pt, pl, out, argmax, n_threads)
        return out, argmax
    _pool.avg_pool2d_forward(x, ph, pw, sh, sw, pt, pl, out, n_threads)
    return out, None


@pytest.mark.parametrize("g", GEOMETRIES)
def test_forward_matches_brute_force(g):
    x = np.random.default_rng(0).standard_normal(g[:4])
    out, argmax = _run(True, x, g)
    np.testing.assert_array_equal(out, _brute(x, g, np.max))
    np.testing.assert_array_equal(
        x.reshape(x.shape[0], -1)[np.arange(x.shape[0])[:, None], argmax.reshape(x.shape[0], -1)].reshape(out.shape),
        out,
    )
    avg, _ = _run(False, x, g)
    np.testing.assert_allclose(avg, _brute(x, g, np.mean), rtol=1e-12)


def test_average_matches_scipy_correlate():
    x = np.random.default_rng(1).standard_normal((1, 6, 7, 1))
    avg, _ = _run(False, x, (1, 6, 7, 1, 3, 2, 1, 1, 0, 0, 4, 6))
    expected = signal.correlate(x[0, :, :, 0], np.full((3, 2), 1 / 6), mode="valid")
    np.testing.assert_allclose(avg[0, :, :, 0], expected, rtol=1e-12)


@pytest.mark.parametrize("g", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_matches_reference(g, dtype):
    rng = np.random.default_rng(2)
    n, h, w, c, ph, pw, sh, sw, pt, pl, oh, ow = g
    x = rng.standard_normal(g[:4]).astype(dtype)
    dy = rng.standard_normal((n, oh, ow, c)).astype(dtype)
    out, argmax = _run(True, x, g)
    out_ref, argmax_ref = np.empty_like(out), np.empty_like(argmax)
    ref.max_pool2d_forward(x, ph, pw, sh, sw, pt, pl, out_ref, argmax_ref)
    np.testing.assert_array_equal(out, out_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    dx, dx_ref = np.empty_like(x), np.empty_like(x)
    _pool.max_pool2d_backward(dy, argmax, _NO_GATE[dtype], dx, 2)
    ref.max_pool2d_backward(dy, argmax_ref, _NO_GATE[dtype], dx_ref)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-6)

    avg, _ = _run(False, x, g)
    avg_ref = np.empty_like(avg)
    ref.avg_pool2d_forward(x, ph, pw, sh, sw, pt, pl, avg_ref)
    np.testing.assert_allclose(avg, avg_ref, rtol=1e-5, atol=1e-6)
    dx.fill(np.nan)  # every cell is overwritten, in no window or not
    _pool.avg_pool2d_backward(dy, ph, pw, sh, sw, pt, pl, dx, 2)
    ref.avg_pool2d_backward(dy, ph, pw, sh, sw, pt, pl, dx_ref)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("g", GEOMETRIES)
def test_gated_backward_is_the_gradient_through_a_relu_below_the_pool(g):
    # maxpool(relu(z)): the gated pass equals relu' applied after the plain pass, in float64 finite differences too.
    rng = np.random.default_rng(7)
    n, h, w, c, ph, pw, sh, sw, pt, pl, oh, ow = g
    z = (rng.permutation(np.arange(np.prod(g[:4]), dtype=np.float64)) - np.prod(g[:4]) / 2).reshape(g[:4]) * 0.1
    proj = rng.standard_normal((n, oh, ow, c))
    pooled, argmax = _run(True, np.maximum(z, 0), g)
    dz, plain = np.empty_like(z), np.empty_like(z)
    _pool.max_pool2d_backward(proj, argmax, pooled, dz, 2)
    _pool.max_pool2d_backward(proj, argmax, _NO_GATE[np.float64], plain, 2)
    np.testing.assert_array_equal(dz, plain * (z > 0))
    dz_ref = np.empty_like(z)
    ref.max_pool2d_backward(proj, argmax, pooled, dz_ref)
    np.testing.assert_array_equal(dz, dz_ref)
    num = numerical_gradient(lambda: np.sum(proj * _run(True, np.maximum(z, 0), g)[0]), z)
    assert relative_error(dz, num) < 1e-6


@pytest.mark.parametrize("g", GEOMETRIES)
@pytest.mark.parametrize("is_max", [True, False])
def test_backward_matches_finite_differences(g, is_max):
    rng = np.random.default_rng(3)
    n, h, w, c, ph, pw, sh, sw, pt, pl, oh, ow = g
    # Well separated values: no ties, so max is differentiable at x.
    x = rng.permutation(np.arange(np.prod(g[:4]), dtype=np.float64)).reshape(g[:4]) * 0.1
    proj = rng.standard_normal((n, oh, ow, c))
    _, argmax = _run(is_max, x, g)
    dx = np.empty_like(x)
    if is_max:
        _pool.max_pool2d_backward(proj, argmax, _NO_GATE[np.float64], dx, 1)
    else:
        _pool.avg_pool2d_backward(proj, ph, pw, sh, sw, pt, pl, dx, 1)
    assert relative_error(dx, numerical_gradient(lambda: np.sum(proj * _run(is_max, x, g)[0]), x)) < 1e-6


def test_padding_never_wins_a_max():
    x = -np.ones((1, 3, 3, 1))
    out, argmax = _run(True, x, (1, 3, 3, 1, 2, 2, 2, 2, 1, 1, 2, 2))
    np.testing.assert_array_equal(out, -1.0)
    assert (argmax >= 0).all()


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(4)
    g = (8, 16, 16, 8, 3, 3, 2, 2, 1, 1, 8, 8)
    x = rng.standard_normal(g[:4]).astype(np.float32)
    dy = rng.standard_normal((8, 8, 8, 8)).astype(np.float32)
    results = []
    for t in (1, 2):
        out, argmax = _run(True, x, g, t)
        avg, _ = _run(False, x, g, t)
        dx = np.empty_like(x)
        _pool.avg_pool2d_backward(dy, 3, 3, 2, 2, 1, 1, dx, t)
        results.append((out, argmax, avg, dx))
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_bad_arguments_raise_value_error():
    x = np.zeros((2, 4, 4, 3))
    with pytest.raises(ValueError, match=r"out must have shape \(2, >= 1, >= 1, 3\), got \(2, 2, 2, 4\)"):
        _pool.avg_pool2d_forward(x, 2, 2, 2, 2, 0, 0, np.zeros((2, 2, 2, 4)), 1)
    with pytest.raises(ValueError, match="pool size and strides"):
        _pool.avg_pool2d_forward(x, 0, 2, 2, 2, 0, 0, np.zeros((2, 2, 2, 3)), 1)
    with pytest.raises(ValueError, match="argmax must have shape"):
        _pool.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0, np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 2), np.int32), 1)
    with pytest.raises(ValueError, match=r"argmax must have shape \(2, 2, 2, 3\), got \(2, 2, 1, 3\)"):
        _pool.max_pool2d_backward(
            np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 1, 3), np.int32), np.zeros((0, 0, 0, 0)), x, 1
        )
    with pytest.raises(ValueError, match=r"gate must have shape \(2, 2, 2, 3\) or be empty, got \(2, 2, 2, 2\)"):
        _pool.max_pool2d_backward(
            np.zeros((2, 2, 2, 3)), np.zeros((2, 2, 2, 3), np.int32), np.zeros((2, 2, 2, 2)), x, 1
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_go_to_the_first_cell_like_the_reference(dtype):
    # ReLU outputs: many windows are all zeros, so the argmax is decided by the tie rule.
    x = np.maximum(np.round(np.random.default_rng(8).standard_normal((3, 6, 8, 17))), 0).astype(dtype)
    for window in ((2, 2, 2, 2), (3, 2, 1, 2)):
        g = (3, 6, 8, 17) + window + (0, 0, (6 - window[0]) // window[2] + 1, (8 - window[1]) // window[3] + 1)
        out, argmax = _run(True, x, g)
        out_ref, argmax_ref = np.empty_like(out), np.empty_like(argmax)
        ref.max_pool2d_forward(x, *window, 0, 0, out_ref, argmax_ref)
        np.testing.assert_array_equal(out, out_ref)
        np.testing.assert_array_equal(argmax, argmax_ref)
