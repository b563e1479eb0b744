"""Pooling layers: Keras shapes and semantics, gradients, PyTorch parity, bad input."""

import numpy as np
import pytest

from ranvier.api.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from ranvier.testing import check_gradients


def _distinct(shape, seed=0):
    """Values without ties, so max pooling is differentiable there."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.01


@pytest.mark.parametrize(
    "cls, kwargs, in_shape, out_shape",
    [
        (MaxPooling2D, {}, (6, 7, 3), (3, 3, 3)),
        (MaxPooling2D, dict(pool_size=(2, 2), padding="same"), (5, 7, 3), (3, 4, 3)),
        (AveragePooling2D, dict(pool_size=3, strides=1), (5, 5, 2), (3, 3, 2)),
        (AveragePooling2D, dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (5, 5, 2), (3, 5, 2)),
        (MaxPooling1D, {}, (9, 4), (4, 4)),
        (MaxPooling1D, dict(pool_size=3, strides=2, padding="same"), (9, 4), (5, 4)),
        (AveragePooling1D, dict(pool_size=4), (9, 4), (2, 4)),
    ],
)
def test_output_shape_follows_keras(cls, kwargs, in_shape, out_shape):
    layer = cls(**kwargs)
    assert layer.compute_output_shape((None,) + in_shape) == (None,) + out_shape
    assert layer(np.ones((2,) + in_shape, np.float32)).shape == (2,) + out_shape


def test_max_and_average_values():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(MaxPooling2D(dtype="float64")(x)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AveragePooling2D(dtype="float64")(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    # "same" on 3 columns with stride 2: the last window holds one real cell; Keras averages it alone.
    x3 = np.arange(3.0).reshape(1, 3, 1)
    np.testing.assert_array_equal(AveragePooling1D(2, padding="same", dtype="float64")(x3)[0, :, 0], [0.5, 2.0])
    np.testing.assert_array_equal(MaxPooling1D(2, padding="same", dtype="float64")(-x3 - 1)[0, :, 0], [-1, -3])


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize(
    "kwargs",
    [{}, dict(pool_size=3, strides=2, padding="same"), dict(pool_size=(2, 3), strides=1), dict(pool_size=2, strides=3)],
)
def test_pool2d_gradients(cls, kwargs):
    check_gradients(cls(dtype="float64", **kwargs), _distinct((2, 7, 6, 2)))


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("kwargs", [{}, dict(pool_size=3, strides=2, padding="same")])
def test_pool1d_gradients(cls, kwargs):
    check_gradients(cls(dtype="float64", **kwargs), _distinct((2, 9, 3)))


@pytest.mark.parametrize(
    "cls, reduce, axes",
    [
        (GlobalMaxPooling2D, np.max, (1, 2)),
        (GlobalAveragePooling2D, np.mean, (1, 2)),
        (GlobalMaxPooling1D, np.max, (1,)),
        (GlobalAveragePooling1D, np.mean, (1,)),
    ],
)
def test_global_pooling(cls, reduce, axes):
    shape = (3, 5, 4, 2) if len(axes) == 2 else (3, 7, 2)
    x = _distinct(shape)
    layer = cls(dtype="float64")
    np.testing.assert_allclose(layer(x), reduce(x, axis=axes), rtol=1e-12)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None, 2)
    kept = cls(keepdims=True, dtype="float64")
    assert kept(x).shape == (3,) + (1,) * len(axes) + (2,)
    assert kept.compute_output_shape((None,) + shape[1:]) == (None,) + (1,) * len(axes) + (2,)
    check_gradients(cls(dtype="float64"), x)
    check_gradients(cls(keepdims=True, dtype="float64"), x)


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 9, 8, 3))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    ym = torch.nn.functional.max_pool2d(xt, 3, stride=2).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(MaxPooling2D(3, strides=2, dtype="float64")(x), ym, rtol=1e-12)
    ya = torch.nn.functional.avg_pool2d(xt, (2, 3), stride=(2, 1)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(AveragePooling2D((2, 3), strides=(2, 1), dtype="float64")(x), ya, rtol=1e-12)
    x1 = x[:, 0]
    x1t = torch.from_numpy(x1).permute(0, 2, 1)
    ym1 = torch.nn.functional.max_pool1d(x1t, 3, stride=2).permute(0, 2, 1).numpy()
    np.testing.assert_allclose(MaxPooling1D(3, strides=2, dtype="float64")(x1), ym1, rtol=1e-12)
    ya1 = torch.nn.functional.avg_pool1d(x1t, 2).permute(0, 2, 1).numpy()
    np.testing.assert_allclose(AveragePooling1D(2, dtype="float64")(x1), ya1, rtol=1e-12)


@pytest.mark.parametrize(
    "make, x_shape, match",
    [
        (lambda: MaxPooling2D(), (2, 4, 4), "rank 4"),
        (lambda: MaxPooling1D(), (2, 4, 4, 1), "rank 3"),
        (lambda: MaxPooling2D(5), (2, 4, 6, 1), "larger than"),
        (lambda: AveragePooling1D(4), (2, 3, 1), "larger than"),
        (lambda: GlobalMaxPooling2D(), (2, 4, 4), "rank 4"),
    ],
)
def test_bad_input_raises_value_error(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(x_shape, np.float32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(pool_size=0), "pool_size"),
        (dict(pool_size=(2, -1)), "pool_size"),
        (dict(strides=0), "strides"),
        (dict(padding="full"), "padding"),
        (dict(pool_size=(2, 2, 2)), "pool_size"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MaxPooling2D(**kwargs)


def test_config_round_trip():
    layer = MaxPooling2D((3, 2), strides=(1, 2), padding="same", name="p")
    assert MaxPooling2D.from_config(layer.get_config()).get_config() == layer.get_config()
    g = GlobalAveragePooling1D(keepdims=True, name="g")
    assert GlobalAveragePooling1D.from_config(g.get_config()).keepdims
