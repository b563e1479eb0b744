"""ranvier.core._depthwise against its NumPy reference, scipy.signal and finite differences."""

import numpy as np
import pytest
from scipy import signal

from ranvier.core import _depthwise
from ranvier.reference import depthwise as ref
from ranvier.testing import numerical_gradient, relative_error

# (n, h, w, c, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr): pb/pr = trailing padding
GEOMETRIES = [
    (2, 5, 5, 3, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0),  # valid 3x3
    (2, 5, 5, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),  # "same", depth multiplier 2
    (3, 7, 6, 2, 2, 3, 2, 2, 1, 1, 2, 1, 0, 1, 1),  # strides, dilation, asymmetric padding
    (2, 6, 6, 5, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1),  # Keras "same" stride 2: odd cell after only
    (2, 5, 7, 1, 3, 2, 3, 1, 1, 2, 1, 1, 1, 1, 1),  # one channel, even kernel, dilation
    (1, 9, 8, 4, 1, 1, 1, 3, 2, 1, 1, 0, 0, 0, 0),  # 1x1 with strides
    (2, 1, 9, 2, 2, 1, 3, 1, 2, 1, 2, 0, 2, 0, 2),  # 1-D as h = 1
    (1, 3, 4, 2, 1, 3, 4, 2, 2, 1, 1, 2, 3, 2, 2),  # padding wider than the input
    (2, 4, 5, 3, 4, 2, 2, 1, 2, 1, 1, 0, 1, 1, 0),  # depth multiplier 4 (the largest unrolled one)
    (1, 4, 5, 2, 5, 2, 3, 1, 1, 1, 1, 1, 0, 0, 1),  # depth multiplier 5 (the generic loop)
]


def _out_hw(g):
    n, h, w, c, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr = g
    return ((h + pt + pb - (kh - 1) * dh - 1) // sh + 1, (w + pl + pr - (kw - 1) * dw - 1) // sw + 1)


def _setup(g, dtype, rng):
    n, h, w, c, m, kh, kw = g[:7]
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    kernel = rng.standard_normal((kh, kw, c, m)).astype(dtype)
    return x, kernel, tuple(g[5:13]), _out_hw(g)


def _scipy_depthwise(x, kernel, geom, pads_after, out_hw):
    """Each channel's cross-correlation via scipy.signal.correlate on the dilated kernel, strided."""
    kh, kw, sh, sw, dh, dw, pt, pl = geom
    xp = np.pad(x, ((0, 0), (pt, pads_after[0]), (pl, pads_after[1]), (0, 0)))
    kd = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1) + kernel.shape[2:])
    kd[::dh, ::dw] = kernel
    n, c, m = x.shape[0], kernel.shape[2], kernel.shape[3]
    out = np.zeros((n,) + out_hw + (c * m,))
    for i in range(n):
        for ci in range(c):
            for j in range(m):
                full = signal.correlate(xp[i, :, :, ci], kd[:, :, ci, j], mode="valid")
                out[i, :, :, ci * m + j] = full[::sh, ::sw][: out_hw[0], : out_hw[1]]
    return out


@pytest.mark.parametrize("g", GEOMETRIES)
def test_forward_matches_scipy_correlate(g):
    rng = np.random.default_rng(0)
    x, kernel, geom, out_hw = _setup(g, np.float64, rng)
    expected = _scipy_depthwise(x, kernel, geom, g[13:15], out_hw)
    out = np.full(expected.shape, np.nan)
    _depthwise.depthwise_conv2d_forward(x, kernel, out, *geom, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    ref_out = np.full(expected.shape, np.nan)
    ref.depthwise_conv2d_forward(x, kernel, ref_out, *geom, 1)
    np.testing.assert_allclose(ref_out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("g", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_matches_reference(g, dtype):
    rng = np.random.default_rng(1)
    x, kernel, geom, out_hw = _setup(g, dtype, rng)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    shape = (x.shape[0],) + out_hw + (kernel.shape[2] * kernel.shape[3],)
    out, out_ref = np.empty(shape, dtype), np.empty(shape, dtype)
    _depthwise.depthwise_conv2d_forward(x, kernel, out, *geom, 2)
    ref.depthwise_conv2d_forward(x, kernel, out_ref, *geom, 1)
    np.testing.assert_allclose(out, out_ref, **tol)

    dz = rng.standard_normal(shape).astype(dtype)
    dk, dk_ref = np.ones_like(kernel), np.ones_like(kernel)
    dx, dx_ref = np.full_like(x, np.nan), np.full_like(x, np.nan)
    _depthwise.depthwise_conv2d_backward(x, kernel, dz, dk, dx, 1.0, True, *geom, 2)
    ref.depthwise_conv2d_backward(x, kernel, dz, dk_ref, dx_ref, 1.0, True, *geom, 1)
    np.testing.assert_allclose(dk, dk_ref, **tol)
    np.testing.assert_allclose(dx, dx_ref, **tol)


@pytest.mark.parametrize("g", GEOMETRIES)
@pytest.mark.parametrize("impl", [_depthwise, ref], ids=["kernel", "reference"])
def test_backward_matches_finite_differences(g, impl):
    rng = np.random.default_rng(2)
    x, kernel, geom, out_hw = _setup(g, np.float64, rng)
    shape = (x.shape[0],) + out_hw + (kernel.shape[2] * kernel.shape[3],)
    proj = rng.standard_normal(shape)

    def loss():
        out = np.empty(shape)
        impl.depthwise_conv2d_forward(x, kernel, out, *geom, 1)
        return float(np.sum(proj * out))

    dk, dx = np.full_like(kernel, np.nan), np.full_like(x, np.nan)
    impl.depthwise_conv2d_backward(x, kernel, proj, dk, dx, 0.0, True, *geom, 1)
    for array, grad in ((kernel, dk), (x, dx)):
        assert relative_error(grad, numerical_gradient(loss, array)) < 1e-6


def test_beta_accumulates_and_dx_is_optional():
    rng = np.random.default_rng(4)
    x, kernel, geom, out_hw = _setup(GEOMETRIES[1], np.float64, rng)
    dz = rng.standard_normal((x.shape[0],) + out_hw + (kernel.shape[2] * kernel.shape[3],))
    once = np.full_like(kernel, np.nan)  # beta == 0 must not read the old values
    _depthwise.depthwise_conv2d_backward(x, kernel, dz, once, np.empty((0, 0, 0, 0)), 0.0, False, *geom, 1)
    assert np.all(np.isfinite(once)) and np.any(once != 0)
    twice = once.copy()
    _depthwise.depthwise_conv2d_backward(x, kernel, dz, twice, np.empty((0, 0, 0, 0)), 1.0, False, *geom, 1)
    np.testing.assert_allclose(twice, 2 * once, rtol=1e-12)


def test_empty_batch_scales_the_kernel_gradient_by_beta():
    kernel = np.ones((3, 3, 2, 1))
    x, dz = np.empty((0, 5, 5, 2)), np.empty((0, 3, 3, 2))
    dk = np.full_like(kernel, 2.0)
    _depthwise.depthwise_conv2d_backward(
        x, kernel, dz, dk, np.empty((0, 5, 5, 2)), 1.0, True, 3, 3, 1, 1, 1, 1, 0, 0, 1
    )
    np.testing.assert_array_equal(dk, 2.0)
    dk = np.full_like(kernel, np.nan)
    _depthwise.depthwise_conv2d_backward(
        x, kernel, dz, dk, np.empty((0, 5, 5, 2)), 0.0, True, 3, 3, 1, 1, 1, 1, 0, 0, 1
    )
    np.testing.assert_array_equal(dk, 0.0)


@pytest.mark.parametrize("m", [1, 2])
def test_thread_count_does_not_change_results(m):
    # Large enough that every loop starts two threads and the kernel gradient has many blocks.
    rng = np.random.default_rng(5)
    g = (16, 24, 24, 16, m, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
    x, kernel, geom, out_hw = _setup(g, np.float32, rng)
    dz = rng.standard_normal((16,) + out_hw + (16 * m,)).astype(np.float32)
    results = []
    for t in (1, 2):
        out, dk, dx = np.empty_like(dz), np.empty_like(kernel), np.empty_like(x)
        _depthwise.depthwise_conv2d_forward(x, kernel, out, *geom, t)
        _depthwise.depthwise_conv2d_backward(x, kernel, dz, dk, dx, 0.0, True, *geom, t)
        results.append((out, dk, dx))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def _args():
    x = np.zeros((2, 5, 5, 3))
    kernel = np.zeros((3, 3, 3, 2))
    return x, kernel, np.zeros((2, 3, 3, 6))


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(kh=0), "geometry"),
        (dict(sw=-1), "geometry"),
        (dict(dh=0), "geometry"),
        (dict(pt=-1), "geometry"),
        (dict(kernel=np.zeros((3, 2, 3, 2))), r"kernel must have shape \(3, 3, 3, 2\), got \(3, 2, 3, 2\)"),
        (dict(kernel=np.zeros((3, 3, 4, 2))), r"kernel must have shape"),
        (dict(out=np.zeros((2, 3, 3, 5))), r"out must have shape \(2, >= 1, >= 1, 6\), got \(2, 3, 3, 5\)"),
        (dict(out=np.zeros((1, 3, 3, 6))), "out must have shape"),
        (dict(out=np.zeros((2, 0, 3, 6))), "out must have shape"),
    ],
)
def test_forward_bad_input_raises_value_error(change, match):
    x, kernel, out = _args()
    args = dict(x=x, kernel=kernel, out=out, kh=3, kw=3, sh=1, sw=1, dh=1, dw=1, pt=0, pl=0)
    args.update(change)
    with pytest.raises(ValueError, match=match):
        _depthwise.depthwise_conv2d_forward(*args.values(), 1)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(kw=0), "geometry"),
        (dict(dkernel=np.zeros((3, 3, 3, 1))), r"dkernel must have shape \(3, 3, 3, 2\)"),
        (dict(dz=np.zeros((2, 3, 3, 3))), "dz must have shape"),
        (dict(dx=np.zeros((2, 5, 4, 3))), r"dx must have shape \(2, 5, 5, 3\), got \(2, 5, 4, 3\)"),
    ],
)
def test_backward_bad_input_raises_value_error(change, match):
    x, kernel, dz = _args()
    args = dict(
        x=x,
        kernel=kernel,
        dz=dz,
        dkernel=np.zeros_like(kernel),
        dx=np.zeros_like(x),
        beta=0.0,
        need_dx=True,
        kh=3,
        kw=3,
        sh=1,
        sw=1,
        dh=1,
        dw=1,
        pt=0,
        pl=0,
    )
    args.update(change)
    with pytest.raises(ValueError, match=match):
        _depthwise.depthwise_conv2d_backward(*args.values(), 1)


def test_mixed_dtypes_raise_value_error():
    x, kernel, out = _args()
    with pytest.raises(ValueError, match="dtype mismatch"):
        _depthwise.depthwise_conv2d_forward(x.astype(np.float32), kernel, out, 3, 3, 1, 1, 1, 1, 0, 0, 1)
