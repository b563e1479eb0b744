"""RandomCrop, RandomBrightness, RandomHeight, RandomWidth: forward against NumPy / Resizing, seeds, errors."""

import numpy as np
import pytest

import ranvier as rv

L = rv.layers


def _images(shape=(3, 6, 7, 2), seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


def _windows(y, x):
    """The (top, left) offsets whose window of ``x`` is ``y`` for every image."""
    h, w = y.shape[1:3]
    return [
        (t, left)
        for t in range(x.shape[1] - h + 1)
        for left in range(x.shape[2] - w + 1)
        if np.array_equal(y, x[:, t : t + h, left : left + w])
    ]


def test_random_crop_training_is_a_window_of_the_image():
    x = _images()
    y = np.asarray(L.RandomCrop(3, 4, seed=2)(x, training=True))
    assert y.shape == (3, 3, 4, 2)
    assert len(_windows(y, x)) == 1  # one offset for the whole batch, as Keras
    offsets = {_windows(np.asarray(L.RandomCrop(3, 4, seed=s)(x, training=True)), x)[0] for s in range(12)}
    assert len(offsets) > 1  # the offset is drawn


def test_random_crop_inference_and_small_images_resize_the_centred_window():
    x = _images()
    expected = np.asarray(L.Resizing(3, 4, crop_to_aspect_ratio=True)(x))
    np.testing.assert_allclose(np.asarray(L.RandomCrop(3, 4)(x, training=False)), expected, rtol=1e-6)
    small = _images((2, 3, 5, 1))
    expected = np.asarray(L.Resizing(4, 4, crop_to_aspect_ratio=True)(small))
    np.testing.assert_allclose(np.asarray(L.RandomCrop(4, 4, seed=1)(small, training=True)), expected, rtol=1e-6)
    assert L.RandomCrop(3, 4).compute_output_shape((None, 6, 7, 2)) == (None, 3, 4, 2)


def test_random_brightness_adds_one_clipped_offset_per_image():
    x = _images()
    layer = L.RandomBrightness((-0.2, 0.3), value_range=(1, 0), seed=3)
    assert layer.value_range == [0.0, 1.0]
    y = np.asarray(layer(x, training=True))
    for img, out in zip(x, y):
        inside = (out > 0) & (out < 1)
        deltas = (out - img)[inside]
        assert np.ptp(deltas) < 1e-6 and -0.2 - 1e-6 <= deltas[0] <= 0.3 + 1e-6
        np.testing.assert_allclose(out, np.clip(img + deltas[0], 0, 1), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    again = L.RandomBrightness((-0.2, 0.3), value_range=(0, 1), seed=3)
    np.testing.assert_array_equal(np.asarray(again(x, training=True)), y)  # seeded
    assert layer.get_config()["factor"] == [-0.2, 0.3] and layer.get_config()["seed"] == 3


@pytest.mark.parametrize("cls, axis", [(L.RandomHeight, 1), (L.RandomWidth, 2)])
def test_random_height_and_width_resize_one_axis(cls, axis):
    x = _images((2, 8, 10, 3))
    layer = cls((-0.5, 0.5), seed=4)
    sizes = set()
    for _ in range(6):
        y = np.asarray(layer(x, training=True))
        size = y.shape[axis]
        assert x.shape[axis] * 0.5 - 1 <= size <= x.shape[axis] * 1.5
        other = y.shape[3 - axis]
        assert other == x.shape[3 - axis]
        expected = np.asarray(L.Resizing(y.shape[1], y.shape[2])(x))
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
        sizes.add(size)
    assert len(sizes) > 1
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    shape = list(x.shape)
    shape[axis] = None
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + tuple(shape[1:])
    a, b = cls(0.3, seed=9), cls(0.3, seed=9)
    np.testing.assert_array_equal(np.asarray(a(x, training=True)), np.asarray(b(x, training=True)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.RandomCrop(0, 3), "height"),
        (lambda: L.RandomCrop(3, 3, data_format="channels_first"), "channels_first"),
        (lambda: L.RandomBrightness(1.5), "factor"),
        (lambda: L.RandomBrightness(0.2, value_range=(0, 1, 2)), "value_range"),
        (lambda: L.RandomBrightness(0.2, value_range=("a", 1)), "value_range"),
        (lambda: L.RandomHeight((-1.5, 0.2)), "factor"),
        (lambda: L.RandomWidth(0.2, interpolation="bicubic"), "interpolation"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_non_image_input_is_refused():
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        L.RandomCrop(2, 2)(np.ones((2, 3, 3), np.float32))
