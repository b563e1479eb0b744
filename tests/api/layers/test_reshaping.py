"""ZeroPadding, Cropping and UpSampling layers: values, shapes, gradients, bad input."""
import numpy as np
import pytest

from ranvier.api.layers.reshaping import (Cropping1D, Cropping2D, UpSampling1D, UpSampling2D, ZeroPadding1D,
                                          ZeroPadding2D)
from ranvier.testing import check_gradients

X2 = np.random.default_rng(0).standard_normal((2, 4, 5, 3))
X1 = np.random.default_rng(1).standard_normal((2, 6, 3))


def test_zero_padding_matches_numpy_pad():
    np.testing.assert_array_equal(ZeroPadding2D(dtype="float64")(X2), np.pad(X2, ((0, 0), (1, 1), (1, 1), (0, 0))))
    np.testing.assert_array_equal(ZeroPadding2D(((1, 2), (0, 3)), dtype="float64")(X2),
                                  np.pad(X2, ((0, 0), (1, 2), (0, 3), (0, 0))))
    np.testing.assert_array_equal(ZeroPadding2D((2, 1), dtype="float64")(X2),
                                  np.pad(X2, ((0, 0), (2, 2), (1, 1), (0, 0))))
    np.testing.assert_array_equal(ZeroPadding1D((1, 2), dtype="float64")(X1), np.pad(X1, ((0, 0), (1, 2), (0, 0))))
    assert ZeroPadding2D(((1, 2), (0, 3))).compute_output_shape((None, 4, None, 3)) == (None, 7, None, 3)


def test_cropping_and_upsampling_values():
    np.testing.assert_array_equal(Cropping2D(((1, 0), (2, 1)), dtype="float64")(X2), X2[:, 1:, 2:4])
    np.testing.assert_array_equal(Cropping1D(dtype="float64")(X1), X1[:, 1:5])
    np.testing.assert_array_equal(UpSampling2D((2, 3), dtype="float64")(X2),
                                  X2.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(UpSampling1D(3, dtype="float64")(X1), X1.repeat(3, axis=1))
    assert UpSampling2D().compute_output_shape((None, 4, 5, 3)) == (None, 8, 10, 3)


@pytest.mark.parametrize("layer, x", [
    (ZeroPadding2D(((1, 2), (0, 3)), dtype="float64"), X2), (ZeroPadding1D(2, dtype="float64"), X1),
    (Cropping2D(((1, 0), (2, 1)), dtype="float64"), X2), (Cropping1D((0, 2), dtype="float64"), X1),
    (UpSampling2D((2, 3), dtype="float64"), X2), (UpSampling1D(2, dtype="float64"), X1),
])
def test_gradients(layer, x):
    check_gradients(layer, x)


@pytest.mark.parametrize("make, x_shape, match", [
    (lambda: ZeroPadding2D(), (2, 4, 4), "rank 4"),
    (lambda: UpSampling1D(), (2, 4, 4, 1), "rank 3"),
    (lambda: Cropping2D(((2, 2), (0, 0))), (2, 4, 4, 1), "leaves nothing"),
])
def test_bad_input_raises_value_error(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(x_shape, np.float32))


@pytest.mark.parametrize("make, match", [
    (lambda: ZeroPadding2D(-1), "padding"), (lambda: ZeroPadding2D((1, 2, 3)), "padding"),
    (lambda: Cropping2D(((1, -1), (0, 0))), "cropping"), (lambda: UpSampling2D(0), "size"),
    (lambda: UpSampling2D(interpolation="bilinear"), "nearest"),
])
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_config_round_trip():
    for layer in (ZeroPadding2D(((1, 2), (0, 3))), Cropping2D(((1, 0), (2, 1))), UpSampling2D((2, 3)),
                  ZeroPadding1D((1, 2)), UpSampling1D(3)):
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
