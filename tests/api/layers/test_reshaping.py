"""ZeroPadding, Cropping and UpSampling layers: values, shapes, gradients, bad input."""

import numpy as np
import pytest

from ranvier.api.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from ranvier.testing import check_gradients

X2 = np.random.default_rng(0).standard_normal((2, 4, 5, 3))
X1 = np.random.default_rng(1).standard_normal((2, 6, 3))


def test_zero_padding_matches_numpy_pad():
    np.testing.assert_array_equal(ZeroPadding2D(dtype="float64")(X2), np.pad(X2, ((0, 0), (1, 1), (1, 1), (0, 0))))
    np.testing.assert_array_equal(
        ZeroPadding2D(((1, 2), (0, 3)), dtype="float64")(X2), np.pad(X2, ((0, 0), (1, 2), (0, 3), (0, 0)))
    )
    np.testing.assert_array_equal(
        ZeroPadding2D((2, 1), dtype="float64")(X2), np.pad(X2, ((0, 0), (2, 2), (1, 1), (0, 0)))
    )
    np.testing.assert_array_equal(ZeroPadding1D((1, 2), dtype="float64")(X1), np.pad(X1, ((0, 0), (1, 2), (0, 0))))
    assert ZeroPadding2D(((1, 2), (0, 3))).compute_output_shape((None, 4, None, 3)) == (None, 7, None, 3)


def test_cropping_and_upsampling_values():
    np.testing.assert_array_equal(Cropping2D(((1, 0), (2, 1)), dtype="float64")(X2), X2[:, 1:, 2:4])
    np.testing.assert_array_equal(Cropping1D(dtype="float64")(X1), X1[:, 1:5])
    np.testing.assert_array_equal(UpSampling2D((2, 3), dtype="float64")(X2), X2.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(UpSampling1D(3, dtype="float64")(X1), X1.repeat(3, axis=1))
    assert UpSampling2D().compute_output_shape((None, 4, 5, 3)) == (None, 8, 10, 3)


@pytest.mark.parametrize(
    "layer, x",
    [
        (ZeroPadding2D(((1, 2), (0, 3)), dtype="float64"), X2),
        (ZeroPadding1D(2, dtype="float64"), X1),
        (Cropping2D(((1, 0), (2, 1)), dtype="float64"), X2),
        (Cropping1D((0, 2), dtype="float64"), X1),
        (UpSampling2D((2, 3), dtype="float64"), X2),
        (UpSampling1D(2, dtype="float64"), X1),
    ],
)
def test_gradients(layer, x):
    check_gradients(layer, x)


@pytest.mark.parametrize(
    "make, x_shape, match",
    [
        (lambda: ZeroPadding2D(), (2, 4, 4), "rank 4"),
        (lambda: UpSampling1D(), (2, 4, 4, 1), "rank 3"),
        (lambda: Cropping2D(((2, 2), (0, 0))), (2, 4, 4, 1), "leaves nothing"),
    ],
)
def test_bad_input_raises_value_error(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(x_shape, np.float32))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ZeroPadding2D(-1), "padding"),
        (lambda: ZeroPadding2D((1, 2, 3)), "padding"),
        (lambda: Cropping2D(((1, -1), (0, 0))), "cropping"),
        (lambda: UpSampling2D(0), "size"),
        (lambda: UpSampling2D(interpolation="bicubic"), "'nearest' or 'bilinear'"),
    ],
)
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_config_round_trip():
    for layer in (
        ZeroPadding2D(((1, 2), (0, 3))),
        Cropping2D(((1, 0), (2, 1))),
        UpSampling2D((2, 3)),
        ZeroPadding1D((1, 2)),
        UpSampling1D(3),
        UpSampling2D(3, interpolation="bilinear"),
    ):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def _bilinear_loops(x, sh, sw):
    """Bilinear upscaling written out cell by cell: half-pixel centres, coordinates clamped to the image."""
    n, h, w, c = x.shape
    out = np.empty((n, h * sh, w * sw, c))
    for oy in range(h * sh):
        fy = min(max((oy + 0.5) / sh - 0.5, 0.0), h - 1)
        y0 = int(np.floor(fy))
        y1, ty = min(y0 + 1, h - 1), fy - y0
        for ox in range(w * sw):
            fx = min(max((ox + 0.5) / sw - 0.5, 0.0), w - 1)
            x0 = int(np.floor(fx))
            x1, tx = min(x0 + 1, w - 1), fx - x0
            out[:, oy, ox] = (1 - ty) * ((1 - tx) * x[:, y0, x0] + tx * x[:, y0, x1]) + ty * (
                (1 - tx) * x[:, y1, x0] + tx * x[:, y1, x1]
            )
    return out


BILINEAR_SIZES = [(2, 2), (3, 2), (1, 4), (5, 3), (1, 1)]


@pytest.mark.parametrize("size", BILINEAR_SIZES)
def test_bilinear_upsampling_matches_a_loop_implementation(size):
    y = UpSampling2D(size, interpolation="bilinear", dtype="float64")(X2)
    assert y.shape == (2, 4 * size[0], 5 * size[1], 3)
    np.testing.assert_allclose(y, _bilinear_loops(X2, *size), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("size", BILINEAR_SIZES)
def test_bilinear_upsampling_matches_pytorch(size):
    torch = pytest.importorskip("torch")
    xt = torch.from_numpy(X2).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(xt, scale_factor=size, mode="bilinear", align_corners=False)
    y = UpSampling2D(size, interpolation="bilinear", dtype="float64")(X2)
    np.testing.assert_allclose(y, expected.permute(0, 2, 3, 1).numpy(), rtol=1e-13, atol=1e-13)


def test_bilinear_upsampling_keeps_float32_and_constants():
    x = X2.astype(np.float32)
    y = UpSampling2D((2, 3), interpolation="bilinear")(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, _bilinear_loops(x.astype(np.float64), 2, 3), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(UpSampling2D(3, interpolation="bilinear")(np.full((1, 2, 3, 1), 0.5)), 0.5)


@pytest.mark.parametrize("size", [(2, 2), (3, 2), (1, 4), (5, 3)])
def test_bilinear_upsampling_gradients(size):
    check_gradients(UpSampling2D(size, interpolation="bilinear", dtype="float64"), X2)


def test_bilinear_backward_is_the_exact_adjoint():
    layer = UpSampling2D((3, 2), interpolation="bilinear", dtype="float64")
    y, cache = (layer._build_once((None, 4, 5, 3)), layer.call(X2))[1]
    dy = np.random.default_rng(2).standard_normal(y.shape)
    dx = layer.backward(dy, cache)
    assert dx.shape == X2.shape
    np.testing.assert_allclose(np.sum(y * dy), np.sum(X2 * dx), rtol=1e-13)
    assert layer.backward(dy, cache, need_input_grad=False) is None
